"""`hybrid_mac`: IBM's hybrid FP4 MAC, L lanes of INT4 x R4FP4 into the shared FP16 accumulator
(golden: golden/hybrid_mac.py; the accumulator, chains and stream framing:
hdl_gen/fp16_accumulator.py).

An R4FP4 magnitude is a power of two, 4^(e-4) * 2^(phase + scale_exp), and phase and scale_exp
are per tensor. So lane i contributes (+-x_i) << 2(e_i - 1), a 5-bit value on a 7-position
shifter (no multiplier); the lanes add as small integers (19 bits for 4 lanes) in units of 4^-3;
and the common factor 2^(scale_exp + phase - 6) is one shift of that sum into the accumulator's
window (units of 2^-24, the smallest R4FP4 magnitude). The odd grid costs nothing per lane:
`phase` is the carry-in of the per-tensor shift-amount adder scale_exp + phase + 18.
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib.wiring import In

from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN

from .comb import named
from .fp16_accumulator import StreamMac, check_lanes

__all__ = ["HybridMac"]


class HybridMac(StreamMac):
    """`hybrid_mac`: L lanes of INT4 x R4FP4 into an FP16 accumulator, one result per dot product.

    Operand ports, per beat: `x` (lane i at [4i +: 4], INT4), `sx` (x signed, two's complement;
    else unsigned), `g` (lane i at [4i +: 4], R4FP4 code), `phase` (0 even grid, 1 odd),
    `scale_exp` (signed, the tensor's GradScale exponent; a beat with scale_exp outside [-18, 8]
    makes its dot product the quiet NaN 0x7E00, as r4fp4_to_fp16 decodes such codes). Stream
    ports: hdl_gen.fp16_accumulator.StreamMac. `front` (0..1) registers the aligned lane sum;
    `chains` (1..3) as FP16Accumulator; None: the rtl/ defaults (golden.fp16_accumulator.TIMING).
    """

    def __init__(self, lanes=4, front=None, chains=None):
        lanes = check_lanes(lanes)
        super().__init__("hybrid_mac", lanes, front, chains, {
            "x": In(4 * lanes), "sx": In(1), "g": In(4 * lanes), "phase": In(1), "scale_exp": In(signed(6))})

    def elaborate(self, platform):
        m = Module()
        lane_sum_w = 17 + (self.lanes - 1).bit_length()  # a lane: |x| <= 15 times 4^6, 17 bits
        window_shift_max = SCALE_EXP_MAX + 1 + 18  # scale_exp + phase + 18 in [0, 27]

        lanes, neg_zero = [], []
        for i in range(self.lanes):
            x, g = self.x[4 * i:4 * i + 4], self.g[4 * i:4 * i + 4]
            e, g_neg = g[:3], g[3]
            xv = named(m, Mux(self.sx, x.as_signed(), x), f"xv{i}")
            g_nz = named(m, e.any(), f"g{i}_nz")
            v = Signal(signed(5), name=f"v{i}")  # +-x, or 0 when g is zero: |v| <= 15
            m.d.comb += v.eq(Mux(g_nz, Mux(g_neg, -xv, xv), 0))
            lane = Signal(signed(17), name=f"lane{i}")  # v * 4^(e-1): units of 4^-3
            m.d.comb += lane.eq(v << Cat(C(0, 1), (e - 1)[:3]))
            lanes.append(lane)
            x_neg = self.sx & x[3]
            neg_zero.append((~x.any() | ~g_nz) & (x_neg ^ g_neg))
        lane_sum = Signal(signed(lane_sum_w))
        m.d.comb += lane_sum.eq(sum(lanes))

        # 4^(e-4) * 2^(phase + scale_exp) = 4^(e-1) * 2^-6 * 2^(phase + scale_exp): the window
        # (units 2^-24) takes the lane sum shifted by scale_exp + phase + 18, in [0, 27].
        shift = Signal(signed(8))
        m.d.comb += shift.eq(self.scale_exp + self.phase + 18)
        scale_ok = (self.scale_exp >= SCALE_EXP_MIN) & (self.scale_exp <= SCALE_EXP_MAX)
        sum_w = lane_sum_w + window_shift_max
        nlane_sum = Signal(signed(lane_sum_w + 1))
        m.d.comb += nlane_sum.eq(-lane_sum)
        return self._accumulate(m, sum_w, -24, sum=(lane_sum << shift[:5])[:sum_w].as_signed(),
                                nsum=(nlane_sum << shift[:5])[:sum_w + 1].as_signed(),
                                sum_neg_zero=Cat(*neg_zero).all(), sum_nan=~scale_ok, sum_inf=0, sum_inf_neg=0)
