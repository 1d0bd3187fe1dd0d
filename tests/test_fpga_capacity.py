"""fpga.capacity: the quadratic LUT fit and the largest size under a budget."""

import pytest

from fpga import capacity


def test_fit_recovers_a_quadratic_and_its_largest_size():
    sizes = [2, 4, 6]
    coef = capacity.fit(sizes, [1000 + 50 * n + 700 * n * n for n in sizes])
    assert coef == pytest.approx([1000, 50, 700])
    assert capacity.largest(coef, 1000 + 50 * 9 + 700 * 81 + 0.5) == 9
    assert capacity.largest(coef, 1000 + 50 * 9 + 700 * 81 - 0.5) == 8
    assert capacity.largest(coef, 500) == 0
    assert capacity.fit([2, 2, 4], [1, 2, 3]) is None


def test_largest_refuses_a_fit_that_does_not_grow():
    with pytest.raises(ValueError, match="c > 0"):
        capacity.largest([1000, 50, -1], 10_000)
