"""golden.mac_array: tile semantics built from golden.fusion_dot (docs/spec.md "MAC array")."""

import numpy as np
import pytest

from golden.fusion import LAYOUTS, fusion_dot, products
from golden.mac_array import mac_array, valid_modes, wrap

RNG = np.random.default_rng(4)


def lanes(n, count, width=32):
    return RNG.integers(0, 1 << width, (n, count), dtype=np.uint64)


@pytest.mark.parametrize("pa,pb", valid_modes(8))
@pytest.mark.parametrize("sa,sb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("layout", [None, *LAYOUTS])
def test_one_tile_is_the_sum_of_fusion_dots(pa, pb, sa, sb, layout):
    a, b = lanes(5, 2), lanes(5, 3)
    kw = {} if layout is None else {"layout": layout}
    got = mac_array(a, b, pa, pb, sa, sb, **kw)
    want = [[sum(fusion_dot(int(a[k, r]), int(b[k, c]), pa, pb, sa, sb, **kw) for k in range(5))
             for c in range(3)] for r in range(2)]
    assert got.tiles.tolist() == [want] and not got.error
    assert got.macs[(2 << pa, 2 << pb)] == 5 * 2 * 3 * products(pa, pb, 8)


def test_tiles_split_on_last_and_first_and_wrap():
    a, b = lanes(6, 1), lanes(6, 1)
    last = np.array([0, 1, 0, 0, 1, 1], bool)
    got = mac_array(a, b, 2, 2, 1, 1, last=last, accw=18)
    dots = [fusion_dot(int(a[k, 0]), int(b[k, 0]), 2, 2, 1, 1) for k in range(6)]
    want = [sum(dots[0:2]), sum(dots[2:5]), dots[5]]
    assert got.tiles[:, 0, 0].tolist() == wrap(np.array(want), 18).tolist() and not got.error


def test_first_inside_a_tile_abandons_it_and_raises_error():
    a, b = lanes(4, 1), lanes(4, 1)
    got = mac_array(a, b, 0, 0, 0, 0, first=[1, 0, 1, 0], last=[0, 0, 0, 1])
    assert got.error
    assert got.tiles[:, 0, 0].tolist() == [sum(fusion_dot(int(a[k, 0]), int(b[k, 0]), 0, 0, 0, 0)
                                               for k in (2, 3))]


@pytest.mark.parametrize("pe,pa,pb", [("fusion", 3, 0), ("fusion", 1, 3), ("fixed", 1, 2)])
def test_invalid_code_contributes_nothing_and_raises_error(pe, pa, pb):
    width = 32 if pe == "fusion" else 8
    a, b = lanes(3, 2, width), lanes(3, 2, width)
    codes = np.array([2, pa, 2]), np.array([2, pb, 2])
    got = mac_array(a, b, *codes, 1, 0, pe=pe)
    keep = [0, 2]
    want = mac_array(a[keep], b[keep], 2, 2, 1, 0, pe=pe)
    assert got.error and not want.error
    assert np.array_equal(got.tiles, want.tiles)


def test_fixed_pe_accepts_only_8x8():
    assert valid_modes(8, "fixed") == [(2, 2)]
    assert len(valid_modes(8, "fusion")) == 9 and len(valid_modes(16, "fusion")) == 16


@pytest.mark.parametrize("kwargs,match", [
    (dict(accw=17), "accw must be an integer in"), (dict(accw=65), "accw must be an integer in"),
    (dict(pe="bitserial"), "pe must be one of"), (dict(maxb=4), "maxb must be one of"),
    (dict(pa=4), "pa must be integers in"), (dict(sa=2), "sa must be integers in"),
])
def test_bad_arguments_raise(kwargs, match):
    args = dict(a=lanes(2, 1), b=lanes(2, 1), pa=0, pb=0, sa=0, sb=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mac_array(**args)


def test_lane_out_of_range_raises():
    with pytest.raises(ValueError, match="lanes must be in"):
        mac_array(np.array([[1 << 8]]), np.array([[0]]), 2, 2, 0, 0, pe="fixed")
