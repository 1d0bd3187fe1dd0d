"""IBM's hybrid FP4 MAC `hybrid_mac` and its FP16 baseline `fp16_mac` (golden: golden/hybrid_mac.py).

Both compute, per enabled cycle, acc <- fp16(base + sum_i x_i g_i) with base = -0 when `clear`
else acc: the exact sum, one round-to-nearest-even. They share the accumulate stage
`FP16Accumulator`, which takes the lanes' exact product sum as a fixed-point integer in units of
2^lsb and does the rest: the FP16 base moved into the same window, one wide add, normalization,
one RNE rounding, specials and signed zeros, and the accumulator register. Only the front ends
differ:

- `HybridMac`: an R4FP4 magnitude is a power of two, 4^(e-4) * 2^(phase + scale_exp), and phase
  and scale_exp are per tensor. So lane i contributes (+-x_i) << 2(e_i - 1), a 5-bit value on a
  7-position shifter (no multiplier); the lanes add as small integers (19 bits for 4 lanes) in
  units of 4^-3; and the common factor 2^(scale_exp + phase - 6) is one shift of that sum into
  the window (units of 2^-24, the smallest R4FP4 magnitude). The odd grid costs nothing per lane:
  `phase` is the carry-in of the per-tensor shift-amount adder scale_exp + phase + 18.
- `FP16Mac`: four 11 x 11 significand multipliers, each 22-bit product shifted by the sum of
  its operands' exponents into a window in units of 2^-48 (products of subnormals), 83 bits.

The window covers every addend without rounding, so the result is the exact sum rounded once.
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.r4fp4 import FP16_QNAN, SCALE_EXP_MAX, SCALE_EXP_MIN

from .comb import named

__all__ = ["FP16Accumulator", "HybridMac", "FP16Mac", "check_lanes"]

FP16_INF = 0x7C00
LANES_MAX = 64


def check_lanes(lanes):
    if isinstance(lanes, bool) or not isinstance(lanes, int) or not 1 <= lanes <= LANES_MAX:
        raise ValueError(f"lanes must be an integer in [1, {LANES_MAX}], got {lanes!r}")
    return lanes


def _fp16_fields(m, bits, name):
    """Sign, significand (hidden bit included), exponent shift max(E,1)-1, and class flags."""
    sign, exp, frac = bits[15], bits[10:15], bits[:10]
    normal = named(m, exp.any(), f"{name}_normal")
    frac_nz = named(m, frac.any(), f"{name}_frac_nz")
    special = named(m, exp == 0x1F, f"{name}_special")
    return dict(sign=sign,
                sig=named(m, Cat(frac, normal), f"{name}_sig"),
                shift=named(m, Mux(normal, exp - 1, 0)[:5], f"{name}_shift"),
                zero=named(m, ~normal & ~frac_nz, f"{name}_zero"),
                nan=named(m, special & frac_nz, f"{name}_nan"),
                inf=named(m, special & ~frac_nz, f"{name}_inf"))


def _lzc(m, v, name="lz"):
    """(all-zero flag, leading-zero count) of v, a tree over halves; len(v) a power of two."""
    if len(v) == 2:
        return named(m, ~v.any(), f"{name}_z"), named(m, ~v[1], f"{name}_c")
    half = len(v) // 2
    zl, cl = _lzc(m, v[:half], f"{name}l")
    zh, ch = _lzc(m, v[half:], f"{name}h")
    return named(m, zh & zl, f"{name}_z"), named(m, Cat(Mux(zh, cl, ch), zh), f"{name}_c")


class FP16Accumulator(wiring.Component):
    """The accumulate stage both MACs share: acc <- fp16(base + sum), one RNE rounding.

    Parameters
    ----------
    sum_width : int
        Width of the signed `sum` input: the exact sum of the lanes' products in units of 2^lsb.
    lsb : int
        Exponent of the window's unit, <= -24 (FP16's smallest subnormal is 2^-24).

    Ports: `en`, `clear` (contract in golden/hybrid_mac.py); `sum`; `sum_neg_zero` (every product
    is -0); `sum_nan` (a product is NaN or the products hold +Inf and -Inf); `sum_inf`,
    `sum_inf_neg` (a product is Inf, and its sign); `acc` (the FP16 register, reset +0).
    """

    def __init__(self, sum_width, lsb):
        if isinstance(sum_width, bool) or not isinstance(sum_width, int) or sum_width < 1:
            raise ValueError(f"sum_width must be a positive integer, got {sum_width!r}")
        if isinstance(lsb, bool) or not isinstance(lsb, int) or lsb > -24:
            raise ValueError(f"lsb must be an integer <= -24, got {lsb!r}")
        self.sum_width, self.lsb = sum_width, lsb
        super().__init__({
            "en": In(1), "clear": In(1),
            "sum": In(signed(sum_width)), "sum_neg_zero": In(1),
            "sum_nan": In(1), "sum_inf": In(1), "sum_inf_neg": In(1),
            "acc": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        q0 = -24 - self.lsb  # FP16's subnormal quantum 2^-24, in window units: 2^q0
        base = Signal(16)
        m.d.comb += base.eq(Mux(self.clear, 0x8000, self.acc))
        b = _fp16_fields(m, base, "base")

        # Exact sum: the base's significand shifted into the window, plus the products' sum.
        mag_w = max(self.sum_width - 1, 41 + q0) + 1  # |base| < 2^(41+q0), |sum| < 2^(sum_width-1)
        bmag = Signal(41 + q0)
        m.d.comb += bmag.eq(b["sig"] << b["shift"] << q0)
        total = Signal(signed(mag_w + 1))
        m.d.comb += total.eq(Mux(b["sign"], -bmag, bmag) + self.sum)
        neg = total[-1]
        mag = Signal(mag_w)
        m.d.comb += mag.eq(Mux(neg, -total, total))
        nonzero = named(m, mag.any(), "nonzero")

        # Normalize: shift the leading one to the top, but never past the subnormal quantum; a
        # sentinel one at the minimum normal's hidden-bit position caps the count at s_max.
        s_max = mag_w - 11 - q0
        pad = (1 << (mag_w - 1).bit_length()) - mag_w
        capped = named(m, mag | (1 << (q0 + 10)), "capped")
        _, lz = _lzc(m, Cat(C(0, pad), capped) if pad else capped)
        top = Signal(12)  # 11 significand bits and the guard bit
        m.d.comb += top.eq((mag << lz)[mag_w - 12:mag_w])
        below = named(m, Cat(*[lz < mag_w - 12 - j for j in range(mag_w - 12)]), "below")
        sticky = (mag[:mag_w - 12] & below).any()
        r = named(m, top[1:] + (top[0] & (sticky | top[1])), "r")
        # (biased exponent - 1) << 10 plus the rounded significand: a carry out of the
        # significand steps the exponent by itself; s_max - lz is 0 for subnormals.
        bits = Signal(range(((s_max + 2) << 10) + 1))
        m.d.comb += bits.eq(((s_max - lz) << 10) + r)
        finite = Cat(Mux(bits >= FP16_INF, FP16_INF, bits)[:15],
                     Mux(nonzero, neg, b["sign"] & b["zero"] & self.sum_neg_zero))

        nan = named(m, b["nan"] | self.sum_nan | (b["inf"] & self.sum_inf & (b["sign"] ^ self.sum_inf_neg)), "nan")
        inf_neg = Mux(b["inf"], b["sign"], self.sum_inf_neg)
        result = Mux(nan, FP16_QNAN, Mux(b["inf"] | self.sum_inf, Cat(C(FP16_INF, 15), inf_neg), finite))

        with m.If(self.en):
            m.d.sync += self.acc.eq(result)
        with m.Elif(self.clear):
            m.d.sync += self.acc.eq(0)
        return m


class HybridMac(wiring.Component):
    """SPEC.md `hybrid_mac`: L lanes of INT4 x R4FP4 into an FP16 accumulator, single cycle.

    Ports: `x` (lane i at [4i +: 4], INT4), `sx` (x signed, two's complement; else unsigned),
    `g` (lane i at [4i +: 4], R4FP4 code), `phase` (0 even grid, 1 odd), `scale_exp` (signed, the
    tensor's GradScale exponent; outside [-18, 8] an enabled cycle stores NaN 0x7E00, as
    r4fp4_to_fp16 decodes such codes), `en`, `clear`, `acc` (FP16).
    """

    def __init__(self, lanes=4):
        self.lanes = check_lanes(lanes)
        super().__init__({
            "x": In(4 * lanes), "sx": In(1), "g": In(4 * lanes),
            "phase": In(1), "scale_exp": In(signed(6)),
            "en": In(1), "clear": In(1), "acc": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        lane_sum_w = 17 + (self.lanes - 1).bit_length()  # a lane: |x| <= 15 times 4^6, 17 bits
        window_shift_max = SCALE_EXP_MAX + 1 + 18  # scale_exp + phase + 18 in [0, 27]
        m.submodules.accumulate = acc = FP16Accumulator(lane_sum_w + window_shift_max, lsb=-24)

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
        m.d.comb += [
            acc.sum.eq(lane_sum << shift[:5]),
            acc.sum_neg_zero.eq(Cat(*neg_zero).all()),
            acc.sum_nan.eq(~scale_ok),
            acc.sum_inf.eq(0), acc.sum_inf_neg.eq(0),
            acc.en.eq(self.en), acc.clear.eq(self.clear), self.acc.eq(acc.acc),
        ]
        return m


class FP16Mac(wiring.Component):
    """SPEC.md `fp16_mac`: L lanes of FP16 x FP16 into an FP16 accumulator, single cycle.

    Ports: `x`, `g` (lane i at [16i +: 16], FP16), `en`, `clear`, `acc` (FP16).
    """

    def __init__(self, lanes=4):
        self.lanes = check_lanes(lanes)
        super().__init__({
            "x": In(16 * lanes), "g": In(16 * lanes),
            "en": In(1), "clear": In(1), "acc": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        # A product: 22-bit significand shifted by up to 29 + 29, units of 2^-48: below 2^80.
        prod_w = 81
        m.submodules.accumulate = acc = FP16Accumulator(prod_w + (self.lanes - 1).bit_length(), lsb=-48)

        prods, nan, inf, neg, neg_zero = [], [], [], [], []
        for i in range(self.lanes):
            x = _fp16_fields(m, self.x[16 * i:16 * i + 16], f"x{i}")
            g = _fp16_fields(m, self.g[16 * i:16 * i + 16], f"g{i}")
            p_neg = x["sign"] ^ g["sign"]
            p_nan = named(m, x["nan"] | g["nan"] | (x["inf"] & g["zero"]) | (g["inf"] & x["zero"]), f"p{i}_nan")
            p_inf = named(m, (x["inf"] | g["inf"]) & ~p_nan, f"p{i}_inf")
            mag = Signal(prod_w - 1, name=f"pmag{i}")
            m.d.comb += mag.eq((x["sig"] * g["sig"]) << (x["shift"] + g["shift"]))
            prod = Signal(signed(prod_w), name=f"prod{i}")
            m.d.comb += prod.eq(Mux(p_neg, -mag, mag))
            prods.append(prod)
            nan.append(p_nan)
            inf.append(p_inf)
            neg.append(named(m, p_neg, f"p{i}_neg"))
            neg_zero.append((x["zero"] | g["zero"]) & ~p_nan & ~p_inf & p_neg)
        pos_inf = named(m, Cat(*[f & ~n for f, n in zip(inf, neg)]).any(), "pos_inf")
        neg_inf = named(m, Cat(*[f & n for f, n in zip(inf, neg)]).any(), "neg_inf")
        m.d.comb += [
            acc.sum.eq(sum(prods)),
            acc.sum_neg_zero.eq(Cat(*neg_zero).all()),
            acc.sum_nan.eq(Cat(*nan).any() | (pos_inf & neg_inf)),
            acc.sum_inf.eq(pos_inf | neg_inf), acc.sum_inf_neg.eq(neg_inf),
            acc.en.eq(self.en), acc.clear.eq(self.clear), self.acc.eq(acc.acc),
        ]
        return m
