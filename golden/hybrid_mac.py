"""IBM's hybrid FP4 MAC, its FP16 baseline and the HFP8 MAC, cycle by cycle: `hybrid_mac`,
`fp16_mac`, `fp8_mac` (SPEC.md).

Sun et al., "Ultra-Low Precision 4-Bit Training of Deep Neural Networks" (NeurIPS 2020) multiply
INT4 weights/activations by radix-4 FP4 gradients and accumulate in FP16; Sun et al., "Hybrid
8-bit Floating Point (HFP8) Training and Inference for Deep Neural Networks" (NeurIPS 2019)
multiply 1-4-3 (e4m3) activations/weights by 1-5-2 (e5m2) gradients and accumulate in FP16. All
three units follow one contract (SPEC.md "Hardware units"); per clock cycle t with L lanes:

    en[t]:             acc <- fp16(base + sum_i x[t,i] * g[t,i]),  base = -0 if clear[t] else acc
    clear[t], not en:  acc <- +0            (also the reset value)
    neither:           acc holds

`fp16(.)` is ONE round-to-nearest-even of the exact sum (IEEE 754 binary16): the products and the
sum are not rounded. Clearing substitutes -0, IEEE's exact additive identity (-0 + y == y for every
y, zeros included), so a clearing beat stores exactly fp16(sum of its products): a new dot product
starts with no bubble.

Signed zeros (IEEE 754-2019 Sec. 6.3, applied to the exact multi-operand sum): a product's sign is
the XOR of its operands' signs; an exactly zero sum is -0 iff every addend (base and each product)
is -0, else +0 (so cancellation gives +0); a nonzero sum that rounds to zero keeps its sign. INT4
zero is +0; R4FP4 and FP8 zeros have the sign their decoders give them.

Overflow: a sum whose rounding reaches 65520 gives +-Inf (RNE overflow). Specials: Inf x 0, a NaN
operand, a NaN base, and Inf + (-Inf) among base and products give NaN; otherwise any Inf gives
that Inf. Every NaN result is the canonical quiet NaN 0x7E00 (the hardware does not propagate
payloads). INT4, R4FP4 and e4m3 have no Inf/NaN (e5m2 has), so hybrid_mac reaches +-Inf only by
overflow and NaN only from a NaN starting `acc`; its RTL also stores 0x7E00 on an enabled cycle
whose 6-bit scale_exp lies outside [-18, 8] (as r4fp4_to_fp16 decodes such codes), which this
model rejects.

One exact path. Every operand format here decodes exactly to FP16 (r4fp4_decode, fp8_decode), so
all three units are `_accumulate` on FP16 operands: products and their sum in Python integers in
units of 2^-48 (FP16 subnormal squared), then `round_fp16`, the single RNE rounding. float64 is
NOT exact in general (FP16 products span 2^-48..2^32, e4m3 x e5m2 ones 2^-25..2^25: e.g.
32 + 2^-6 + 2^-48 rounds to the tie 32 + 2^-6 in float64, and then to 32, where the exact sum
rounds up to 32 + 2^-5).

Interleaved chains (the pipelined RTL). The accumulator's add-normalize-round is a loop: the
next cycle's base is this cycle's result. To clock it at 10 ns the RTL splits that loop over
C register stages and runs C independent accumulators ("chains") through it in turn: the cycle t
after reset updates chain t mod C, and each chain is exactly the contract above on its own
cycles. `chains=C` here models that: out[..., t] is the value of cycle t's chain after cycle t,
and `acc` (broadcast to (..., C)) holds the chain values before the first cycle, acc[..., j] that
of the chain the j-th cycle updates. C = 1 is the single accumulator. The RTL shows cycle t's
result on its `acc` port `latency(unit, chains)` cycles after the cycle's inputs are taken
(`TIMING`): throughput is one beat of L lanes per cycle, every cycle.
"""

import numpy as np

from .grid import check_int, fp16_bits, fp16_units
from .fp8 import fp8_decode
from .r4fp4 import r4fp4_decode

__all__ = ["CANONICAL_NAN", "TIMING", "CHAINS_MAX", "fp16_mac", "fp8_mac", "hybrid_mac", "latency",
           "round_fp16"]

CANONICAL_NAN = 0x7E00
_INF, _NEG_ZERO = 0x7C00, 0x8000
CHAINS_MAX = 3  # register stages the add-normalize-round loop can be split into (hdl_gen.hybrid_mac)
# The rtl/ defaults: unit -> (front register stages before the loop, chains). Each closes the
# 10 ns synthesis clock on OSU 0.18 um (README); the generators take both as parameters.
TIMING = {"hybrid_mac": (1, 2), "fp8_mac": (1, 2), "fp16_mac": (2, 2)}


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


def _cycles(x, g, en, clear, acc, chains):
    """Validate shapes; return x, g (..., T, L), en, clear (..., T) bool, acc (..., chains) FP16 bits."""
    x, g = np.asarray(x), np.asarray(g)
    if x.ndim < 2 or x.shape != g.shape:
        raise ValueError(f"x and g must have the same shape (..., cycles, lanes), got {x.shape} and {g.shape}")
    chains = check_int("chains", chains, 1, CHAINS_MAX)
    en = np.broadcast_to(np.asarray(en, dtype=bool), x.shape[:-1])
    clear = np.broadcast_to(np.asarray(clear, dtype=bool), x.shape[:-1])
    acc = fp16_bits(acc)
    acc = np.broadcast_to(acc if acc.ndim and acc.shape[-1] == chains and acc.ndim == x.ndim - 1
                          else acc[..., None], x.shape[:-2] + (chains,))
    return x, g, en, clear, acc, chains


def _accumulate(xb, gb, en, clear, acc, chains):
    """The contract on FP16 operand bits xb, gb (..., T, L): exact products and sum, one RNE.

    en, clear (..., T) bool; acc (..., chains) FP16 bits. Returns float16 (..., T).
    """
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

    out = np.empty(xb.shape[:-1], dtype=np.uint16)
    for idx in np.ndindex(xb.shape[:-2]):
        a = [int(v) for v in acc[idx]]
        for t in range(xb.shape[-2]):
            i, c = idx + (t,), t % chains
            if en[i]:
                a[c] = _fp16_add(_NEG_ZERO if clear[i] else a[c], psum[i], p_nan[i], p_inf[i], p_inf_neg[i],
                                 p_neg_zero[i])
            elif clear[i]:
                a[c] = 0
            out[i] = a[c]
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


def fp16_mac(x, g, en=True, clear=False, acc=0.0, chains=1):
    """The `fp16_mac` accumulator after every cycle: FP16 x FP16 lanes, exact sum, one rounding.

    x, g: FP16 operands, shape (..., cycles, lanes) (leading axes: independent MACs).
    en, clear: per cycle, broadcast to (..., cycles). acc: accumulator(s) before the first cycle.
    chains: interleaved accumulators (module docstring). Returns float16 (..., cycles).
    """
    x, g, en, clear, acc, chains = _cycles(x, g, en, clear, acc, chains)
    return _accumulate(fp16_bits(x), fp16_bits(g), en, clear, acc, chains)


def fp8_mac(x, g, en=True, clear=False, acc=0.0, fmt_x="e4m3", fmt_g="e5m2", chains=1):
    """The `fp8_mac` accumulator after every cycle: FP8 x FP8 lanes, exact sum, one rounding.

    x, g: FP8 codes (0..255) of formats fmt_x, fmt_g ("e4m3" or "e5m2", default biases; HFP8:
    e4m3 activations/weights x e5m2 gradients), shape (..., cycles, lanes). Decoding to FP16 is
    exact (golden.fp8), so this is fp16_mac on the decoded operands. Other arguments as fp16_mac.
    """
    x, g, en, clear, acc, chains = _cycles(x, g, en, clear, acc, chains)
    for name, v in (("x", x), ("g", g)):
        if v.dtype.kind not in "iu" or (v.size and (v.min() < 0 or v.max() > 255)):
            raise ValueError(f"{name} must hold FP8 codes: integers in [0, 255]")
    xb, gb = (fp16_bits(fp8_decode(v, fmt)) for v, fmt in ((x, fmt_x), (g, fmt_g)))
    return _accumulate(xb, gb, en, clear, acc, chains)


def hybrid_mac(x, g, phase=0, scale_exp=0, sx=True, en=True, clear=False, acc=0.0, chains=1):
    """The `hybrid_mac` accumulator after every cycle: INT4 x R4FP4 lanes, exact sum, one rounding.

    x: INT4 values, shape (..., cycles, lanes): in [-8, 7] where `sx` (signed, two's complement)
    else in [0, 15]. g: R4FP4 codes (0..15), same shape, decoded by `r4fp4_decode` at the cycle's
    `phase` (0 even grid, 1 odd) and `scale_exp` (GradScale, [-18, 8]). phase, scale_exp, sx, en,
    clear: per cycle, broadcast to (..., cycles). acc, chains: as fp16_mac.
    Returns float16 (..., cycles).
    """
    x, g, en, clear, acc, chains = _cycles(x, g, en, clear, acc, chains)
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
    gv = np.zeros(x.shape, dtype=np.float16)
    for ph, se in set(zip(phase.ravel().tolist(), scale_exp.ravel().tolist())):
        sel = (phase == ph) & (scale_exp == se)
        gv[sel] = r4fp4_decode(g[sel].astype(np.uint8), phase=check_int("phase", ph, 0, 1),
                               scale_exp=check_int("scale_exp", se, -18, 8))
    # |x| <= 15 and the decoded R4FP4 values are exact in FP16 (INT4 zero is +0).
    return _accumulate(fp16_bits(x.astype(np.float16)), fp16_bits(gv), en, clear, acc, chains)


def latency(unit, chains=None):
    """Cycles from a beat's inputs to its result on the RTL's `acc` port (1: the next cycle).

    The generator registers the lanes' exact sum in TIMING[unit][0] front stages, then the
    add-normalize-round loop spans `chains` stages (default: the rtl/ configuration, TIMING[unit][1]).
    """
    if unit not in TIMING:
        raise ValueError(f"unit must be one of {tuple(TIMING)}, got {unit!r}")
    front, default = TIMING[unit]
    return front + check_int("chains", default if chains is None else chains, 1, CHAINS_MAX)
