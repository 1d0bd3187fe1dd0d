"""`fp8_mac`: L lanes of FP8 x FP8 into the shared FP16 accumulator; HFP8 multiplies e4m3
activations/weights by e5m2 gradients (golden: golden/fp8_mac.py; the float front end,
accumulator, chains and stream framing: hdl_gen/fp16_accumulator.py)."""

from golden.fp8_mac import SHIFT_BITS

from .fp16_accumulator import FloatMac

__all__ = ["FP8Mac"]

FP8_FORMATS = ("e4m3", "e5m2")


class FP8Mac(FloatMac):
    """`fp8_mac`: FloatMac with FP8 x FP8 lanes (HFP8's e4m3 x e5m2 by default) and the per-beat
    product shift (golden.fp8_mac: SHIFT_BITS-bit `shift` port), one result per dot product."""

    def __init__(self, lanes=4, fmt_x="e4m3", fmt_g="e5m2", front=None, chains=None):
        if fmt_x not in FP8_FORMATS or fmt_g not in FP8_FORMATS:
            raise ValueError(f"fmt_x and fmt_g must be 'e4m3' or 'e5m2', got {fmt_x!r}, {fmt_g!r}")
        super().__init__(lanes, fmt_x, fmt_g, front, chains, SHIFT_BITS)
