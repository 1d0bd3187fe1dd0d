"""The training MACs `hybrid_mac` (IBM's hybrid FP4), `fp16_mac` and `fp8_mac` (HFP8)
(golden: golden/hybrid_mac.py).

All compute, per enabled cycle, acc <- fp16(base + sum_i x_i g_i) with base = -0 when `clear`
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
- `FloatMac`: floating-point operands of a format per operand (`fp16`, `e4m3`, `e5m2`): one
  (m_x+1) x (m_g+1) significand multiplier per lane, the product shifted by the sum of its
  operands' exponents into a window in units of the smallest product (2^-48 for FP16 x FP16,
  2^-25 for e4m3 x e5m2). `fp16_mac` is FloatMac("fp16", "fp16"), `fp8_mac` FloatMac("e4m3",
  "e5m2") as HFP8 uses it (activations/weights x gradients).

The window covers every addend without rounding, so the result is the exact sum rounded once.

Pipelining (what a dot product computes does not change). `front` register stages cut the
feed-forward part (products, lane sum, alignment) before the accumulate loop. The loop itself,
base alignment + add + |.|, leading-zero count + normalization, rounding + packing, is split by
`chains - 1` more registers into `chains` stages; the ring then carries `chains` independent
accumulators, the beat of cycle t updating chain t mod chains (golden `chains=`), each exactly the
single-accumulator contract. A GEMM tile supplies the independent dot products. Latency
front + chains cycles; throughput one beat (all lanes) per cycle.
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.fp8 import Format, fp8_format
from golden.hybrid_mac import CHAINS_MAX, TIMING
from golden.r4fp4 import FP16_QNAN, SCALE_EXP_MAX, SCALE_EXP_MIN

from .comb import named

__all__ = ["FP16Accumulator", "HybridMac", "FloatMac", "FP16Mac", "FP8Mac", "check_lanes", "FLOAT_FORMATS"]

FP16_INF = 0x7C00
LANES_MAX = 64
FLOAT_FORMATS = ("fp16", "e4m3", "e5m2")


def check_lanes(lanes):
    if isinstance(lanes, bool) or not isinstance(lanes, int) or not 1 <= lanes <= LANES_MAX:
        raise ValueError(f"lanes must be an integer in [1, {LANES_MAX}], got {lanes!r}")
    return lanes


def _check_stages(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _float_format(name, fmt):
    """golden.fp8.Format of an operand format; FP16 is the same description (1-5-10, bias 15)."""
    if fmt not in FLOAT_FORMATS:
        raise ValueError(f"{name} must be one of {FLOAT_FORMATS}, got {fmt!r}")
    return Format("fp16", 5, 10, 15, True) if fmt == "fp16" else fp8_format(fmt)


def _register(m, values, name, stages=1):
    """`values` (dict of name -> value) delayed by `stages` clock cycles, registers reset to 0."""
    for k in range(stages):
        regs = {}
        for key, v in values.items():
            v = named(m, v, f"{name}{k}_{key}_d")
            regs[key] = Signal(v.shape(), name=f"{name}{k}_{key}")
            m.d.sync += regs[key].eq(v)
        values = regs
    return values


def _float_fields(m, bits, f, name):
    """Sign, significand (hidden bit included), exponent shift max(E,1)-1, and class flags of a
    `golden.fp8.Format` f value."""
    sign, exp, frac = bits[f.ebits + f.mbits], bits[f.mbits:f.mbits + f.ebits], bits[:f.mbits]
    normal = named(m, exp.any(), f"{name}_normal")
    frac_nz = named(m, frac.any(), f"{name}_frac_nz")
    special = named(m, exp.all() if f.ieee_specials else C(0, 1), f"{name}_special")
    return dict(sign=sign,
                sig=named(m, Cat(frac, normal), f"{name}_sig"),
                shift=named(m, Mux(normal, exp - 1, 0)[:f.ebits], f"{name}_shift"),
                zero=named(m, ~normal & ~frac_nz, f"{name}_zero"),
                nan=named(m, special & frac_nz, f"{name}_nan"),
                inf=named(m, special & ~frac_nz, f"{name}_inf"))


def _fp16_fields(m, bits, name):
    return _float_fields(m, bits, _float_format("fp16", "fp16"), name)


def _fast_add(m, a, b, width, cin=0, name="add"):
    """(a + b + cin) mod 2^width with Kogge-Stone carries: log2(width) levels instead of the ripple
    chain Yosys maps `+` to (an 85-bit ripple alone is ~10 ns on OSU 0.18 um). a, b are widened
    to `width` by their own signedness."""
    av, bv = Signal(width, name=f"{name}_a"), Signal(width, name=f"{name}_b")
    m.d.comb += [av.eq(a), bv.eq(b)]
    p = named(m, av ^ bv, f"{name}_p")
    gen, prop = named(m, (av & bv) | Cat(p[0] & cin, C(0, width - 1)), f"{name}_g0"), p
    dist, level = 1, 0
    while dist < width:
        level += 1
        gen, prop = (named(m, Cat(*[gen[i] | (prop[i] & gen[i - dist]) if i >= dist else gen[i]
                                    for i in range(width)]), f"{name}_g{level}"),
                     named(m, Cat(*[prop[i] & prop[i - dist] if i >= dist else prop[i]
                                    for i in range(width)]), f"{name}_p{level}"))
        dist *= 2
    return named(m, p ^ Cat(cin, gen[:width - 1]), f"{name}_s")


def _fast_sum(m, operands, width, name="sum"):
    """The sum of `operands` mod 2^width: 3:2 carry-save compressors, then one `_fast_add`."""
    ops = []
    for k, v in enumerate(operands):
        w = Signal(width, name=f"{name}_op{k}")
        m.d.comb += w.eq(v)
        ops.append(w)
    level = 0
    while len(ops) > 2:
        level += 1
        nxt = []
        for k in range(0, len(ops) - 2, 3):
            a, b, c = ops[k:k + 3]
            nxt += [named(m, a ^ b ^ c, f"{name}_s{level}_{k}"),
                    named(m, Cat(C(0, 1), ((a & b) | (a & c) | (b & c))[:width - 1]), f"{name}_c{level}_{k}")]
        ops = nxt + ops[len(ops) - len(ops) % 3:]
    return _fast_add(m, ops[0], ops[1] if len(ops) > 1 else 0, width, name=name)


def _lzc(m, v, name="lz"):
    """(all-zero flag, leading-zero count) of v, a tree over halves; len(v) a power of two."""
    if len(v) == 2:
        return named(m, ~v.any(), f"{name}_z"), named(m, ~v[1], f"{name}_c")
    half = len(v) // 2
    zl, cl = _lzc(m, v[:half], f"{name}l")
    zh, ch = _lzc(m, v[half:], f"{name}h")
    return named(m, zh & zl, f"{name}_z"), named(m, Cat(Mux(zh, cl, ch), zh), f"{name}_c")


class FP16Accumulator(wiring.Component):
    """The accumulate loop all MACs share: acc <- fp16(base + sum), one RNE rounding.

    Parameters
    ----------
    sum_width : int
        Width of the signed `sum` input: the exact sum of the lanes' products in units of 2^lsb.
    lsb : int
        Exponent of the window's unit, <= -24 (FP16's smallest subnormal is 2^-24).
    chains : int
        Register stages of the loop, 1..3 (cuts after the add and after normalization), and so
        the number of interleaved accumulators (module docstring).

    Ports: `en`, `clear` (contract in golden/hybrid_mac.py); `sum`; `nsum` = -sum, computed by
    the front end beside `sum` (off the loop), so the loop forms base + sum and -(base + sum) side
    by side instead of an add and then a negation; `sum_neg_zero` (every product
    is -0); `sum_nan` (a product is NaN or the products hold +Inf and -Inf); `sum_inf`,
    `sum_inf_neg` (a product is Inf, and its sign); `acc` (the last ring register, reset +0: the
    chain whose update completed this cycle).
    """

    def __init__(self, sum_width, lsb, chains=1, front=False):
        if isinstance(sum_width, bool) or not isinstance(sum_width, int) or sum_width < 1:
            raise ValueError(f"sum_width must be a positive integer, got {sum_width!r}")
        if isinstance(lsb, bool) or not isinstance(lsb, int) or lsb > -24:
            raise ValueError(f"lsb must be an integer <= -24, got {lsb!r}")
        if not isinstance(front, bool):
            raise ValueError(f"front must be True or False, got {front!r}")
        self.sum_width, self.lsb, self.front = sum_width, lsb, front
        self.chains = _check_stages("chains", chains, 1, CHAINS_MAX)
        super().__init__({
            "en": In(1), "clear": In(1),
            "sum": In(signed(sum_width)), "nsum": In(signed(sum_width + 1)), "sum_neg_zero": In(1),
            "sum_nan": In(1), "sum_inf": In(1), "sum_inf_neg": In(1),
            "acc": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        q0 = -24 - self.lsb  # FP16's subnormal quantum 2^-24, in window units: 2^q0
        mag_w = max(self.sum_width - 1, 41 + q0) + 1  # |base| < 2^(41+q0), |sum| < 2^(sum_width-1)
        # `front` registers all inputs (the last front stage).
        ins = _register(m, {k: getattr(self, k) for k in ("en", "clear", "sum", "nsum", "sum_neg_zero", "sum_nan",
                                                          "sum_inf", "sum_inf_neg")}, "front_", 1 if self.front else 0)
        base = Signal(16)
        m.d.comb += base.eq(Mux(ins["clear"], 0x8000, self.acc))
        b = _fp16_fields(m, base, "base")

        # Stage 1. Exact sum: the base's significand shifted into the window, plus the products';
        # -x = ~x + 1 with the +1 as the adders' carry-in.
        bmag = Signal(mag_w + 1)  # < 2^(41+q0): the top bits are 0, and 1 in ~bmag
        m.d.comb += bmag.eq(b["sig"] << b["shift"] << q0)
        sign = b["sign"]
        total = _fast_add(m, Mux(sign, ~bmag, bmag), ins["sum"], mag_w + 1, cin=sign, name="total")
        ntotal = _fast_add(m, Mux(sign, bmag, ~bmag), ins["nsum"], mag_w + 1, cin=~sign, name="ntotal")
        s = dict(
            mag=Mux(total[-1], ntotal, total)[:mag_w], neg=total[-1],
            zero_neg=b["sign"] & b["zero"] & ins["sum_neg_zero"],  # sign of an exactly zero sum
            nan=b["nan"] | ins["sum_nan"] | (b["inf"] & ins["sum_inf"] & (b["sign"] ^ ins["sum_inf_neg"])),
            inf=b["inf"] | ins["sum_inf"], inf_neg=Mux(b["inf"], b["sign"], ins["sum_inf_neg"]),
            keep=Mux(ins["clear"], 0, self.acc),  # what a cycle without en stores
            en=ins["en"])
        if self.chains >= 2:
            s = _register(m, s, "ring1_")
        mag = named(m, s.pop("mag"), "mag")

        # Stage 2. Normalize: shift the leading one to the top, but never past the subnormal
        # quantum; a sentinel one at the minimum normal's hidden-bit position caps the count.
        s_max = mag_w - 11 - q0
        pad = (1 << (mag_w - 1).bit_length()) - mag_w
        capped = named(m, mag | (1 << (q0 + 10)), "capped")
        _, lz = _lzc(m, Cat(C(0, pad), capped) if pad else capped)
        below = named(m, Cat(*[lz < mag_w - 12 - j for j in range(mag_w - 12)]), "below")
        s.update(top=(mag << lz)[mag_w - 12:mag_w],  # 11 significand bits and the guard bit
                 sticky=(mag[:mag_w - 12] & below).any(), lz=lz, nonzero=mag.any())
        if self.chains >= 3:
            s = _register(m, s, "ring2_")

        # Stage 3. RNE; (biased exponent - 1) << 10 plus the rounded significand: a carry out of
        # the significand steps the exponent by itself; s_max - lz is 0 for subnormals.
        top = named(m, s["top"], "top", 12)
        r = named(m, top[1:] + (top[0] & (s["sticky"] | top[1])), "r")
        bits = Signal(range(((s_max + 2) << 10) + 1))
        m.d.comb += bits.eq(((s_max - s["lz"]) << 10) + r)
        finite = Cat(Mux(bits >= FP16_INF, FP16_INF, bits)[:15], Mux(s["nonzero"], s["neg"], s["zero_neg"]))
        result = Mux(s["nan"], FP16_QNAN, Mux(s["inf"], Cat(C(FP16_INF, 15), s["inf_neg"]), finite))
        m.d.sync += self.acc.eq(Mux(s["en"], result, s["keep"]))
        return m


class _Mac(wiring.Component):
    """What the MACs share: lanes, the pipeline parameters and their timing attributes."""

    def __init__(self, unit, lanes, front, chains, front_max, members):
        self.lanes = check_lanes(lanes)
        default_front, default_chains = TIMING[unit]
        self.front = _check_stages("front", default_front if front is None else front, 0, front_max)
        self.chains = _check_stages("chains", default_chains if chains is None else chains, 1, CHAINS_MAX)
        super().__init__(members)

    @property
    def latency(self):
        """Cycles from a beat's inputs to its result on `acc` (golden.hybrid_mac.latency)."""
        return self.front + self.chains

    @property
    def macs_per_cycle(self):
        """Throughput: one beat of every lane per cycle, no bubbles."""
        return self.lanes

    def _accumulate(self, m, sum_width, lsb, **inputs):
        """The shared loop (with the last front register); `inputs` are FP16Accumulator's."""
        m.submodules.accumulate = acc = FP16Accumulator(sum_width, lsb, self.chains, front=self.front >= 1)
        # Front stages before the accumulator's own (FloatMac's multiplier register): en and clear
        # travel with the products.
        ctl = _register(m, {"en": self.en, "clear": self.clear}, "ctl_", max(self.front - 1, 0))
        m.d.comb += [getattr(acc, k).eq(v) for k, v in {**ctl, **inputs}.items()]
        m.d.comb += self.acc.eq(acc.acc)


class HybridMac(_Mac):
    """SPEC.md `hybrid_mac`: L lanes of INT4 x R4FP4 into an FP16 accumulator.

    Ports: `x` (lane i at [4i +: 4], INT4), `sx` (x signed, two's complement; else unsigned),
    `g` (lane i at [4i +: 4], R4FP4 code), `phase` (0 even grid, 1 odd), `scale_exp` (signed, the
    tensor's GradScale exponent; outside [-18, 8] an enabled cycle stores NaN 0x7E00, as
    r4fp4_to_fp16 decodes such codes), `en`, `clear`, `acc` (FP16).
    `front` (0..1) registers the aligned lane sum; `chains` (1..3) as FP16Accumulator; None: the
    rtl/ defaults (golden.hybrid_mac.TIMING).
    """

    def __init__(self, lanes=4, front=None, chains=None):
        lanes = check_lanes(lanes)
        super().__init__("hybrid_mac", lanes, front, chains, 1, {
            "x": In(4 * lanes), "sx": In(1), "g": In(4 * lanes),
            "phase": In(1), "scale_exp": In(signed(6)),
            "en": In(1), "clear": In(1), "acc": Out(16),
        })

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
        self._accumulate(m, sum_w, -24, sum=(lane_sum << shift[:5])[:sum_w].as_signed(),
                         nsum=(nlane_sum << shift[:5])[:sum_w + 1].as_signed(),
                         sum_neg_zero=Cat(*neg_zero).all(), sum_nan=~scale_ok, sum_inf=0, sum_inf_neg=0)
        return m


class FloatMac(_Mac):
    """SPEC.md `fp16_mac` / `fp8_mac`: L lanes of float x float into an FP16 accumulator.

    Ports: `x`, `g` (lane i at [w i +: w], w the format's width: 16 for fp16, 8 for e4m3/e5m2 at
    their default biases), `en`, `clear`, `acc` (FP16). `fmt_x`, `fmt_g` in FLOAT_FORMATS.
    `front` (0..2): register stages before the loop (2: also after the significand
    multipliers); `chains` (1..3) as FP16Accumulator; None: the rtl/ defaults of the unit
    (`fp16_mac` when both formats are fp16, else `fp8_mac`; golden.hybrid_mac.TIMING).
    """

    def __init__(self, lanes=4, fmt_x="fp16", fmt_g="fp16", front=None, chains=None):
        lanes = check_lanes(lanes)
        self.fmt_x, self.fmt_g = fmt_x, fmt_g
        fx, fg = _float_format("fmt_x", fmt_x), _float_format("fmt_g", fmt_g)
        unit = "fp16_mac" if (fmt_x, fmt_g) == ("fp16", "fp16") else "fp8_mac"
        wx, wg = 1 + fx.ebits + fx.mbits, 1 + fg.ebits + fg.mbits
        super().__init__(unit, lanes, front, chains, 2, {
            "x": In(wx * lanes), "g": In(wg * lanes),
            "en": In(1), "clear": In(1), "acc": Out(16),
        })
        self.formats = fx, fg

    def elaborate(self, platform):
        m = Module()
        fx, fg = self.formats
        wx, wg = 1 + fx.ebits + fx.mbits, 1 + fg.ebits + fg.mbits
        # value = sig * 2^(shift + 1 - bias - mbits): a product's unit is 2^lsb, and its
        # magnitude spans the significand product shifted by both largest finite shifts. The
        # accumulator's window needs lsb <= -24 (FP16's quantum): coarser products (e4m3 x e4m3,
        # units of 2^-18) are shifted up by `up` bits.
        lsb_prod = (1 - fx.bias - fx.mbits) + (1 - fg.bias - fg.mbits)
        lsb = min(lsb_prod, -24)
        up = lsb_prod - lsb
        sig_w = fx.mbits + fg.mbits + 2
        shift_max = sum((1 << f.ebits) - (3 if f.ieee_specials else 2) for f in (fx, fg)) + up
        prod_w = sig_w + shift_max + 1  # signed; Inf/NaN exponents overflow it, but they override the sum

        lane = []
        for i in range(self.lanes):
            x = _float_fields(m, self.x[wx * i:wx * i + wx], fx, f"x{i}")
            g = _float_fields(m, self.g[wg * i:wg * i + wg], fg, f"g{i}")
            p_nan = x["nan"] | g["nan"] | (x["inf"] & g["zero"]) | (g["inf"] & x["zero"])
            lane.append(dict(sig=x["sig"] * g["sig"], shift=x["shift"] + g["shift"], neg=x["sign"] ^ g["sign"],
                             nan=p_nan, inf=(x["inf"] | g["inf"]) & ~p_nan,
                             zero=x["zero"] | g["zero"]))
        if self.front >= 2:  # the multipliers in a stage of their own
            lane = [_register(m, p, f"prod{i}_") for i, p in enumerate(lane)]
        prods, nan, inf, neg, neg_zero = [], [], [], [], []
        for i, p in enumerate(lane):
            mag = Signal(prod_w - 1, name=f"pmag{i}")
            m.d.comb += mag.eq(p["sig"] << (p["shift"] + up if up else p["shift"]))
            # -mag = ~mag + 1: the +1s of all lanes join the sum as one small addend, so no
            # lane has a carry chain of its own before the one multi-operand add.
            prod = Signal(signed(prod_w), name=f"prod{i}")
            m.d.comb += prod.eq(Cat(mag ^ p["neg"].replicate(prod_w - 1), p["neg"]))
            prods.append(prod)
            nan.append(p["nan"])
            inf.append(p["inf"])
            neg.append(p["neg"])
            neg_zero.append(p["zero"] & ~p["nan"] & ~p["inf"] & p["neg"])
        pos_inf = named(m, Cat(*[f & ~n for f, n in zip(inf, neg)]).any(), "pos_inf")
        neg_inf = named(m, Cat(*[f & n for f, n in zip(inf, neg)]).any(), "neg_inf")
        sum_w = prod_w + (self.lanes - 1).bit_length()
        # -sum = sum of ~prod_i + sum of (1 - neg_i), side by side with the sum.
        self._accumulate(m, sum_w, lsb, sum=_fast_sum(m, [*prods, sum(neg)], sum_w),
                         nsum=_fast_sum(m, [*[~p for p in prods], sum(~n for n in neg)], sum_w + 1, "nsum"),
                         sum_neg_zero=Cat(*neg_zero).all(),
                         sum_nan=Cat(*nan).any() | (pos_inf & neg_inf),
                         sum_inf=pos_inf | neg_inf, sum_inf_neg=neg_inf)
        return m


class FP16Mac(FloatMac):
    """SPEC.md `fp16_mac`: FloatMac with FP16 x FP16 lanes."""

    def __init__(self, lanes=4, front=None, chains=None):
        super().__init__(lanes, "fp16", "fp16", front, chains)


class FP8Mac(FloatMac):
    """SPEC.md `fp8_mac`: FloatMac with FP8 x FP8 lanes, HFP8's e4m3 x e5m2 by default."""

    def __init__(self, lanes=4, fmt_x="e4m3", fmt_g="e5m2", front=None, chains=None):
        if fmt_x not in ("e4m3", "e5m2") or fmt_g not in ("e4m3", "e5m2"):
            raise ValueError(f"fmt_x and fmt_g must be 'e4m3' or 'e5m2', got {fmt_x!r}, {fmt_g!r}")
        super().__init__(lanes, fmt_x, fmt_g, front, chains)
