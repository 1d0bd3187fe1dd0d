"""`fp16_mac`: L lanes of FP16 x FP16 into the shared FP16 accumulator, the fair baseline of the
training MACs for area and power (golden: golden/fp16_mac.py; the float front end, accumulator,
chains and stream framing: hdl_gen/fp16_accumulator.py)."""

from .fp16_accumulator import FloatMac

__all__ = ["FP16Mac"]


class FP16Mac(FloatMac):
    """`fp16_mac`: FloatMac with FP16 x FP16 lanes, one result per dot product."""

    def __init__(self, lanes=4, front=None, chains=None):
        super().__init__(lanes, "fp16", "fp16", front, chains)
