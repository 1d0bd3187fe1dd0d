"""What the training MACs `hybrid_mac`, `fp16_mac` and `fp8_mac` share: the FP16 accumulator
with its interleaved chains, the chains' combination, the stream framing, operand decoding, fast
adders, and `FloatMac`, the float front end of fp16_mac and fp8_mac (golden:
golden/fp16_accumulator.py, which states the contract and its rounding sequence).

A unit's front end reduces a beat's lanes to their exact product sum as a fixed-point integer in
units of 2^lsb (hybrid_mac: hdl_gen/hybrid_mac.py; the float units: `FloatMac`). The rest is
shared:

- `FP16Accumulator`: chain <- fp16(base + sum), base = -0 on the chain's first beat of a dot
  product, else the chain: the FP16 base moved into the sum's window, one wide add,
  normalization, one RNE rounding, specials and signed zeros. The window covers every addend
  without rounding, so the result is the exact sum rounded once. The loop (base alignment + add
  + |.|, leading-zero count + normalization, rounding + packing) is cut by `chains - 1`
  registers into `chains` stages, and the ring carries `chains` accumulators: the beat taken in
  cycle t updates the chain in the ring's entry slot t mod chains.
- `ChainCombiner`: the dot product's result, fp16 of its chains' exact sum, one RNE, through the
  same add-normalize-round cut into the same stages (not a loop here: pipelined).
- `StreamMac`: the valid/ready framing that keeps beat b of a dot product on chain b mod chains
  whatever the input timing (`in_ready` low after an idle input cycle inside a dot product until
  the chain comes round), the `front` register stages, and the wiring of the two above.

Latency front + chains (the chain update) + chains (the combination; none for one chain);
throughput one beat (all lanes) per cycle, back-to-back dot products included.
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.fp8 import Format, fp8_format
from golden.fp16_accumulator import CANONICAL_NAN, CHAINS_MAX, FRONT_MAX, TIMING, latency

from .comb import named

__all__ = ["FP16Accumulator", "ChainCombiner", "StreamMac", "FloatMac", "FLOAT_FORMATS", "LANES_MAX",
           "check_lanes", "register", "fast_add", "fast_sum", "float_format", "float_fields", "lzc"]

FP16_INF, FP16_NEG_ZERO = 0x7C00, 0x8000
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


def float_format(name, fmt):
    """golden.fp8.Format of an operand format; FP16 is the same description (1-5-10, bias 15)."""
    if fmt not in FLOAT_FORMATS:
        raise ValueError(f"{name} must be one of {FLOAT_FORMATS}, got {fmt!r}")
    return Format("fp16", 5, 10, 15, True) if fmt == "fp16" else fp8_format(fmt)


def register(m, values, name, stages=1):
    """`values` (dict of name -> value) delayed by `stages` clock cycles, registers reset to 0."""
    for k in range(stages):
        regs = {}
        for key, v in values.items():
            v = named(m, v, f"{name}{k}_{key}_d")
            regs[key] = Signal(v.shape(), name=f"{name}{k}_{key}")
            m.d.sync += regs[key].eq(v)
        values = regs
    return values


def float_fields(m, bits, f, name):
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
    return float_fields(m, bits, float_format("fp16", "fp16"), name)


def fast_add(m, a, b, width, cin=0, name="add"):
    """(a + b + cin) mod 2^width with Kogge-Stone carries: log2(width) levels instead of the ripple
    chain Yosys maps `+` to (an 85-bit ripple alone is ~10 ns on OSU 0.18 um). a, b are widened
    to `width` by their own signedness."""
    av, bv = Signal(width, name=f"{name}_a"), Signal(width, name=f"{name}_b")
    m.d.comb += [av.eq(a), bv.eq(b)]
    p = named(m, av ^ bv, f"{name}_p")
    gen, prop = named(m, (av & bv) | Cat(p[0] & cin, C(0, width - 1)), f"{name}_g0"), p
    # Level k: g[i] |= p[i] & g[i - d], p[i] &= p[i - d] for i >= d (d = 2^(k-1)), as whole-vector
    # operations (the same gates; simulators evaluate them a word at a time).
    dist, level = 1, 0
    while dist < width:
        level += 1
        gen, prop = (named(m, (gen | (prop & (gen << dist)))[:width], f"{name}_g{level}"),
                     named(m, (prop & ((prop << dist) | ((1 << dist) - 1)))[:width], f"{name}_p{level}"))
        dist *= 2
    return named(m, p ^ Cat(cin, gen[:width - 1]), f"{name}_s")


def fast_sum(m, operands, width, name="sum"):
    """The sum of `operands` mod 2^width: 3:2 carry-save compressors, then one `fast_add`."""
    return fast_add(m, *compress(m, operands, width, name), width, name=name)


def compress(m, operands, width, name="sum"):
    """3:2 carry-save compressors reducing `operands` to two with the same sum mod 2^width (the
    second is 0 for a single operand): fast_sum without its final add."""
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
    return ops[0], ops[1] if len(ops) > 1 else C(0, width)


def lzc(m, v, name="lz"):
    """(all-zero flag, leading-zero count) of v, a tree over halves; len(v) a power of two."""
    if len(v) == 2:
        return named(m, ~v.any(), f"{name}_z"), named(m, ~v[1], f"{name}_c")
    half = len(v) // 2
    zl, cl = lzc(m, v[:half], f"{name}l")
    zh, ch = lzc(m, v[half:], f"{name}h")
    return named(m, zh & zl, f"{name}_z"), named(m, Cat(Mux(zh, cl, ch), zh), f"{name}_c")


def _fp16_sum(m, base, ins, sum_width, lsb, stages, carry, name):
    """fp16(base + sum), one RNE: `base` FP16 bits; `ins` the sum as FP16Accumulator's ports take
    it (sum, nsum, sum_neg_zero, sum_nan, sum_inf, sum_inf_neg; sum signed in units of 2^lsb).
    `stages` - 1 registers (named `name`) cut it after the add and after normalization; `carry`
    (dict of values) travels along. Returns (the result, combinational after the last cut;
    `carry` at that point)."""
    q0 = -24 - lsb  # FP16's subnormal quantum 2^-24, in window units: 2^q0
    mag_w = max(sum_width - 1, 41 + q0) + 1  # |base| < 2^(41+q0), |sum| < 2^(sum_width-1)
    b = _fp16_fields(m, base, "base")

    # Stage 1. Exact sum: the base's significand shifted into the window, plus the products';
    # -x = ~x + 1 with the +1 as the adders' carry-in. base + sum and -(base + sum) side by side
    # (nsum = -sum comes from the front end, off the loop), instead of an add and a negation.
    bmag = Signal(mag_w + 1)  # < 2^(41+q0): the top bits are 0, and 1 in ~bmag
    m.d.comb += bmag.eq(b["sig"] << b["shift"] << q0)
    sign = b["sign"]
    total = fast_add(m, Mux(sign, ~bmag, bmag), ins["sum"], mag_w + 1, cin=sign, name="total")
    ntotal = fast_add(m, Mux(sign, bmag, ~bmag), ins["nsum"], mag_w + 1, cin=~sign, name="ntotal")
    s = dict(
        mag=Mux(total[-1], ntotal, total)[:mag_w], neg=total[-1],
        zero_neg=b["sign"] & b["zero"] & ins["sum_neg_zero"],  # sign of an exactly zero sum
        nan=b["nan"] | ins["sum_nan"] | (b["inf"] & ins["sum_inf"] & (b["sign"] ^ ins["sum_inf_neg"])),
        inf=b["inf"] | ins["sum_inf"], inf_neg=Mux(b["inf"], b["sign"], ins["sum_inf_neg"]),
        **carry)
    if stages >= 2:
        s = register(m, s, f"{name}1_")
    mag = named(m, s.pop("mag"), "mag")

    # Stage 2. Normalize: shift the leading one to the top, but never past the subnormal
    # quantum; a sentinel one at the minimum normal's hidden-bit position caps the count.
    s_max = mag_w - 11 - q0
    pad = (1 << (mag_w - 1).bit_length()) - mag_w
    capped = named(m, mag | (1 << (q0 + 10)), "capped")
    _, lz = lzc(m, Cat(C(0, pad), capped) if pad else capped)
    below = named(m, Cat(*[lz < mag_w - 12 - j for j in range(mag_w - 12)]), "below")
    s.update(top=(mag << lz)[mag_w - 12:mag_w],  # 11 significand bits and the guard bit
             sticky=(mag[:mag_w - 12] & below).any(), lz=lz, nonzero=mag.any())
    if stages >= 3:
        s = register(m, s, f"{name}2_")

    # Stage 3. RNE; (biased exponent - 1) << 10 plus the rounded significand: a carry out of
    # the significand steps the exponent by itself; s_max - lz is 0 for subnormals.
    top = named(m, s["top"], "top", 12)
    r = named(m, top[1:] + (top[0] & (s["sticky"] | top[1])), "r")
    bits = Signal(range(((s_max + 2) << 10) + 1))
    m.d.comb += bits.eq(((s_max - s["lz"]) << 10) + r)
    finite = Cat(Mux(bits >= FP16_INF, FP16_INF, bits)[:15], Mux(s["nonzero"], s["neg"], s["zero_neg"]))
    result = Mux(s["nan"], CANONICAL_NAN, Mux(s["inf"], Cat(C(FP16_INF, 15), s["inf_neg"]), finite))
    return result, {k: s[k] for k in carry}


class FP16Accumulator(wiring.Component):
    """The accumulate loop all MACs share: chain <- fp16(base + sum), one RNE rounding.

    Parameters
    ----------
    sum_width : int
        Width of the signed `sum` input: the exact sum of the lanes' products in units of 2^lsb.
    lsb : int
        Exponent of the window's unit, <= -24 (FP16's smallest subnormal is 2^-24).
    chains : int
        Register stages of the loop, 1..3 (cuts after the add and after normalization), and so
        the number of interleaved accumulators (module docstring).
    front : bool
        Register every input once before the loop (the unit's last front stage).

    Ports: `en` (a beat: update the entry slot's chain, else it holds), `fresh` (the chain's first
    beat of a dot product: base -0, IEEE's additive identity, instead of the chain); `sum`;
    `nsum` = -sum, computed by the front end beside `sum` (off the loop); `sum_neg_zero` (every
    product is -0); `sum_nan` (a product is NaN or the products hold +Inf and -Inf); `sum_inf`,
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
            "en": In(1), "fresh": In(1),
            "sum": In(signed(sum_width)), "nsum": In(signed(sum_width + 1)), "sum_neg_zero": In(1),
            "sum_nan": In(1), "sum_inf": In(1), "sum_inf_neg": In(1),
            "acc": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        ins = register(m, {k: getattr(self, k) for k in ("en", "fresh", "sum", "nsum", "sum_neg_zero", "sum_nan",
                                                         "sum_inf", "sum_inf_neg")}, "front_", int(self.front))
        base = named(m, Mux(ins["fresh"], FP16_NEG_ZERO, self.acc), "base_bits")
        # An idle slot passes its chain round the ring unchanged (`keep`).
        result, s = _fp16_sum(m, base, ins, self.sum_width, self.lsb, self.chains, dict(en=ins["en"], keep=self.acc),
                              "ring")
        m.d.sync += self.acc.eq(Mux(s["en"], result, s["keep"]))
        return m


class ChainCombiner(wiring.Component):
    """A dot product's result: fp16 of its chains' exact sum, one RNE (golden.fp16_accumulator).

    `acc` is FP16Accumulator's output, showing each cycle the chain whose slot entered the loop
    `chains` cycles before. In the cycle `last` marks (the dot product's last beat shows on
    `acc`), its other chains showed on `acc` in the chains - 1 cycles before, in turn order, and
    no later beat has reached them yet. `count` (chains > 1) is the number of chains the dot
    product reached, min(beats, chains); the others hold stale values and are left out (-0, the
    identity). So a history of exact partial sums of the last acc values, hist[k] = the last k,
    is all that is kept; the combination adds hist[count - 1] to `acc` in the accumulator's
    add-normalize-round, cut into the same `chains` stages. One chain: `acc` is the result.
    Ports `out_valid`, `out_data` (registered; combinational from `acc` for one chain).
    """

    def __init__(self, chains):
        self.chains = _check_stages("chains", chains, 1, CHAINS_MAX)
        super().__init__({"acc": In(16), "last": In(1), **({"count": In(range(chains + 1))} if chains > 1 else {}),
                          "out_valid": Out(1), "out_data": Out(16)})

    def elaborate(self, platform):
        m = Module()
        if self.chains == 1:
            m.d.comb += [self.out_valid.eq(self.last), self.out_data.eq(self.acc)]
            return m
        f = _fp16_fields(m, self.acc, "acc")
        width = 41 + (self.chains - 1).bit_length()  # |a sum of chains - 1 FP16 values| < (chains - 1) 2^40
        mag = Signal(width, name="acc_mag")  # |acc| in units of 2^-24 (Inf/NaN: their flags override)
        m.d.comb += mag.eq(f["sig"] << f["shift"])
        hist = [dict(sum=C(0, width), nsum=C(0, width), neg_zero=C(1, 1), nan=C(0, 1), inf=C(0, 1), inf_neg=C(0, 1))]
        for k in range(1, self.chains):
            prev, sign = hist[-1], f["sign"]
            hist.append(register(m, dict(
                sum=fast_add(m, Mux(sign, ~mag, mag), prev["sum"], width, cin=sign, name=f"hist{k}"),
                nsum=fast_add(m, Mux(sign, mag, ~mag), prev["nsum"], width, cin=~sign, name=f"nhist{k}"),
                neg_zero=sign & f["zero"] & prev["neg_zero"],
                nan=f["nan"] | prev["nan"] | (f["inf"] & prev["inf"] & (sign ^ prev["inf_neg"])),
                inf=f["inf"] | prev["inf"], inf_neg=Mux(f["inf"], sign, prev["inf_neg"])), f"hist{k}_"))
        pick = hist[0]
        for k in range(1, self.chains):
            pick = {key: Mux(self.count > k, hist[k][key], v) for key, v in pick.items()}
        ins = dict(sum=pick["sum"].as_signed(), nsum=pick["nsum"].as_signed(), sum_neg_zero=pick["neg_zero"],
                   sum_nan=pick["nan"], sum_inf=pick["inf"], sum_inf_neg=pick["inf_neg"])
        result, s = _fp16_sum(m, self.acc, ins, width, -24, self.chains, dict(valid=self.last), "combine")
        m.d.sync += [self.out_data.eq(result), self.out_valid.eq(s["valid"])]
        return m


class StreamMac(wiring.Component):
    """What the MACs share: lanes, the pipeline parameters, the stream ports and framing, and the
    accumulate path (FP16Accumulator, then ChainCombiner).

    Stream ports (besides the unit's operands): `in_valid`, `in_ready` (a beat is taken in a cycle
    with both high), `in_last` (the beat ends its dot product), `out_valid` (high for one cycle
    per dot product, `latency` cycles after its last beat was taken), `out_data` (its FP16
    result). `in_ready` is low only inside a dot product, in the cycles after an idle input cycle
    until the next beat's chain comes round (golden.fp16_accumulator.beat_cycles); it depends on
    registers only.
    """

    def __init__(self, unit, lanes, front, chains, operands):
        self.unit = unit
        self.lanes = check_lanes(lanes)
        default_front, default_chains = TIMING[unit]
        self.front = _check_stages("front", default_front if front is None else front, 0, FRONT_MAX[unit])
        self.chains = _check_stages("chains", default_chains if chains is None else chains, 1, CHAINS_MAX)
        super().__init__({**operands, "in_valid": In(1), "in_last": In(1), "in_ready": Out(1),
                          "out_valid": Out(1), "out_data": Out(16)})

    @property
    def latency(self):
        """Cycles from taking a dot product's last beat to its result (golden.fp16_accumulator.latency)."""
        return latency(self.unit, self.front, self.chains)

    @property
    def macs_per_cycle(self):
        """Throughput: one beat of every lane per cycle, no bubbles."""
        return self.lanes

    def _accumulate(self, m, sum_width, lsb, **inputs):
        """The framing and the shared accumulate path; `inputs` are FP16Accumulator's sum ports,
        after the unit's front stages but the last."""
        c = self.chains
        # Framing. `count`: the dot product's beats taken so far, saturating at c; a beat with
        # count < c is its chain's first (base -0), and the last beat tells the combiner how many
        # chains the dot product reached.
        count = Signal(range(c + 1))
        reached = named(m, Mux(count == c, c, count + 1), "reached")
        take = named(m, self.in_valid & self.in_ready, "take")
        with m.If(take):
            m.d.sync += count.eq(Mux(self.in_last, 0, reached))
        if c == 1:
            m.d.comb += self.in_ready.eq(1)
        else:
            # Inside a dot product (`busy`), a beat must enter the ring a whole number of turns
            # after the previous one: `turn` counts the cycles since then, minus one, mod c.
            busy, turn = Signal(), Signal(range(c))
            m.d.comb += self.in_ready.eq(~busy | (turn == 0))
            with m.If(take):
                m.d.sync += [busy.eq(~self.in_last), turn.eq(0)]
            with m.Else():
                m.d.sync += turn.eq(Mux(turn == c - 1, 0, turn + 1))

        m.submodules.accumulate = acc = FP16Accumulator(sum_width, lsb, c, front=self.front >= 1)
        # Front stages before the accumulator's own (FloatMac's multiplier register): en and fresh
        # travel with the products.
        ctl = register(m, {"en": take, "fresh": count != c}, "ctl_", max(self.front - 1, 0))
        m.d.comb += [getattr(acc, k).eq(v) for k, v in {**ctl, **inputs}.items()]
        # The last beat's tags reach the combiner with its chain's update on `acc`.
        tags = register(m, {"last": take & self.in_last, "count": reached}, "tag_", self.front + c)
        m.submodules.combine = comb = ChainCombiner(c)
        m.d.comb += [comb.acc.eq(acc.acc), comb.last.eq(tags["last"]),
                     self.out_valid.eq(comb.out_valid), self.out_data.eq(comb.out_data)]
        if c > 1:
            m.d.comb += comb.count.eq(tags["count"])
        return m


class FloatMac(StreamMac):
    """`fp16_mac` / `fp8_mac`: L lanes of float x float into the FP16 accumulator.

    Operand ports: `x`, `g` (lane i at [w i +: w], w the format's width: 16 for fp16, 8 for
    e4m3/e5m2 at their default biases); stream ports as StreamMac. `fmt_x`, `fmt_g` in
    FLOAT_FORMATS. Each lane has one (m_x+1) x (m_g+1) significand multiplier, the product shifted
    by the sum of its operands' exponents into a window in units of the smallest product (2^-48
    for FP16 x FP16, 2^-25 for e4m3 x e5m2). `front` (0..3): register stages before the loop (2:
    also after the significand multipliers; 3: also after the compressor trees, before their
    final adds, which wide units need: the tree of 32 or 64 lanes and the window-wide add do not
    fit one 10 ns stage); `chains` (1..3) as FP16Accumulator; None: the rtl/
    defaults of the unit (`fp16_mac` when both formats are fp16, else `fp8_mac`;
    golden.fp16_accumulator.TIMING). `shift_bits` (0..5; 0: no port): a `shift` input of that
    width, taken with each beat, scales the beat's products by 2^-shift (golden.fp8_mac): the
    window reaches 2^shift_max - 1 bits further down, and each product's alignment shift is
    that much smaller, so the sum stays exact.
    """

    def __init__(self, lanes=4, fmt_x="fp16", fmt_g="fp16", front=None, chains=None, shift_bits=0):
        lanes = check_lanes(lanes)
        self.fmt_x, self.fmt_g = fmt_x, fmt_g
        fx, fg = float_format("fmt_x", fmt_x), float_format("fmt_g", fmt_g)
        unit = "fp16_mac" if (fmt_x, fmt_g) == ("fp16", "fp16") else "fp8_mac"
        self.shift_bits = _check_stages("shift_bits", shift_bits, 0, 5)
        wx, wg = 1 + fx.ebits + fx.mbits, 1 + fg.ebits + fg.mbits
        shift = {"shift": In(shift_bits)} if shift_bits else {}
        super().__init__(unit, lanes, front, chains, {"x": In(wx * lanes), "g": In(wg * lanes), **shift})
        self.formats = fx, fg

    def elaborate(self, platform):
        m = Module()
        fx, fg = self.formats
        wx, wg = 1 + fx.ebits + fx.mbits, 1 + fg.ebits + fg.mbits
        # value = sig * 2^(shift + 1 - bias - mbits): a product's unit is 2^lsb, and its
        # magnitude spans the significand product shifted by both largest finite shifts. The
        # accumulator's window needs lsb <= -24 (FP16's quantum): coarser products (e4m3 x e4m3,
        # units of 2^-18) are shifted up by `up` bits. The product shift moves the window's
        # bottom down by its largest value; a beat's products are then shifted up by
        # `up` - shift (never negative), so any shift keeps them exact.
        lsb_prod = (1 - fx.bias - fx.mbits) + (1 - fg.bias - fg.mbits)
        lsb = min(lsb_prod, -24) - ((1 << self.shift_bits) - 1)
        up = lsb_prod - lsb
        sig_w = fx.mbits + fg.mbits + 2
        shift_max = sum((1 << f.ebits) - (3 if f.ieee_specials else 2) for f in (fx, fg)) + up
        prod_w = sig_w + shift_max + 1  # signed; Inf/NaN exponents overflow it, but they override the sum
        align = named(m, up - self.shift, "align", up.bit_length()) if self.shift_bits else up

        lane = []
        for i in range(self.lanes):
            x = float_fields(m, self.x[wx * i:wx * i + wx], fx, f"x{i}")
            g = float_fields(m, self.g[wg * i:wg * i + wg], fg, f"g{i}")
            p_nan = x["nan"] | g["nan"] | (x["inf"] & g["zero"]) | (g["inf"] & x["zero"])
            shift = x["shift"] + g["shift"]
            lane.append(dict(sig=x["sig"] * g["sig"], shift=shift + align if self.shift_bits or up else shift,
                             neg=named(m, x["sign"] ^ g["sign"], f"p{i}_neg"),
                             nan=p_nan, inf=(x["inf"] | g["inf"]) & ~p_nan,
                             zero=x["zero"] | g["zero"]))
        if self.front >= 2:  # the multipliers in a stage of their own
            lane = [register(m, p, f"prod{i}_") for i, p in enumerate(lane)]
        prods, nan, inf, neg, neg_zero = [], [], [], [], []
        for i, p in enumerate(lane):
            mag = Signal(prod_w - 1, name=f"pmag{i}")
            m.d.comb += mag.eq(p["sig"] << p["shift"])
            # -mag = ~mag + 1: the +1s of all lanes join the sum as one small addend, so no
            # lane has a carry chain of its own before the one multi-operand add.
            prod = Signal(signed(prod_w), name=f"prod{i}")
            m.d.comb += prod.eq(Cat(Mux(p["neg"], ~mag, mag), p["neg"]))
            prods.append(prod)
            nan.append(p["nan"])
            inf.append(p["inf"])
            neg.append(p["neg"])
            neg_zero.append(p["zero"] & ~p["nan"] & ~p["inf"] & p["neg"])
        pos_inf = named(m, Cat(*[f & ~n for f, n in zip(inf, neg)]).any(), "pos_inf")
        neg_inf = named(m, Cat(*[f & n for f, n in zip(inf, neg)]).any(), "neg_inf")
        sum_w = prod_w + (self.lanes - 1).bit_length()
        # -sum = sum of ~prod_i + sum of (1 - neg_i), side by side with the sum.
        addends = {"sum": ([*prods, sum(neg)], sum_w),
                   "nsum": ([*[~p for p in prods], sum(~n for n in neg)], sum_w + 1)}
        flags = dict(sum_neg_zero=Cat(*neg_zero).all(), sum_nan=Cat(*nan).any() | (pos_inf & neg_inf),
                     sum_inf=pos_inf | neg_inf, sum_inf_neg=neg_inf)
        if self.front < 3:
            sums = {k: fast_sum(m, ops, w, k) for k, (ops, w) in addends.items()}
        else:  # the compressor trees in a stage of their own, before their final adds
            trees = {k: compress(m, ops, w, k) for k, (ops, w) in addends.items()}
            regs = register(m, {**{f"{k}{i}": v[i] for k, v in trees.items() for i in (0, 1)}, **flags}, "tree_")
            sums = {k: fast_add(m, regs[f"{k}0"], regs[f"{k}1"], w, name=k) for k, (_, w) in addends.items()}
            flags = {k: regs[k] for k in flags}
        return self._accumulate(m, sum_w, lsb, **sums, **flags)
