"""`fp16_mac`: L lanes of FP16 x FP16 into the shared FP16 accumulator, the fair baseline of the
training MACs for area and power (docs/spec.md, "Hardware units"; the contract, its chains and
rounding sequence: golden.fp16_accumulator)."""

from .fp16_accumulator import TIMING, check_last, dot_products, fp16_operands

__all__ = ["fp16_mac"]


def fp16_mac(x, g, last=None, chains=None):
    """The `fp16_mac` dot products: FP16 x FP16 lanes, exact sums, the chains' rounding sequence.

    x, g: FP16 operands (float16; other real dtypes are cast to float16), shape (..., beats, lanes); leading axes
    are independent units. last: (..., beats) bool, the beat ends its dot product (None: only the
    final beat, so each leading index is one dot product). chains: interleaved accumulators
    (None: the rtl/ configuration, golden.fp16_accumulator.TIMING).
    Returns float16 (..., beats): after every beat, the result of its dot product if that beat
    were its last; the unit outputs the entries where `last`.
    """
    xb, gb = fp16_operands(x, g)
    chains = TIMING["fp16_mac"][1] if chains is None else chains
    return dot_products(xb, gb, check_last(last, xb.shape), chains)
