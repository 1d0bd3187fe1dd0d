"""Random source for stochastic rounding: `lfsr16` (golden: golden/lfsr16.py).

A 16-bit Galois LFSR (polynomial x^16 + x^14 + x^13 + x^11 + 1) that advances `steps` single
steps per enabled cycle. Every single step is linear over GF(2), so `steps` of them are one
16x16 bit matrix; its columns are the golden step function applied to the unit vectors, so the
XOR network is derived from the golden model, not written twice. `rand_out` is the state
register. (Not `rand`: that is a SystemVerilog keyword, which Icarus -g2012 rejects unescaped.)
"""

from functools import reduce
from operator import xor

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.lfsr16 import check_steps, lfsr16_step, seed_state
from golden.grid import check_int

__all__ = ["Lfsr16"]


class Lfsr16(wiring.Component):
    """docs/spec.md `lfsr16`: maximal period 65,535, seedable, one 16-bit word per cycle.

    Parameters
    ----------
    steps : int
        Single LFSR steps per enabled cycle, 1..64 and coprime to 65535 (default 16: consecutive
        words share no shifted bits).
    init : int
        Seed loaded by reset, 0..65535 (0 means 1, as on `load`).

    Ports
    -----
    en: advance one word this cycle. load, seed: load `seed` (0 -> 1) this cycle; load wins over
    en. rand_out: the current word (a register), the spec's stochastic-rounding `u`.
    """

    def __init__(self, steps=16, init=1):
        self.steps = check_steps(steps)
        self.reset_state = seed_state(check_int("init", init, 0, 0xFFFF))
        super().__init__({"en": In(1), "load": In(1), "seed": In(16), "rand_out": Out(16)})

    def elaborate(self, platform):
        m = Module()
        state = Signal(16, init=self.reset_state)
        # Column i of the step matrix: where state bit i ends up after `steps` single steps.
        columns = [int(lfsr16_step(1 << i, self.steps)) for i in range(16)]
        nxt = [reduce(xor, [state[i] for i in range(16) if columns[i] >> j & 1]) for j in range(16)]
        m.d.comb += self.rand_out.eq(state)
        with m.If(self.load):
            m.d.sync += state.eq(Mux(self.seed == 0, 1, self.seed))
        with m.Elif(self.en):
            m.d.sync += [state[j].eq(nxt[j]) for j in range(16)]
        return m
