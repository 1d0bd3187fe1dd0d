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

# WAVES=1: run serially and unbuffered so each test prints where its waveform went.
ifeq ($(filter-out 0,$(WAVES)),)
PYTEST_PAR := -n $(JOBS)
else
PYTEST_PAR := -n 0 -s
export WAVES
endif

.PHONY: help sim test rtl lint synth-area bench demo clean distclean tools venv

help:
	@echo "lptrain targets:"
	@echo "  make sim           cocotb regressions on SIM=$(SIM) (SIM=verilator|icarus; WAVES=1 dumps waves)"
	@echo "  make test          everything: golden and generator tests, cocotb on both simulators, lint, rtl freshness"
	@echo "  make rtl           regenerate rtl/ (the default configurations) from hdl_gen/"
	@echo "  make lint          verilator --lint-only -Wall on every file in rtl/"
	@echo "  make synth-area    Yosys + OSU 0.18um area of fusion_unit vs the fixed 8x8 multiplier"
	@echo "  make bench         every bench/bench_*.py (golden encoder throughput vs NumPy's float16 cast, ...)"
	@echo "  make demo          train the digits MLP with every recipe (fp32, ibm4, fw8bw8, pfq): accuracy and effective MACs"
	@echo "  make clean         remove build/ ; make distclean also removes .venv/"

$(STAMP): pyproject.toml scripts/bootstrap.sh
	@scripts/bootstrap.sh venv
	@touch $@

venv: $(STAMP)

tools:
	@scripts/bootstrap.sh tools

sim: $(STAMP) tools
	$(PY) -m pytest verif -m sim --sim $(SIM) $(PYTEST_PAR)

test: $(STAMP) tools
	$(PY) -m pytest $(PYTEST_PAR)

rtl: $(STAMP)
	$(PY) -m hdl_gen.rtl

lint: $(STAMP)
	$(PY) -m verif.lint

synth-area: $(STAMP)
	@scripts/bootstrap.sh osu018 $(TECH)
	$(PY) -m synth.area --liberty $(TECH)/osu018_stdcells.lib

bench: $(STAMP)
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

demo: $(STAMP)
	$(PY) -m golden.train_digits --recipe all

clean:
	rm -rf build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) *.egg-info
