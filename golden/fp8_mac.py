"""`fp8_mac`: L lanes of FP8 x FP8 into the shared FP16 accumulator; HFP8 (Sun et al., NeurIPS
2019) multiplies 1-4-3 (e4m3) activations/weights by 1-5-2 (e5m2) gradients (docs/spec.md,
"Hardware units"; the contract, its chains and rounding sequence: golden.fp16_accumulator).

Decoding FP8 to FP16 is exact (golden.fp8), so fp8_mac is fp16_mac on the decoded operands, with
one addition: a per-beat product shift s in [0, SHIFT_MAX] (a SHIFT_BITS-bit input), the beat's
products scaled by 2^-s before they join the chain,

    chain <- fp16(chain + 2^-s * sum_i x_i * g_i)

HFP8 fits the FP8 formats' range to the data with a non-default exponent bias and loss
scaling; the shift is such a bias applied once to the product, where one value serves both
operands and the codes stay as the recipe quantized them. With both FP8 tensors scaled to their format's largest
value, products reach 480 x 57344 ~ 2^24.7 while the FP16 accumulator ends at 65504, so the
GEMM mapper (golden.gemm.fp8_shift) picks for each GEMM the smallest s for which no dot product
can overflow, and the epilogue multiplies the FP16 result by 2^s (exact). e4m3 has no Inf/NaN
(0x7F is 480); e5m2 has IEEE specials.
"""

from .fp8 import fp8_decode
from .fp16_accumulator import TIMING, check_last, check_shift, dot_products, operands
from .grid import fp16_bits

__all__ = ["fp8_mac", "SHIFT_BITS", "SHIFT_MAX"]

SHIFT_BITS = 5
SHIFT_MAX = (1 << SHIFT_BITS) - 1


def fp8_mac(x, g, last=None, fmt_x="e4m3", fmt_g="e5m2", chains=None, shift=0):
    """The `fp8_mac` dot products: FP8 x FP8 lanes, exact sums, the chains' rounding sequence.

    x, g: FP8 codes (0..255) of formats fmt_x, fmt_g ("e4m3" or "e5m2", default biases), shape
    (..., beats, lanes). shift: the beats' product shift (an integer or an array broadcastable
    to (..., beats), each in [0, SHIFT_MAX]). last, chains, the result: as
    golden.fp16_mac.fp16_mac.
    """
    x, g = operands(x, g)
    for name, v in (("x", x), ("g", g)):
        if v.dtype.kind not in "iu" or (v.size and (v.min() < 0 or v.max() > 255)):
            raise ValueError(f"{name} must hold FP8 codes: integers in [0, 255]")
    shift = check_shift(shift, x.shape[:-1], SHIFT_MAX)
    xb, gb = (fp16_bits(fp8_decode(v, fmt)) for v, fmt in ((x, fmt_x), (g, fmt_g)))
    chains = TIMING["fp8_mac"][1] if chains is None else chains
    return dot_products(xb, gb, check_last(last, x.shape), chains, shift)
