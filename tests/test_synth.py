"""`make synth` end to end on the smallest units (fixed_mul; pe_fixed8, the smallest with flops),
plus the pieces the flow is built from.

Needs the OSU 0.18 um files and OpenSTA: `make test` installs them first (target synth-tools);
run alone, `make synth-tools` once. Missing tools fail the test with that instruction.
"""

import json
import shutil

import numpy as np
import pytest

from synth import fusion_variants, gatesim, liberty, ppa, sta, workloads

from lptrain.paths import ROOT
LIB = ROOT / "build" / "tech" / "osu018" / "osu018_stdcells.lib"


@pytest.fixture(scope="module")
def out(worker_id):
    missing = [what for what, ok in (("OSU 0.18 um liberty", LIB.exists()), ("OpenSTA (sta)", shutil.which("sta")),
                                      ("Icarus (iverilog)", shutil.which("iverilog"))) if not ok]
    assert not missing, f"missing {', '.join(missing)}: run `make synth-tools`"
    # One directory per pytest-xdist worker: tests of this module may run on several at once.
    out = ROOT / "build" / f"synth_test_{worker_id}"
    shutil.rmtree(out, ignore_errors=True)
    ppa.main(["--liberty", str(LIB), "--units", "fixed_mul,pe_fixed8", "--out", str(out),
              "--crosscheck", "fixed_mul", "--crosscheck-modes", "8x8", "--workers", "0"])
    return out


@pytest.fixture(scope="module")
def doc(out):
    return json.loads((out / "ppa.json").read_text())


def test_flow_outputs(doc, out):
    assert doc["schema"] == ppa.SCHEMA
    assert set(doc["tools"]) >= {"yosys", "opensta", "iverilog", "liberty"}
    assert doc["clock"]["period_ns"] == ppa.PERIOD_NS
    for name in ("ppa.md", "area.png"):  # the energy plot needs the fusion/fixed pairs
        assert (out / name).stat().st_size > 0, name
    assert "| fixed_mul |" in (out / "ppa.md").read_text()
    assert not doc["errors"]


def test_area_matches_liberty(doc):
    # Yosys's area is the sum of the liberty areas of the mapped cells: no generic cell left.
    unit = doc["units"]["fixed_mul"]
    lib = liberty.load(LIB)
    assert unit["area_um2"] == pytest.approx(sum(n * lib.cells[c]["area"] for c, n in unit["cells_by_type"].items()))
    assert unit["sequential_cells"] == 0  # a combinational multiplier


def test_timing_and_power(doc):
    unit = doc["units"]["fixed_mul"]
    t = unit["timing"]
    assert t["combinational"] and 0 < t["worst_path_ns"] < ppa.PERIOD_NS
    assert t["fmax_mhz"] == pytest.approx(1e3 / t["min_period_ns"])
    assert t["startpoint"].split("[")[0] in ("a", "b", "sa", "sb") and t["endpoint"].startswith("p")
    assert unit["power_vectorless"]["total_mw"] > 0
    energy = {m: w["energy_per_op_pj"] for m, w in unit["workload"].items()}
    assert set(energy) == {f"{a}x{b}" for a in (2, 4, 8) for b in (2, 4, 8)}
    # A fixed 8-bit multiplier fed narrow operands toggles fewer input bits: less energy per MAC.
    assert energy["2x2"] < energy["8x8"]
    assert all(unit["workload"][m]["macs_per_cycle"] == 1 for m in energy)


def test_sequential_unit(doc):
    # Flops: timing register to register on the real netlist, power on the register-cut copy with
    # the flops' activity from gate-level simulation (reset applied first, so not stuck at X).
    unit = doc["units"]["pe_fixed8"]
    assert unit["sequential_cells"] == 32 and not unit["timing"]["combinational"]
    assert 0 < unit["timing"]["min_period_ns"] and unit["timing"]["fmax_mhz"] > 0
    for mode, w in unit["workload"].items():
        assert 0 < w["mean_register_activity"] < 1, mode
        assert 0 < w["power"]["sequential_mw"] < w["power"]["total_mw"], mode
    assert unit["workload"]["2x2"]["energy_per_op_pj"] < unit["workload"]["8x8"]["energy_per_op_pj"]
    # The PE is the multiplier plus an accumulator: more area, and each MAC costs more.
    mul = doc["units"]["fixed_mul"]
    assert unit["area_um2"] > mul["area_um2"]
    assert unit["workload"]["8x8"]["energy_per_op_pj"] > mul["workload"]["8x8"]["energy_per_op_pj"]


def test_cut_registers(doc, tmp_path, out):
    netlist = out / "netlists" / "pe_fixed8.netlist.v"
    regs = sta.cut_registers(netlist, LIB, tmp_path / "cut.v")
    assert sorted(regs.values()) == sorted(f"acc[{i}]" for i in range(32))
    inputs = sta.netlist_ports(tmp_path / "cut.v")["inputs"]
    assert set(regs) <= set(inputs) and set(sta.netlist_ports(netlist)["inputs"]) <= set(inputs)


def test_ratios_reported_with_reasons(doc):
    names = {"fusion_area_vs_fixed8", "fusion_8b_energy_per_mac_vs_fixed8", "fusion_2b_energy_per_mac_vs_fixed8",
             "array16_area_vs_fixed8_array16", "hybrid_mac_area_vs_fp16_mac", "hybrid_mac_power_vs_fp16_mac",
             "tpr_path_area_vs_array16", "fp8_mac_area_vs_fp16_mac", "fp8_mac_power_vs_fp16_mac"}
    names |= {f"{fusion_variants.tag(*v)}_{k}" for v in fusion_variants.VARIANTS
              for k in ("unit_area_vs_bit_fusion", "pe_area_vs_fixed8", "2b_energy_per_mac_vs_fixed8",
                        "8b_energy_per_mac_vs_fixed8")}
    assert set(doc["ratios"]) == names
    # pe_fusion was not measured: every ratio is null and says which unit it lacks.
    assert all(doc["ratios"][k] is None and "not measured" in doc["ratio_notes"][k] for k in names)


def test_crosscheck(doc):
    row = doc["crosscheck"]["fixed_mul"]["8x8"]
    assert row["opensta_switching_mw"] > 0 and row["gatesim_zero_delay_switching_mw"] > 0
    # Glitches only add transitions; and the two activity methods agree within an order of magnitude.
    assert row["gatesim_timed_switching_mw"] >= row["gatesim_zero_delay_switching_mw"]
    assert 0.1 < row["gatesim_zero_delay_vs_opensta"] < 10


def test_activity_of_a_known_stream():
    # bit 0 toggles every cycle (duty 1/2), bit 1 once in 3 transitions (duty 1/4), port c absent.
    wl = workloads.Workload("m", {"a": workloads.pack_bits(np.array([[0], [1], [2], [3]]), 2)}, 4, "op")
    act = workloads.activity(wl, {"a": 2, "c": 1, "clk": 1})
    assert act == {"a[0]": (1.0, 0.5), "a[1]": (pytest.approx(1 / 3), 0.5), "c": (0.0, 0.0)}


def test_pack_bits_twos_complement():
    bits = workloads.pack_bits(np.array([[-1, 2]]), 3)
    assert bits.tolist() == [[1, 1, 1, 0, 1, 0]]


def test_vcd_toggle_count(tmp_path):
    vcd = tmp_path / "t.vcd"
    vcd.write_text("$var wire 1 ! n1 $end\n$var wire 1 \" n2 $end\n#0\nx!\n0\"\n#1000\n1!\n1\"\n"
                   "#2000\n0!\n#3000\n1!\n0\"\n")
    # Transitions after the 1000 ps settling window only; X -> 1 is not a transition.
    assert gatesim._count_toggles(vcd, skip_until_ps=1000) == {"n1": 2, "n2": 1}
