# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.mac_array: validated, and reflected in the ports."""

import pytest

from golden.mac_array import ACCW_DEFAULT, CNTW_DEFAULT
from hdl_gen.mac_array import MacArray, counter_ports


@pytest.mark.parametrize("rows,cols,pe,lane", [(4, 4, "fusion", 32), (2, 3, "fixed", 8)])
def test_ports(rows, cols, pe, lane):
    unit = MacArray(rows, cols, 8, 32, pe)
    assert len(unit.in_a) == rows * lane and len(unit.in_b) == cols * lane
    assert len(unit.out_data) == cols * 32
    for name in ["busy_cycles", "stall_cycles", *counter_ports(8, pe).values()]:
        assert len(getattr(unit, name)) == 48


def test_counter_names():
    assert counter_ports(8, "fixed") == {(2, 2): "macs_8x8"}
    assert sorted(counter_ports(8)) == [(a, b) for a in range(3) for b in range(3)]


@pytest.mark.parametrize("kwargs,match", [
    (dict(rows=0), "rows must be an integer >= 1"), (dict(cols="4"), "cols must be an integer >= 1"),
    (dict(maxb=4), r"maxb must be one of \(8, 16\)"), (dict(accw=16), "accw must be an integer in"),
    (dict(pe="systolic"), "pe must be one of"), (dict(cntw=3), "cntw must be an integer in"),
    (dict(cntw=65), "cntw must be an integer in"),
    (dict(layout="diagonal"), "layout must be one of"), (dict(summation="wallace"), "summation must be one of"),
])
def test_bad_parameters_raise(kwargs, match):
    args = dict(rows=4, cols=4, maxb=8, accw=ACCW_DEFAULT, pe="fusion", cntw=CNTW_DEFAULT)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MacArray(**args)
