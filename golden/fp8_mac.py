"""`fp8_mac`: L lanes of FP8 x FP8 into the shared FP16 accumulator; HFP8 (Sun et al., NeurIPS
2019) multiplies 1-4-3 (e4m3) activations/weights by 1-5-2 (e5m2) gradients (docs/spec.md,
"Hardware units"; the contract, its chains and rounding sequence: golden.fp16_accumulator).

Decoding FP8 to FP16 is exact (golden.fp8), so fp8_mac is fp16_mac on the decoded operands.
e4m3 has no Inf/NaN (0x7F is 480); e5m2 has IEEE specials.
"""

from .fp8 import fp8_decode
from .fp16_accumulator import TIMING, check_last, dot_products, operands
from .grid import fp16_bits

__all__ = ["fp8_mac"]


def fp8_mac(x, g, last=None, fmt_x="e4m3", fmt_g="e5m2", chains=None):
    """The `fp8_mac` dot products: FP8 x FP8 lanes, exact sums, the chains' rounding sequence.

    x, g: FP8 codes (0..255) of formats fmt_x, fmt_g ("e4m3" or "e5m2", default biases), shape
    (..., beats, lanes). last, chains, the result: as golden.fp16_mac.fp16_mac.
    """
    x, g = operands(x, g)
    for name, v in (("x", x), ("g", g)):
        if v.dtype.kind not in "iu" or (v.size and (v.min() < 0 or v.max() > 255)):
            raise ValueError(f"{name} must hold FP8 codes: integers in [0, 255]")
    xb, gb = (fp16_bits(fp8_decode(v, fmt)) for v, fmt in ((x, fmt_x), (g, fmt_g)))
    chains = TIMING["fp8_mac"][1] if chains is None else chains
    return dot_products(xb, gb, check_last(last, x.shape), chains)
