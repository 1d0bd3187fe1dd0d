"""`hybrid_mac`: IBM's hybrid FP4 MAC, L lanes of INT4 x R4FP4 into the shared FP16 accumulator
(docs/spec.md, "Hardware units"; the contract, its chains and rounding sequence:
golden.fp16_accumulator).

Sun et al., "Ultra-Low Precision 4-Bit Training of Deep Neural Networks" (NeurIPS 2020) multiply
INT4 weights/activations by radix-4 FP4 gradients and accumulate in FP16. |x| <= 15 and every
decoded R4FP4 value (r4fp4_decode) is exact in FP16, so hybrid_mac is fp16_mac on the decoded
operands; INT4 zero is +0. INT4 and R4FP4 have no Inf/NaN, so hybrid_mac reaches +-Inf only by
overflow. Its RTL also stores the quiet NaN 0x7E00 for a beat whose 6-bit scale_exp lies outside
[-18, 8] (as r4fp4_to_fp16 decodes such codes), which this model rejects.
"""

import numpy as np

from .fp16_accumulator import TIMING, check_last, dot_products, operands
from .grid import check_int, fp16_bits
from .r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN, r4fp4_decode

__all__ = ["hybrid_mac"]


def hybrid_mac(x, g, phase=0, scale_exp=0, sx=True, last=None, chains=None):
    """The `hybrid_mac` dot products: INT4 x R4FP4 lanes, exact sums, the chains' rounding sequence.

    x: INT4 values, shape (..., beats, lanes): in [-8, 7] where `sx` (signed, two's complement)
    else in [0, 15]. g: R4FP4 codes (0..15), same shape, decoded by `r4fp4_decode` at the beat's
    `phase` (0 even grid, 1 odd) and `scale_exp` (GradScale, [-18, 8]). phase, scale_exp, sx: per
    beat, broadcast to (..., beats). last, chains, the result: as golden.fp16_mac.fp16_mac.
    """
    x, g = operands(x, g)
    beats = x.shape[:-1]
    phase = np.broadcast_to(np.asarray(phase), beats)
    scale_exp = np.broadcast_to(np.asarray(scale_exp), beats)
    sx = np.broadcast_to(np.asarray(sx, dtype=bool), beats)
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
                               scale_exp=check_int("scale_exp", se, SCALE_EXP_MIN, SCALE_EXP_MAX))
    chains = TIMING["hybrid_mac"][1] if chains is None else chains
    return dot_products(fp16_bits(x.astype(np.float16)), fp16_bits(gv), check_last(last, x.shape), chains)
