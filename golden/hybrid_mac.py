"""IBM's hybrid FP4 MAC and its FP16 baseline, cycle by cycle: `hybrid_mac`, `fp16_mac` (SPEC.md).

Sun et al., "Ultra-Low Precision 4-Bit Training of Deep Neural Networks" (NeurIPS 2020) multiply
INT4 weights/activations by radix-4 FP4 gradients and accumulate in FP16. Both units here follow
one contract (SPEC.md "Hardware units"); per clock cycle t with L lanes:

    en[t]:             acc <- fp16(base + sum_i x[t,i] * g[t,i]),  base = -0 if clear[t] else acc
    clear[t], not en:  acc <- +0            (also the reset value)
    neither:           acc holds

`fp16(.)` is ONE round-to-nearest-even of the exact sum (IEEE 754 binary16): the products and the
sum are not rounded. Clearing substitutes -0, IEEE's exact additive identity (-0 + y == y for every
y, zeros included), so a clearing beat stores exactly fp16(sum of its products): a new dot product
starts with no bubble.

Signed zeros (IEEE 754-2019 Sec. 6.3, applied to the exact multi-operand sum): a product's sign is
the XOR of its operands' signs; an exactly zero sum is -0 iff every addend (base and each product)
is -0, else +0 (so cancellation gives +0); a nonzero sum that rounds to zero keeps its sign (only
fp16_mac can do that). INT4 zero is +0; R4FP4 zeros have the sign `r4fp4_decode` gives them.

Overflow: a sum whose rounding reaches 65520 gives +-Inf (RNE overflow). Specials: Inf x 0, a NaN
operand, a NaN base, and Inf + (-Inf) among base and products give NaN; otherwise any Inf gives
that Inf. Every NaN result is the canonical quiet NaN 0x7E00 (the hardware does not propagate
payloads). INT4 and R4FP4 have no Inf/NaN, so hybrid_mac reaches +-Inf only by overflow and NaN
only from a NaN starting `acc`; its RTL also stores 0x7E00 on an enabled cycle whose 6-bit
scale_exp lies outside [-18, 8] (as r4fp4_to_fp16 decodes such codes), which this model rejects.

Exactness. hybrid_mac: every R4FP4 value at scale_exp in [-18, 8] is a power of two in
[2^-24, 2^15] and |x| <= 15, so products, their sum and acc are multiples of 2^-24 below 2^22:
46 significant bits, exact in float64, and NumPy's direct float64 -> float16 cast is the single
RNE rounding. fp16_mac: products span 2^-48 (subnormal squared) to 2^32, 82 bits: float64 is NOT
exact there (e.g. 32 + 2^-6 + 2^-48 rounds to the tie 32 + 2^-6 in float64, and then to 32, where
the exact sum rounds up to 32 + 2^-5), so the sum is taken in Python integers in units of 2^-48.
"""

import numpy as np

from ._grid import check_int, fp16_bits, fp16_units
from .r4fp4 import r4fp4_decode

__all__ = ["CANONICAL_NAN", "fp16_mac", "hybrid_mac", "round_fp16"]

CANONICAL_NAN = 0x7E00
_INF, _NEG_ZERO = 0x7C00, 0x8000


def round_fp16(n, lsb):
    """FP16 bits of the exact value n * 2**lsb (n a nonzero Python int, lsb <= -24), one RNE rounding.

    The FP16 quantum at |n| is 2^-24 (subnormal) or 2^(msb-10); r is |n| rounded to that quantum
    (at most 11 bits, or 2048 after a carry), and (biased exponent - 1) << 10 plus r is the
    encoding, the carry moving into the exponent field by itself. Results at or above 0x7C00 are
    Inf.
    """
    mag = abs(n)
    q = max(-24 - lsb, mag.bit_length() - 11)  # quantum, in units of 2^lsb
    r, rem = mag >> q, mag & ((1 << q) - 1)
    if q and (rem > 1 << (q - 1) or (rem == 1 << (q - 1) and r & 1)):
        r += 1
    return (_NEG_ZERO if n < 0 else 0) | min(((q + lsb + 24) << 10) + r, _INF)


def _cycles(x, g, en, clear, acc):
    """Validate shapes; return x, g (..., T, L), en, clear (..., T) bool, acc (...) FP16 bits."""
    x, g = np.asarray(x), np.asarray(g)
    if x.ndim < 2 or x.shape != g.shape:
        raise ValueError(f"x and g must have the same shape (..., cycles, lanes), got {x.shape} and {g.shape}")
    en = np.broadcast_to(np.asarray(en, dtype=bool), x.shape[:-1])
    clear = np.broadcast_to(np.asarray(clear, dtype=bool), x.shape[:-1])
    acc = np.broadcast_to(fp16_bits(acc), x.shape[:-2])
    return x, g, en, clear, acc


def _step(acc, en, clear, new):
    """The accumulator register: acc after a cycle whose en-result is `new` (FP16 bits)."""
    return np.where(en, new, np.where(clear, 0, acc)).astype(np.uint16)


def fp16_mac(x, g, en=True, clear=False, acc=0.0):
    """The `fp16_mac` accumulator after every cycle: FP16 x FP16 lanes, exact sum, one rounding.

    x, g: FP16 operands, shape (..., cycles, lanes) (leading axes: independent MACs).
    en, clear: per cycle, broadcast to (..., cycles). acc: accumulator before the first cycle.
    Returns float16 (..., cycles).
    """
    x, g, en, clear, acc = _cycles(x, g, en, clear, acc)
    xb, gb = fp16_bits(x), fp16_bits(g)
    xm, gm = xb & 0x7FFF, gb & 0x7FFF
    neg = (xb ^ gb) >> 15 == 1
    nan = (xm > _INF) | (gm > _INF) | ((xm == _INF) & (gm == 0)) | ((gm == _INF) & (xm == 0))
    inf = ((xm == _INF) | (gm == _INF)) & ~nan
    finite = ~(nan | inf)
    neg_zero = ((xm == 0) | (gm == 0)) & finite & neg
    # Exact products in units of 2^-48 (up to 2^80: Python ints), summed over the lanes.
    prods = (fp16_units(xb).astype(object) * fp16_units(gb).astype(object)) * np.where(neg, -1, 1)
    psum = np.where(finite, prods, 0).sum(axis=-1)
    p_nan = nan.any(-1) | ((inf & ~neg).any(-1) & (inf & neg).any(-1))
    p_inf = inf.any(-1)
    p_inf_neg = (inf & neg).any(-1)
    p_neg_zero = neg_zero.all(-1)

    out = np.empty(x.shape[:-1], dtype=np.uint16)
    for idx in np.ndindex(x.shape[:-2]):
        a = int(acc[idx])
        for t in range(x.shape[-2]):
            i = idx + (t,)
            if en[i]:
                a = _fp16_add(_NEG_ZERO if clear[i] else a, psum[i], p_nan[i], p_inf[i], p_inf_neg[i], p_neg_zero[i])
            elif clear[i]:
                a = 0
            out[i] = a
    return out.view(np.float16)


def _fp16_add(base, psum, p_nan, p_inf, p_inf_neg, p_neg_zero):
    """FP16 bits of base + (exact product sum psum, in units of 2^-48, with its special flags)."""
    bmag, bneg = base & 0x7FFF, bool(base >> 15)
    if bmag > _INF or p_nan or (bmag == _INF and p_inf and bneg != p_inf_neg):
        return CANONICAL_NAN
    if bmag == _INF:
        return base
    if p_inf:
        return _INF | (_NEG_ZERO if p_inf_neg else 0)
    n = int(fp16_units(base)) * (-1 if bneg else 1) * (1 << 24) + psum
    if n == 0:
        return _NEG_ZERO if base == _NEG_ZERO and p_neg_zero else 0
    return round_fp16(n, -48)


def hybrid_mac(x, g, phase=0, scale_exp=0, sx=True, en=True, clear=False, acc=0.0):
    """The `hybrid_mac` accumulator after every cycle: INT4 x R4FP4 lanes, exact sum, one rounding.

    x: INT4 values, shape (..., cycles, lanes): in [-8, 7] where `sx` (signed, two's complement)
    else in [0, 15]. g: R4FP4 codes (0..15), same shape, decoded by `r4fp4_decode` at the cycle's
    `phase` (0 even grid, 1 odd) and `scale_exp` (GradScale, [-18, 8]). phase, scale_exp, sx, en,
    clear: per cycle, broadcast to (..., cycles). acc: accumulator before the first cycle.
    Returns float16 (..., cycles).
    """
    x, g, en, clear, acc = _cycles(x, g, en, clear, acc)
    cyc = x.shape[:-1]
    phase = np.broadcast_to(np.asarray(phase), cyc)
    scale_exp = np.broadcast_to(np.asarray(scale_exp), cyc)
    sx = np.broadcast_to(np.asarray(sx, dtype=bool), cyc)
    if x.dtype.kind not in "iu" or g.dtype.kind not in "iu":
        raise ValueError("x and g must be integer arrays (INT4 values, R4FP4 codes)")
    lo, hi = np.where(sx, -8, 0)[..., None], np.where(sx, 7, 15)[..., None]
    if np.any((x < lo) | (x > hi)):
        raise ValueError("x must hold INT4 values: in [-8, 7] where sx (signed), else in [0, 15]")
    if np.any((g < 0) | (g > 15)):
        raise ValueError("g must hold R4FP4 codes in [0, 15]")
    gv = np.zeros(x.shape, dtype=np.float64)
    for ph, se in set(zip(phase.ravel().tolist(), scale_exp.ravel().tolist())):
        sel = (phase == ph) & (scale_exp == se)
        gv[sel] = r4fp4_decode(g[sel].astype(np.uint8), phase=check_int("phase", ph, 0, 1),
                               scale_exp=check_int("scale_exp", se, -18, 8))
    prods = x.astype(np.float64) * gv
    psum = prods[..., 0]
    for i in range(1, prods.shape[-1]):  # lane by lane: np.sum would start from +0 and lose -0
        psum = psum + prods[..., i]
    out = np.empty(cyc, dtype=np.uint16)
    a = acc.copy()
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to Inf is the contract; NaN acc
        for t in range(cyc[-1]):
            base = np.where(clear[..., t], -0.0, a.view(np.float16).astype(np.float64))
            new = base + psum[..., t]  # NaN only from a NaN initial acc: canonicalized as in fp16_mac
            new = np.where(np.isnan(new), CANONICAL_NAN, new.astype(np.float16).view(np.uint16))
            a = _step(a, en[..., t], clear[..., t], new)
            out[..., t] = a
    return out.view(np.float16)
