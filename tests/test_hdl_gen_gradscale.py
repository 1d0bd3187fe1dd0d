# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.gradscale: validated, and reflected in the port widths."""

import pytest

from hdl_gen.gradscale import LANES_MAX, GradScaleUnit


@pytest.mark.parametrize("lanes", [1, 3, LANES_MAX])
def test_port_widths(lanes):
    unit = GradScaleUnit(lanes)
    assert len(unit.in_data) == 16 * lanes
    assert len(unit.out_scale_exp) == 6 and unit.out_scale_exp.shape().signed


@pytest.mark.parametrize("bad", [0, -1, LANES_MAX + 1, 2.0, True, "4"])
def test_bad_lanes_raises(bad):
    with pytest.raises(ValueError, match=r"lanes must be an integer in \[1, 64\]"):
        GradScaleUnit(bad)
