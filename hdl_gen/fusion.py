"""Recursive bit-fusible multiplier: `fusion_unit` (docs/spec.md; golden model: golden/fusion.py).

A 2-bit BitBrick multiplies two 2-bit operands, each signed or unsigned. A w-bit level is four
w/2-bit units plus combine logic. For each operand the level either *fuses* (the operand's
elements are w bits wide: the units get its high and low halves and the level shift-adds their
sums) or *splits* (elements are narrower: the units get independent groups of element pairs and
the level just adds). High halves keep the operand's signedness; low halves are unsigned.

Signedness (Baugh and Wooley, IEEE Trans. Computers C-22(12), 1973, applied per brick): a brick
outputs q = dA*dB - c(sa, sb), an unsigned number in [0, 9], where c depends only on the brick's
two sign flags. The flags depend only on (pa, pb, sa, sb), so the sum of every brick's c at its
weight is a constant of the mode (`correction`): the levels add unsigned numbers and FusionUnit
adds that constant once. Per-operand signedness then costs an XOR per partial product and one
table, instead of sign extension through every brick and adder.

Bus layout (`layout`, golden.fusion): "linear" routes bus bits to the units by mode (the tables of
golden.fusion.level_route, one multiplexer per sub-bus bit, modes sharing a route merged);
"hierarchical" wires sub-unit k of a level to the fixed slice k of its bus, as Bit Fusion's RTL
does: only the shifts and the digits' signedness depend on the mode.

Summation (`summation`): "tree" is the recursion above (a shift-add per level); "bitblade" is
BitBlade's bitwise summation (Ryu et al., DAC 2019): the 2-bit brick products of equal
significance are added first, then each group is shifted once and the groups added.
"""

import itertools

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.fusion import (DEFAULT_LAYOUT, MAXB_ALLOWED, MINB, PRECISION_BITS, brick_sources, brick_weights,
                           bus_bits, check_layout, is_valid_mode, level_route)

SUMMATIONS = ("tree", "bitblade")
DEFAULT_SUMMATION = "tree"  # the summation of the committed rtl/fusion_unit.v

__all__ = ["BitBrick", "FusionLevel", "BitwiseSum", "FusionUnit", "FixedMul", "SUMMATIONS", "brick_correction", "correction"]


def _code_of(bits):
    return PRECISION_BITS.index(bits)


def _drive_bit(m, target, bus, src_by_mode, mode):
    """target <- bus[src] where src depends on the mode (`mode` = Cat(pb, pa)); modes sharing a
    source merged."""
    by_src = {}
    for (pa, pb), src in src_by_mode.items():
        by_src.setdefault(src, []).append((pa, pb))
    if len(by_src) == 1:
        (src,) = by_src
        m.d.comb += target.eq(0 if src is None else bus[src])
        return
    # The most common source is the default arm: fewest compare terms, no latch-like gaps.
    ordered = sorted(by_src.items(), key=lambda kv: -len(kv[1]))
    with m.Switch(mode):
        for src, group in ordered[1:]:
            with m.Case(*[pb | (pa << 2) for pa, pb in group]):
                m.d.comb += target.eq(0 if src is None else bus[src])
        with m.Default():
            src = ordered[0][0]
            m.d.comb += target.eq(0 if src is None else bus[src])


def _in_modes(mode, modes):
    """1 when the (pa, pb) code pair `mode` (= Cat(pb, pa)) is one of `modes`."""
    return mode.matches(*[pb | (pa << 2) for pa, pb in modes]) if modes else 0


def brick_correction(sa, sb):
    """dA*dB - p of a BitBrick with sign flags sa, sb (BitBrick: p is the product minus this)."""
    return -(2 * sa + 2 * sb + 4 * (sa ^ sb))


def correction(pa, pb, sa, sb, maxb=8):
    """Sum over the bricks of mode (pa, pb) of their brick_correction at their weight
    2^(offA + offB) (golden.fusion.brick_weights): fusion_dot = (the levels' unsigned sum) + this."""
    return sum(brick_correction(sa & top_a, sb & top_b) << (off_a + off_b)
               for off_a, off_b, top_a, top_b in brick_weights(pa, pb, maxb))


class BitBrick(wiring.Component):
    """2-bit x 2-bit multiplier, each operand signed (two's complement) or unsigned, in
    Baugh-Wooley form. With dA = a0 + 2*a1*(1 - 2*sa) and dB likewise, the four partial products
    a_i*b_j have weights 1, 2*(1 - 2*sb), 2*(1 - 2*sa), 4*(1 - 2*sa)*(1 - 2*sb); a term w*t of
    negative weight is |w|*(t ^ 1) - |w|. Hence p = dA*dB - brick_correction(sa, sb), unsigned
    in [0, 9]: the negative parts are left to FusionUnit's per-mode constant (`correction`)."""

    a: In(2)
    b: In(2)
    sa: In(1)
    sb: In(1)
    p: Out(4)

    def elaborate(self, platform):
        m = Module()
        a, b, sa, sb = self.a, self.b, self.sa, self.sb
        m.d.comb += self.p.eq((a[0] & b[0]) + (((a[0] & b[1]) ^ sb) << 1) + (((a[1] & b[0]) ^ sa) << 1)
                              + (((a[1] & b[1]) ^ sa ^ sb) << 2))
        return m


class FusionLevel(wiring.Component):
    """A `width`-bit level (width >= 4) of a fusion unit whose top level is `maxb` bits.

    `pa`, `pb` are the top-level precision codes (assumed valid here: FusionUnit masks invalid
    ones); each level derives its own fuse/split choice and routing from them. `p` is the
    unsigned sum of its bricks' outputs at their weights (< 2^(2*width): no larger than the
    all-ones unsigned result of the mode, brick by brick).
    """

    def __init__(self, width, maxb, layout=DEFAULT_LAYOUT):
        check_layout(layout)
        self.width, self.maxb, self.layout = width, maxb, layout
        bus = width * width // 2
        super().__init__({
            "a": In(bus), "b": In(bus), "pa": In(2), "pb": In(2), "sa": In(1), "sb": In(1),
            "p": Out(2 * width),
        })

    def _sub_unit(self):
        n = self.width // 2
        return BitBrick() if n == MINB else FusionLevel(n, self.maxb, self.layout)

    def elaborate(self, platform):
        m = Module()
        w, n = self.width, self.width // 2
        level_code = _code_of(w)
        fuse_a = self.pa.matches(*range(level_code, 4))
        fuse_b = self.pb.matches(*range(level_code, 4))
        modes = [(pa, pb) for pa in range(4) for pb in range(4) if is_valid_mode(pa, pb, self.maxb)]
        routes = {mode: level_route(w, min(PRECISION_BITS[mode[0]], w), min(PRECISION_BITS[mode[1]], w))
                  for mode in modes}
        sub_width = n * n // 2

        terms = []
        for k in range(4):
            x, y = divmod(k, 2)
            sub = m.submodules[f"u{k}"] = self._sub_unit()
            for port, bus, side in ((sub.a, self.a, 0), (sub.b, self.b, 1)):
                if self.layout == "hierarchical":
                    m.d.comb += port.eq(bus[k * sub_width:(k + 1) * sub_width])
                    continue
                for bit in range(len(port)):
                    _drive_bit(m, port[bit], bus, {mode: r[k][side][bit] for mode, r in routes.items()},
                               Cat(self.pb, self.pa))
            if isinstance(sub, FusionLevel):
                m.d.comb += [sub.pa.eq(self.pa), sub.pb.eq(self.pb)]
            # Low halves of a fused operand are magnitude bits: unsigned.
            m.d.comb += [
                sub.sa.eq(self.sa & ~fuse_a if x else self.sa),
                sub.sb.eq(self.sb & ~fuse_b if y else self.sb),
            ]
            # Terms at the level's width keep every operand of the adder the same size.
            term = Signal.like(self.p, name=f"t{k}")
            shifted = sub.p
            if x == 0:
                shifted = Mux(fuse_a, shifted << n, shifted)
            if y == 0:
                shifted = Mux(fuse_b, shifted << n, shifted)
            m.d.comb += term.eq(shifted)
            terms.append(term)
        m.d.comb += self.p.eq((terms[0] + terms[1]) + (terms[2] + terms[3]))
        return m


class BitwiseSum(wiring.Component):
    """BitBlade's bitwise summation over all maxb*maxb/4 bricks of a `maxb`-bit unit.

    Brick s gets the digits golden.fusion.brick_sources assigns it (fixed wires in the
    hierarchical layout, a mode multiplexer per bit in the linear one); its product has weight
    2^(offA_s + offB_s) (golden.fusion.brick_weights). Products of equal weight are summed first;
    each group is shifted once. Same ports as the top FusionLevel (an unsigned sum of the bricks'
    outputs); codes assumed valid.
    """

    def __init__(self, maxb, layout=DEFAULT_LAYOUT):
        check_layout(layout)
        self.maxb, self.layout = maxb, layout
        super().__init__({
            "a": In(bus_bits(maxb)), "b": In(bus_bits(maxb)), "pa": In(2), "pb": In(2),
            "sa": In(1), "sb": In(1), "p": Out(2 * maxb),
        })

    def elaborate(self, platform):
        m = Module()
        mode = Cat(self.pb, self.pa)
        modes = [(pa, pb) for pa in range(4) for pb in range(4) if is_valid_mode(pa, pb, self.maxb)]
        sources = {md: brick_sources(*md, self.maxb) for md in modes}
        weights = {md: brick_weights(*md, self.maxb) for md in modes}
        groups = {}  # shift -> [(brick product, modes in which the brick has that shift)]
        for s in range(self.maxb * self.maxb // 4):
            brick = m.submodules[f"b{s}"] = BitBrick()
            for port, bus, side in ((brick.a, self.a, 0), (brick.b, self.b, 1)):
                if self.layout == "hierarchical":
                    m.d.comb += port.eq(bus[2 * s:2 * s + 2])
                    continue
                for t in range(2):
                    _drive_bit(m, port[t], bus, {md: src[side][s][t] for md, src in sources.items()}, mode)
            # Only the top digit of an element carries its sign.
            m.d.comb += [brick.sa.eq(self.sa & _in_modes(mode, [md for md in modes if weights[md][s][2]])),
                         brick.sb.eq(self.sb & _in_modes(mode, [md for md in modes if weights[md][s][3]]))]
            by_shift = {}
            for md in modes:
                by_shift.setdefault(weights[md][s][0] + weights[md][s][1], []).append(md)
            for shift, in_modes in by_shift.items():
                groups.setdefault(shift, []).append((brick.p, in_modes))
        total = 0
        for shift in sorted(groups):
            members = groups[shift]
            # A group's sum stays narrow: it is shifted only once, after the sum.
            g = Signal(len(members[0][0]) + max(1, (len(members) - 1).bit_length()), name=f"g{shift}")
            terms = [p if len(ms) == len(modes) else Mux(_in_modes(mode, ms), p, 0) for p, ms in members]
            m.d.comb += g.eq(_balanced_sum(terms))
            total = total + (g << shift) if shift else total + g
        m.d.comb += self.p.eq(total)
        return m


def _balanced_sum(terms):
    """Sum as a balanced tree (log depth)."""
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


class FusionUnit(wiring.Component):
    """docs/spec.md `fusion_unit`: p = sum of the P packed products of mode (pa, pb); combinational.

    Parameters
    ----------
    maxb : int
        Widest operand, 8 or 16 bits. Buses are maxb*maxb/2 bits; p is signed, 2*maxb+2 bits.
    layout : str
        Bus layout, "linear" or "hierarchical" (golden.fusion; pack through golden.fusion.pack).
    summation : str
        "tree" (recursive shift-add per level) or "bitblade" (bitwise summation).
    """

    def __init__(self, maxb=8, layout=DEFAULT_LAYOUT, summation=DEFAULT_SUMMATION):
        if maxb not in MAXB_ALLOWED:
            raise ValueError(f"maxb must be one of {MAXB_ALLOWED}, got {maxb!r}")
        check_layout(layout)
        if summation not in SUMMATIONS:
            raise ValueError(f"summation must be one of {SUMMATIONS}, got {summation!r}")
        self.maxb, self.layout, self.summation = maxb, layout, summation
        super().__init__({
            "a": In(bus_bits(maxb)), "b": In(bus_bits(maxb)),
            "pa": In(2), "pb": In(2), "sa": In(1), "sb": In(1),
            "p": Out(signed(2 * maxb + 2)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.level = level = (FusionLevel(self.maxb, self.maxb, self.layout) if self.summation == "tree"
                                      else BitwiseSum(self.maxb, self.layout))
        top_code = _code_of(self.maxb)
        valid = (self.pa <= top_code) & (self.pb <= top_code)
        # The bricks' corrections (module docstring): one constant per mode and signedness.
        corr = Signal(signed(2 * self.maxb + 2))
        with m.Switch(Cat(self.sb, self.sa, self.pb, self.pa)):
            for pa, pb in itertools.product(range(4), repeat=2):
                if not is_valid_mode(pa, pb, self.maxb):
                    continue
                for sa, sb in itertools.product((0, 1), repeat=2):
                    if correction(pa, pb, sa, sb, self.maxb):
                        with m.Case(sb | sa << 1 | pb << 2 | pa << 4):
                            m.d.comb += corr.eq(correction(pa, pb, sa, sb, self.maxb))
            with m.Default():  # unsigned operands; invalid codes (p is forced to 0 below)
                m.d.comb += corr.eq(0)
        m.d.comb += [
            level.a.eq(self.a), level.b.eq(self.b),
            level.pa.eq(self.pa), level.pb.eq(self.pb),
            level.sa.eq(self.sa), level.sb.eq(self.sb),
            # The exact result fits p, so the sum modulo 2^len(p) is it.
            self.p.eq(Mux(valid, level.p + corr, 0)),
        ]
        return m


class FixedMul(wiring.Component):
    """Baseline: one plain `bits` x `bits` multiplier, signed/unsigned per operand.

    The fixed-precision counterpart of `FusionUnit` in its widest mode, with the same output
    width, so that synthesis compares like with like.
    """

    def __init__(self, bits=8):
        if bits not in MAXB_ALLOWED:
            raise ValueError(f"bits must be one of {MAXB_ALLOWED}, got {bits!r}")
        self.bits = bits
        super().__init__({
            "a": In(bits), "b": In(bits), "sa": In(1), "sb": In(1),
            "p": Out(signed(2 * bits + 2)),
        })

    def elaborate(self, platform):
        m = Module()
        a = Mux(self.sa, self.a.as_signed(), self.a)
        b = Mux(self.sb, self.b.as_signed(), self.b)
        m.d.comb += self.p.eq(a * b)
        return m
