"""Radix-4 FP4 converters: `tpr_quantizer` and `r4fp4_to_fp16` (golden: golden/r4fp4.py).

Radix 4 -> radix 2 is wiring. A code's magnitude is 4^(e-4) * 2^phase * 2^scale_exp =
2^({e, phase} - 8 + scale_exp): the 3-bit radix-4 exponent e with `phase` appended as its least
significant bit *is* a 4-bit radix-2 exponent. `r4fp4_to_fp16` therefore adds one per-tensor
constant, scale_exp + 7, to the bus {e, phase} to get FP16's biased exponent field; only the
seven codes that land below 2^-14 need FP16's subnormal form (a one-hot mantissa bit).

TPR shares one datapath between the grids. With z = |x| / 2^scale_exp = 1.f * 2^t, the even grid
holds the powers 2^t with t even and the odd grid those with t odd, so quantizing on the odd grid
is quantizing on the even grid with the exponent offset by one: T = t + 8 for the even result,
T - 1 for the odd one (the "one extra shift bit"). In an octave [2^t, 2^(t+1)) exactly one phase
has its grid point at 2^t (case A: the next point is 2^(t+2), so nearest never rounds up and
stochastic rounds up iff f * 2^16 > 3u) and the other has 2^(t-1) and 2^(t+1) (case B: nearest
rounds up iff 1.f >= 1.25, stochastic iff (0.5 + f) * 2^17 > 3u). Both comparisons, the
normalization of subnormal inputs, 3u and the below-grid threshold are computed once; T's least
significant bit routes case A to one phase and case B to the other.

A `scale_exp` outside [-18, 8] on the 6-bit signed port is a configuration error, made loud:
`tpr_quantizer` raises `invalid` and outputs code 0 on both phases, `r4fp4_to_fp16` outputs the
FP16 quiet NaN 0x7E00 (golden.r4fp4.FP16_QNAN). Two comparators of a 6-bit port; no clamp, which
would hide the error.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.r4fp4 import E_MAX, FP16_QNAN, SCALE_EXP_MAX, SCALE_EXP_MIN

from .comb import named

__all__ = ["R4FP4ToFP16", "TPRQuantizer"]

SCALE_BITS = 6


def _scale_out_of_range(scale_exp):
    return (scale_exp < SCALE_EXP_MIN) | (scale_exp > SCALE_EXP_MAX)


class R4FP4ToFP16(wiring.Component):
    """docs/spec.md `r4fp4_to_fp16`: code[3:0] phase scale_exp[5:0] -> y[15:0], combinational.

    y is the exact FP16 of (-1)^s * 4^(e-4) * 2^phase * 2^scale_exp; e = 0 gives a signed zero
    (code 8: -0); an out-of-range scale_exp gives 0x7E00.
    """

    code: In(4)
    phase: In(1)
    scale_exp: In(signed(SCALE_BITS))
    y: Out(16)

    def elaborate(self, platform):
        m = Module()
        sign, e = self.code[3], self.code[:3]
        # FP16 biased exponent: radix-2 exponent {e, phase} - 8 + scale_exp, plus bias 15.
        f = named(m, Cat(self.phase, e) + self.scale_exp + 7, "f", signed(8))
        mag = Signal(15)
        with m.If(e == 0):
            m.d.comb += mag.eq(0)
        with m.Elif(f >= 1):
            m.d.comb += mag.eq(Cat(Const(0, 10), f[:5]))
        with m.Else():
            # 2^(f - 15) = 2^(f + 9) * 2^-24 with f in [-9, 0]: FP16 subnormal, mantissa bit f + 9.
            m.d.comb += mag.eq(Const(1, 10) << (f + 9)[:4])
        m.d.comb += self.y.eq(Mux(_scale_out_of_range(self.scale_exp), FP16_QNAN, Cat(mag, sign)))
        return m


class TPRQuantizer(wiring.Component):
    """docs/spec.md `tpr_quantizer`: one FP16 to R4FP4 on the even and the odd grid, combinational.

    Ports: x[15:0], scale_exp[5:0] (signed), stochastic (0: nearest, 1: stochastic with the
    16-bit `rand` u, shared by both phases) -> even[3:0], odd[3:0], and the flags of the even
    result: invalid (NaN, or scale_exp out of range), overflow (|x| > 64 * 2^scale_exp),
    underflow (nonzero x, even code 0). Bit-exact to golden.r4fp4.tpr / r4fp4_encode_flags.
    """

    x: In(16)
    scale_exp: In(signed(SCALE_BITS))
    stochastic: In(1)
    rand: In(16)
    even: Out(4)
    odd: Out(4)
    invalid: Out(1)
    overflow: Out(1)
    underflow: Out(1)

    def elaborate(self, platform):
        m = Module()
        sign, exp, man = self.x[15], self.x[10:15], self.x[:10]
        u = self.rand
        nan = (exp == 0x1F) & man.any()
        zero = named(m, ~exp.any() & ~man.any(), "zero")
        bad = named(m, nan | _scale_out_of_range(self.scale_exp), "bad")

        # Normalize: |x| = 1.sig * 2^(en - 15); subnormals via a leading-zero priority encoder.
        sig = Signal(10)
        en = Signal(signed(6))
        with m.If(exp.any()):
            m.d.comb += [sig.eq(man), en.eq(exp)]
        with m.Else():
            with m.Switch(man):
                for q in reversed(range(10)):  # leading one at bit q: |x| = 2^(q-24) * 1.rest
                    with m.Case("0" * (9 - q) + "1" + "-" * q):
                        m.d.comb += [sig.eq(man[:q] << (10 - q)), en.eq(q - 9)]
                with m.Default():
                    m.d.comb += [sig.eq(0), en.eq(0)]  # zero: forced to code 0 below

        # T = t + 8 with z = |x| / 2^scale_exp = 1.sig * 2^t; the odd phase uses T - 1.
        t8 = named(m, en - 7 - self.scale_exp, "t8", signed(8))

        # Stochastic comparisons, shared by both phases (u is the same for both).
        u3 = named(m, u + (u << 1), "u3", 18)
        up_a = named(m, (sig << 6) > u3, "up_a")  # case A: f * 2^16 / 3 > u
        up_b = named(m, ((sig + 512) << 7) > u3, "up_b")  # case B: (0.5 + f) * 2^17 / 3 > u
        # Below the grid (lo = 0, hi = smallest point): hi iff ceil(1.sig * 2^(T + 14)) > u,
        # i.e. V = P >> (2 - T) with P = 1.sig * 2^16, compared as 2*floor(V) + sticky > 2u.
        # The odd phase's threshold is V / 2: the same V against 4u.
        sh = named(m, Mux(t8 > 2, 0, Mux(t8 < -15, 18, 2 - t8)), "sh", 5)
        p = Cat(Const(0, 6), sig, Const(1, 1))
        v2 = named(m, Cat(Cat(*[p[i] & (sh > i) for i in range(6, 17)]).any(), p >> sh), "v2", 18)
        up_below_even = v2 > (u << 1)
        up_below_odd = v2 > (u << 2)

        def quantize(phase, up_below):
            tp = named(m, t8 - phase, f"t{phase}", signed(8))
            sat = tp >= 2 * E_MAX  # y >= 64
            in_grid = (tp >= 2) & ~sat
            case_a = ~tp[0]
            up_nearest = Mux(in_grid, ~case_a & sig[8:].any(), tp == 1)
            up_stochastic = Mux(in_grid, Mux(case_a, up_a, up_b), up_below)
            up = ~sat & Mux(self.stochastic, up_stochastic, up_nearest)
            e = named(m, Mux(sat, E_MAX, Mux(in_grid, tp[1:4], 0)) + up, f"e{phase}", 3)
            return e, Mux(bad | zero | (e == 0), 0, Cat(e, sign))

        e_even, even = quantize(0, up_below_even)
        _, odd = quantize(1, up_below_odd)
        m.d.comb += [
            self.even.eq(even),
            self.odd.eq(odd),
            self.invalid.eq(bad),
            self.overflow.eq(~bad & ~zero & ((t8 > 2 * E_MAX) | ((t8 == 2 * E_MAX) & sig.any()))),
            self.underflow.eq(~bad & ~zero & (e_even == 0)),
        ]
        return m
