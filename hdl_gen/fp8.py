"""FP8 converters: `fp16_to_e4m3`, `fp16_to_e5m2` and their decoders (golden: golden/fp8.py).

One encoder and one decoder class serve both formats: the format (exponent and mantissa widths,
bias, whether the top exponent holds Inf/NaN) comes from `golden.fp8.fp8_format`, which also
validates the bias, so the generators and the golden model cannot disagree on a format.

Encoding needs no normalizer (except for biases above 14, whose FP8 normals reach below FP16's
smallest normal, so FP16 subnormal inputs are normalized first). With FP16 x = sig * 2^(E' - 25), sig = {E != 0, man} (11 bits) and
E' = max(E, 1), the FP8 biased exponent is e = E' - 15 + bias. The magnitude code of a truncated
result is ((max(e, 1) - 1) << mbits) + (sig >> sh) with sh = 10 - mbits + max(1 - e, 0): the
implicit one of sig lands in the exponent field for normal results, and FP8 subnormals are the
same expression with more bits shifted out. Rounding adds 0 or 1 to that integer; a carry out of
the mantissa is the correct next exponent (or subnormal -> normal). RNE looks at the round and
sticky bits of the dropped field D; stochastic rounds up iff D * 2^16 > u * 2^sh (one code step is
2^sh dropped units). Anything above the largest finite magnitude saturates to it.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.fp8 import fp8_format

__all__ = ["FP16ToFP8", "FP8ToFP16"]


def _low_bits(value, n, width):
    """The bits of `value` below bit position n (a Signal), as a `width`-bit value."""
    return Cat(*[value[i] & (n > i) for i in range(width)])


class FP16ToFP8(wiring.Component):
    """docs/spec.md `fp16_to_e4m3` / `fp16_to_e5m2`: x[15:0] -> code[7:0], combinational.

    Flags (golden.fp8.fp8_encode_flags): invalid (NaN in and the format has no NaN: code +0),
    overflow (|x| above the largest finite magnitude, clipped to it; e5m2 keeps +-Inf), underflow
    (nonzero x, zero code). e5m2 turns a NaN into a quiet NaN with x's sign and top mantissa bits.
    With `stochastic=True` the unit gets a `stochastic` mode input (0: RNE) and the 16-bit random
    integer `rand`.
    """

    def __init__(self, fmt="e4m3", bias=None, stochastic=False):
        self.format = fp8_format(fmt, bias)
        if not isinstance(stochastic, bool):
            raise ValueError(f"stochastic must be True or False, got {stochastic!r}")
        self.stochastic_rounding = stochastic
        members = {"x": In(16), "code": Out(8), "invalid": Out(1), "overflow": Out(1),
                   "underflow": Out(1)}
        if stochastic:
            members.update(stochastic=In(1), rand=In(16))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        f = self.format
        mbits = f.mbits
        sign, exp, man = self.x[15], self.x[10:15], self.x[:10]
        special = exp == 0x1F
        nan = special & man.any()
        inf = special & ~man.any()
        sig = Signal(11)
        exp1 = Signal(signed(6))
        m.d.comb += [sig.eq(Cat(man, exp.any())), exp1.eq(Mux(exp.any(), exp, 1))]
        if f.bias > 14:
            # FP8 normals reach below FP16's (2^-14): normalize FP16 subnormals, leading one of
            # man at bit q: |x| = 1.rest * 2^(q - 24), so sig = {1, rest}, E' = q - 9.
            with m.If(~exp.any()):
                for q in range(10):  # the highest set bit wins (last assignment)
                    with m.If(man[q]):
                        m.d.comb += [sig.eq(Cat(Const(0, 10 - q), man[:q], Const(1, 1))),
                                     exp1.eq(q - 9)]
        e = Signal(signed(8))
        m.d.comb += e.eq(exp1 - 15 + f.bias)

        # The widest shift is for the smallest FP16 exponent E' (1, or -9 when normalizing).
        sh_max = 10 - mbits + max(1 - ((-9 if f.bias > 14 else 1) - 15 + f.bias), 0)
        sh = Signal(range(sh_max + 1))
        m.d.comb += sh.eq(Mux(e < 1, 1 - e, 0) + (10 - mbits))
        dropped = Signal(11)
        trunc = Signal(10)
        m.d.comb += [
            dropped.eq(_low_bits(sig, sh, 11)),
            # sig = 0 (x = +-0) has no implicit one to cancel the exponent term.
            trunc.eq(Mux((e < 1) | ~sig.any(), 0, (e - 1) << mbits) + (sig >> sh)),
        ]
        # |x| > max finite: the truncated code is above it, or equal with bits dropped.
        above = (trunc > f.max_code) | ((trunc == f.max_code) & dropped.any())

        # RNE: the round bit is bit sh - 1 of sig (sh >= 10 - mbits), the sticky bits are below it.
        sig0 = Cat(Const(0, 1), sig)  # sig * 2: bit sh - 1 of sig is bit sh here
        round_bit = (sig0 >> sh)[0]
        sticky = _low_bits(sig0, sh, 12).any()
        up = Signal()
        up_nearest = round_bit & (sticky | trunc[0])
        if self.stochastic_rounding:
            up_stochastic = (dropped << 16) > (self.rand << sh)
            m.d.comb += up.eq(Mux(self.stochastic, up_stochastic, up_nearest))
        else:
            m.d.comb += up.eq(up_nearest)
        mag = Signal(7)
        m.d.comb += mag.eq(Mux(above, f.max_code, trunc + up))

        if f.ieee_specials:
            inf_code = ((1 << f.ebits) - 1) << mbits
            # x's upper byte is s, the 5 exponent ones and man[9:8]: set the quiet bit.
            m.d.comb += self.code.eq(Mux(nan, self.x[8:16] | 0x02,
                                         Cat(Mux(inf, inf_code, mag), sign)))
        else:
            m.d.comb += self.code.eq(Mux(nan, 0, Cat(mag, sign)))
        m.d.comb += [
            self.invalid.eq(nan if not f.ieee_specials else 0),
            self.overflow.eq(~nan & above & (~inf if f.ieee_specials else 1)),
            self.underflow.eq(~special & (exp.any() | man.any()) & (mag == 0)),
        ]
        return m


class FP8ToFP16(wiring.Component):
    """docs/spec.md `e4m3_to_fp16` / `e5m2_to_fp16`: code[7:0] -> y[15:0], exact, combinational.

    A code's value is sig * 2^(e' - bias - mbits), sig = {e != 0, m}, e' = max(e, 1). With the
    leading one of sig at bit p, FP16's biased exponent is p + e' - bias - mbits + 15: a normal
    FP16 when >= 1 (the bits below the leading one move to the top of the mantissa), else an FP16
    subnormal whose mantissa is sig << (e' - bias - mbits + 24) (bias validation keeps that
    shift >= 0). FP8 normals have p = mbits, so only FP8 subnormals need the small priority
    encoder. e5m2's Inf/NaN codes keep their mantissa bits at the top of FP16's mantissa.
    """

    code: In(8)
    y: Out(16)

    def __init__(self, fmt="e4m3", bias=None):
        self.format = fp8_format(fmt, bias)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        f = self.format
        mbits, ebits = f.mbits, f.ebits
        sign, e, man = self.code[7], self.code[mbits:7], self.code[:mbits]
        sig = Cat(man, e.any())
        e1 = Mux(e.any(), e, 1)

        p = Signal(range(mbits + 1))  # leading one of sig (0 when sig is 0: unused then)
        for i in range(mbits + 1):
            with m.If(sig[i]):
                m.d.comb += p.eq(i)
        fexp = Signal(signed(8))
        m.d.comb += fexp.eq(p + e1 - (f.bias + mbits - 15))
        normal = Cat(((sig << 10) >> p)[:10], fexp[:5])  # leading one dropped by the slice
        # Shift e1 - bias - mbits + 24 >= 0 for valid biases, as (25 - bias - mbits >= 0) + e1 - 1.
        subnormal = (((sig << (25 - f.bias - mbits)) << e1) >> 1)[:15]
        mag = Mux(sig.any() & (fexp >= 1), normal, subnormal)
        if f.ieee_specials:
            mag = Mux(e == (1 << ebits) - 1, Cat(Const(0, 10 - mbits), man, Const(0x1F, 5)), mag)
        m.d.comb += self.y.eq(Cat(mag, sign))
        return m

