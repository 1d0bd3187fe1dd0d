"""GradScale reduction: `gradscale_unit` (docs/spec.md "GradScale"; golden: golden/gradscale.py).

The unit takes a tensor of FP16 values as a valid/ready stream (`in_last` on its final beat) and
emits one result per tensor: `out_scale_exp`, the smallest s with max|g| <= 64 * 2^s clamped to
[-18, 8], plus `out_invalid` (a NaN was seen) and `out_overflow` (some value saturates at that
scale: max|g| > 64 * 2^8, Inf included).

No magnitude comparator is needed: for a non-NaN value with exponent field E and mantissa m,
ceil(log2|g|) = E - 15 + (m != 0) (normal numbers; subnormals and zero land below the clamp), so
s = E + (m != 0) - 21 before clamping. The unit reduces the 5-bit key E + (m != 0) with a max
(monotonic in |g|, so max of keys = key of max) and clamps once per tensor. NaNs (E = 31,
m != 0) do not take part; they set the sticky `invalid` of the tensor instead.

Protocol: in_ready = ~out_valid | out_ready (the result register is free or is being drained this
cycle); non-last beats could always go, but one rule keeps the handshake simple. The result
appears in the cycle after the tensor's last beat is accepted and holds until taken. With `lanes`
> 1 each beat carries `lanes` values; a short final beat is padded with zeros, which leave max|g|
unchanged.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN

__all__ = ["GradScaleUnit", "LANES_MAX"]

LANES_MAX = 64
FP16_BIAS = 15
LOG2_TOP = 6  # the top R4FP4 magnitude is 4^3 = 2^6
KEY_BIAS = FP16_BIAS + LOG2_TOP  # s = key - KEY_BIAS


class GradScaleUnit(wiring.Component):
    """docs/spec.md GradScale as a streaming reduction, one result per tensor.

    Parameters
    ----------
    lanes : int
        FP16 values per input beat, 1 .. 64 (value l at in_data[16*l +: 16]).

    Ports
    -----
    in_valid/in_ready, in_data, in_last: the tensor stream (`in_last` on the final beat).
    out_valid/out_ready, out_scale_exp (signed 6 bits, the `scale_exp` port format of
    `tpr_quantizer`), out_invalid, out_overflow: one beat per tensor, in order.
    """

    def __init__(self, lanes=1):
        if isinstance(lanes, bool) or not isinstance(lanes, int) or not 1 <= lanes <= LANES_MAX:
            raise ValueError(f"lanes must be an integer in [1, {LANES_MAX}], got {lanes!r}")
        self.lanes = lanes
        super().__init__({
            "in_valid": In(1), "in_ready": Out(1), "in_data": In(16 * lanes), "in_last": In(1),
            "out_valid": Out(1), "out_ready": In(1),
            "out_scale_exp": Out(signed(6)), "out_invalid": Out(1), "out_overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()

        # Per value: its key E + (m != 0) (0 for NaN) and whether it is NaN; then the beat's max.
        keys, nans = [], []
        for lane in range(self.lanes):
            value = self.in_data[16 * lane:16 * (lane + 1)]
            exp, man = value[10:15], value[:10]
            nan = Signal(name=f"nan{lane}")
            key = Signal(5, name=f"key{lane}")
            m.d.comb += [nan.eq((exp == 31) & man.any()), key.eq(Mux(nan, 0, exp + man.any()))]
            keys.append(key)
            nans.append(nan)
        while len(keys) > 1:  # balanced max tree
            pairs = [(keys[i], keys[i + 1]) for i in range(0, len(keys) - 1, 2)]
            keys = [Mux(a > b, a, b) for a, b in pairs] + keys[len(pairs) * 2:]

        # Running max and NaN flag of the open tensor, merged with the current beat.
        acc_key = Signal(5)
        acc_nan = Signal()
        tensor_key = Signal(5)
        tensor_nan = Signal()
        m.d.comb += [tensor_key.eq(Mux(keys[0] > acc_key, keys[0], acc_key)),
                     tensor_nan.eq(acc_nan | Cat(*nans).any())]

        accept = Signal()
        m.d.comb += [self.in_ready.eq(~self.out_valid | self.out_ready),
                     accept.eq(self.in_valid & self.in_ready)]
        with m.If(self.out_ready):
            m.d.sync += self.out_valid.eq(0)
        with m.If(accept):
            with m.If(self.in_last):
                # The tensor is complete: clamp once, start the next tensor from nothing.
                lo, hi = KEY_BIAS + SCALE_EXP_MIN, KEY_BIAS + SCALE_EXP_MAX
                clamped = Mux(tensor_key < lo, lo, Mux(tensor_key > hi, hi, tensor_key))
                m.d.sync += [self.out_valid.eq(1),
                             self.out_scale_exp.eq(clamped - KEY_BIAS),
                             self.out_invalid.eq(tensor_nan),
                             self.out_overflow.eq(tensor_key > hi),
                             acc_key.eq(0), acc_nan.eq(0)]
            with m.Else():
                m.d.sync += [acc_key.eq(tensor_key), acc_nan.eq(tensor_nan)]
        return m
