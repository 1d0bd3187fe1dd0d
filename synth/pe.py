"""Processing-element wrappers for synthesis: a multiplier plus its accumulator.

Bit Fusion (Sharma et al., ISCA 2018, Table 1) compares a fusion unit *with its accumulator*
against a fixed 8-bit MAC. `AccumulatorPE` builds that PE around any multiplier generator whose
output is `p`, so the fusion unit and the fixed 8x8 multiplier get the very same accumulator:
acc <- (first ? 0 : acc) + p, ACCW bits, wrapping, as in `mac_array`.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.mac_array import ACCW_DEFAULT

__all__ = ["AccumulatorPE"]


class AccumulatorPE(wiring.Component):
    """`multiplier`'s inputs pass straight through; `first` restarts the sum; `acc` is registered."""

    def __init__(self, multiplier, accw=ACCW_DEFAULT):
        if not isinstance(accw, int) or accw < len(multiplier.p):
            raise ValueError(f"accw must be an int >= {len(multiplier.p)} (the product width), got {accw!r}")
        self.multiplier, self.accw = multiplier, accw
        ports = {name: In(member.shape) for name, member in multiplier.signature.members.items()
                 if member.flow == wiring.In}
        super().__init__({**ports, "first": In(1), "acc": Out(signed(accw))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = mul = self.multiplier
        for name, member in mul.signature.members.items():
            if member.flow == wiring.In:
                m.d.comb += getattr(mul, name).eq(getattr(self, name))
        acc = Signal(signed(self.accw))
        m.d.sync += acc.eq(Mux(self.first, 0, acc) + mul.p)
        m.d.comb += self.acc.eq(acc)
        return m
