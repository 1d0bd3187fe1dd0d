"""`bist_report`: the end-of-run line of the self-checking top on a serial port (golden:
golden/bist_report.py).

When `done` rises, the unit latches `passed` and `cycles` and sends
"bist_top RxC PASS cycles=xxxxxxxx\\r\\n" (or FAIL) as 8N1 frames on `tx`, each bit `divisor`
clock cycles; `tx` idles high. The line goes out once per run: a new run (the top's restart
holds `done` low) arms it again. The first start bit is on `tx` the cycle after the rising edge
that sees `done` high.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.bist_report import line
from golden.grid import check_int

__all__ = ["BistReport"]


def _frame(byte):
    """The 10-bit 8N1 frame of `byte`, sent from bit 0: start 0, data LSB first, stop 1."""
    return 0x200 | byte << 1


class BistReport(wiring.Component):
    """Parameters: rows, cols (the array size the line names), divisor (clock cycles per bit,
    clock / baud). Ports: done, passed, cycles (from `BistTop`), tx (the serial line)."""

    done: In(1)
    passed: In(1)
    cycles: In(32)
    tx: Out(1, init=1)

    def __init__(self, rows, cols, divisor):
        self.rows = check_int("rows", rows, 1, 1 << 16)
        self.cols = check_int("cols", cols, 1, 1 << 16)
        self.divisor = check_int("divisor", divisor, 1, 1 << 24)
        self.template = line(self.rows, self.cols, True, 0)  # the fixed text; verdict and count vary
        super().__init__()

    def _chars(self, passed, cycles):
        """The line's bytes as expressions: fixed text from the golden line, the verdict and the
        hex digits from the latched values."""
        template = self.template
        verdict = template.index(b"PASS")
        digits = template.index(b"cycles=") + len(b"cycles=")
        chars = []
        for i, c in enumerate(template):
            if verdict <= i < verdict + 4:
                chars.append(Mux(passed, c, b"FAIL"[i - verdict]))
            elif digits <= i < digits + 8:
                nibble = cycles.word_select(7 - (i - digits), 4)
                chars.append(Mux(nibble < 10, ord("0") + nibble, ord("a") - 10 + nibble)[:8])
            else:
                chars.append(Const(c, 8))
        return chars

    def elaborate(self, platform):
        m = Module()
        passed, cycles = Signal(), Signal(32)
        was_done, sending = Signal(), Signal()
        chars = Array(self._chars(passed, cycles))
        index = Signal(range(len(chars) + 1))
        bit = Signal(range(10))
        tick = Signal(range(self.divisor))
        frame = Signal(10, init=0x3FF)  # stop, data LSB first, start: shifted out from bit 0

        m.d.sync += was_done.eq(self.done)
        m.d.comb += self.tx.eq(frame[0])
        with m.If(~sending):
            with m.If(self.done & ~was_done):
                # The first byte is fixed text ("b" of "bist_top"): its frame needs no latched value.
                # bit and tick are 0 whenever nothing is being sent (reset, and the end of a line).
                m.d.sync += [passed.eq(self.passed), cycles.eq(self.cycles), sending.eq(1), index.eq(1),
                             frame.eq(_frame(self.template[0]))]
        with m.Else():
            with m.If(tick == self.divisor - 1):
                m.d.sync += tick.eq(0)
                with m.If(bit == 9):
                    m.d.sync += bit.eq(0)
                    with m.If(index == len(chars)):
                        m.d.sync += [sending.eq(0), frame.eq(0x3FF)]
                    with m.Else():
                        m.d.sync += [frame.eq(_frame(chars[index])), index.eq(index + 1)]
                with m.Else():
                    m.d.sync += [bit.eq(bit + 1), frame.eq(frame >> 1 | 0x200)]
            with m.Else():
                m.d.sync += tick.eq(tick + 1)
        return m
