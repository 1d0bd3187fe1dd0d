# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.fusion: validated, and reflected in the port widths."""

import pytest

from hdl_gen.fusion import FixedMul, FusionUnit


@pytest.mark.parametrize("maxb", [8, 16])
def test_port_widths(maxb):
    unit = FusionUnit(maxb)
    assert len(unit.a) == len(unit.b) == maxb * maxb // 2
    assert len(unit.p) == 2 * maxb + 2 and unit.p.shape().signed


@pytest.mark.parametrize("bad", [2, 4, 12, 32, "8"])
def test_bad_maxb_raises(bad):
    with pytest.raises(ValueError, match=r"maxb must be one of \(8, 16\)"):
        FusionUnit(bad)


def test_bad_fixed_bits_raises():
    with pytest.raises(ValueError, match="bits must be one of"):
        FixedMul(6)


@pytest.mark.parametrize("kwargs,match", [(dict(layout="diagonal"), "layout must be one of"),
                                          (dict(summation="wallace"), "summation must be one of")])
def test_bad_variant_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FusionUnit(8, **kwargs)
