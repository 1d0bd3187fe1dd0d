"""golden.gemm: integer GEMM + epilogue == the dequantized float GEMM; the mapper's beat streams
scored by golden.mac_array / golden.hybrid_mac / golden.fp8_mac give the golden GEMM; the cycle
law's inputs."""

import itertools

import numpy as np
import pytest

from golden import gemm as G
from golden.fp8 import fp8_decode
from golden.fp8_mac import fp8_mac
from golden.fp16_accumulator import latency
from golden.hybrid_mac import hybrid_mac
from golden.mac_array import ACCW_DEFAULT, mac_array
from golden.r4fp4 import r4fp4_decode
from golden.training.qtensor import QTensor


RNG = np.random.default_rng(14)
M, K, N = 13, 37, 11


def codes(shape, bits, signed, corner=None):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if corner == "min":
        return np.full(shape, lo, np.int64)
    if corner == "max":
        return np.full(shape, hi, np.int64)
    return RNG.integers(lo, hi + 1, shape)


def int_q(shape, bits, signed, scale=1.0, zero=0.0, corner=None):
    """The QTensor x = scale * q + zero (golden.training.qtensor keeps the grid's ends, zero and
    top = zero + scale * (2^bits - 1); signed codes run on the same affine map)."""
    top = np.asarray(zero) + np.asarray(scale) * (2 ** bits - 1)
    return QTensor("int", codes(shape, bits, signed, corner), bits, signed, zero, top)


# (bits_a, bits_b, signed_a, signed_b): every power-of-two mode pair and the 3/5/6/7-bit codes
# that run in the next one.
PAIRS = [(2, 2, 1, 1), (2, 8, 0, 1), (4, 4, 0, 1), (8, 4, 1, 0), (8, 8, 0, 0), (3, 6, 1, 0),
         (5, 7, 0, 1), (6, 6, 1, 1), (7, 3, 0, 0)]


def scales(kind, shape_a, shape_b):
    """Scale/zero pairs of qa and qb: per tensor, per row of qa / column of qb, or along K."""
    (m, k), (_, n) = shape_a, shape_b
    if kind == "tensor":
        return (0.03, -0.7), (0.011, 0.2)
    if kind == "rowcol":
        return ((RNG.random((m, 1)) + 0.1, RNG.normal(size=(m, 1))),
                (RNG.random((1, n)) + 0.1, RNG.normal(size=(1, n))))
    # per channel on the reduction axis (a per-output-channel weight in the input-gradient GEMM)
    return (0.5, 0.25), (RNG.random((k, 1)) + 0.1, RNG.normal(size=(k, 1)))


@pytest.mark.parametrize("ba,bb,sa,sb", PAIRS)
@pytest.mark.parametrize("kind", ["tensor", "rowcol", "alongk"])
@pytest.mark.parametrize("unit,accw", [("mac_array", ACCW_DEFAULT), ("mac_array", 18),
                                       ("mac_array_fixed8", ACCW_DEFAULT)])
def test_int_gemm_is_the_dequantized_gemm(ba, bb, sa, sb, kind, unit, accw):
    (s_a, z_a), (s_b, z_b) = scales(kind, (M, K), (K, N))
    qa = int_q((M, K), ba, bool(sa), s_a, z_a)
    qb = int_q((K, N), bb, bool(sb), s_b, z_b)
    result, sums, segments = G.int_gemm(qa, qb, unit=unit, accw=accw)
    want = qa.dequant() @ qb.dequant()
    # Float64 rounding of the epilogue only: a few ulps of the terms' magnitude.
    tol = 1e-13 * (np.abs(qa.dequant()) @ np.abs(qb.dequant()) + 1)
    assert np.all(np.abs(result - want) <= tol)
    assert sums.sum(axis=0).tolist() == (qa.codes @ qb.codes).tolist()
    assert len(segments) == (K if kind == "alongk" else 1)


@pytest.mark.parametrize("corner", ["min", "max"])
@pytest.mark.parametrize("accw", [18, 19, ACCW_DEFAULT])
def test_chunks_never_wrap_at_the_extremes(corner, accw):
    """All-extreme codes make every product the worst case: K splits so nothing wraps."""
    for signed in (False, True):
        qa, qb = int_q((3, 700), 8, signed, corner=corner), int_q((700, 2), 8, signed, corner=corner)
        result, sums, segments = G.int_gemm(qa, qb, accw=accw)
        assert np.abs(sums).max() < 1 << (accw - 1)
        assert result.tolist() == (qa.codes @ qb.codes).astype(float).tolist()
        assert len(segments[0].chunks) == -(-700 // G._chunk_beats(1, 8, 8, accw))


@pytest.mark.parametrize("ba,bb,sa,sb", PAIRS)
@pytest.mark.parametrize("pe,rows,cols,accw", [("fusion", 4, 3, ACCW_DEFAULT), ("fusion", 8, 8, 18),
                                               ("fixed", 2, 5, ACCW_DEFAULT), ("fusion", 1, 1, 20)])
def test_mapped_stream_scored_by_mac_array(ba, bb, sa, sb, pe, rows, cols, accw):
    kind = ["tensor", "alongk"][RNG.integers(0, 2)]
    (s_a, z_a), (s_b, z_b) = scales(kind, (M, K), (K, N))
    qa, qb = int_q((M, K), ba, bool(sa), s_a, z_a), int_q((K, N), bb, bool(sb), s_b, z_b)
    unit = "mac_array" if pe == "fusion" else "mac_array_fixed8"
    plan, beats = G.map_mac_array(qa, qb, rows=rows, cols=cols, pe=pe, accw=accw)
    scored = mac_array(**beats, accw=accw, pe=pe)
    _, sums, _ = G.int_gemm(qa, qb, unit=unit, accw=accw)
    assert not scored.error
    assert G.gather_tiles(plan, scored.tiles).tolist() == sums.tolist()
    per_beat = 1 if pe == "fixed" else (8 // G.mode_bits(ba)) * (8 // G.mode_bits(bb))
    assert sum(scored.macs.values()) == len(beats["a"]) * rows * cols * per_beat
    if accw == ACCW_DEFAULT:
        k_group = 1 if kind == "alongk" else None
        assert G.mac_array_cycles(plan.tile_beats, rows) == G.predict_cycles(
            unit, M, K, N, ba, bb, rows=rows, cols=cols, k_group=k_group)


def test_mode_bits_and_bad_input():
    assert [G.mode_bits(b) for b in range(1, 9)] == [2, 2, 4, 4, 8, 8, 8, 8]
    with pytest.raises(ValueError, match="bits"):
        G.mode_bits(9)
    with pytest.raises(ValueError, match="unit"):
        G.predict_cycles("gpu", 1, 1, 1, 8, 8)
    with pytest.raises(ValueError, match="m must"):
        G.predict_cycles("mac_array", 0, 1, 1, 8, 8)
    with pytest.raises(ValueError, match="qa.codes"):
        G.int_gemm(QTensor("int", np.array([[16]]), 4, False, 0.0, 15.0), int_q((1, 1), 4, False))


def test_pack_lanes_is_fusion_pack():
    from golden.fusion import LAYOUTS, PRECISION_BITS, pack, products
    for bits, count in ((2, 16), (4, 8), (8, 4), (8, 1)):  # plain concatenation (fixed lanes)
        e = RNG.integers(-(1 << (bits - 1)), 1 << (bits - 1), (50, count))
        assert G.pack_lanes(e, bits).tolist() == [int(v) for v in pack(e, bits)]
    # Fusion operands in their mode, every layout (the hierarchical one replicates bits).
    for (ba, bb), side, layout in itertools.product(itertools.product(PRECISION_BITS[:3], repeat=2), "ab", LAYOUTS):
        bits, other = (ba, bb) if side == "a" else (bb, ba)
        count = products(PRECISION_BITS.index(ba), PRECISION_BITS.index(bb))
        e = RNG.integers(-(1 << (bits - 1)), 1 << (bits - 1), (20, count))
        mode = dict(other_bits=other, side=side, maxb=8, layout=layout)
        assert G.pack_lanes(e, bits, **mode).tolist() == [int(v) for v in pack(e, bits, **mode)]


def test_cycle_law_examples():
    """Law on hand-checked cases: one tile of K beats is K + ROWS + 2 (the array's latency);
    short tiles are paced by the drain (ROWS + 1 cycles each)."""
    assert G.mac_array_cycles([5], 4) == 5 + 4 + 2
    assert G.mac_array_cycles([16] * 3, 4) == 2 * 16 + 16 + 4 + 2
    assert G.mac_array_cycles([2] * 3, 4) == 2 * 5 + 2 + 4 + 2
    # 8x8 mode, K = 64 on an 8x8 array: 64 beats per tile, 2x2 output tiles.
    assert G.predict_cycles("mac_array", 16, 64, 16, 8, 8) == 3 * 64 + 64 + 8 + 2
    # The MACs: 15 dot products of ceil(10 / 4) = 3 beats back to back, one beat per cycle, and
    # the last result latency(unit) cycles after the last beat.
    for unit in G.MACS:
        assert G.predict_cycles(unit, 3, 10, 5, 4, 4, lanes=4) == 45 + latency(unit)
        assert G.predict_cycles(unit, 1, 1, 1, 4, 4, lanes=4) == 1 + latency(unit)


def r4_q(shape, phase, scale_exp):
    return QTensor("r4fp4", RNG.integers(0, 16, shape).astype(np.uint8), 4, True, phase=phase,
                   scale_exp=scale_exp)


@pytest.mark.parametrize("g_first", [False, True])
@pytest.mark.parametrize("signed,phase,scale_exp", [(True, 0, 0), (False, 1, -6), (True, 1, 5)])
def test_hybrid_gemm_is_hybrid_mac(g_first, signed, phase, scale_exp):
    qi = int_q((6, 9) if not g_first else (9, 7), 4, signed, 0.125, 0.0 if signed else 0.5)
    qg = r4_q((9, 7) if not g_first else (6, 9), phase, scale_exp)
    qa, qb = (qg, qi) if g_first else (qi, qg)
    result, dots = G.hybrid_gemm(qa, qb, lanes=4)
    # The mapped stream gives them too, at its `last` beats, for the RTL's chains and for 1 and 3
    # (each against the GEMM scored with those chains), one beat per cycle.
    beats = G.map_hybrid(qa, qb, lanes=4)
    assert len(beats["x"]) + latency("hybrid_mac") == G.predict_cycles("hybrid_mac", 6, 9, 7, 4, 4)
    assert {k: beats[k] for k in ("sx", "phase", "scale_exp")} == dict(sx=signed, phase=phase, scale_exp=scale_exp)
    for chains in (None, 1, 3):
        stream = hybrid_mac(beats["x"], beats["g"], phase=phase, scale_exp=scale_exp, sx=signed, last=beats["last"],
                            chains=chains)
        want = G.hybrid_gemm(qa, qb, lanes=4, chains=chains)[1]
        assert stream[beats["last"]].view(np.uint16).tolist() == want.view(np.uint16).ravel().tolist()
    x = qi.codes if not g_first else qi.codes.T   # (M, K) int rows / (N, K) int columns
    g = qg.codes.T if not g_first else qg.codes   # (N, K) / (M, K)
    gv = r4fp4_decode(qg.codes, phase, scale_exp).astype(np.float64)
    for mi in range(6):
        for ni in range(7):
            xs = x[mi] if not g_first else x[ni]
            gs = g[ni] if not g_first else g[mi]
            xs, gs = np.pad(xs, (0, 3)).reshape(3, 4), np.pad(gs, (0, 3)).reshape(3, 4)
            want = hybrid_mac(xs, gs, phase=phase, scale_exp=scale_exp, sx=signed)[-1]
            assert dots[mi, ni].view(np.uint16) == want.view(np.uint16)
            gsum = gv[:, ni].sum() if not g_first else gv[mi].sum()
            assert result[mi, ni] == qi.scale * float(want) + qi.zero * gsum


def fp8_q(shape, fmt, scale_exp):
    """Random FP8 codes (NaN/Inf codes excluded: a quantizer never produces them)."""
    c = RNG.integers(0, 256, shape).astype(np.uint8)
    c = np.where(np.isfinite(fp8_decode(c, fmt)), c, 0).astype(np.uint8)
    return QTensor(fmt, c, 8, True, scale_exp=scale_exp)


@pytest.mark.parametrize("fa,fb", [("e4m3", "e4m3"), ("e4m3", "e5m2"), ("e5m2", "e4m3"), ("e5m2", "e5m2")])
def test_fp8_gemm_is_fp8_mac(fa, fb):
    """FP8 x FP8 GEMMs (HFP8's forward e4m3 x e4m3, both backward orders): each dot product is
    fp8_mac over k with the e4m3 operand on x at the GEMM's product shift s, the result
    2^(s + sa + sb) times it, none of them +-Inf; the mapped stream gives the same dot products."""
    qa, qb = fp8_q((5, 9), fa, -3), fp8_q((9, 4), fb, 2)
    result, dots = G.fp8_gemm(qa, qb)
    shift = G.fp8_shift(qa, qb)
    assert shift > 0 and np.isfinite(dots).all()
    swap = (fa, fb) == ("e5m2", "e4m3")
    fx, fg = (fb, fa) if swap else (fa, fb)
    for i in range(5):
        for j in range(4):
            a, b = np.pad(qa.codes[i], (0, 3)).reshape(3, 4), np.pad(qb.codes[:, j], (0, 3)).reshape(3, 4)
            x, g = (b, a) if swap else (a, b)
            want = fp8_mac(x, g, fmt_x=fx, fmt_g=fg, shift=shift)[-1]
            assert dots[i, j].view(np.uint16) == want.view(np.uint16)
            assert result[i, j] == np.ldexp(float(want), shift - 1)
    beats = G.map_fp8(qa, qb)
    assert (beats["fmt_x"], beats["fmt_g"], beats["shift"]) == (fx, fg, shift)
    stream = fp8_mac(beats["x"], beats["g"], last=beats["last"], fmt_x=fx, fmt_g=fg, shift=beats["shift"])
    assert stream[beats["last"]].view(np.uint16).tolist() == dots.view(np.uint16).ravel().tolist()
    assert len(beats["x"]) + latency("fp8_mac") == G.predict_cycles("fp8_mac", 5, 9, 4, 8, 8)


def test_fp8_shift_is_the_smallest_that_cannot_overflow():
    """Named corners of the shift: every product the largest (480 x 57344, one sign), where the
    bound is the dot product itself: at the chosen shift it is finite, one less overflows to
    +Inf; all-zero operands need none; a K that even SHIFT_MAX cannot hold is a ValueError."""
    for k in (1, 4, 16, 100):
        qa = QTensor("e4m3", np.full((2, k), 0x7F, np.uint8), 8, True)
        qb = QTensor("e5m2", np.full((k, 3), 0x7B, np.uint8), 8, True)
        s = G.fp8_shift(qa, qb)
        assert np.isfinite(G.fp8_dots(qa, qb)).all()
        x, g = np.pad(qa.codes[0], (0, -k % 4)).reshape(-1, 4), np.pad(qb.codes[:, 0], (0, -k % 4)).reshape(-1, 4)
        assert fp8_mac(x, g, shift=s - 1)[-1] == np.inf
    zero = QTensor("e4m3", np.zeros((2, 5), np.uint8), 8, True)
    assert G.fp8_shift(zero, QTensor("e5m2", np.full((5, 2), 0x7B, np.uint8), 8, True)) == 0
    huge = QTensor("e4m3", np.full((1, 1 << 16), 0x7F, np.uint8), 8, True)
    with pytest.raises(ValueError, match="SHIFT_MAX"):
        G.fp8_shift(huge, QTensor("e5m2", np.full((1 << 16, 1), 0x7B, np.uint8), 8, True))


def test_fp8_operands_bad():
    with pytest.raises(ValueError, match="two FP8 operands"):
        G.fp8_gemm(int_q((2, 3), 4, False), fp8_q((3, 2), "e4m3", 0))
    with pytest.raises(ValueError, match="scale_exp must be a per-tensor scalar"):
        G.fp8_gemm(QTensor("e4m3", np.zeros((2, 3), np.uint8), 8, True, scale_exp=np.zeros(2)), fp8_q((3, 2), "e4m3", 0))


def test_gemm_dispatches_by_format():
    """int x int: the array's integer path; INT4 x R4FP4: hybrid_mac; FP8 x FP8: fp8_mac; FP8 x
    float: the host."""
    from golden.training.qtensor import fp8, from_float
    qa, qb = int_q((4, 6), 4, False, 0.25, -1.0), int_q((6, 3), 8, False, 0.5, 2.0)
    assert G.gemm(qa, qb).tolist() == G.int_gemm(qa, qb)[0].tolist()
    qg = r4_q((6, 3), 0, -2)
    assert G.gemm(qa, qg).tolist() == G.hybrid_gemm(qa, qg)[0].tolist()
    xa, xb = fp8(RNG.normal(size=(4, 6)), "e4m3"), from_float(RNG.normal(size=(6, 3)))
    assert G.gemm(xa, xb).tolist() == (xa.dequant() @ xb.dequant()).tolist()
    xg = fp8(RNG.normal(size=(6, 3)), "e5m2")
    assert G.gemm(xa, xg).tolist() == G.fp8_gemm(xa, xg)[0].tolist()


def test_low_rank_correction_is_the_rest_of_the_operand():
    """An operand with a low-rank correction (BHQ's Householder part): gemm is the integer GEMM
    of the bare codes plus low_rank_correction, which is exactly the rest of the dequantized
    product (every side: qa's, qb's, both; transposing carries the correction along); the host
    MACs count the correction's nonzero left factor and its rank-r product."""
    import dataclasses

    qa, qb = int_q((5, 7), 4, False, 0.25, -1.0), int_q((7, 3), 8, False, 0.5, 2.0)
    la, ra = RNG.normal(size=(5, 2)), RNG.normal(size=(2, 7)) * (RNG.random((2, 7)) < 0.5)
    lb, rb = RNG.normal(size=(7, 1)), RNG.normal(size=(1, 3))
    for a, b in [(dataclasses.replace(qa, low_rank=(la, ra)), qb), (qa, dataclasses.replace(qb, low_rank=(lb, rb))),
                 (dataclasses.replace(qa, low_rank=(la, ra)), dataclasses.replace(qb, low_rank=(lb, rb)))]:
        corr, macs = G.low_rank_correction(a, b)
        base = G.int_gemm(G.without_low_rank(a), G.without_low_rank(b))[0]
        assert G.gemm(a, b).tolist() == (base + corr).tolist()
        np.testing.assert_allclose(base + corr, a.dequant() @ b.dequant(), rtol=1e-12, atol=1e-12)
        want = ((np.count_nonzero(ra) * 3 + 5 * 2 * 3) if a.low_rank is not None else 0) + \
               ((5 * np.count_nonzero(lb) + 5 * 1 * 3) if b.low_rank is not None else 0)
        assert macs == want
    at = dataclasses.replace(qa, low_rank=(la, ra)).T
    np.testing.assert_allclose(at.dequant(), (qa.dequant() - la @ ra).T, rtol=1e-12, atol=1e-12)
    assert G.without_low_rank(qa) is qa


@pytest.mark.parametrize("ba,bb,sa,sb", [(12, 6, 0, 0), (9, 16, 1, 0), (16, 8, 1, 1), (4, 11, 0, 1)])
@pytest.mark.parametrize("kind", ["tensor", "alongk"])
def test_wide_codes_run_as_digit_pairs(ba, bb, sa, sb, kind):
    """Codes wider than MAXB = 8 (DFQ's 12-bit gradients): low 8-bit and high digits, one array
    GEMM per digit pair, weighted by 2^shift in the epilogue; each part's stream is scored by
    golden.mac_array and predict_cycles adds the parts' cycle laws."""
    (s_a, z_a), (s_b, z_b) = scales(kind, (M, K), (K, N))
    for corner in (None, "min", "max"):
        qa, qb = int_q((M, K), ba, bool(sa), s_a, z_a, corner), int_q((K, N), bb, bool(sb), s_b, z_b, corner)
        result, goldens = G.int_gemm_parts(qa, qb)
        want = qa.dequant() @ qb.dequant()
        assert np.all(np.abs(result - want) <= 1e-13 * (np.abs(qa.dequant()) @ np.abs(qb.dequant()) + 1))
        parts = G.int_parts(qa, qb)
        assert len(parts) == (1 + (ba > 8)) * (1 + (bb > 8))
        total = sum(g.sum(axis=0) << (da.shift + db.shift) for g, (da, db) in zip(goldens, parts))
        assert total.tolist() == (qa.codes @ qb.codes).tolist()
        cycles = 0
        for (da, db), golden in zip(parts, goldens):
            assert max(da.bits, db.bits) <= 8
            plan, beats = G.map_mac_array(da, db, rows=3, cols=2)
            assert np.array_equal(mac_array(**beats).tiles, G.scatter_tiles(plan, golden))
            cycles += G.mac_array_cycles(plan.tile_beats, 3)
        assert cycles == G.predict_cycles("mac_array", M, K, N, ba, bb, rows=3, cols=2,
                                          k_group=1 if kind == "alongk" else None)


# ---- block formats on mx_dot ---------------------------------------------------------------

@pytest.mark.parametrize("fmt,lanes", [("mxfp4", 4), ("nvfp4", 16)])
def test_mx_stream_and_dots(fmt, lanes):
    """map_mx's beats are each dot product's codes and scales, block by block (K zero-padded to
    whole blocks); mx_dots is golden.mx.mx_dot of each row and column; the epilogue is the float
    product up to FP32 rounding; mx_cycles follows golden.mx_dot."""
    from golden.mx import mx_dot
    from golden.mx_dot import beat_cycles, latency
    from golden.training.qtensor import block_quantize

    rng = np.random.default_rng(3)
    qa, qb = block_quantize(rng.normal(size=(3, 40)), fmt, 1), block_quantize(rng.normal(size=(40, 2)), fmt, 0)
    a, b, block = qa.block, qb.block, qa.block.block
    beats = G.map_mx(qa, qb, lanes=lanes)
    per_dot = -(-40 // block) * block // lanes
    assert len(beats["x"]) == 6 * per_dot and beats["last"].sum() == 6 and beats["block"] == block
    dot = 1 * 2 + 1  # C[1, 1]
    sl = slice(dot * per_dot, (dot + 1) * per_dot)
    assert beats["x"][sl].ravel()[:40].tolist() == a.codes[1].tolist() and not beats["x"][sl].ravel()[40:].any()
    assert beats["g"][sl].ravel()[:40].tolist() == b.codes[:, 1].tolist()
    assert beats["sa"][sl].tolist() == np.repeat(a.scales[1], block // lanes).tolist()
    assert beats["sb"][sl].tolist() == np.repeat(b.scales[:, 1], block // lanes).tolist()
    dots = G.mx_dots(qa, qb)
    row = a._replace(codes=a.codes[1], scales=a.scales[1], axis=0)
    col = b._replace(codes=b.codes[:, 1], scales=b.scales[:, 1], axis=0)
    assert dots[1, 1].tobytes() == np.float32(mx_dot(row, col)).tobytes()
    np.testing.assert_allclose(G.mx_gemm(qa, qb)[0], qa.dequant() @ qb.dequant(), rtol=1e-5, atol=1e-6)
    last = np.tile(np.arange(per_dot) == per_dot - 1, 6)
    assert G.mx_cycles(3, 40, 2, block, lanes) == beat_cycles(np.zeros(len(last)), block // lanes, last)[-1] + latency() + 1


def test_mx_operands_must_match():
    from golden.training.qtensor import block_quantize, from_float

    x = np.ones((4, 32))
    with pytest.raises(ValueError, match="blocked along axis 1"):
        G.map_mx(block_quantize(x, "mxfp4", 0), block_quantize(x.T, "mxfp4", 0))
    with pytest.raises(ValueError, match="share the block format"):
        G.mx_dots(block_quantize(x, "mxfp4", 1), block_quantize(x.T, "nvfp4", 0))
    with pytest.raises(ValueError, match="two 'mx' operands"):
        G.mx_gemm(block_quantize(x, "mxfp4", 1), from_float(x.T))
