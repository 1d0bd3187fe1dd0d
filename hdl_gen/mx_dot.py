"""`mx_dot`: block dot products of two MX (or NVFP4) vectors, L elements per beat, accumulated in
FP32 or FP16 with one rounding per block (golden: golden/mx.py `mx_dot` for the arithmetic,
golden/mx_dot.py for the stream and its timing).

Datapath, one register stage each:
- products: each lane's element pair decoded (sign, significand, exponent shift, class), the
  significand product shifted by both exponents into a fixed-point window in units of the
  smallest product (2^lsb), the lanes summed exactly (carry-save, one fast adder);
- block sum: the beats of a block summed exactly; on the block's last beat the sum, times the
  NVFP4 scales' significands, leaves with exponent lsb + both scale exponents;
- accumulator, ADD_STAGES stages: (1) both addends normalized (leading-zero counts), (2) the
  smaller aligned to the larger with a sticky bit and added, (3) normalized, (4) rounded to
  nearest-even once, subnormals and overflow included. Its result is the base of the next block
  of the dot product, so blocks closer than ADD_STAGES cycles wait (golden.mx_dot.beat_cycles).

The addends are exact: the block sum is an integer and the base a float, both aligned within a
window of their width plus guard, round and sticky bits, which is enough for one correct rounding
(the smaller addend loses bits only when it is two or more positions below the larger, and then
the sum cancels at most one bit).
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.fp8 import Format
from golden.mx import E8M0_NAN, ELEMENTS
from golden.mx_dot import ADD_STAGES, check_config, element_format, latency

from .comb import named
from .fp16_accumulator import fast_add, fast_sum, float_fields, lzc, register

__all__ = ["MxDot", "ACC_FORMATS"]

# Accumulator formats: golden.fp8.Format describes any IEEE binary format.
ACC_FORMATS = {"fp32": Format("fp32", 8, 23, 127, True), "fp16": Format("fp16", 5, 10, 15, True)}
CANONICAL_NAN = {"fp32": 0x7FC00000, "fp16": 0x7E00}
EXP_W = 12  # signed exponents: every addend and result exponent lies within +-2^11


def _element_format(e):
    return Format(e.name, e.ebits, e.mbits, e.bias, e.inf)


def _fields(m, bits, e, name):
    """float_fields of an element (or scale) code, with OCP E4M3's NaN code."""
    f = float_fields(m, bits, _element_format(e), name)
    if e.nan and not e.inf:
        f["nan"] = named(m, bits[:e.bits - 1].all(), f"{name}_nan7")
    return f


def _shift_max(e):
    """Largest exponent shift of a finite element code."""
    return (1 << e.ebits) - (3 if e.inf else 2)


def _normalized(m, mag, width, name):
    """(mag shifted so its top bit is at `width` - 1, that shift) for an unsigned mag of `width`
    bits; the leading-zero count runs over mag padded below to a power of two."""
    n = 1 << (width - 1).bit_length()
    _, count = lzc(m, Cat(C(0, n - width), mag) if n > width else mag, name)
    return named(m, (mag << count)[:width], f"{name}_norm", width), count


def _shift_right(m, v, amount, width, name):
    """(v >> amount, whether a set bit was shifted out: the sticky bit) of an unsigned v of `width` bits."""
    lost = named(m, (v & ~(C((1 << width) - 1, width) << amount)[:width]).any(), f"{name}_lost")
    return named(m, v >> amount, name, width), lost


class MxDot(wiring.Component):
    """`mx_dot`: one block dot product per `in_last`, FP32 (or FP16) accumulation.

    Parameters
    ----------
    fmt : str
        Element format, one of golden.mx_dot.FORMATS: an MX element ("fp8_e4m3", "fp8_e5m2",
        "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "int8") with E8M0 scales, or "nvfp4" (E2M1 elements,
        E4M3 scales, blocks of 16).
    block : int
        Elements per block, a positive multiple of `lanes` (MX: 32; NVFP4: 16).
    lanes : int
        Elements of each vector per beat.
    acc : str
        "fp32" or "fp16".

    Ports: `a`, `b` (lane i at [w i +: w], w the element width), `sa`, `sb` (the block's scale
    codes, read on its last beat), `in_valid`, `in_ready`, `in_last` (on a block's last beat:
    ends the dot product), `out_valid`, `out_data` (the result's bits, one cycle).
    """

    def __init__(self, fmt="fp4_e2m1", block=32, lanes=4, acc="fp32"):
        self.fmt, self.block, self.lanes, self.acc = check_config(fmt, block, lanes, acc)
        self.elem = element_format(fmt)
        w, out_w = self.elem.bits, 1 + ACC_FORMATS[acc].ebits + ACC_FORMATS[acc].mbits
        super().__init__({"a": In(w * self.lanes), "b": In(w * self.lanes), "sa": In(8), "sb": In(8),
                          "in_valid": In(1), "in_last": In(1), "in_ready": Out(1),
                          "out_valid": Out(1), "out_data": Out(out_w)})

    @property
    def latency(self):
        """Cycles from taking a dot product's last beat to its result (golden.mx_dot.latency)."""
        return latency()

    @property
    def macs_per_cycle(self):
        """Throughput when blocks are at least ADD_STAGES beats long: every lane every cycle."""
        return self.lanes

    def elaborate(self, platform):
        m = Module()
        e = self.elem
        beats = self.block // self.lanes

        # Framing: `pos` the beat's place in its block, `hold` the cycles until a block of the
        # same dot product may close again (the accumulator's loop).
        pos = Signal(range(beats))
        hold = Signal(range(ADD_STAGES))
        closing = named(m, pos == beats - 1, "closing")
        m.d.comb += self.in_ready.eq(~closing | (hold == 0))
        take = named(m, self.in_valid & self.in_ready, "take")
        close = named(m, take & closing, "close")
        fresh = Signal(init=1)  # the next block is its dot product's first: base -0
        with m.If(take):
            m.d.sync += pos.eq(Mux(closing, 0, pos + 1))
        with m.If(close):
            m.d.sync += [fresh.eq(self.in_last), hold.eq(Mux(self.in_last, 0, ADD_STAGES - 1))]
        with m.Elif(hold != 0):
            m.d.sync += hold.eq(hold - 1)

        # Stage 1: products and the beat's exact sum (units of 2^lsb).
        beat, lsb = self._beat(m)
        s1 = register(m, {**beat, "en": take, "start": pos == 0, "close": close, "last": self.in_last,
                          "fresh": fresh, "sa": self.sa, "sb": self.sb}, "s1_")

        # Stage 2: the block's running sum; on its last beat the block leaves with its scales.
        blk = self._block(m, s1, lsb)
        s2 = register(m, blk, "s2_")

        # Stages 3-6: acc <- round(base + S * 2^E).
        result, done = self._accumulate(m, s2)
        m.d.sync += self.out_valid.eq(done["last"])
        with m.If(done["last"]):
            m.d.sync += self.out_data.eq(result)
        return m

    def _beat(self, m):
        """The lanes' products summed: sum (signed), flags; and the window's lsb."""
        e, w = self.elem, self.elem.bits
        lanes = [(self.a[w * i:w * i + w], self.b[w * i:w * i + w]) for i in range(self.lanes)]
        if e.is_int:  # INT8: two's complement products in units of 2^-12, no specials
            prods = [named(m, a.as_signed() * b.as_signed(), f"p{i}") for i, (a, b) in enumerate(lanes)]
            width = 17 + (self.lanes - 1).bit_length()
            zero = C(0, 1)
            return dict(sum=fast_sum(m, prods, width).as_signed(), nan=zero, pos_inf=zero, neg_inf=zero,
                        neg_zero=zero), -12
        shift_max = _shift_max(e)
        prod_w = 2 * (e.mbits + 1) + 2 * shift_max + 1  # signed
        prods, negs, flags = [], [], {"nan": [], "pos_inf": [], "neg_inf": [], "neg_zero": []}
        for i, (a_bits, b_bits) in enumerate(lanes):
            a, b = _fields(m, a_bits, e, f"a{i}"), _fields(m, b_bits, e, f"b{i}")
            neg = named(m, a["sign"] ^ b["sign"], f"p{i}_neg")
            nan = named(m, a["nan"] | b["nan"] | (a["inf"] & b["zero"]) | (b["inf"] & a["zero"]), f"p{i}_nan")
            inf = named(m, (a["inf"] | b["inf"]) & ~nan, f"p{i}_inf")
            mag = named(m, (a["sig"] * b["sig"]) << (a["shift"] + b["shift"]), f"p{i}_mag", prod_w - 1)
            # -mag = ~mag + 1: the lanes' +1s join the sum as one small addend
            prods.append(named(m, Cat(Mux(neg, ~mag, mag), neg), f"p{i}", signed(prod_w)))
            negs.append(neg)
            flags["nan"].append(nan)
            flags["pos_inf"].append(inf & ~neg)
            flags["neg_inf"].append(inf & neg)
            flags["neg_zero"].append((a["zero"] | b["zero"]) & neg & ~nan & ~inf)
        width = prod_w + (self.lanes - 1).bit_length()
        beat = {"sum": fast_sum(m, [*prods, sum(negs)], width).as_signed()}
        for k, v in flags.items():
            beat[k] = Cat(*v).all() if k == "neg_zero" else Cat(*v).any()
        return beat, 2 * (1 - e.bias - e.mbits)

    def _block(self, m, s1, lsb):
        """Stage 2: the running block sum (a register) and, on a close, the block's addend."""
        width = len(s1["sum"]) + (self.block // self.lanes - 1).bit_length()
        part = Signal(signed(width), name="part")
        start = s1["start"]
        total = named(m, fast_add(m, Mux(start, 0, part), s1["sum"], width).as_signed(), "block_sum", signed(width))
        flags = {}
        for k in ("nan", "pos_inf", "neg_inf", "neg_zero"):
            seen = Signal(name=f"part_{k}")  # this flag over the block's earlier beats
            # neg_zero holds if every beat has it (identity 1); the others if any beat does
            flags[k] = named(m, (s1[k] & (start | seen)) if k == "neg_zero" else (s1[k] | (~start & seen)),
                             f"block_{k}")
            with m.If(s1["en"]):
                m.d.sync += seen.eq(flags[k])
        with m.If(s1["en"]):
            m.d.sync += part.eq(total)
        if self.fmt == "nvfp4":
            sa, sb = _fields(m, s1["sa"], ELEMENTS["fp8_e4m3"], "sa"), _fields(m, s1["sb"], ELEMENTS["fp8_e4m3"], "sb")
            factor = named(m, sa["sig"] * sb["sig"], "scale_sig")
            flip = named(m, sa["sign"] ^ sb["sign"], "scale_neg")
            prod = named(m, total * factor, "scaled", signed(width + 9))
            value, extra = Mux(flip, -prod, prod), 9
            e4m3 = ELEMENTS["fp8_e4m3"]
            exp = sa["shift"] + sb["shift"] + (2 * (1 - e4m3.bias - e4m3.mbits) + lsb)
            nan = flags["nan"] | sa["nan"] | sb["nan"]
        else:
            value, extra = total, 0
            exp = s1["sa"] + s1["sb"] + (lsb - 254)
            nan = flags["nan"] | (s1["sa"] == E8M0_NAN) | (s1["sb"] == E8M0_NAN)
        return dict(en=s1["close"], last=s1["close"] & s1["last"], fresh=s1["fresh"],
                    value=named(m, value, "block_value", signed(width + extra)),
                    exp=named(m, exp, "block_exp", signed(EXP_W)), nan=nan, pos_inf=flags["pos_inf"],
                    neg_inf=flags["neg_inf"], neg_zero=flags["neg_zero"])

    def _accumulate(self, m, blk):
        """Stages 3-6 (ADD_STAGES): base + value * 2^exp rounded once; returns (result bits
        combinational from the last register stage's inputs, its carried control)."""
        f = ACC_FORMATS[self.acc]
        p = f.mbits + 1
        out_w = 1 + f.ebits + f.mbits
        acc = Signal(out_w, name="acc")  # the accumulator: last block's result
        neg_zero_bits = 1 << (out_w - 1)
        base_bits = named(m, Mux(blk["fresh"], neg_zero_bits, acc), "base_bits", out_w)
        base = float_fields(m, base_bits, f, "base")
        value = blk["value"]
        w = len(value) - 1
        n = max(w, p)  # the addends' common significand width

        # Stage 3: both addends as (sign, top exponent, n-bit normalized magnitude, zero).
        mag_b = named(m, Mux(value < 0, -value, value)[:w], "blk_mag", w)
        norm_b, lz_b = _normalized(m, mag_b, w, "nb")
        norm_a, lz_a = _normalized(m, base["sig"], p, "na")
        s3 = dict(
            a_mag=norm_a << (n - p),
            a_top=named(m, base["shift"] + (1 - f.bias - f.mbits + p - 1) - lz_a, "a_top", signed(EXP_W)),
            a_neg=base["sign"], a_zero=base["zero"],
            b_mag=norm_b << (n - w), b_top=named(m, blk["exp"] + (w - 1) - lz_b, "b_top", signed(EXP_W)),
            b_neg=value < 0, b_zero=~mag_b.any(),
            nan=base["nan"] | blk["nan"] | (blk["pos_inf"] & blk["neg_inf"])
                | (base["inf"] & Mux(base["sign"], blk["pos_inf"], blk["neg_inf"])),
            inf=base["inf"] | blk["pos_inf"] | blk["neg_inf"], inf_neg=Mux(base["inf"], base["sign"], blk["neg_inf"]),
            zero_neg=base["sign"] & base["zero"] & blk["neg_zero"], en=blk["en"], last=blk["last"])
        s3 = register(m, s3, "s3_")
        a_top, b_top = s3["a_top"], s3["b_top"]

        # Stage 4: the larger magnitude first; the smaller shifted right, its lost bits ORed into
        # a sticky LSB; added or subtracted (the larger minus the smaller is never negative).
        a_big = named(m, s3["b_zero"] | (~s3["a_zero"] & ((a_top > b_top) | ((a_top == b_top) & (s3["a_mag"] >= s3["b_mag"])))),
                      "a_big")
        big, small = Mux(a_big, s3["a_mag"], s3["b_mag"]), Mux(a_big, s3["b_mag"], s3["a_mag"])
        top = named(m, Mux(a_big, a_top, b_top), "big_top", signed(EXP_W))
        gap = named(m, Mux(a_big, a_top - b_top, b_top - a_top), "gap", signed(EXP_W + 1))
        d = named(m, Mux(s3["a_zero"] | s3["b_zero"] | (gap > n + 3), n + 3, gap[:(n + 3).bit_length()]), "d",
                  range(n + 4))
        small_ext = named(m, small << 3, "small_ext", n + 3)
        shifted, lost = _shift_right(m, small_ext, d, n + 3, "shifted")
        aligned = named(m, Cat(shifted[0] | lost, shifted[1:]), "aligned", n + 4)  # top bit 0: ~ negates
        big_neg = Mux(a_big, s3["a_neg"], s3["b_neg"])
        sub = named(m, s3["a_neg"] ^ s3["b_neg"], "sub")
        total = fast_add(m, big << 3, Mux(sub, ~aligned, aligned), n + 4, cin=sub, name="sum")
        s4 = register(m, dict(total=total, top=top, neg=big_neg, both_zero=s3["a_zero"] & s3["b_zero"],
                              **{k: s3[k] for k in ("nan", "inf", "inf_neg", "zero_neg", "en", "last")}), "s4_")

        # Stage 5: normalize (the sum's top bit, n + 3, has exponent top + 1).
        norm, lz = _normalized(m, s4["total"], n + 4, "ns")
        s5 = register(m, dict(mag=norm, exp=named(m, s4["top"] + 1 - lz, "norm_exp", signed(EXP_W)),
                              nonzero=s4["total"].any(),
                              **{k: s4[k] for k in ("neg", "nan", "inf", "inf_neg", "zero_neg", "en", "last")}), "s5_")

        # Stage 6: below the smallest normal exponent, shift right to the subnormal quantum;
        # keep p bits, round to nearest-even with guard and sticky; pack
        # ((biased exponent - 1) << mbits) + rounded significand (a carry steps the exponent).
        emin, emax = 1 - f.bias, f.bias
        exp = s5["exp"]
        extra = named(m, Mux(exp < emin, Mux(emin - exp > p + 1, p + 1, emin - exp), 0), "extra", range(p + 2))
        width = n + 4
        mag = s5["mag"]
        den, lost2 = _shift_right(m, mag, extra, width, "den")
        keep = named(m, den[width - p:], "keep", p)
        guard = den[width - p - 1]
        sticky = den[:width - p - 1].any() | lost2
        rounded = named(m, keep + (guard & (sticky | keep[0])), "rounded", p + 1)
        biased = named(m, Mux(exp < emin, 0, Mux(exp > emax, (1 << f.ebits) - 1, exp + f.bias - 1)), "biased", f.ebits + 1)
        inf_bits = ((1 << f.ebits) - 1) << f.mbits
        packed = named(m, (biased << f.mbits) + rounded, "packed", f.ebits + f.mbits + 2)
        finite = Mux(s5["nonzero"], Mux(packed >= inf_bits, inf_bits, packed)[:out_w - 1], 0)
        sign = Mux(s5["nonzero"], s5["neg"], s5["zero_neg"])
        result = named(m, Mux(s5["nan"], CANONICAL_NAN[self.acc],
                              Mux(s5["inf"], Cat(C(inf_bits, out_w - 1), s5["inf_neg"]), Cat(finite, sign))),
                       "result", out_w)
        with m.If(s5["en"]):
            m.d.sync += acc.eq(result)
        return result, {"en": s5["en"], "last": s5["en"] & s5["last"]}
