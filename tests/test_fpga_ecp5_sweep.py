"""The ECP5 sweep's pieces that need no place and route: device options, MAC rates, the report's
tables, bad input (the runs themselves are `make fpga-sweep`'s)."""

import subprocess
import sys

import pytest

from fpga import ecp5, ecp5_sweep
from lptrain.paths import ROOT


@pytest.mark.parametrize("board, options", [("ulx3s", ["--85k", "--package", "CABGA381", "--speed", "6"]),
                                            ("orangecrab", ["--25k", "--package", "CSFBGA285", "--speed", "8"])])
def test_nextpnr_device_options_match_the_board(board, options):
    assert ecp5_sweep.nextpnr_device(ecp5.BOARDS[board].platform()) == options


@pytest.mark.parametrize("pe, bits, rate", [("fusion", 8, 1), ("fusion", 4, 4), ("fusion", 2, 16), ("fixed", 2, 1)])
def test_macs_per_cycle(pe, bits, rate):
    assert ecp5_sweep.macs_per_cycle(pe, bits, bits) == rate


def _run(**kw):
    used = {"LUT": 4000, "FF": 1000, "DSP": 0, "BRAM": 10}
    return {"rows": 2, "cols": 2, "used": used, "available": {"LUT": 83640, "FF": 83640, "DSP": 156, "BRAM": 208},
            "fmax_mhz": 58.0, "target_mhz": 25, "timing_met": True, "build_seconds": 120.0, **kw}


def test_markdown_tables_bist_fit_and_luts_per_mac():
    doc = {"board": "ulx3s", "device": "LFE5U-85F-CABGA381", "bist_top": [_run()],
           "fit": {"coef": [1000, 50, 700], "available_luts": 83640, "largest": 10},
           "arrays": [_run(pe="fusion", dsp=True), _run(pe="fixed", dsp=True, used={"LUT": 800, "FF": 500, "DSP": 4, "BRAM": 0}),
                      _run(pe="fixed", dsp=False)]}
    text = ecp5_sweep.markdown(doc)
    assert "| 2x2 | 4,000 (5 %) | 1,000 | 0 | 10 | 58.0 | 25 | met | 120.0 |" in text
    assert "10x10" in text
    # 4,000 LUTs over 4 fusion PEs: 1,000 per MAC/cycle at 8x8, 250 at 4x4, 62.5 at 2x2.
    assert "| fusion | 2x2 | 4,000 | 1,000 | 0 | 58.0 | 25 | 1,000 | 250 | 62 |" in text
    assert "| fixed | 2x2 | 800 | 500 | 4 | 58.0 | 25 | 200 | 200 | 200 |" in text
    assert "| fixed (no DSP) | 2x2 | 4,000 |" in text


def test_bad_board_one_line_exit_2():
    proc = subprocess.run([sys.executable, "-m", "fpga.ecp5_sweep", "--board", "zc706"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "zc706" in proc.stderr
