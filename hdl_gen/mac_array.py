"""Output-stationary mixed-precision MAC array: `mac_array` and its baseline `mac_array_fixed8`.

docs/spec.md "MAC array"; golden model: golden/mac_array.py (the tile semantics, including what
`first` without a previous `last` and invalid codes do). ROWS x COLS processing elements (PEs);
PE (r, c) owns C[r][c]. A PE is a `FusionUnit` (pe="fusion") or, for the fixed-precision
baseline, a plain MAXB x MAXB `FixedMul` with MAXB-bit lanes (pe="fixed"); everything else is the
same generator, so the two differ only in the multiplier and the lane width.

Pipeline (one beat per cycle, all PEs on the same beat):

    input handshake -> s1: lanes and mode registered together (the precision travels with the
    data, so each beat may have its own mode: no bubble at a switch)
    s1 -> s2: each PE's multiplier; product registered
    s2 -> accumulator: acc <- (fresh ? 0 : acc) + p, or on `last` the sum goes to the shadow bank

Operands are broadcast from s1 along rows and columns (fan-out COLS / ROWS), which keeps every PE
on the same beat: the shadow (second) bank is loaded in one cycle, the drain never races the
next tile, and the latency is ROWS + 2 cycles. The shadow bank drains one row per output beat
while the next tile accumulates. The whole pipeline holds (in_ready low) only when a tile's last
beat reaches the accumulators while the previous tile is still draining.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.fusion import DEFAULT_LAYOUT, PRECISION_BITS, check_layout, check_maxb
from golden.mac_array import (
    ACCW_DEFAULT, CNTW_DEFAULT, check_accw, check_pe, lane_bits, pe_products, valid_modes)

from .fusion import DEFAULT_SUMMATION, SUMMATIONS, FixedMul, FusionUnit

__all__ = ["MacArray", "counter_ports"]


def counter_ports(maxb=8, pe="fusion"):
    """Names of the MAC counter ports, one per valid precision pair: macs_<bits_a>x<bits_b>."""
    return {(pa, pb): f"macs_{PRECISION_BITS[pa]}x{PRECISION_BITS[pb]}" for pa, pb in valid_modes(maxb, pe)}


class MacArray(wiring.Component):
    """docs/spec.md `mac_array`: ROWS x COLS PEs with ACCW-bit wrapping accumulators, double-buffered.

    Parameters
    ----------
    rows, cols : int >= 1
        Array shape. Input beats carry `rows` A lanes and `cols` B lanes.
    maxb : int
        8 or 16: the fusion unit's widest operand (fixed PEs: the multiplier width).
    accw : int
        Accumulator width, 2*maxb+2 .. 64; results wrap modulo 2^accw.
    pe : str
        "fusion" (FusionUnit, lanes maxb*maxb/2 bits, every code <= maxb) or "fixed" (FixedMul,
        lanes maxb bits, only the maxb x maxb mode: `mac_array_fixed8` at maxb = 8).
    cntw : int
        Counter width; counters saturate at 2^cntw - 1. Must hold one beat's MAC increment,
        at most 64.
    layout, summation : str
        The fusion PEs' bus layout and summation (hdl_gen.fusion.FusionUnit); fixed PEs ignore them.

    Ports
    -----
    in_valid/in_ready, in_a (lane r at [r*L +: L]), in_b (lane c), in_pa, in_pb, in_sa, in_sb,
    in_first, in_last: the input stream. out_valid/out_ready, out_data (column c at
    [c*accw +: accw]), out_row, out_last: results, one row per beat, rows in order, `out_last`
    on the tile's last row. `error`: sticky, set by an accepted beat with an invalid precision
    code or by `first` while a tile is open; cleared by reset or `clear`. Counters, zeroed by
    reset or `clear` (events of the clearing cycle count in the new window): `busy_cycles`
    (beats accepted), `stall_cycles` (in_valid while not in_ready), and per valid precision pair
    `macs_<bits_a>x<bits_b>` (+ rows*cols*P per accepted beat of that pair).
    """

    def __init__(self, rows=4, cols=4, maxb=8, accw=ACCW_DEFAULT, pe="fusion", cntw=CNTW_DEFAULT,
                 layout=DEFAULT_LAYOUT,
                 summation=DEFAULT_SUMMATION):
        for name, value in (("rows", rows), ("cols", cols)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        check_maxb(maxb)
        check_pe(pe)
        check_accw(accw, maxb)
        check_layout(layout)
        if summation not in SUMMATIONS:
            raise ValueError(f"summation must be one of {SUMMATIONS}, got {summation!r}")
        self.layout, self.summation = layout, summation
        max_inc = rows * cols * max(pe_products(pa, pb, maxb, pe) for pa, pb in valid_modes(maxb, pe))
        if not isinstance(cntw, int) or isinstance(cntw, bool) or not max_inc.bit_length() <= cntw <= 64:
            raise ValueError(f"cntw must be an integer in [{max_inc.bit_length()}, 64] for this array "
                             f"(one beat adds up to {max_inc} MACs), got {cntw!r}")
        self.rows, self.cols, self.maxb, self.accw, self.pe, self.cntw = rows, cols, maxb, accw, pe, cntw
        self.lane = lane_bits(maxb, pe)
        self.counters = counter_ports(maxb, pe)
        row_bits = max(1, (rows - 1).bit_length())
        ports = {
            "in_valid": In(1), "in_ready": Out(1),
            "in_a": In(rows * self.lane), "in_b": In(cols * self.lane),
            "in_pa": In(2), "in_pb": In(2), "in_sa": In(1), "in_sb": In(1),
            "in_first": In(1), "in_last": In(1),
            "out_valid": Out(1), "out_ready": In(1),
            "out_data": Out(cols * accw), "out_row": Out(row_bits), "out_last": Out(1),
            "clear": In(1), "error": Out(1),
            "busy_cycles": Out(cntw), "stall_cycles": Out(cntw),
        }
        ports.update({name: Out(cntw) for name in self.counters.values()})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        rows, cols, lane, accw = self.rows, self.cols, self.lane, self.accw

        # Handshake. `hold` comes from registers only: no combinational path from out_ready or
        # in_valid to in_ready.
        hold = Signal()
        accept = Signal()
        m.d.comb += [self.in_ready.eq(~hold), accept.eq(self.in_valid & ~hold)]

        mode = Cat(self.in_pb, self.in_pa)
        mode_ok = mode.matches(*[pb | pa << 2 for pa, pb in valid_modes(self.maxb, self.pe)])
        # A tile is open between an accepted beat without `last` and the next `last`; a beat that
        # arrives with no open tile starts one, so `first` only matters inside a tile.
        tile_open = Signal()
        with m.If(accept):
            m.d.sync += tile_open.eq(~self.in_last)
        fresh = self.in_first | ~tile_open

        # s1: the beat, with its mode. Datapath registers have no reset: the valid bits gate them.
        # One Signal per statement: Amaranth names a Signal after the variable it is assigned to,
        # which it cannot see in a tuple assignment (the Verilog would call it `$signal`), and
        # formal/ states its pipeline invariants over s1_valid and s2_valid.
        s1_valid = Signal()
        s1_fresh = Signal(reset_less=True)
        s1_last = Signal(reset_less=True)
        s1_a = [Signal(lane, name=f"s1_a{r}", reset_less=True) for r in range(rows)]
        s1_b = [Signal(lane, name=f"s1_b{c}", reset_less=True) for c in range(cols)]
        s1_pa = Signal(2, reset_less=True)
        s1_pb = Signal(2, reset_less=True)
        s1_sa = Signal(reset_less=True)
        s1_sb = Signal(reset_less=True)
        with m.If(~hold):
            m.d.sync += s1_valid.eq(self.in_valid)
            with m.If(self.in_valid):
                m.d.sync += [s1_fresh.eq(fresh), s1_last.eq(self.in_last),
                             s1_pa.eq(self.in_pa), s1_pb.eq(self.in_pb),
                             s1_sa.eq(self.in_sa), s1_sb.eq(self.in_sb)]
                # A fixed multiplier has no modes: an invalid beat enters as A = 0 (fusion units
                # give p = 0 for invalid codes themselves).
                a_in = self.in_a if self.pe == "fusion" else Mux(mode_ok, self.in_a, 0)
                m.d.sync += [s1_a[r].eq(a_in[r * lane:(r + 1) * lane]) for r in range(rows)]
                m.d.sync += [s1_b[c].eq(self.in_b[c * lane:(c + 1) * lane]) for c in range(cols)]

        # s2: one product per PE.
        s2_valid = Signal()
        s2_fresh = Signal(reset_less=True)
        s2_last = Signal(reset_less=True)
        with m.If(~hold):
            m.d.sync += s2_valid.eq(s1_valid)
            with m.If(s1_valid):
                m.d.sync += [s2_fresh.eq(s1_fresh), s2_last.eq(s1_last)]
        commit = s2_valid & ~hold

        full = Signal()  # the shadow bank holds a finished tile that has not fully drained
        m.d.comb += hold.eq(s2_valid & s2_last & full)

        shadow = [[None] * cols for _ in range(rows)]
        for r in range(rows):
            for c in range(cols):
                unit = m.submodules[f"pe_{r}_{c}"] = self._multiplier()
                m.d.comb += [unit.a.eq(s1_a[r]), unit.b.eq(s1_b[c]), unit.sa.eq(s1_sa), unit.sb.eq(s1_sb)]
                if self.pe == "fusion":
                    m.d.comb += [unit.pa.eq(s1_pa), unit.pb.eq(s1_pb)]
                p = Signal(signed(len(unit.p)), name=f"p_{r}_{c}", reset_less=True)
                with m.If(~hold & s1_valid):
                    m.d.sync += p.eq(unit.p)
                # Accumulator and shadow bank: two's complement wraps by truncation.
                acc = Signal(accw, name=f"acc_{r}_{c}", reset_less=True)
                shadow[r][c] = Signal(accw, name=f"shadow_{r}_{c}", reset_less=True)
                total = Signal(accw, name=f"sum_{r}_{c}")
                m.d.comb += total.eq(Mux(s2_fresh, 0, acc) + p)
                with m.If(commit):
                    with m.If(s2_last):
                        m.d.sync += shadow[r][c].eq(total)
                    with m.Else():
                        m.d.sync += acc.eq(total)

        # Drain: one row of the shadow bank per output beat, row 0 first.
        row = Signal(len(self.out_row))
        m.d.comb += [self.out_valid.eq(full), self.out_row.eq(row), self.out_last.eq(row == rows - 1)]
        with m.Switch(row):
            for r in range(rows):
                with m.Case(r):
                    m.d.comb += self.out_data.eq(Cat(*shadow[r]))
        with m.If(commit & s2_last):
            m.d.sync += full.eq(1)
        with m.If(full & self.out_ready):
            with m.If(self.out_last):
                m.d.sync += [full.eq(0), row.eq(0)]
            with m.Else():
                m.d.sync += row.eq(row + 1)

        # Status, counted at the input handshake.
        m.d.sync += self.error.eq((self.error & ~self.clear)
                                  | (accept & (~mode_ok | (self.in_first & tile_open))))
        self._counter(m, self.busy_cycles, accept, 1)
        self._counter(m, self.stall_cycles, self.in_valid & hold, 1)
        for (pa, pb), name in self.counters.items():
            self._counter(m, getattr(self, name), accept & (mode == (pb | pa << 2)),
                          rows * cols * pe_products(pa, pb, self.maxb, self.pe))
        return m

    def _multiplier(self):
        if self.pe == "fusion":
            return FusionUnit(self.maxb, self.layout, self.summation)
        return FixedMul(self.maxb)

    def _counter(self, m, count, event, inc):
        """count <- (clear ? 0 : count) + (event ? inc : 0), saturating at 2^cntw - 1."""
        total = Signal(self.cntw + 1, name=f"{count.name}_next")
        m.d.comb += total.eq(Mux(self.clear, 0, count) + Mux(event, inc, 0))
        m.d.sync += count.eq(Mux(total[-1], (1 << self.cntw) - 1, total[:-1]))
