"""Training GEMMs as the hardware computes them, and the GEMM mapper onto the MAC units.

Integer semantics (FracTrain, Fu et al., NeurIPS 2020, Sec. 3: the asymmetric min/max quantizer
x ~ s*q + z with q an unsigned b-bit code; symmetric quantizers are the case z = 0). For a
K-segment on which both operands' scales and zero points are constant,

    A.B = sa*sb*(Qa.Qb) + sa*zb*rowsum(Qa) + za*sb*colsum(Qb) + K*za*zb          (1)

The MAC array computes Qa.Qb exactly in ACCW-bit wrapping accumulators; a segment whose K could
overflow ACCW (worst case over the code range, so the split depends only on the bit widths) is
split into chunks whose integer partial sums the epilogue adds exactly (int64). The epilogue then
applies (1) in float64 per segment and sums the segments. Scales/zero points that vary along K
(a per-channel weight quantizer on the GEMM's reduction axis) make every k its own segment.

INT4 x R4FP4 (Sun et al., NeurIPS 2020): `hybrid_mac` accumulates sum_k x_k * g_k in FP16, one
RNE rounding per beat of `lanes` products, k ascending, on its interleaved chains, and one more
of the chains' exact sum (golden.hybrid_mac and golden.fp16_accumulator are the definition);
the epilogue multiplies by the integer operand's scale and adds its zero point times the exact
float64 sum of the decoded R4FP4 values. FP8 x FP8 (HFP8, Sun et al., NeurIPS 2019): `fp8_mac`
accumulates the decoded codes' products the same way, each beat's products scaled by 2^-s with
the GEMM's product shift s (fp8_shift: the smallest for which no dot product can overflow FP16);
the epilogue multiplies by 2^(s + scale_exp_a + scale_exp_b) (exact in float64).

Operands are QTensor-like objects (golden.training.qtensor.QTensor, COMMON interface): `fmt`,
`codes`, `bits`, `signed`, `scale`, `zero`, `phase`, `scale_exp`, `dequant()`; an "int" operand
stands for scale * codes + zero, an "r4fp4" one for r4fp4_decode(codes, phase, scale_exp). Scales
and zero points are scalars or arrays broadcastable to the operand: (M, 1) / (1, N) per row /
column, (1, K) / (K, 1) along K (golden.training.qtensor's convention).

Mapper. `mac_array` (docs/spec.md "MAC array", golden.mac_array): a beat carries P = (MAXB/ba) *
(MAXB/bb) consecutive k per lane, packed with golden.fusion.pack in the mode (ba, bb) (the codes' width
rounded up to the next power of two, codes sign- or zero-extended); output tiles of ROWS x COLS
(rows of A, columns of B; edges padded with zero codes), one array tile (first..last) per output
tile and K chunk, in the order (row tile, column tile, chunk). `mac_array_fixed8`: the same in
8x8 mode only (MAXB-bit lanes, P = 1). `hybrid_mac`, `fp8_mac`, `fp16_mac`
(golden.fp16_accumulator: one result per streamed dot product, its chains internal): `lanes` k
per beat (the last beat zero-padded), `last` on a dot product's final beat; dot products in
row-major (m, n) order, back to back.

Cycle law (what HIL measures: from the first input handshake to the last output handshake,
inclusive, with no gaps and no backpressure). mac_array: the last beat of array tile t commits at
C_t, C_0 = K_0 + 1 and C_t = C_{t-1} + max(K_t, ROWS + 1) (a tile's last beat waits while the
previous tile drains its ROWS rows); cycles = C_last + ROWS + 1. hybrid_mac, fp8_mac, fp16_mac:
one beat per cycle, M*N*B beats with B = ceil(K / lanes), and the last result latency(unit)
cycles after the last beat (golden.fp16_accumulator.latency): cycles = M*N*B + latency(unit).
"""

import dataclasses
import functools
from collections import namedtuple

import numpy as np

from .fp8 import fp8_decode
from .fp8_mac import SHIFT_MAX, fp8_mac
from .grid import fp16_bits, fp16_units
from .fp16_accumulator import latency
from .fusion import PRECISION_BITS, check_maxb, pack, products
from .hybrid_mac import hybrid_mac
from .mac_array import ACCW_DEFAULT, accw_range, check_accw, lane_bits, wrap
from .mx import NVFP4Tensor, mx_dot
from .mx_dot import beat_cycles as mx_beat_cycles, check_config as mx_check_config, latency as mx_latency

__all__ = ["map_mx", "mx_dots", "mx_epilogue", "mx_gemm", "mx_cycles", "UNITS", "MACS", "mode_bits", "int_segments", "int_gemm", "int_gemm_parts", "int_parts", "digits", "Digit",
           "hybrid_dots", "hybrid_epilogue", "hybrid_gemm", "FP8_FORMATS", "fp8_operands", "fp8_shift", "map_fp8", "without_low_rank", "low_rank_correction", "low_rank_macs", "fp8_dots", "fp8_epilogue", "fp8_gemm", "gemm", "map_mac_array", "map_hybrid", "predict_cycles",
           "mac_array_cycles", "pack_lanes", "gather_tiles", "scatter_tiles"]

MACS = ("hybrid_mac", "fp8_mac", "fp16_mac")  # single pipelined MACs (golden.fp16_accumulator)
UNITS = ("mac_array", "mac_array_fixed8") + MACS

Segment = namedtuple("Segment", "k0 k1 chunks")
Segment.__doc__ = "K range [k0, k1) with constant scales; `chunks`: its (k0, k1) ACCW-safe pieces."


def _check_int(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo or \
            (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {span}, got {value!r}")
    return int(value)


def _check_unit(unit):
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")


def mode_bits(bits, maxb=8):
    """The array mode of b-bit codes: the next power of two >= b (at least 2), at most MAXB."""
    check_maxb(maxb)
    bits = _check_int("bits", bits, 1, maxb)
    return next(p for p in PRECISION_BITS if p >= bits)


def _max_abs(bits):
    """Largest |code| of a b-bit code, signed or not: 2^b - 1 (unsigned) >= 2^(b-1) (signed)."""
    return (1 << bits) - 1


def _per_beat(unit, bits_a, bits_b, maxb, lanes):
    """(k elements per beat, array mode codes (pa, pb)); the mode is None for the MACs."""
    if unit in MACS:
        return lanes, None
    if unit == "mac_array_fixed8":
        if maxb != 8:
            raise ValueError(f"maxb must be 8 for mac_array_fixed8, got {maxb!r}")
        _check_int("bits_a", bits_a, 1, 8), _check_int("bits_b", bits_b, 1, 8)
        return 1, (2, 2)
    pa, pb = PRECISION_BITS.index(mode_bits(bits_a, maxb)), PRECISION_BITS.index(mode_bits(bits_b, maxb))
    return products(pa, pb, maxb), (pa, pb)


def _chunk_beats(per_beat, bits_a, bits_b, accw):
    """Beats per array tile so that no accumulator can wrap: the worst-case |sum| of the tile's
    products stays <= 2^(accw-1) - 1 (results are read as signed ACCW-bit values)."""
    return ((1 << (accw - 1)) - 1) // (per_beat * _max_abs(bits_a) * _max_abs(bits_b))


def _chunks(k0, k1, elems):
    return [(s, min(s + elems, k1)) for s in range(k0, k1, elems)]


def _segments(k, per_beat, max_beats, k_group=None):
    """Segments of K (runs of constant scales, `k_group` elements each, None: all of K), each cut
    into chunks of at most max_beats * per_beat elements."""
    group = k if k_group is None else k_group
    return [Segment(s, min(s + group, k), _chunks(s, min(s + group, k), max_beats * per_beat))
            for s in range(0, k, group)]


def mac_array_cycles(tile_beats, rows):
    """Cycles of back-to-back array tiles of `tile_beats` beats (module docstring's law)."""
    commit = None
    for kb in tile_beats:
        commit = kb + 1 if commit is None else commit + max(kb, rows + 1)
    return commit + rows + 1


def predict_cycles(unit, m, k, n, bits_a, bits_b, *, rows=8, cols=8, lanes=4, maxb=8, k_group=None):
    """Exact cycles of an (m, k) x (k, n) GEMM of bits_a x bits_b codes on `unit` as HIL runs it
    (module docstring's law; the committed ACCW and MAC pipelines). `k_group` (the arrays): the
    K-segment length when a scale varies along K (1 for a per-channel scale on the reduction axis;
    None: constant along K); the MACs' GEMMs have per-tensor scales."""
    _check_unit(unit)
    m, k, n = (_check_int(name, v, 1) for name, v in (("m", m), ("k", k), ("n", n)))
    rows, cols = _check_int("rows", rows, 1), _check_int("cols", cols, 1)
    lanes = _check_int("lanes", lanes, 1)
    if k_group is not None:
        _check_int("k_group", k_group, 1)
    if unit in MACS:
        top = 8 if unit == "hybrid_mac" else 16
        _check_int("bits_a", bits_a, 1, top), _check_int("bits_b", bits_b, 1, top)
        return m * n * -(-k // lanes) + latency(unit)
    check_maxb(maxb)
    split = [[b] if b <= maxb else [maxb, b - maxb] for b in (
        _check_int("bits_a", bits_a, 1, 2 * maxb), _check_int("bits_b", bits_b, 1, 2 * maxb))]
    if len(split[0]) + len(split[1]) > 2:  # one array GEMM per digit pair (int_parts)
        return sum(predict_cycles(unit, m, k, n, da, db, rows=rows, cols=cols, lanes=lanes, maxb=maxb,
                                  k_group=k_group) for da in split[0] for db in split[1])
    per_beat, _ = _per_beat(unit, bits_a, bits_b, maxb, lanes)
    segs = _segments(k, per_beat, _chunk_beats(per_beat, bits_a, bits_b, ACCW_DEFAULT), k_group)
    chunk_beats = [-(-(c1 - c0) // per_beat) for s in segs for c0, c1 in s.chunks]
    return mac_array_cycles(chunk_beats * (-(-m // rows) * -(-n // cols)), rows)


# ---------------------------------------------------------------- operands and the epilogue

def _expand(v, shape, name):
    """A scale/zero (a scalar or an array broadcastable to the operand) as float64 of `shape`."""
    v = np.asarray(v, dtype=np.float64)
    try:
        return np.broadcast_to(v, shape)
    except ValueError:
        raise ValueError(f"{name} of shape {v.shape} does not broadcast to the operand's {shape}") from None


def _varies_along_k(a_full, b_full):
    """True when an (M, K) scale/zero of qa or a (K, N) one of qb is not constant along K."""
    return any(np.any(x != x[:, :1]) for x in a_full) or any(np.any(x != x[:1, :]) for x in b_full)


def _int_codes(q, name):
    if q.fmt != "int":
        raise ValueError(f"{name}.fmt must be 'int' for the integer path, got {q.fmt!r}")
    c = np.asarray(q.codes)
    if c.dtype.kind not in "iu":
        raise ValueError(f"{name}.codes must be integers, got dtype {c.dtype}")
    bits = _check_int(f"{name}.bits", q.bits, 1, 16)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if q.signed else (0, (1 << bits) - 1)
    if c.size and (c.min() < lo or c.max() > hi):
        raise ValueError(f"{name}.codes must lie in [{lo}, {hi}] ({bits}-bit, signed={q.signed})")
    return c.astype(np.int64)


def _shapes(qa, qb):
    sa, sb = np.shape(qa.codes), np.shape(qb.codes)
    if len(sa) != 2 or len(sb) != 2 or sa[1] != sb[0]:
        raise ValueError(f"qa and qb must be (M, K) and (K, N), got {sa} and {sb}")
    return sa[0], sa[1], sb[1]


def int_segments(qa, qb):
    """Scale/zero of both operands broadcast to (M, K) / (K, N), and the K-segment length
    (None when constant along K, else 1)."""
    m, k, n = _shapes(qa, qb)
    a = (_expand(qa.scale, (m, k), "qa.scale"), _expand(qa.zero, (m, k), "qa.zero"))
    b = (_expand(qb.scale, (k, n), "qb.scale"), _expand(qb.zero, (k, n), "qb.zero"))
    return a, b, (1 if _varies_along_k(a, b) else None)


def _epilogue(seg_sums, segments, qa_codes, qb_codes, a, b):
    """Equation (1) per segment in float64 from the segments' exact integer sums, summed."""
    (sa, za), (sb, zb) = a, b
    out = 0.0
    for s, seg in zip(seg_sums, segments):
        k0 = seg.k0
        rs = qa_codes[:, seg.k0:seg.k1].sum(axis=1).astype(np.float64)[:, None]
        cs = qb_codes[seg.k0:seg.k1, :].sum(axis=0).astype(np.float64)[None, :]
        sa_, za_ = sa[:, k0:k0 + 1], za[:, k0:k0 + 1]
        sb_, zb_ = sb[k0:k0 + 1, :], zb[k0:k0 + 1, :]
        out = out + (sa_ * sb_ * s.astype(np.float64) + sa_ * zb_ * rs + za_ * sb_ * cs
                     + (seg.k1 - seg.k0) * za_ * zb_)
    return np.asarray(out, dtype=np.float64)


def int_gemm(qa, qb, *, unit="mac_array", accw=ACCW_DEFAULT, maxb=8, partial=None):
    """Integer GEMM of two "int" QTensors as `unit` computes it, then the epilogue -> float64.

    Returns (result (M, N) float64, chunk sums (chunks, M, N) int64 as the array's accumulators
    hold them, segments). `partial`: chunk sums read from hardware, used instead of the golden
    ones (they must be equal; the caller compares)."""
    if unit not in ("mac_array", "mac_array_fixed8"):
        raise ValueError(f"unit must be 'mac_array' or 'mac_array_fixed8' for int x int, got {unit!r}")
    check_accw(accw, maxb)
    ca, cb = _int_codes(qa, "qa"), _int_codes(qb, "qb")
    a, b, k_group = int_segments(qa, qb)
    per_beat, _ = _per_beat(unit, qa.bits, qb.bits, maxb, 1)
    segments = _segments(ca.shape[1], per_beat, _chunk_beats(per_beat, qa.bits, qb.bits, accw), k_group)
    chunks = [c for s in segments for c in s.chunks]
    golden = np.stack([ca[:, c0:c1] @ cb[c0:c1, :] for c0, c1 in chunks])
    if np.any(wrap(golden, accw) != golden):  # unreachable by the chunk bound; checked anyway
        raise AssertionError("an ACCW-bit accumulator would wrap: chunk bound violated")
    sums = golden if partial is None else np.asarray(partial, dtype=np.int64)
    return _epilogue(_segment_sums(sums, segments), segments, ca, cb, a, b), golden, segments


def _segment_sums(chunk_sums, segments):
    """Chunk sums (chunks, M, N) -> per-segment sums (segments, M, N), exact int64."""
    out, i = [], 0
    for s in segments:
        out.append(chunk_sums[i:i + len(s.chunks)].sum(axis=0))
        i += len(s.chunks)
    return np.stack(out)


@dataclasses.dataclass(frozen=True)
class Digit:
    """One digit operand of a wide "int" operand: codes of at most MAXB bits standing for
    codes * 2^shift of the original; scale and zero are the original's (they fix the K segments)."""
    codes: np.ndarray
    bits: int
    signed: bool
    shift: int
    scale: object
    zero: object
    fmt: str = "int"


def digits(q, maxb=8):
    """An "int" operand as digits of at most MAXB bits, q = sum_d codes_d * 2^shift_d: itself when
    bits <= MAXB, else the low MAXB bits (unsigned) and the high bits - MAXB bits (q's signedness,
    arithmetic shift), for codes of up to 2 * MAXB bits."""
    c = _int_codes(q, "operand")
    if q.bits <= maxb:
        return [Digit(c, q.bits, bool(q.signed), 0, q.scale, q.zero)]
    if q.bits > 2 * maxb:
        raise ValueError(f"bits must be <= {2 * maxb} (two MAXB-bit digits), got {q.bits}")
    return [Digit(c & ((1 << maxb) - 1), maxb, False, 0, q.scale, q.zero),
            Digit(c >> maxb, q.bits - maxb, bool(q.signed), maxb, q.scale, q.zero)]


def int_parts(qa, qb, maxb=8):
    """The array GEMMs of an int x int GEMM: (da, db) for every pair of digits (one pair unless an
    operand is wider than MAXB); their sums weighted by 2^(da.shift + db.shift) add up to Qa.Qb."""
    return [(da, db) for da in digits(qa, maxb) for db in digits(qb, maxb)]


def int_gemm_parts(qa, qb, *, unit="mac_array", accw=ACCW_DEFAULT, maxb=8, partials=None):
    """`int_gemm` for operands of up to 2 * MAXB bits: one array GEMM per digit pair (int_parts),
    whose segment sums the epilogue weights by 2^shift and adds exactly (int64). Returns (result,
    [chunk sums of each part]); `partials`: the parts' chunk sums read from hardware."""
    ca, cb = _int_codes(qa, "qa"), _int_codes(qb, "qb")
    a, b, _ = int_segments(qa, qb)
    total, goldens, segments = 0, [], None
    for i, (da, db) in enumerate(int_parts(qa, qb, maxb)):
        _, golden, segments = int_gemm(da, db, unit=unit, accw=accw, maxb=maxb)
        goldens.append(golden)
        sums = golden if partials is None else np.asarray(partials[i], dtype=np.int64)
        total = total + (_segment_sums(sums, segments) << (da.shift + db.shift))
    return _epilogue(total, segments, ca, cb, a, b), goldens


# ---------------------------------------------------------------- INT4 x R4FP4 on hybrid_mac

def _hybrid_operands(qa, qb):
    """(int operand, r4fp4 operand, r4fp4 is qa) for an INT4 x R4FP4 GEMM."""
    fmts = (qa.fmt, qb.fmt)
    if sorted(fmts) != ["int", "r4fp4"]:
        raise ValueError(f"hybrid_mac takes one 'int' and one 'r4fp4' operand, got {fmts}")
    g_first = qa.fmt == "r4fp4"
    qi, qg = (qb, qa) if g_first else (qa, qb)
    if qi.bits > 4:
        raise ValueError(f"the int operand of hybrid_mac must have bits <= 4, got {qi.bits}")
    for name in ("phase", "scale_exp"):
        if np.ndim(getattr(qg, name)) != 0:
            raise ValueError(f"r4fp4 {name} must be a per-tensor scalar for hybrid_mac")
    return qi, qg, g_first


def _dot_rows(x, g, x_is_b, lanes):
    """Per dot product (m, n) row-major: the x and g operands' codes along k, zero-padded to whole
    beats -> two (M*N, beats, lanes) arrays. x, g: the codes of the operands feeding the MAC's
    x and g ports; x_is_b: x is qb (K, N) and g is qa (M, K), else x is qa and g is qb."""
    lanes = _check_int("lanes", lanes, 1)
    x, g = np.asarray(x).astype(np.int64), np.asarray(g).astype(np.int64)
    xi = x.T[None, :, :] if x_is_b else x[:, None, :]
    gi = g[:, None, :] if x_is_b else g.T[None, :, :]
    m, n, k = max(xi.shape[0], gi.shape[0]), max(xi.shape[1], gi.shape[1]), xi.shape[2]
    nb = -(-k // lanes)
    pad = ((0, 0), (0, 0), (0, nb * lanes - k))
    rows = lambda a: np.pad(np.broadcast_to(a, (m, n, k)), pad).reshape(m * n, nb, lanes)
    return rows(xi), rows(gi)


def _stream(x, g):
    """The stream of dot products x, g (outputs, beats, lanes) on a MAC (module docstring): dict
    of x, g (beats, lanes) and `last` (beats,) bool."""
    outs, nb, lanes = x.shape
    return dict(x=x.reshape(outs * nb, lanes), g=g.reshape(outs * nb, lanes),
                last=np.tile(np.arange(nb) == nb - 1, outs))


def map_hybrid(qa, qb, *, lanes=4):
    """Beats of an INT4 x R4FP4 GEMM for `hybrid_mac` (module docstring). Returns a dict of
    per-beat arrays x, g (beats, lanes) int64, `last` (beats,) bool (the beat ending each dot
    product; dot products (m, n) row-major), and per-tensor sx, phase, scale_exp."""
    _shapes(qa, qb)
    qi, qg, g_first = _hybrid_operands(qa, qb)
    x, g = _dot_rows(_int_codes(qi, "int operand"), qg.codes, g_first, lanes)
    return dict(_stream(x, g), sx=bool(qi.signed), phase=int(qg.phase), scale_exp=int(qg.scale_exp))


def hybrid_dots(qa, qb, *, lanes=4, chains=None):
    """The FP16 dot products (M, N) float16 `hybrid_mac` computes for an INT4 x R4FP4 GEMM, each
    scored by golden.hybrid_mac on its own (`chains`: the unit's; None: the rtl/ configuration)."""
    m, _, n = _shapes(qa, qb)
    qi, qg, g_first = _hybrid_operands(qa, qb)
    x, g = _dot_rows(_int_codes(qi, "int operand"), qg.codes, g_first, lanes)
    out = hybrid_mac(x, g, phase=int(qg.phase), scale_exp=int(qg.scale_exp), sx=bool(qi.signed), chains=chains)
    return out[:, -1].reshape(m, n)


def hybrid_epilogue(qa, qb, dots):
    """float64 (M, N) from FP16 dot products: int scale * dot + int zero * (sum of the decoded
    R4FP4 values along K), exact float64 sums of the R4FP4 values."""
    from .r4fp4 import r4fp4_decode

    m, _, n = _shapes(qa, qb)
    qi, qg, g_first = _hybrid_operands(qa, qb)
    if np.ndim(qi.scale) != 0 or np.ndim(qi.zero) != 0:
        raise ValueError("hybrid_mac GEMMs need a per-tensor scale and zero point on the int operand")
    gv = r4fp4_decode(np.asarray(qg.codes, dtype=np.uint8), qg.phase, qg.scale_exp).astype(np.float64)
    gsum = gv.sum(axis=1)[:, None] if g_first else gv.sum(axis=0)[None, :]
    dots = np.asarray(dots, dtype=np.float16).reshape(m, n).astype(np.float64)
    return float(qi.scale) * dots + float(qi.zero) * gsum


def hybrid_gemm(qa, qb, *, lanes=4, chains=None):
    """INT4 x R4FP4 GEMM as `hybrid_mac` computes it, then the epilogue: (result float64 (M, N),
    FP16 dot products (M, N))."""
    dots = hybrid_dots(qa, qb, lanes=lanes, chains=chains)
    return hybrid_epilogue(qa, qb, dots), dots


# ---------------------------------------------------------------- FP8 x FP8 on fp8_mac

FP8_FORMATS = ("e4m3", "e5m2")


def fp8_operands(qa, qb):
    """(x operand, g operand, x is qb) of an FP8 x FP8 GEMM on `fp8_mac`: the x port takes the
    e4m3 operand when the formats differ (HFP8: e4m3 activations/weights x e5m2 gradients), else
    qa. The unit's configuration is (x.fmt, g.fmt) (hdl_gen.fp8_mac.FP8Mac's fmt_x, fmt_g)."""
    fmts = (qa.fmt, qb.fmt)
    if not set(fmts) <= set(FP8_FORMATS):
        raise ValueError(f"fp8_mac takes two FP8 operands (fmt in {FP8_FORMATS}), got {fmts}")
    for name, q in (("qa", qa), ("qb", qb)):
        if np.ndim(q.scale_exp) != 0:
            raise ValueError(f"{name}.scale_exp must be a per-tensor scalar for fp8_mac")
    return (qb, qa, True) if fmts == ("e5m2", "e4m3") else (qa, qb, False)


def _fp8_magnitudes(q):
    """|decoded code| of an FP8 operand in units of 2^-24 (int64; Inf/NaN codes count 0: their
    dot products are Inf/NaN whatever the shift)."""
    bits = fp16_bits(fp8_decode(np.asarray(q.codes), q.fmt)) & 0x7FFF
    return np.where(bits < 0x7C00, fp16_units(bits), 0).astype(np.int64)


def fp8_shift(qa, qb, *, lanes=4):
    """The product shift of an FP8 x FP8 GEMM on `fp8_mac` (golden.fp8_mac): the smallest s in
    [0, SHIFT_MAX] for which no dot product can overflow the FP16 accumulator, from a bound on
    the operands' codes alone (O(MK + KN), no GEMM).

    B = min(max_m sum_k |a_mk| * max |b|, max |a| * max_n sum_k |b_kn|) bounds every dot product's
    sum of |products|. A chain's rounded value never exceeds the exact sum of its |addends| by
    more than a factor (1 + 2^-11) per rounding (RNE is monotonic, relative error <= 2^-11), so
    with J = ceil(K / lanes) beats, B * 2^-s * (1 + 2^-11)^(J + 1) < 65520 keeps every chain,
    the chains' combination and the result finite (65520 is where RNE reaches Inf). Exact
    integer arithmetic; ValueError when even SHIFT_MAX does not suffice (K too long)."""
    _, k, _ = _shapes(qa, qb)
    fp8_operands(qa, qb)
    a, b = _fp8_magnitudes(qa), _fp8_magnitudes(qb)
    if not (a.size and b.size):
        return 0
    rows, cols = int(a.sum(axis=1).max()), int(b.sum(axis=0).max())
    bound = min(rows * int(b.max()), int(a.max()) * cols)  # units of 2^-48
    beats = -(-k // _check_int("lanes", lanes, 1))
    # smallest s with bound * 2049^(J+1) < 65520 * 2^48 * 2^s * 2048^(J+1)
    lhs, rhs = bound * 2049 ** (beats + 1), 65520 * 2048 ** (beats + 1) << 48
    s = (lhs // rhs).bit_length()
    if s > SHIFT_MAX:
        raise ValueError(f"this FP8 GEMM (K = {k}) needs a product shift of {s}, above fp8_mac's "
                         f"SHIFT_MAX = {SHIFT_MAX}: split K")
    return s


def map_fp8(qa, qb, *, lanes=4):
    """Beats of an FP8 x FP8 GEMM for `fp8_mac` (as map_hybrid; x, g are FP8 codes), plus the
    configuration's fmt_x, fmt_g and every beat's product shift (fp8_shift)."""
    _shapes(qa, qb)
    qx, qg, x_is_b = fp8_operands(qa, qb)
    x, g = _dot_rows(qx.codes, qg.codes, x_is_b, lanes)
    return dict(_stream(x, g), fmt_x=qx.fmt, fmt_g=qg.fmt, shift=fp8_shift(qa, qb, lanes=lanes))


def fp8_dots(qa, qb, *, lanes=4, chains=None, shift=None):
    """The FP16 dot products (M, N) float16 `fp8_mac` computes for an FP8 x FP8 GEMM of the
    operands' codes at product shift `shift` (None: the GEMM's, fp8_shift; scales and shift
    excluded), each scored by golden.fp8_mac on its own (`chains`: the unit's; None: the rtl/
    configuration)."""
    m, _, n = _shapes(qa, qb)
    qx, qg, x_is_b = fp8_operands(qa, qb)
    x, g = _dot_rows(qx.codes, qg.codes, x_is_b, lanes)
    shift = fp8_shift(qa, qb, lanes=lanes) if shift is None else shift
    out = fp8_mac(x, g, fmt_x=qx.fmt, fmt_g=qg.fmt, chains=chains, shift=shift)
    return out[:, -1].reshape(m, n)


def fp8_epilogue(qa, qb, dots, shift):
    """float64 (M, N): the FP16 dot products times 2^(shift + qa.scale_exp + qb.scale_exp), exact
    (shift: the product shift the dot products were accumulated at, map_fp8's)."""
    fp8_operands(qa, qb)
    m, _, n = _shapes(qa, qb)
    dots = np.asarray(dots, dtype=np.float16).reshape(m, n).astype(np.float64)
    return np.ldexp(dots, int(shift) + int(qa.scale_exp) + int(qb.scale_exp))


def fp8_gemm(qa, qb, *, lanes=4, chains=None):
    """FP8 x FP8 GEMM as `fp8_mac` computes it, then the epilogue: (result float64 (M, N), FP16
    dot products (M, N)). An FP16 overflow of a dot product gives +-Inf (the accumulator's)."""
    shift = fp8_shift(qa, qb, lanes=lanes)
    dots = fp8_dots(qa, qb, lanes=lanes, chains=chains, shift=shift)
    return fp8_epilogue(qa, qb, dots, shift), dots


# ---------------------------------------------------------------- block formats on mx_dot

def _mx_blocks(qa, qb):
    """The block tensors of an "mx" x "mx" GEMM: qa blocked along its K (axis 1), qb along its K
    (axis 0), of one kind, element format and block size."""
    _shapes(qa, qb)
    if (qa.fmt, qb.fmt) != ("mx", "mx"):
        raise ValueError(f"mx_dot takes two 'mx' operands, got {(qa.fmt, qb.fmt)}")
    a, b = qa.block, qb.block
    if a.axis != 1 or b.axis != 0:
        raise ValueError("mx_dot needs qa blocked along axis 1 and qb along axis 0 (QTensor.along)")
    if type(a) is not type(b) or a.elem != b.elem or a.block != b.block:
        raise ValueError("mx_dot's operands must share the block format, element format and block size")
    return a, b


def _mx_rows(a, b, lanes):
    """Per dot product (m, n) row-major: element codes along K zero-padded to whole blocks, and
    each beat's scale codes -> (x, g (M*N, beats, lanes), sa, sb (M*N, beats))."""
    k, block = a.codes.shape[1], a.block
    kp = -(-k // block) * block
    x, g = _dot_rows(np.pad(a.codes, ((0, 0), (0, kp - k))), np.pad(b.codes, ((0, kp - k), (0, 0))), False, lanes)
    m, n = a.codes.shape[0], b.codes.shape[1]
    per = block // lanes
    sa = np.broadcast_to(np.repeat(a.scales, per, axis=1)[:, None, :], (m, n, kp // lanes))
    sb = np.broadcast_to(np.repeat(b.scales, per, axis=0).T[None, :, :], (m, n, kp // lanes))
    return x, g, sa.reshape(m * n, -1), sb.reshape(m * n, -1)


def map_mx(qa, qb, *, lanes=4):
    """Beats of a block-format GEMM for `mx_dot` (golden.mx_dot): x, g (beats, lanes) element codes
    (the unit's `a`, `b`), sa, sb (beats,) scale codes, `last`; dot products (m, n) row-major, each
    zero-padded to whole blocks; plus the configuration's fmt and block."""
    a, b = _mx_blocks(qa, qb)
    mx_check_config(_mx_fmt(a), a.block, lanes, "fp32")
    x, g, sa, sb = _mx_rows(a, b, lanes)
    return dict(_stream(x, g), sa=sa.ravel(), sb=sb.ravel(), fmt=_mx_fmt(a), block=a.block)


def _mx_fmt(t):
    return "nvfp4" if isinstance(t, NVFP4Tensor) else t.elem


def mx_dots(qa, qb):
    """The FP32 dot products (M, N) float32 `mx_dot` computes (golden.mx.mx_dot of every row of qa
    with every column of qb; NVFP4's tensor scales excluded)."""
    a, b = _mx_blocks(qa, qb)
    rows = [a._replace(codes=a.codes[i], scales=a.scales[i], axis=0) for i in range(a.codes.shape[0])]
    cols = [b._replace(codes=b.codes[:, j], scales=b.scales[:, j], axis=0) for j in range(b.codes.shape[1])]
    return np.array([[mx_dot(r, c) for c in cols] for r in rows], np.float32).reshape(len(rows), len(cols))


def mx_epilogue(qa, qb, dots):
    """float64 (M, N): the FP32 dot products, divided by both NVFP4 tensor scales (MX: as they are)."""
    a, b = _mx_blocks(qa, qb)
    out = np.asarray(dots, np.float32).reshape(a.codes.shape[0], b.codes.shape[1]).astype(np.float64)
    return out / (np.float64(a.s_enc) * np.float64(b.s_enc)) if isinstance(a, NVFP4Tensor) else out


def mx_gemm(qa, qb):
    """A block-format GEMM as `mx_dot` computes it, then the epilogue: (float64 (M, N), FP32 dots)."""
    dots = mx_dots(qa, qb)
    return mx_epilogue(qa, qb, dots), dots


def mx_cycles(m, k, n, block, lanes):
    """Exact cycles of an (m, k) x (k, n) block-format GEMM on `mx_dot` streamed back to back, from
    the first beat taken to the last result (golden.mx_dot.beat_cycles and latency)."""
    per = block // lanes
    beats = -(-k // block) * per
    last = np.tile(np.arange(beats) == beats - 1, m * n)
    return int(mx_beat_cycles(np.zeros(len(last)), per, last)[-1]) + mx_latency() + 1


def without_low_rank(q):
    """The operand without its low-rank correction (golden.training.qtensor's `low_rank`)."""
    return dataclasses.replace(q, low_rank=None) if getattr(q, "low_rank", None) is not None else q


def low_rank_correction(qa, qb):
    """The host's part of a GEMM whose operands carry low-rank corrections (BHQ's Householder
    part, golden.quantizers.BHQParts): A = A0 - La Ra, B = B0 - Lb Rb, so

        A @ B = A0 @ B0 - La (Ra @ B0) - (A @ Lb) Rb

    with A0 @ B0 the GEMM of the bare codes an integer unit runs. Returns (the correction (M, N)
    float64, low_rank_macs)."""
    m, _, n = _shapes(qa, qb)
    b0 = without_low_rank(qb).dequant()
    out = np.zeros((m, n))
    if getattr(qa, "low_rank", None) is not None:
        left, right = qa.low_rank
        out -= left @ (right @ b0)
    if getattr(qb, "low_rank", None) is not None:
        left, right = qb.low_rank
        out -= (qa.dequant() @ left) @ right
    return out, low_rank_macs(qa, qb)


def low_rank_macs(qa, qb):
    """The host's multiply-adds in low_rank_correction: per corrected side, the nonzeros of the
    factor next to the other operand times its other dimension, plus M r N (r the rank); 0 when
    neither operand carries a correction."""
    m, _, n = _shapes(qa, qb)
    macs = 0
    if getattr(qa, "low_rank", None) is not None:
        left, right = qa.low_rank
        macs += np.count_nonzero(right) * n + m * left.shape[1] * n
    if getattr(qb, "low_rank", None) is not None:
        left, right = qb.low_rank
        macs += m * np.count_nonzero(left) + m * right.shape[0] * n
    return int(macs)


def gemm(qa, qb, *, unit=None, lanes=4, accw=ACCW_DEFAULT, maxb=8):
    """The float64 (M, N) result of a quantized GEMM as the hardware computes it: int x int on the
    MAC array (exact, == the dequantized product up to float64 rounding of the epilogue), INT4 x
    R4FP4 on hybrid_mac and FP8 x FP8 on fp8_mac (FP16 accumulation; FP8 at the GEMM's product
    shift), block formats on mx_dot (FP32 accumulation), anything else (float) dequantized on
    the host; an operand's low-rank correction (BHQ) is the host's low_rank_correction."""
    if any(getattr(q, "low_rank", None) is not None for q in (qa, qb)):
        base = gemm(without_low_rank(qa), without_low_rank(qb), unit=unit, lanes=lanes, accw=accw, maxb=maxb)
        return base + low_rank_correction(qa, qb)[0]
    fmts = {qa.fmt, qb.fmt}
    if fmts == {"int"}:
        return int_gemm_parts(qa, qb, unit=unit or "mac_array", accw=accw, maxb=maxb)[0]
    if fmts == {"int", "r4fp4"}:
        return hybrid_gemm(qa, qb, lanes=lanes)[0]
    if fmts <= set(FP8_FORMATS):
        return fp8_gemm(qa, qb, lanes=lanes)[0]
    if fmts == {"mx"}:
        return mx_gemm(qa, qb)[0]
    return qa.dequant() @ qb.dequant()


# ---------------------------------------------------------------- mac_array beat streams

def pack_lanes(elements, bits, **mode):
    """Vectorized golden.fusion.pack: (..., P) element values -> (...) uint64 buses.

    `mode`: golden.fusion.pack's keywords (other_bits, side, maxb, layout); a fusion operand
    passes its mode, as the bus layout may replicate or reorder its bits (the hierarchical one
    does). The layout is read from golden.fusion.pack itself (one call per element bit, cached),
    so it follows whatever layout `pack` defines; contiguous fields become one shift."""
    e = np.asarray(elements, dtype=np.int64)
    count = e.shape[-1]
    bus = np.zeros(e.shape[:-1], dtype=np.uint64)
    for i in range(count):
        pos = [_bit_positions(count, bits, i, j, tuple(sorted(mode.items()))) for j in range(bits)]
        field = e[..., i].astype(np.uint64) & np.uint64((1 << bits) - 1)
        if all(len(p) == 1 for p in pos) and [p[0] for p in pos] == list(range(pos[0][0], pos[0][0] + bits)):
            bus |= field << np.uint64(pos[0][0])
            continue
        for j, places in enumerate(pos):
            bit = (field >> np.uint64(j)) & np.uint64(1)
            for p in places:
                bus |= bit << np.uint64(p)
    return bus


@functools.lru_cache(maxsize=None)
def _bit_positions(count, bits, i, j, mode):
    """Bus bits golden.fusion.pack puts bit j of element i at (a tuple: a layout may replicate)."""
    unit = [0] * count
    unit[i] = 1 << j
    word = int(pack(unit, bits, **dict(mode)))
    if word <= 0:
        raise ValueError(f"golden.fusion.pack drops element {i} bit {j}")
    return tuple(p for p in range(word.bit_length()) if word >> p & 1)


MacArrayPlan = namedtuple("MacArrayPlan", "m k n rows cols per_beat mode signed tiles tile_beats segments")
MacArrayPlan.__doc__ = """How a GEMM maps onto the array: `tiles` (T, 3) = (row tile, column tile,
chunk index) of each array tile in stream order, `tile_beats` its beat count, `mode` (pa, pb),
`signed` (sa, sb), `segments` the K segments (with their chunks)."""


def map_mac_array(qa, qb, *, rows=8, cols=8, maxb=8, pe="fusion", accw=ACCW_DEFAULT):
    """Beat stream of an int x int GEMM on a ROWS x COLS mac_array (pe="fusion") or its fixed
    baseline (pe="fixed"). Returns (plan, beats): beats is a dict of per-beat arrays a (beats,
    ROWS) and b (beats, COLS) uint64 lanes, pa, pb, sa, sb, first, last, as golden.mac_array takes
    them."""
    rows, cols = _check_int("rows", rows, 1), _check_int("cols", cols, 1)
    if accw not in accw_range(maxb):
        check_accw(accw, maxb)
    unit = "mac_array" if pe == "fusion" else "mac_array_fixed8"
    ca, cb = _int_codes(qa, "qa"), _int_codes(qb, "qb")
    m, k, n = _shapes(qa, qb)
    per_beat, (pa, pb) = _per_beat(unit, qa.bits, qb.bits, maxb, 1)
    _, _, k_group = int_segments(qa, qb)
    segments = _segments(k, per_beat, _chunk_beats(per_beat, qa.bits, qb.bits, accw), k_group)
    chunks = [c for s in segments for c in s.chunks]
    ba, bb = PRECISION_BITS[pa], PRECISION_BITS[pb]
    # A fusion lane is an operand bus of mode (pa, pb) in the default layout (golden.mac_array
    # scores it so); a fixed PE's lane is one plain MAXB-bit element.
    lane_mode = dict(a=dict(other_bits=bb, side="a", maxb=maxb), b=dict(other_bits=ba, side="b", maxb=maxb)) \
        if pe == "fusion" else dict(a={}, b={})
    # Elements per lane: a fusion lane holds the P elements of its beat, a fixed one a single one.
    # Zero-pad M, N to whole tiles; each chunk is padded to whole beats separately.
    mt, nt = -(-m // rows), -(-n // cols)
    ap = np.zeros((mt * rows, k), np.int64)
    ap[:m] = ca
    bp = np.zeros((k, nt * cols), np.int64)
    bp[:, :n] = cb
    a_parts, b_parts, beats_per_chunk = [], [], []
    for c0, c1 in chunks:
        nb = -(-(c1 - c0) // per_beat)
        pad = nb * per_beat - (c1 - c0)
        a_c = np.pad(ap[:, c0:c1], ((0, 0), (0, pad))).reshape(mt, rows, nb, per_beat)
        b_c = np.pad(bp[c0:c1, :], ((0, pad), (0, 0))).reshape(nb, per_beat, nt, cols)
        a_parts.append(pack_lanes(a_c, ba, **lane_mode["a"]).transpose(0, 2, 1))     # (mt, nb, rows)
        b_parts.append(pack_lanes(b_c.transpose(2, 0, 3, 1), bb, **lane_mode["b"]))  # (nt, nb, cols)
        beats_per_chunk.append(nb)
    a_lanes, b_lanes, tiles, tile_beats = [], [], [], []
    for i in range(mt):
        for j in range(nt):
            for c, nb in enumerate(beats_per_chunk):
                a_lanes.append(a_parts[c][i])
                b_lanes.append(b_parts[c][j])
                tiles.append((i, j, c))
                tile_beats.append(nb)
    tile_beats = np.array(tile_beats, np.int64)
    nbeats = int(tile_beats.sum())
    last = np.zeros(nbeats, bool)
    last[np.cumsum(tile_beats) - 1] = True
    first = np.roll(last, 1)
    beats = dict(a=np.concatenate(a_lanes), b=np.concatenate(b_lanes),
                 pa=np.full(nbeats, pa), pb=np.full(nbeats, pb),
                 sa=np.full(nbeats, int(qa.signed)), sb=np.full(nbeats, int(qb.signed)),
                 first=first, last=last)
    assert beats["a"].max(initial=0) < (1 << lane_bits(maxb, pe))
    plan = MacArrayPlan(m, k, n, rows, cols, per_beat, (pa, pb), (int(qa.signed), int(qb.signed)),
                        np.array(tiles, np.int64).reshape(-1, 3), tile_beats, segments)
    return plan, beats


def gather_tiles(plan, tiles):
    """Array output tiles (T, ROWS, COLS) in stream order -> chunk sums (chunks, M, N)."""
    nchunks = sum(len(s.chunks) for s in plan.segments)
    mt, nt = -(-plan.m // plan.rows), -(-plan.n // plan.cols)
    t = np.asarray(tiles, np.int64).reshape(mt, nt, nchunks, plan.rows, plan.cols)
    full = t.transpose(2, 0, 3, 1, 4).reshape(nchunks, mt * plan.rows, nt * plan.cols)
    return full[:, :plan.m, :plan.n]


def scatter_tiles(plan, sums):
    """Inverse of gather_tiles: chunk sums (chunks, M, N) -> the array's output tiles (T, ROWS,
    COLS) in stream order, zero where a tile overhangs the GEMM (zero-padded codes)."""
    nchunks = sum(len(s.chunks) for s in plan.segments)
    mt, nt = -(-plan.m // plan.rows), -(-plan.n // plan.cols)
    full = np.zeros((nchunks, mt * plan.rows, nt * plan.cols), np.int64)
    full[:, :plan.m, :plan.n] = sums
    t = full.reshape(nchunks, mt, plan.rows, nt, plan.cols).transpose(1, 3, 0, 2, 4)
    return t.reshape(-1, plan.rows, plan.cols)
