"""Small combinational helpers shared by the generators."""

from amaranth.hdl import Signal, Value


def named(m, value, name, shape=None):
    """`value` in a named Signal: Amaranth expands an expression at every use, a Signal is shared
    (one copy of its logic), and the name makes the netlist and waveforms readable."""
    value = Value.cast(value)
    sig = Signal(shape if shape is not None else value.shape(), name=name)
    m.d.comb += sig.eq(value)
    return sig
