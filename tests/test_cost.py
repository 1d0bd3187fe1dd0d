"""`make cost`'s code path (cost.model) on tiny workloads, checked against hand-computed cases."""

import dataclasses
import json

import numpy as np
import pytest

from golden import gemm
from golden.fractrain import effective_macs, training_costs
from golden.fp16_accumulator import TIMING, latency
from cost import model
from cost.workloads import (Gemm, Layer, Update, from_training_json, layer_gemms, pfq_run, resnet_layers, resnet_step,
                            stage_epochs, step_gemms, training_tasks)


@dataclasses.dataclass(frozen=True)
class _Q:  # an unsigned integer operand with the QTensor fields golden.gemm reads
    codes: object
    bits: int
    fmt: str = "int"
    signed: bool = False
    scale: float = 1.0
    zero: float = 0.0


def _array(rows, cols, vectorless_mw, area, fmax, workload=None):
    return {"kind": "array", "family": None, "params": {"rows": rows, "cols": cols}, "area_um2": area,
            "timing": {"fmax_mhz": fmax}, "power_vectorless": {"total_mw": vectorless_mw},
            "workload": {m: {"power": {"total_mw": p}} for m, p in (workload or {}).items()}}


MODES = [f"{a}x{b}" for a in (2, 4, 8) for b in (2, 4, 8)]


def _ppa():
    """A hand-made ppa.json: 4x4 arrays with workload power, 8x8 / 16x16 vectorless only."""
    units = {
        "mac_array": _array(4, 4, 20.0, 1000.0, 130.0, {**dict.fromkeys(MODES, 12.0), "4x8": 10.0, "8x8": 14.0}),
        "mac_array_8x8": _array(8, 8, 60.0, 4000.0, 120.0),
        "mac_array_16x16": _array(16, 16, 200.0, 16000.0, 110.0),
        "mac_array_fixed8": _array(4, 4, 10.0, 500.0, 150.0, {**dict.fromkeys(MODES, 6.0), "4x8": 5.0, "8x8": 8.0}),
        "mac_array_fixed8_8x8": _array(8, 8, 30.0, 2000.0, 150.0),
        "mac_array_fixed8_16x16": _array(16, 16, 100.0, 8000.0, 150.0),
        "pe_fixed8": {"kind": "pe", "workload": {"8x8": {"energy_per_op_pj": 0.6}}},
        "hybrid_mac": {"kind": "rtl", "params": {"lanes": 4}, "area_um2": 70.0, "timing": {"fmax_mhz": 50.0},
                       "workload": {"int4xr4fp4": {"power": {"total_mw": 1.5}}}},
    }
    for name, fam in (("mac_array", "mac_array"), ("mac_array_8x8", "mac_array"), ("mac_array_16x16", "mac_array"),
                      ("mac_array_fixed8", "mac_array_fixed8"), ("mac_array_fixed8_8x8", "mac_array_fixed8"),
                      ("mac_array_fixed8_16x16", "mac_array_fixed8")):
        units[name]["family"] = fam
    return {"clock": {"period_ns": 10.0, "frequency_mhz": 100.0}, "units": units}


@pytest.fixture
def hw():
    return model.Hardware(_ppa(), "fixture")


def test_cycle_law_by_hand():
    # 10x20 @ 20x9 at 3x8 bits on a 4x4 fusion array: mode 4x8, P = 2 -> 10 beats a tile;
    # 3 x 3 tiles; (9 - 1) * max(10, 5) + 10 + (4 + 2) = 96.
    assert model.cycles("mac_array", 10, 20, 9, 3, 8, 4, 4, 4) == 96
    # The fixed array runs it in 8x8 mode: 20 beats a tile: 8 * 20 + 20 + 6 = 186.
    assert model.cycles("mac_array_fixed8", 10, 20, 9, 3, 8, 4, 4, 4) == 186
    # 2x2 mode (P = 16) on K = 16: one beat a tile, paced by the drain (rows + 1 = 5 cycles).
    assert model.cycles("mac_array", 8, 16, 8, 2, 2, 4, 4, 4) == 3 * 5 + 1 + 6
    # The pipelined MACs: 2 x 3 dot products of ceil(10 / 4) = 3 beats back to back, 18 beats,
    # + the unit's latency (golden.fp16_accumulator: front + 2 chains + 2 combining stages).
    for unit in ("hybrid_mac", "fp16_mac", "fp8_mac"):
        assert latency(unit) == TIMING[unit][0] + 4
        assert model.cycles(unit, 2, 10, 3, 4, 4, 1, 1, 4) == 18 + latency(unit)
    with pytest.raises(ValueError, match="bits"):
        model.cycles("mac_array", 1, 1, 1, 17, 8, 8, 8, 4)  # 9..16-bit codes run as two digit GEMMs
    with pytest.raises(ValueError, match="unit"):
        model.cycles("tpu", 1, 1, 1, 8, 8, 8, 8, 4)


@pytest.fixture(scope="module")
def rtl():
    """Icarus sessions of the training-on-RTL harness (cosim.sim) on 2x2 arrays, one per unit."""
    from cosim.sim import Config, open_sim
    return {unit: open_sim(Config(unit, rows=2, cols=2), "icarus") for unit in ("mac_array", "mac_array_fixed8")}


# (unit, bits_a, bits_b, m, k, n): FracTrain's 3x6-bit codes in the 4x8 mode over six tiles; 2x2
# codes on K = 16, one beat a tile, paced by the drain; the fixed array's 8x8 mode.
HIL_CASES = [("mac_array", 3, 6, 5, 37, 3), ("mac_array", 2, 2, 4, 16, 4), ("mac_array_fixed8", 8, 8, 3, 7, 5)]


def test_cycles_equal_the_rtl(rtl, hw):
    """The RTL runs (HIL, Icarus) each GEMM the cost model prices; its cycle count is the cost row's."""
    rng = np.random.default_rng(15)
    for unit, ba, bb, m, k, n in HIL_CASES:
        qa = _Q(rng.integers(0, 1 << ba, (m, k)), ba)
        qb = _Q(rng.integers(0, 1 << bb, (k, n)), bb)
        _, beats = gemm.map_mac_array(qa, qb, rows=2, cols=2, pe="fusion" if unit == "mac_array" else "fixed")
        out = rtl[unit].mac_array(beats)
        machine = model.Machine("m", "fusion" if unit == "mac_array" else "fixed8", 2, 2)
        priced = model.gemm_cost(Gemm("l", "fwd", m, k, n, ba, bb, 8), machine, hw)
        assert not out["error"]
        assert priced["cycles"] == out["cycles"], (unit, ba, bb, m, k, n)


def test_gemm_cost_by_hand(hw):
    g = Gemm("l", "fwd", 8, 16, 8, 4, 8, 8, count=3)
    c = model.gemm_cost(g, model.Machine("f", "fusion", 8, 8), hw)
    # One 8x8 tile, mode 4x8 (P = 2): 8 beats + latency 10 = 18 cycles.
    assert c["cycles"] == 3 * 18
    # Power: 4x4 workload power in 4x8 (10 mW) x vectorless 8x8 / 4x4 (60 / 20) = 30 mW;
    # 18 cycles x 30 mW x 10 ns = 5400 pJ per run.
    assert c["compute_pj"] == pytest.approx(3 * 5400.0)
    # Memory bits per run: fills 128*4 + 128*8 = 1536; result 64*8 = 512; streams
    # 8*16*4*ceil(8/8) + 16*8*8*ceil(8/8) = 1536; drain + epilogue read 2*64*32 = 4096.
    # SRAM = 1536 + 1536 + 4096 + 2*512 = 8192; DRAM = 1536 + 512 = 2048.
    assert c["sram_bits"] == 3 * 8192 and c["dram_bits"] == 3 * 2048
    # Node factor 0.6 pJ / 0.3 pJ = 2: SRAM 8192 * 20/64 * 2, DRAM 2048 * 1300/64 * 2.
    assert c["sram_pj"] == pytest.approx(3 * 5120.0)
    assert c["dram_pj"] == pytest.approx(3 * 83200.0)
    assert c["effective_macs"] == pytest.approx(effective_macs(3 * 1024, 4, 8))
    assert c["ppa_entries"] == ["units.mac_array.workload.4x8.power.total_mw",
                                "units.mac_array.power_vectorless.total_mw",
                                "units.mac_array_8x8.power_vectorless.total_mw"]
    # A 3-bit result is stored as the fusion array reads it: in 4-bit lanes.
    c3 = model.gemm_cost(Gemm("l", "fwd", 8, 16, 8, 4, 8, 3), model.Machine("f", "fusion", 8, 8), hw)
    assert c3["dram_bits"] == 1536 + 64 * 4
    # The fixed array: 8x8 mode, 16 beats + 10; power of its 4x8 data: 5 mW x 30 / 10 = 15 mW;
    # operands move at 8 bits.
    f = model.gemm_cost(g, model.Machine("x", "fixed8", 8, 8), hw)
    assert f["cycles"] == 3 * 26
    assert f["compute_pj"] == pytest.approx(3 * 26 * 15.0 * 10)
    assert f["sram_bits"] == 3 * (2048 + 2048 + 4096 + 1024)


def test_run_cost_totals_and_sources(hw):
    gemms = [Gemm("l", "fwd", 8, 16, 8, 4, 8, 8, count=3), Gemm("l", "wgrad", 8, 16, 8, 8, 8, 32)]
    r = model.run_cost(gemms, model.Machine("f", "fusion", 8, 8), hw)
    # wgrad: 8x8 mode, 16 beats + 10 = 26 cycles at 14 x 3 = 42 mW.
    assert r["cycles"] == 3 * 18 + 26
    assert r["latency_s"] == pytest.approx((3 * 18 + 26) * 10e-9)
    assert r["compute_j"] == pytest.approx((3 * 5400.0 + 26 * 42.0 * 10) * 1e-12)
    assert r["energy_j"] == pytest.approx(r["compute_j"] + r["sram_j"] + r["dram_j"])
    assert r["fmax_mhz"] == {"mac_array": 120.0} and r["area_um2"] == 4000.0
    assert r["latency_at_fmax_s"] == pytest.approx((3 * 18 + 26) / 120e6)
    assert set(r["by_mode"]) == {"mac_array:4x8", "mac_array:8x8"}
    assert "golden.gemm.predict_cycles" in r["sources"]["cycles"] and "Horowitz" in r["sources"]["memory"]
    assert "units.mac_array.workload.8x8.power.total_mw" in r["sources"]["ppa"]


def test_interpolation_and_iso_area(hw):
    # 12x12 = 144 PEs: between 64 (2000 um^2) and 256 (8000): 2000 + 6000 * 80 / 192 = 4500.
    assert hw.area("mac_array_fixed8", 12, 12)[0] == pytest.approx(4500.0)
    # The fixed array with the most PEs within the 8x8 fusion array's 4000 um^2: 128 PEs
    # (2000 + 6000 * 64 / 192 = 4000), as 8x16, the squarest 128-PE shape; the largest square
    # one would be 11x11 (121 PEs, 3781). A 4x3 fusion array (750 um^2) holds 24 fixed PEs: 4x6.
    assert hw.iso_area_shape(8, 8) == (8, 16) and hw.iso_area_shape(4, 3) == (4, 6)
    assert hw.area("mac_array_fixed8", 8, 16)[0] <= hw.area("mac_array", 8, 8)[0] < hw.area("mac_array_fixed8", 1, 129)[0]
    # The record says where each area comes from: 8x16 interpolated, the fusion 8x8 synthesized.
    iso = hw.iso_area(8, 8)
    assert iso["shape"] == [8, 16] and not iso["synthesized"] and iso["area_from"] == ["mac_array_fixed8_8x8",
                                                                                      "mac_array_fixed8_16x16"]
    assert iso["fusion_synthesized"] and iso["fusion_area_um2"] == 4000.0
    measured = _ppa()
    measured["units"]["mac_array_fixed8_8x16"] = {**_array(8, 16, 55.0, 3990.0, 150.0), "family": "mac_array_fixed8"}
    iso = model.Hardware(measured, "fixture").iso_area(8, 8)
    assert iso["shape"] == [8, 16] and iso["synthesized"] and iso["area_um2"] == 3990.0
    # With a single synthesized size, proportional to the PE count.
    one = _ppa()
    for name in ("mac_array_fixed8_8x8", "mac_array_fixed8_16x16"):
        del one["units"][name]
    assert model.Hardware(one, "fixture").area("mac_array_fixed8", 8, 8)[0] == pytest.approx(2000.0)


def test_grid_of_mac_units(hw):
    # 9 x 4 @ 4 x 5 INT4 x R4FP4 on a 2x2 grid of hybrid_macs: each unit 5 x 3 dots of 1 beat
    # (one cycle each), + the latency.
    g = Gemm("l", "dgrad", 9, 4, 5, 4, 4, 4, fmt="int4xr4fp4")
    c = model.gemm_cost(g, model.Machine("i", "ibm", 2, 2), hw)
    want = 15 + latency("hybrid_mac")
    assert c["unit"] == "hybrid_mac" and c["cycles"] == want
    assert c["compute_pj"] == pytest.approx(want * 1.5 * 4 * 10)
    with pytest.raises(ValueError, match="cannot run"):
        model.gemm_cost(g, model.Machine("f", "fusion", 2, 2), hw)


def test_lane_study_swaps_in_each_lane_count(hw):
    """The IBM-vs-FP16 step at every lane count the sweep measured both MACs at: the sweep's
    L-lane units replace the training MACs (cycles follow their lanes), FP8 layers fall back to
    fp16_mac where the sweep has no fp8_mac; an L without fp16_mac workload power is named as
    skipped, with the sweep's note."""
    mac = lambda fam, lanes, mode, mw, wl=True: {
        "kind": "lanes", "family": fam, "params": {"lanes": lanes}, "area_um2": 1.0, "timing": {"fmax_mhz": 100.0},
        "workload": {mode: {"power": {"total_mw": mw}}} if wl else {}, "workload_note": None if wl else "too big"}
    lanes_doc = {"units": {"hybrid_mac": mac("hybrid_mac", 4, "int4xr4fp4", 1.0),
                           "fp16_mac": mac("fp16_mac", 4, "fp16xfp16", 4.0),
                           "hybrid_mac_l16": mac("hybrid_mac", 16, "int4xr4fp4", 2.0),
                           "fp16_mac_l16": mac("fp16_mac", 16, "fp16xfp16", 12.0),
                           "hybrid_mac_l32": mac("hybrid_mac", 32, "int4xr4fp4", 3.0),
                           "fp16_mac_l32": mac("fp16_mac", 32, "fp16xfp16", 0.0, wl=False)}}
    h16 = model.at_lanes(hw, lanes_doc, 16)
    assert h16.unit("hybrid_mac")["params"]["lanes"] == 16 and not h16.has("fp8_mac")
    g = Gemm("l", "dgrad", 9, 64, 5, 4, 4, 4, fmt="fp8")
    c = model.gemm_cost(g, model.Machine("i", "ibm", 1, 1), h16)
    assert c["unit"] == "fp16_mac" and c["cycles"] == 45 * 4 + latency("fp16_mac")
    rows = model.lane_study(hw, lanes_doc, 2, 2, depths=(38,), batch=2)
    assert [r["lanes"] for r in rows] == [4, 16, 32]
    assert "too big" in rows[2]["skipped"]
    for r in rows[:2]:
        assert r["energy_ratio"] == pytest.approx((r["fp16_compute_j"] + r["fp16_memory_j"]) /
                                                  (r["ibm4_compute_j"] + r["ibm4_memory_j"]))


def test_layer_gemms_shapes():
    # A 3x3 conv 16 -> 32 at stride 2 (16x16 -> 8x8), batch 2.
    fwd, dgrad, wgrad = layer_gemms(Layer("c", 16, 32, 9, 256, 64), 2, (4, 4, 8), first=False)
    assert (fwd.m, fwd.k, fwd.n, fwd.a_elems, fwd.c_elems) == (128, 144, 32, 2 * 256 * 16, 128 * 32)
    assert (dgrad.m, dgrad.k, dgrad.n, dgrad.bits_a, dgrad.bits_b, dgrad.c_elems) == (128, 32, 144, 8, 4, 2 * 256 * 16)
    assert (wgrad.m, wgrad.k, wgrad.n, wgrad.bits_a, wgrad.bits_b, wgrad.bits_out) == (144, 128, 32, 4, 8, 32)
    assert len(layer_gemms(Layer("c", 3, 16, 9, 1024, 1024), 2, (8, 8, 8), first=True)) == 2
    # ResNet-38: 1 stem + 3 stages x 6 blocks x 2 convs + 2 projection shortcuts + fc = 40 layers.
    assert len(resnet_layers(38, 100)) == 40
    assert len(resnet_layers(164, 10)) == 1 + 3 * 18 * 3 + 3 + 1
    # Forward MACs per image of CIFAR ResNet-110: 2.53e8 (Li et al., "Pruning Filters for
    # Efficient ConvNets", ICLR 2017, Table 1; their shortcuts have no 1x1 convs, ours add 0.1%).
    fwd = sum(g.macs for g in resnet_step(110, 10, batch=1) if g.role == "fwd")
    assert fwd == pytest.approx(2.53e8, rel=5e-3)


def test_pfq_stages():
    assert stage_epochs((0.25, 0.5, 0.75), 160) == [40, 40, 40, 40]
    run = pfq_run(38, 10, (3, 4, 6, 8), (6, 6, 8, 8), (0.25, 0.5, 0.75))
    steps = 40 * 50_000 / 128
    assert {(g.bits_a, g.bits_b, g.count) for g in run if g.layer == "fc" and g.role == "fwd"} == \
        {(3, 3, steps), (4, 4, steps), (6, 6, steps), (8, 8, steps)}
    with pytest.raises(ValueError, match="turning-point"):
        stage_epochs((0.5, 0.25, 0.75), 160)


def _digits_run(precisions, recipe="pfq"):
    return {"bench": "digits", "recipe": recipe, "seed": 0, "epochs": len(precisions), "test_accuracy": 0.9,
            "effective_macs": 0.0, "macs": 0.0, "precisions": precisions}


def test_loader_matches_fractrain_account():
    # The training CLI's schema: per epoch, per layer (act, weight, grad) bits; epoch 2 with DFQ-style
    # per-mini-batch precisions (40 mini-batches: 39 of 32 samples, one of 9).
    e1 = [[3, 3, 6]] * 3
    e2 = [[[4, 4, 8], [8, 8, 8], [4, 4, 6]] if i % 2 else [[8, 8, 8]] * 3 for i in range(40)]
    run = from_training_json(json.loads(json.dumps(_digits_run([e1, e2]))))
    gemms = [g for g in run if isinstance(g, Gemm)]
    eff = sum(g.macs * g.count * g.bits_a * g.bits_b / 1024 for g in gemms)
    # one optimizer step per layer and mini-batch: 40 + 40 steps, the weights' codes at the forward width
    updates = {(u.layer, u.bits_w): u.count for u in run if isinstance(u, Update)}
    assert sum(updates.values()) == 3 * 80 and updates[("linear3", 3)] == 40 and updates[("linear2", 8)] == 20 + 20
    macs = np.array([64 * 64, 64 * 64, 64 * 10], dtype=float)
    sizes = [32] * 39 + [9]
    expect = sum(training_costs(macs * s, 3, 3, 6, [False, True, True])["total"] for s in sizes)
    for i, s in enumerate(sizes):
        bits = np.array(e2[i]).T
        expect += training_costs(macs * s, bits[0], bits[1], bits[2], [False, True, True])["total"]
    assert eff == pytest.approx(expect)
    with pytest.raises(ValueError, match="precisions has"):
        from_training_json({**_digits_run([e1]), "epochs": 2})
    with pytest.raises(ValueError, match="bench"):
        from_training_json({**_digits_run([e1]), "bench": "imagenet"})


def test_cli_bad_argument(capsys):
    with pytest.raises(SystemExit) as e:
        model.main(["--turning-points", "0.5,0.2,0.9"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        model.main(["--depths", "50"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        model.main(["--ppa", "/nonexistent/ppa.json", "--runs"])
    assert e.value.code == 2
    assert "make synth" in capsys.readouterr().err


def test_study_end_to_end(hw, tmp_path):
    """`make cost`'s whole path on the fixture hardware with one tiny training run per recipe."""
    e = [[8, 8, 8]] * 3
    runs = [_digits_run([e], "fw8bw8"), _digits_run([[[3, 3, 6]] * 3], "pfq"),
            _digits_run([[[8, 8, 8], [4, 4, 4], [8, 8, 8]]], "ibm4"),
            {**_digits_run([[[8, 8, 4]] * 3], "bhq4"), "host_transform_macs": 1e6},
            {**_digits_run([[[8, 8, 8]] * 3], "dfq"), "epochs": 3, "diverged_epoch": 2, "test_accuracy": 0.0}]
    ppa = _ppa()
    ppa["units"]["fp16_mac"] = {"kind": "rtl", "params": {"lanes": 4}, "area_um2": 290.0,
                                "timing": {"fmax_mhz": 38.0}, "workload": {"fp16xfp16": {"power": {"total_mw": 4.0}}}}
    path = tmp_path / "ppa.json"
    path.write_text(json.dumps(ppa))
    run_files = []
    for i, r in enumerate(runs):
        run_files.append(tmp_path / f"run{i}.json")
        run_files[-1].write_text(json.dumps(r))
    model.main(["--ppa", str(path), "--out", str(tmp_path / "out"), "--depths", "38", "--batch", "2",
                "--lanes-ppa", str(tmp_path / "no_lane_sweep.json"), "--runs", *map(str, run_files)])
    doc = json.loads((tmp_path / "out" / "cost.json").read_text())
    assert doc["schema"] == model.SCHEMA
    assert all(row["sources"]["ppa"] and row["sources"]["cycles"] and row["sources"]["memory"] for row in doc["costs"])
    digits = [c for c in doc["comparisons"] if c["workload"].startswith("digits") and c["recipe"] == "pfq"]
    assert {c["baseline_key"] for c in digits} == {"fusion", "fixed_iso_pe", "fixed_iso_area", "fixed_equal_area"}
    # Equal area exactly: latency per mm^2; energy per operation unchanged.
    new = next(r for r in doc["costs"] if r["workload"] == "digits (seed 0)" and r["recipe"] == "pfq")
    base = next(r for r in doc["costs"] if r["workload"] == "digits (seed 0)" and r["recipe"] == "fw8bw8"
                and r["machine_key"] == "fixed_iso_area")
    eq = next(c for c in digits if c["baseline_key"] == "fixed_equal_area")
    iso = next(c for c in digits if c["baseline_key"] == "fixed_iso_area")
    assert eq["latency"] == pytest.approx(1 - new["latency_s"] * new["area_um2"] / (base["latency_s"] * base["area_um2"]))
    assert eq["energy"] == iso["energy"]  # (the fixture's 8x16 fills the 4000 um^2 exactly: latencies equal too)
    # Effective MACs per sample, sum over GEMMs of MACs x bits_a x bits_b: PFQ (3, 3, 6):
    # 4096 (9 + 18) + 4096 (9 + 18 + 18) + 640 (9 + 18 + 18) = 323,712; FW8/BW8: 4096 * 128 +
    # 4096 * 192 + 640 * 192 = 1,433,600.
    for c in digits:
        assert c["effective_macs"] == pytest.approx(1 - 323712 / 1433600)
    assert (tmp_path / "out" / "savings.png").stat().st_size > 0
    assert "iso-area" in (tmp_path / "out" / "cost.md").read_text()
    assert {c["workload"] for c in doc["comparisons"]} == {"resnet38-cifar10", "resnet38-cifar100", "digits (seed 0)"}
    assert "lanes" not in doc  # no lane sweep: no lane study
    # A diverged run is not priced (it would look cheap), and is named as such.
    assert doc["unpriced"] == [{"workload": "digits (seed 0)", "recipe": "dfq", "reason": "diverged in epoch 2 of 3"}]
    assert not any(r["recipe"] == "dfq" for r in doc["costs"])
    assert "Not priced: digits (seed 0) dfq (diverged in epoch 2 of 3)" in (tmp_path / "out" / "cost.md").read_text()
    # BHQ's Householder part: FP32 multiply-adds at Horowitz's 4.6 pJ scaled to the node, added to
    # the run's energy (and only to it).
    bhq = next(r for r in doc["costs"] if r["recipe"] == "bhq4")
    want = 1e6 * 4.6 * doc["memory"]["node_factor"] * 1e-12
    assert bhq["host_transform_j"] == pytest.approx(want)
    assert bhq["energy_j"] == pytest.approx(bhq["compute_j"] + bhq["memory_j"] + want)
    assert all("host_transform_j" not in r for r in doc["costs"] if r["recipe"] != "bhq4")


def test_priced_trainings_run_on_the_executor_and_are_cached(tmp_path, monkeypatch):
    """Without --runs, `make cost` trains its runs as executor tasks, cached under OUT/cache."""
    two = (("fw8bw8", "fw8bw8", {"epochs": 1}), ("pfq", "pfq", {"epochs": 1}))
    monkeypatch.setattr(model, "training_tasks", lambda benches: training_tasks(benches, priced=two))
    path = tmp_path / "ppa.json"
    path.write_text(json.dumps(_ppa()))
    argv = ["--ppa", str(path), "--out", str(tmp_path / "out"), "--depths", "", "--benches", "digits",
            "--workers", "0"]
    model.main(argv)
    doc = json.loads((tmp_path / "out" / "cost.json").read_text())
    assert [(r["bench"], r["recipe"], r["epochs"]) for r in doc["runs"]] == [("digits", "fw8bw8", 1), ("digits", "pfq", 1)]
    assert {c["baseline_key"] for c in doc["comparisons"]} == {"fusion", "fixed_iso_pe", "fixed_iso_area", "fixed_equal_area"}
    records = [p for p in (tmp_path / "out" / "cache").glob("*.json") if p.name != "durations.json"]
    assert len(records) == 2
    from golden.training import loop

    def no_training(*args, **kwargs):
        raise AssertionError("trained again: the cache holds this run")
    monkeypatch.setattr(loop, "train", no_training)
    model.main(argv)
    assert json.loads((tmp_path / "out" / "cost.json").read_text())["runs"] == doc["runs"]


def test_optimizer_traffic_and_ranges_by_hand(hw):
    """The optimizer's step of a 64 -> 10 linear layer: 640 weights x (5 x 32 FP32 words + the
    weights' codes at the width the machine stores them) through DRAM and SRAM; the same on
    the fusion and the fixed array at 8 bits, less on the fusion array at 4 (the fixed array
    still stores 8-bit codes)."""
    layer = Layer("fc", 64, 10)
    upd = step_gemms([layer], 32, "pfq", [(4, 4, 8)])[-1]
    assert isinstance(upd, Update) and upd.weights == 640 and upd.bits_w == 4
    fusion, fixed = model.Machine("f", "fusion", 8, 8), model.Machine("x", "fixed8", 8, 8)
    c = model.gemm_cost(upd, fusion, hw)
    assert c["dram_bits"] == c["sram_bits"] == 640 * (160 + 4) and c["cycles"] == 0 == c["compute_pj"]
    assert c["dram_pj"] == pytest.approx(640 * 164 * 1300 / 64 * 2)
    assert model.gemm_cost(upd, fixed, hw)["dram_bits"] == 640 * (160 + 8)
    fp16 = step_gemms([layer], 32, "fp16", [(16, 16, 16)])[-1]  # FP16 weights are stored at 16 bits
    assert model.gemm_cost(fp16, model.Machine("h", "fp16", 8, 8), hw)["dram_bits"] == 640 * (160 + 16)
    r = model.run_cost([upd], fusion, hw)
    assert r["by_role"]["optimizer"]["dram_pj"] == pytest.approx(c["dram_pj"]) and r["cycles"] == 0
    # Ranges: two FP32 values per tensor, per output channel of the weights, per sample of the
    # weight-gradient GEMM's gradient under PSQ / BHQ (also in the combined recipes).
    fwd, wgrad = step_gemms([layer], 32, "pfq", [(4, 4, 8)])[:2]
    assert fwd.side_bits == 2 * 32 * (1 + 10) and wgrad.side_bits == 2 * 32 * 2
    for recipe in ("psq4", "bhq5", "pfq+psq", "fractrain+bhq"):
        assert step_gemms([layer], 32, recipe, [(4, 4, 8)])[1].side_bits == 2 * 32 * (1 + 32)
    g = Gemm("l", "fwd", 8, 16, 8, 4, 8, 8, side_bits=100)
    plain = model.gemm_cost(dataclasses.replace(g, side_bits=0), fusion, hw)
    ranged = model.gemm_cost(g, fusion, hw)
    assert ranged["dram_bits"] - plain["dram_bits"] == 100 and ranged["sram_bits"] - plain["sram_bits"] == 200
