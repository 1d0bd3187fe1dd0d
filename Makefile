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

# WAVES=1: run serially and unbuffered so each test prints where its waveform went.
ifeq ($(filter-out 0,$(WAVES)),)
PYTEST_PAR := -n $(JOBS)
else
PYTEST_PAR := -n 0 -s
export WAVES
endif

.PHONY: help sim test rtl lint synth synth-tools synth-lanes synth-area bench demo bitstream fpga-estimate clean distclean tools venv

help:
	@echo "lptrain targets:"
	@echo "  make sim           cocotb regressions on SIM=$(SIM) (SIM=verilator|icarus; WAVES=1 dumps waves)"
	@echo "  make test          everything: golden and generator tests, cocotb on both simulators, lint, rtl freshness"
	@echo "  make rtl           regenerate rtl/ (the default configurations) from hdl_gen/"
	@echo "  make lint          verilator --lint-only -Wall on every file in rtl/"
	@echo "  make synth         Yosys + OpenSTA on OSU 0.18um: area, Fmax, workload-annotated power of every unit -> build/synth/ppa.{json,md} + plots"
	@echo "  make synth-area    Yosys + OSU 0.18um area of fusion_unit vs the fixed 8x8 multiplier"
	@echo "  make synth-lanes   only the training MACs (hybrid/fp8/fp16_mac, L = 1..16) + mac_array -> build/synth/lanes/ppa.{json,md}, lanes.png"
	@echo "  make bench         every bench/bench_*.py (golden encoder throughput vs NumPy's float16 cast, ...)"
	@echo "  make demo          train the digits MLP with every recipe (fp32, ibm4, fw8bw8, pfq): accuracy and effective MACs"
	@echo "  make bitstream     BOARD=$(BOARD): Vivado build plan of the self-checking bist_top in build/$(BOARD)/; runs Vivado if present (AMARANTH_ENV_VIVADO honoured), else exits 2"
	@echo "  make fpga-estimate BOARD=$(BOARD): Yosys synth_xilinx LUT/FF/CARRY4/DSP48E1/BRAM of bist_top, device shares, and the largest mac_array under 80% of the LUTs -> build/$(BOARD)/resources.json"
	@echo "  make clean         remove build/ ; make distclean also removes .venv/"

$(STAMP): pyproject.toml scripts/bootstrap.sh
	@scripts/bootstrap.sh venv
	@touch $@

venv: $(STAMP)

tools:
	@scripts/bootstrap.sh tools

sim: $(STAMP) tools
	$(PY) -m pytest verif -m sim --sim $(SIM) $(PYTEST_PAR)

test: $(STAMP) tools synth-tools
	$(PY) -m pytest $(PYTEST_PAR)

rtl: $(STAMP)
	$(PY) -m hdl_gen.rtl

lint: $(STAMP)
	$(PY) -m verif.lint

# The OSU 0.18 um liberty + cell models and OpenSTA (tests/test_synth.py needs them too).
synth-tools: tools
	@scripts/bootstrap.sh osu018 $(TECH)
	@scripts/bootstrap.sh opensta

synth: $(STAMP) synth-tools
	$(PY) -m synth.ppa --liberty $(TECH)/osu018_stdcells.lib

synth-lanes: $(STAMP) synth-tools
	$(PY) -m synth.lanes --liberty $(TECH)/osu018_stdcells.lib

synth-area: $(STAMP)
	@scripts/bootstrap.sh osu018 $(TECH)
	$(PY) -m synth.area --liberty $(TECH)/osu018_stdcells.lib

bench: $(STAMP)
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

demo: $(STAMP)
	$(PY) -m golden.train_digits --recipe all

bitstream: $(STAMP)
	@$(PY) -m synth.fpga bitstream --board $(BOARD)

fpga-estimate: $(STAMP)
	$(PY) -m synth.fpga estimate --board $(BOARD)

clean:
	rm -rf build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) *.egg-info
