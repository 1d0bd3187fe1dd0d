"""The fast HIL harness (cosim.sim, cosim.run) against the golden model.

Streams: mapped GEMMs of every mode pair run through the C++ Verilator driver with random input
gaps and output backpressure (nothing lost, duplicated or reordered: every output word, the row
order and the counters are checked) and without (cycles == golden.gemm.predict_cycles); the
same beats on Icarus give the same words and cycles. HIL: 2 training steps of each recipe with
every GEMM on the RTL (one recipe on Icarus), and an injected corruption of one RTL output word
is caught and named. Small arrays (2 x 3) keep the Verilator builds short; builds are shared
(build/hil/, a lock serializes the test workers).
"""

import json

import numpy as np
import pytest

from golden import gemm as G
from golden.fp8 import fp8_decode
from golden.mac_array import mac_array
from golden.training.qtensor import QTensor
from cosim import sweep
from cosim.run import HilBackend, Mismatch, check_dots, check_mac_array, main
from cosim.sim import Config, open_sim, words_to_fields

ROWS, COLS = 2, 3
RNG = np.random.default_rng(1414)


def int_operand(shape, bits, signed, along_k=None):
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    extreme = RNG.random() < 0.3  # all-extreme codes: worst-case products
    codes = np.full(shape, lo if RNG.random() < 0.5 else hi - 1) if extreme else RNG.integers(lo, hi, shape)
    scale = 1.0 if along_k is None else RNG.random(along_k) + 0.5
    return QTensor("int", codes, bits, signed, 0.0, scale * (2 ** bits - 1))


@pytest.fixture(scope="module")
def sims():
    opened = {}

    def get(unit, sim="verilator", **config):
        key = (unit, sim, *config.values())
        if key not in opened:
            opened[key] = open_sim(Config(unit, ROWS, COLS, **config), sim)
        return opened[key]

    yield get
    for s in opened.values():
        s.close()


WIDTHS = [2, 3, 4, 5, 8]


@pytest.mark.sim
@pytest.mark.parametrize("unit", ["mac_array", "mac_array_fixed8"])
def test_array_streams(sims, unit):
    """Random GEMMs (every mode pair, 3/5-bit codes, K split per channel) with and without
    gaps/backpressure, all submitted before the first result is read (the pipelined interface):
    every word, row order, counter; cycles == predicted without gaps."""
    sim = sims(unit)
    pe = "fusion" if unit == "mac_array" else "fixed"
    jobs = []
    for i, (ba, bb) in enumerate((a, b) for a in WIDTHS for b in WIDTHS):
        m, k, n = (int(v) for v in RNG.integers(1, 12, 3))
        per_channel = i % 4 == 3
        qa = int_operand((m, k), ba, bool(RNG.integers(0, 2)))
        qb = int_operand((k, n), bb, bool(RNG.integers(0, 2)), along_k=(k, 1) if per_channel else None)
        plan, beats = G.map_mac_array(qa, qb, rows=ROWS, cols=COLS, pe=pe)
        _, sums, _ = G.int_gemm(qa, qb, unit=unit)
        assert np.array_equal(mac_array(**beats, pe=pe).tiles, G.scatter_tiles(plan, sums))
        for gap, bp in ((0.0, 0.0), (0.3, 0.4)):
            sim.submit_mac_array(beats, gap=gap, backpressure=bp, seed=i)
            jobs.append((i, plan, beats, sums, gap, (m, k, n, ba, bb, 1 if per_channel else None)))
    for i, plan, beats, sums, gap, (m, k, n, ba, bb, k_group) in jobs:
        out = sim.result()
        check_mac_array(f"gemm {i}", plan, beats, out, sums)
        if gap == 0.0:
            assert out["cycles"] == G.predict_cycles(unit, m, k, n, ba, bb, rows=ROWS, cols=COLS, k_group=k_group)
        else:
            assert out["tb_stalls"] or out["cycles"] > plan.tile_beats.sum()


@pytest.mark.sim
def test_close_with_unread_results():
    """A run that ends early (a mismatch) closes its driver with replies still unread, more than a
    pipe holds (a scale along K: one tile per k): no hang."""
    sim = open_sim(Config("mac_array", ROWS, COLS))
    qa, qb = int_operand((12, 64), 8, True), int_operand((64, 12), 8, False, along_k=(64, 1))
    _, beats = G.map_mac_array(qa, qb, rows=ROWS, cols=COLS)
    for _ in range(3):
        sim.submit_mac_array(beats)
    sim.close()
    assert sim.proc.returncode is not None


def test_words_to_fields():
    """Output words -> signed/unsigned fields, the 32-bit fast path and the bit-level path."""
    words = RNG.integers(0, 1 << 32, (7, 6), dtype=np.uint64).astype(np.uint32)
    for width, count in ((32, 6), (24, 8), (48, 4)):
        ints = [sum(int(w) << (32 * j) for j, w in enumerate(row)) for row in words]
        for signed in (False, True):
            want = [[(v >> (width * f)) & ((1 << width) - 1) for f in range(count)] for v in ints]
            if signed:
                want = [[x - (1 << width) if x >> (width - 1) else x for x in row] for row in want]
            assert words_to_fields(words, width, count, signed).tolist() == want


def r4fp4_operand(shape, phase, scale_exp):
    return QTensor("r4fp4", RNG.integers(0, 16, shape).astype(np.uint8), 4, True, phase=phase,
                   scale_exp=scale_exp)


@pytest.mark.sim
def test_hybrid_streams(sims):
    """INT4 x R4FP4 GEMMs on hybrid_mac, both operand orders, with and without idle cycles."""
    sim = sims("hybrid_mac")
    for i in range(6):
        m, k, n = (int(v) for v in RNG.integers(1, 10, 3))
        qi = int_operand((m, k) if i % 2 else (k, n), 4, bool(i % 3))
        qg = r4fp4_operand((k, n) if i % 2 else (m, k), i % 2, int(RNG.integers(-18, 9)))
        qa, qb = (qi, qg) if i % 2 else (qg, qi)
        beats = G.map_hybrid(qa, qb)
        _, golden = G.hybrid_gemm(qa, qb)
        for gap in (0.0, 0.3):
            out = sim.mac(beats, gap=gap, seed=i)
            check_dots(f"gemm {i}", m, n, out["out"], golden)
            assert out["extra_results"] == 0
            if gap == 0.0:
                assert out["cycles"] == G.predict_cycles("hybrid_mac", m, k, n, 4, 4) and out["tb_stalls"] == 0


def fp8_operand(shape, fmt, scale_exp):
    """FP8 codes of every finite class, a few all-extreme tensors (every product 480 x 57344: the
    GEMM's product shift at its largest for the K)."""
    c = RNG.integers(0, 256, shape).astype(np.uint8)
    if RNG.random() < 0.2:
        c[:] = 0x7B if fmt == "e5m2" else 0x7F  # the largest finite code
    c = np.where(np.isfinite(fp8_decode(c, fmt)), c, 0).astype(np.uint8)
    return QTensor(fmt, c, 8, True, scale_exp=scale_exp)


@pytest.mark.sim
@pytest.mark.parametrize("sim,fmts", [("verilator", ("e4m3", "e5m2")), ("icarus", ("e4m3", "e4m3"))])
def test_fp8_streams(sims, sim, fmts):
    """FP8 x FP8 GEMMs on fp8_mac, one result per dot product: HFP8's backward e4m3 x e5m2 (both
    operand orders, with and without idle cycles) on Verilator, its forward e4m3 x e4m3 on Icarus:
    every FP16 dot product bit for bit, cycles == predicted without gaps."""
    unit = sims("fp8_mac", sim, fmts=fmts)
    for i in range(6):
        m, k, n = (int(v) for v in RNG.integers(1, 10, 3))
        fa, fb = fmts if i % 2 else fmts[::-1]
        qa, qb = fp8_operand((m, k), fa, int(RNG.integers(-8, 8))), fp8_operand((k, n), fb, 0)
        beats = G.map_fp8(qa, qb)
        assert (beats["fmt_x"], beats["fmt_g"]) == fmts
        _, golden = G.fp8_gemm(qa, qb)
        for gap in (0.0, 0.3) if sim == "verilator" else (0.0,):
            out = unit.mac(beats, gap=gap, seed=i)
            check_dots(f"gemm {i}", m, n, out["out"], golden)
            assert out["extra_results"] == 0
            if gap == 0.0:
                assert out["cycles"] == G.predict_cycles("fp8_mac", m, k, n, 8, 8) and out["tb_stalls"] == 0


@pytest.mark.sim
def test_icarus_runs_the_same_beats(sims):
    """One GEMM per unit on Icarus: the same words and cycles as Verilator."""
    qa, qb = int_operand((5, 9), 4, False), int_operand((9, 4), 3, True)
    plan, beats = G.map_mac_array(qa, qb, rows=ROWS, cols=COLS)
    _, sums, _ = G.int_gemm(qa, qb)
    outs = [sims("mac_array", sim).mac_array(beats) for sim in ("verilator", "icarus")]
    for out in outs:
        check_mac_array("icarus gemm", plan, beats, out, sums)
    assert outs[0]["cycles"] == outs[1]["cycles"] == G.predict_cycles("mac_array", 5, 9, 4, 4, 3, rows=ROWS, cols=COLS)
    qg = r4fp4_operand((3, 9), 1, -4)
    qi = int_operand((9, 2), 4, True)
    hb = G.map_hybrid(qg, qi)
    _, golden = G.hybrid_gemm(qg, qi)
    for sim in ("verilator", "icarus"):
        out = sims("hybrid_mac", sim).mac(hb)
        check_dots("icarus hybrid", 3, 2, out["out"], golden)
        assert out["extra_results"] == 0
        assert out["cycles"] == G.predict_cycles("hybrid_mac", 3, 9, 2, 4, 4)


@pytest.mark.sim
def test_corrupted_word_is_named(sims):
    qa, qb = int_operand((5, 7), 8, True), int_operand((7, 5), 8, False)
    plan, beats = G.map_mac_array(qa, qb, rows=ROWS, cols=COLS)
    _, sums, _ = G.int_gemm(qa, qb)
    out = sims("mac_array").mac_array(beats)
    out["data"][7, 1] ^= 1 << 5  # tile 3 (row tile 1, column tile 1), row 1, column 1
    with pytest.raises(Mismatch, match=r"tile 3 \(row tile 1, column tile 1, K chunk 0\) element \(1, 1\) = C\[3, 4\]"):
        check_mac_array("gemm", plan, beats, out, sums)


def hil(capsys, *args):
    code = main(["--bench", "digits", "--steps", "2", "--rows", str(ROWS), "--cols", str(COLS), "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


# (recipe, extra arguments, units that must have run): fw8bw8 / pfq / dfq on mac_array, fw8bw8 also on
# the fixed baseline, ibm4's 4-bit layer on mac_array and hybrid_mac and its FP8 layers on fp8_mac,
# BHQ's codes on mac_array (its Householder part on the host, counted as transform MACs), the
# combined recipes (a 2-bit forward stage with 4-bit PSQ gradients; DFQ's gate with BHQ), the block
# formats on mx_dot (MXFP4 with the rotated weight gradient, with input gaps; NVFP4);
# one recipe of each MAC under Icarus (small batches: Icarus is slow per cycle).
HIL_RUNS = [
    ("fw8bw8", [], {"mac_array"}),
    ("fw8bw8", ["--array", "mac_array_fixed8"], {"mac_array_fixed8"}),
    ("pfq", ["--gap", "0.2", "--backpressure", "0.3"], {"mac_array"}),
    ("dfq", [], {"mac_array"}),
    ("ibm4", [], {"mac_array", "hybrid_mac", "fp8_mac"}),
    ("ibm4", ["--sim", "icarus", "--batch", "2"], {"mac_array", "hybrid_mac", "fp8_mac"}),
    ("bhq4", [], {"mac_array"}),
    ("pfq+psq", ["--fw-schedule", "2,4", "--bw-schedule", "4,8"], {"mac_array"}),
    ("dfq+bhq", [], {"mac_array"}),
    ("mxfp4_rht", [], {"mx_dot"}),
    ("mxfp4", ["--gap", "0.2"], {"mx_dot"}),
    ("nvfp4", ["--sim", "icarus", "--batch", "2"], {"mx_dot"}),
]


@pytest.mark.sim
@pytest.mark.parametrize("recipe,args,units", HIL_RUNS)
def test_hil_two_steps(capsys, recipe, args, units):
    code, report, err = hil(capsys, "--recipe", recipe, *args)
    assert code == 0, err
    assert set(report["units"]) == units
    assert report["mismatches"] == 0 and report["gemms"] == sum(u["gemms"] for u in report["units"].values())
    # 2 steps x (3 forward + 3 weight-gradient + 2 input-gradient GEMMs) + 3 test-set forwards;
    # DFQ's gate also runs every option's forward GEMM of each layer.
    hw_and_host = report["gemms"] + report["host"]["gemms"]
    assert hw_and_host > 2 * 8 + 3 if recipe.startswith("dfq") else hw_and_host == 2 * 8 + 3
    assert report["host"]["gemms"] == 0
    assert (report["host"]["transform_macs"] > 0) == ("bhq" in recipe)
    if "--gap" in args:  # measured cycles include the gaps/stalls: results are what is checked
        assert report["total"]["cycles"] > report["total"]["predicted_cycles"]
    else:
        assert report["cycles_equal_predicted_every_gemm"]
        assert report["total"]["cycles"] == report["total"]["predicted_cycles"]


@pytest.mark.sim
@pytest.mark.parametrize("recipe,gemm", [("fw8bw8", 4), ("ibm4", 1), ("mxfp4", 2)])
def test_hil_fault_injection_is_caught(capsys, recipe, gemm):
    code, report, err = hil(capsys, "--recipe", recipe, "--fault", str(gemm))
    assert code == 1 and report["mismatches"] == 1
    assert f"GEMM #{gemm} " in err and ("tile" in err or "dot product" in err)


def test_hil_bad_arguments(capsys):
    for args in (["--recipe", "nope"], ["--recipe", "fw8bw8", "--rows", "0"],
                 ["--recipe", "pfq+psq", "--fw-schedule", "2,4", "--bw-schedule", "4,32"],
                 ["--recipe", "fw8bw8", "--sim", "icarus", "--gap", "0.1"]):
        with pytest.raises(SystemExit) as exc:
            main(["--bench", "digits", "--steps", "1", *args])
        assert exc.value.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


# What a run measures about itself rather than computes.
RUN_ONLY = ("seconds", "date", "command")


@pytest.mark.sim
def test_hil_sweep_on_the_cluster_equals_single_runs(capsys, tmp_path, monkeypatch):
    """`make hil`'s sweep: two runs on a 2-worker LocalCluster, each the same report as its own
    `python -m cosim` run; a rerun takes both from the cache."""
    size = ["--rows", str(ROWS), "--cols", str(COLS)]
    argv = ["--bench", "digits", "--steps", "1", "--runs", "fw8bw8:mac_array", "ibm4:mac_array", *size,
            "--out", str(tmp_path), "--workers", "2"]
    assert sweep.main(argv) == 0
    capsys.readouterr()  # the sweep's own summary
    for recipe in ("fw8bw8", "ibm4"):
        assert main(["--bench", "digits", "--steps", "1", "--recipe", recipe, *size, "--json"]) == 0
        alone = json.loads(capsys.readouterr().out)
        swept = json.loads((tmp_path / f"digits_{recipe}_mac_array.json").read_text())
        assert {k: v for k, v in swept.items() if k not in RUN_ONLY} == {k: v for k, v in alone.items() if k not in RUN_ONLY}
    (tmp_path / "digits_ibm4_mac_array.json").unlink()

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated again: the cache holds this run")
    monkeypatch.setattr("cosim.run.run", no_simulation)
    assert sweep.main([*argv[:-1], "0"]) == 0  # serially, in this process: everything from the cache
    assert json.loads((tmp_path / "digits_ibm4_mac_array.json").read_text())["mismatches"] == 0


def test_hil_sweep_bad_run_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        sweep.main(["--steps", "1", "--runs", "fw8bw8:mac_array_wide"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RECIPE:ARRAY" in err[0] and "mac_array_fixed8" in err[0]


@pytest.mark.sim
@pytest.mark.parametrize("array", ["mac_array", "mac_array_fixed8"])
def test_wide_codes_on_the_array(array):
    """A 12-bit x 6-bit GEMM (DFQ's (6, 12) option) runs as two digit GEMMs on the RTL, equal to
    the golden result, cycles == predicted; with a scale along K as well."""
    backend = HilBackend(rows=ROWS, cols=COLS, array=array)
    try:
        for along_k in (None, (9, 1)):
            qa, qb = int_operand((7, 9), 12, False), int_operand((9, 5), 6, False, along_k=along_k)
            got = backend(0, "wgrad", qa, qb)
            assert got.tolist() == G.gemm(qa, qb, unit=array).tolist()
    finally:
        backend.close()
    st = backend.stats()
    assert st["total"]["gemms"] == 2 and st["host"]["gemms"] == 0 and st["cycles_equal_predicted_every_gemm"]
