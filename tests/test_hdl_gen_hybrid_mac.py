# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.hybrid_mac: validated, and reflected in the port widths."""

import pytest

from hdl_gen.hybrid_mac import FP16Accumulator, FP16Mac, HybridMac


@pytest.mark.parametrize("lanes", [1, 4, 7, 64])
def test_port_widths(lanes):
    h = HybridMac(lanes)
    assert len(h.x) == len(h.g) == 4 * lanes
    assert len(h.scale_exp) == 6 and h.scale_exp.shape().signed
    assert len(h.phase) == len(h.sx) == len(h.en) == len(h.clear) == 1
    f = FP16Mac(lanes)
    assert len(f.x) == len(f.g) == 16 * lanes
    assert len(h.acc) == len(f.acc) == 16


@pytest.mark.parametrize("unit", [HybridMac, FP16Mac])
@pytest.mark.parametrize("bad", [0, -1, 65, 4.0, "4", True, None])
def test_bad_lanes_raises(unit, bad):
    with pytest.raises(ValueError, match=r"lanes must be an integer in \[1, 64\]"):
        unit(bad)


@pytest.mark.parametrize("kwargs,match", [
    (dict(sum_width=20, lsb=-23), r"lsb must be an integer <= -24"),
    (dict(sum_width=20, lsb=-24.0), r"lsb must be an integer <= -24"),
    (dict(sum_width=0, lsb=-24), r"sum_width must be a positive integer"),
    (dict(sum_width="8", lsb=-24), r"sum_width must be a positive integer"),
])
def test_bad_accumulator_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FP16Accumulator(**kwargs)
