# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.fusion: validated, and reflected in the port widths; the
Baugh-Wooley identity its bricks rely on."""

import itertools
import random

import pytest

from golden.fusion import brick_weights, fusion_dot, is_valid_mode
from hdl_gen.fusion import FixedMul, FusionUnit, brick_correction, correction


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


@pytest.mark.parametrize("maxb", [8, 16])
def test_brick_corrections_sum_to_fusion_dot(maxb):
    """The Baugh-Wooley split the unit is built on (hdl_gen.fusion docstring), on random buses:
    the bricks' unsigned outputs (BitBrick's formula) at their weights, plus `correction` of the
    mode, is golden.fusion_dot; the unsigned sum fits a level's 2*MAXB bits."""
    rng = random.Random(12)
    width = maxb * maxb // 2
    for pa, pb in itertools.product(range(4), repeat=2):
        if not is_valid_mode(pa, pb, maxb):
            continue
        weights = brick_weights(pa, pb, maxb)
        for sa, sb in itertools.product((0, 1), repeat=2):
            for a, b in [((1 << width) - 1,) * 2] + [(rng.getrandbits(width), rng.getrandbits(width)) for _ in range(50)]:
                total = 0
                for s, (off_a, off_b, top_a, top_b) in enumerate(weights):
                    (a0, a1), (b0, b1) = ((v >> 2 * s & 1, v >> 2 * s + 1 & 1) for v in (a, b))
                    fa, fb = sa & top_a, sb & top_b
                    q = (a0 & b0) + 2 * ((a0 & b1) ^ fb) + 2 * ((a1 & b0) ^ fa) + 4 * ((a1 & b1) ^ fa ^ fb)
                    assert q + brick_correction(fa, fb) == (a0 + 2 * a1 * (1 - 2 * fa)) * (b0 + 2 * b1 * (1 - 2 * fb))
                    total += q << (off_a + off_b)
                assert 0 <= total < 1 << 2 * maxb
                assert total + correction(pa, pb, sa, sb, maxb) == \
                    fusion_dot(a, b, pa, pb, sa, sb, maxb, layout="hierarchical")
