"""The ECP5 sweep's pieces that need no place and route: device options, MAC rates, the fits and
the search for the largest size (on canned builds), the report's tables, bad input (the runs
themselves are `make fpga-sweep`'s)."""

import subprocess
import sys

import pytest

from fpga import ecp5, ecp5_sweep
from lptrain.paths import ROOT


@pytest.mark.parametrize("board, options", [("ulx3s", ["--85k", "--package", "CABGA381", "--speed", "6"]),
                                            ("orangecrab", ["--25k", "--package", "CSFBGA285", "--speed", "8"])])
def test_nextpnr_device_options_match_the_board(board, options):
    assert ecp5.nextpnr_device(ecp5.BOARDS[board].platform()) == options


@pytest.mark.parametrize("pe, bits, rate", [("fusion", 8, 1), ("fusion", 4, 4), ("fusion", 2, 16), ("fixed", 2, 1)])
def test_macs_per_cycle(pe, bits, rate):
    assert ecp5_sweep.macs_per_cycle(pe, bits, bits) == rate


def _run(**kw):
    used = {"LUT": 4000, "FF": 1000, "DSP": 0, "BRAM": 10}
    return {"rows": 2, "cols": 2, "used": used, "available": {"LUT": 83640, "FF": 83640, "DSP": 156, "BRAM": 208},
            "fmax_mhz": 58.0, "target_mhz": 25, "timing_met": True, "build_seconds": 120.0, "built": True, **kw}


def _sized(n, lut, dsp=0):
    return _run(rows=n, cols=n, used={"LUT": lut, "FF": 0, "DSP": dsp, "BRAM": 0})


def test_fit_predicts_the_largest_under_the_luts():
    # LUT(N) = 1,000 + 700 N^2: 10x10 needs 71,000, 11x11 85,700 > 83,640.
    f = ecp5_sweep.fit_kind([_sized(n, 1000 + 700 * n * n) for n in (2, 3, 4)])
    assert f["largest"] == 10 and f["available_luts"] == 83640 and "dsp_per_pe" not in f
    assert ecp5_sweep.fit_kind([_sized(2, 3800), _sized(4, 12200)]) is None  # two sizes fit nothing


def test_fit_of_dsp_pes_is_limited_by_the_dsp_blocks():
    # 100 LUTs a PE would allow 28x28, but one DSP a PE and 156 DSPs stop at 12x12 (144).
    f = ecp5_sweep.fit_kind([_sized(n, 100 * n * n + 50, dsp=n * n) for n in (2, 3, 4)])
    assert f["dsp_per_pe"] == 1 and f["available_dsp"] == 156 and f["largest"] == 12


def test_failed_builds_are_left_out_of_the_fit():
    runs = [_sized(n, 1000 + 700 * n * n) for n in (2, 3, 4)] + [{"rows": 5, "cols": 5, "built": False, "error": "x"}]
    assert ecp5_sweep.fit_kind(runs)["largest"] == 10


class FakeExecutor:
    """Runs nothing: answers each task from `canned` {task name: run} (a missing one raises, as a
    task that crashed would), and remembers the names it was given, round by round."""

    def __init__(self, canned):
        self.canned, self.rounds = canned, []

    def run(self, tasks, cache=None, label=None):
        from lptrain.executor import Outcome
        self.rounds.append([t.name for t in tasks])
        return [Outcome(t, self.canned[t.name]) if t.name in self.canned else Outcome(t, error="RuntimeError: crashed")
                for t in tasks]


def test_largest_steps_down_past_sizes_that_fail_or_miss_timing():
    ex = FakeExecutor({"bist_10": {"rows": 10, "cols": 10, "built": False, "error": "ERROR: Unable to place"},
                       "bist_9": _run(rows=9, cols=9, timing_met=False, fmax_mhz=24.0),
                       "bist_8": _run(rows=8, cols=8),
                       "array_fixed_12": _run(rows=12, cols=12, pe="fixed", dsp=True)})
    log = []
    found = ecp5_sweep.search_largest(ex, None, {"bist_top": 10, ("fixed", True): 12, ("fusion", True): 1},
                                      "ulx3s", "out", log)
    assert ex.rounds == [["bist_10", "array_fixed_12", "array_fusion_1"], ["bist_9"], ["bist_8"]]
    assert found["bist_top"]["built"]["rows"] == 8 and found["bist_top"]["predicted"] == 10
    assert [r["rows"] for r in found["bist_top"]["failed"]] == [10, 9]
    assert found[("fixed", True)]["built"]["rows"] == 12 and found[("fixed", True)]["failed"] == []
    # A crash at N = 1 leaves nothing built, with the error kept.
    assert found[("fusion", True)]["built"] is None and "crashed" in found[("fusion", True)]["failed"][0]["error"]
    assert len(log) == 5


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
    assert "largest" not in text.split("predicted at")[-1]  # no search, no table of the largest


def test_markdown_table_of_the_largest_builds():
    doc = {"board": "ulx3s", "device": "LFE5U-85F-CABGA381", "bist_top": [{"rows": 7, "cols": 7, "built": False,
                                                                        "error": "ERROR: Unable to place"}],
           "fit": {"coef": [1000, 0, 700], "available_luts": 83640, "largest": 10}, "arrays": [],
           "array_fits": {"fixed": {"coef": [50, 0, 100], "available_luts": 83640, "largest": 12, "dsp_per_pe": 1.0,
                                    "available_dsp": 156},
                          "fusion": {"coef": [0, 0, 800], "available_luts": 83640, "largest": 10}},
           "largest": {"bist_top": {"predicted": 10, "next_predicted_luts": 85700,
                                    "built": _run(rows=9, cols=9, used={"LUT": 60000, "FF": 1, "DSP": 0, "BRAM": 1}),
                                    "failed": [{"rows": 10, "cols": 10, "built": False, "error": "ERROR: Unable to place"}]},
                       "fixed": {"predicted": 12, "next_predicted_luts": 16950, "failed": [],
                                 "built": _run(rows=12, cols=12, used={"LUT": 15000, "FF": 1, "DSP": 144, "BRAM": 0})}}}
    text = ecp5_sweep.markdown(doc)
    assert "| 7x7 | did not build: ERROR: Unable to place |" in text
    assert ("| bist_top (on the board) | LUT(N) = 1,000 + 0 N + 700.0 N^2 | 10x10 | 9x9 | 60,000 (72 %) | 0 / 156 | 58.0 "
            "| 81 | 324 | 1,296 | 85,700 | 120.0 | 10x10: ERROR: Unable to place |") in text
    assert ("| mac_array, fixed-8 PEs | LUT(N) = 50 + 0 N + 100.0 N^2, 1 DSP per PE | 12x12 | 12x12 | 15,000 (18 %) "
            "| 144 / 156 | 58.0 | 144 | 144 | 144 | 16,950 | 120.0 | - |") in text
    # A design whose largest this run did not search (--largest) shows its prediction only.
    assert "| mac_array, fusion PEs | LUT(N) = 0 + 0 N + 800.0 N^2 | 10x10 | not built in this run |" in text


def test_bad_board_one_line_exit_2():
    proc = subprocess.run([sys.executable, "-m", "fpga.ecp5_sweep", "--board", "zc706"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "zc706" in proc.stderr
