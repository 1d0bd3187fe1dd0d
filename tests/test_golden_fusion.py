"""golden.fusion_dot: the packing, signedness and mode rules of docs/spec.md's fusion_unit."""

import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden.fusion import LAYOUTS, brick_sources, bus_bits, fusion_dot, is_valid_mode, pack, precision_bits, products

MODES8 = [(pa, pb) for pa, pb in itertools.product(range(3), repeat=2)]


def test_products_per_mode():
    assert products(0, 0, 8) == 16 and products(2, 2, 8) == 1 and products(2, 0, 8) == 4
    assert products(3, 3, 16) == 1 and products(0, 0, 16) == 64
    assert products(3, 0, 8) == 0  # invalid at MAXB = 8


def test_8x8_is_the_plain_product():
    a, b = np.meshgrid(np.arange(256, dtype=np.uint64), np.arange(256, dtype=np.uint64))
    a, b = a.ravel(), b.ravel()
    sa_val = a.astype(np.int64) - (a.astype(np.int64) >= 128) * 256
    sb_val = b.astype(np.int64) - (b.astype(np.int64) >= 128) * 256
    ua, ub = a.astype(np.int64), b.astype(np.int64)
    for sa, sb in itertools.product((0, 1), repeat=2):
        expect = (sa_val if sa else ua) * (sb_val if sb else ub)
        assert np.array_equal(fusion_dot(a, b, 2, 2, sa, sb, layout="linear"), expect)
        hier = [np.array(pack(x[:, None].astype(object), 8, other_bits=8, side=side, layout="hierarchical"),
                         dtype=np.uint64) for x, side in ((a, "a"), (b, "b"))]
        assert np.array_equal(fusion_dot(*hier, 2, 2, sa, sb, layout="hierarchical"), expect)


@pytest.mark.parametrize("maxb", [8, 16])
def test_single_element_lands_in_its_slot(maxb):
    """Linear layout: element i of A times element i of B, all others zero, gives exactly that product."""
    for pa, pb in itertools.product(range(4), repeat=2):
        if not is_valid_mode(pa, pb, maxb):
            continue
        ba, bb = precision_bits(pa), precision_bits(pb)
        for i in range(products(pa, pb, maxb)):
            a = (1 << (ba - 1)) << (i * ba)  # the sign bit of A_i
            b = 1 << (i * bb)
            assert fusion_dot(a, b, pa, pb, 0, 0, maxb, layout="linear") == 1 << (ba - 1)
            assert fusion_dot(a, b, pa, pb, 1, 0, maxb, layout="linear") == -(1 << (ba - 1))


@pytest.mark.parametrize("maxb", [8, 16])
def test_hierarchical_layout_is_a_replication_of_the_linear_one(maxb):
    """Every brick reads 2 consecutive bits of one element (its digit) and every linear bus bit of
    the mode's elements reaches bricks (bits_b / 2 copies of each A digit, bits_a / 2 of each B)."""
    for pa, pb in itertools.product(range(4), repeat=2):
        if not is_valid_mode(pa, pb, maxb):
            continue
        ba, bb = precision_bits(pa), precision_bits(pb)
        src_a, src_b = brick_sources(pa, pb, maxb)
        for src, bits, copies in ((src_a, ba, bb // 2), (src_b, bb, ba // 2)):
            assert all(lo % 2 == 0 and hi == lo + 1 and lo // bits == hi // bits for lo, hi in src)
            flat = [bit for pair in src for bit in pair]
            assert sorted(set(flat)) == list(range(products(pa, pb, maxb) * bits))
            assert all(flat.count(bit) == copies for bit in set(flat))


@given(st.integers(0, 2), st.integers(0, 2), st.integers(0, 1), st.integers(0, 1),
       st.lists(st.integers(0, (1 << 32) - 1), min_size=1, max_size=20),
       st.lists(st.integers(0, (1 << 32) - 1), min_size=1, max_size=20))
def test_vectorized_matches_scalar(pa, pb, sa, sb, a_list, b_list):
    n = min(len(a_list), len(b_list))
    a, b = np.array(a_list[:n], dtype=np.uint64), np.array(b_list[:n], dtype=np.uint64)
    vec = fusion_dot(a, b, pa, pb, sa, sb)
    assert vec.tolist() == [fusion_dot(int(x), int(y), pa, pb, sa, sb) for x, y in zip(a, b)]
    obj = fusion_dot(a.astype(object), b.astype(object), pa, pb, sa, sb)
    assert obj.tolist() == vec.tolist()


@given(st.data())
def test_pack_is_the_bus_layout(data):
    """pack() inverts the layout: packing the elements and dotting gives the elementwise sum."""
    maxb = data.draw(st.sampled_from([8, 16]))
    pa = data.draw(st.integers(0, 3 if maxb == 16 else 2))
    pb = data.draw(st.integers(0, 3 if maxb == 16 else 2))
    ba, bb, n = precision_bits(pa), precision_bits(pb), products(pa, pb, maxb)
    ea = data.draw(st.lists(st.integers(-(1 << (ba - 1)), (1 << (ba - 1)) - 1), min_size=n, max_size=n))
    eb = data.draw(st.lists(st.integers(-(1 << (bb - 1)), (1 << (bb - 1)) - 1), min_size=n, max_size=n))
    for layout in LAYOUTS:
        a = pack(ea, ba, other_bits=bb, side="a", maxb=maxb, layout=layout)
        b = pack(eb, bb, other_bits=ba, side="b", maxb=maxb, layout=layout)
        assert fusion_dot(a, b, pa, pb, 1, 1, maxb, layout=layout) == sum(x * y for x, y in zip(ea, eb))
    # The linear layout is the plain concatenation.
    assert pack(ea, ba, other_bits=bb, maxb=maxb, layout="linear") == pack(ea, ba)


def test_invalid_code_gives_zero():
    full = (1 << 32) - 1
    assert fusion_dot(full, full, 3, 0, 1, 1, 8) == 0
    assert np.array_equal(fusion_dot(np.array([full, 5], dtype=np.uint64), 7, 0, 3, 0, 0), [0, 0])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="maxb"):
        fusion_dot(0, 0, 0, 0, 0, 0, maxb=4)
    with pytest.raises(ValueError, match="precision code"):
        fusion_dot(0, 0, 4, 0, 0, 0)
    with pytest.raises(ValueError, match="bus value"):
        fusion_dot(1 << bus_bits(8), 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="layout"):
        fusion_dot(0, 0, 0, 0, 0, 0, layout="diagonal")
    with pytest.raises(ValueError, match="other_bits"):
        pack([1], 8, layout="hierarchical")
    with pytest.raises(ValueError, match="side"):
        pack([1], 8, other_bits=8, side="c")
    with pytest.raises(ValueError, match="at most 1 elements"):
        pack([1, 2], 8, other_bits=8)
