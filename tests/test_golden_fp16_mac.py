"""golden.fp16_mac: FP16 x FP16 dot products on the shared accumulator, from outside.

Checks use reasoning independent of the model's internals: exact rational sums (tests/
mac_reference.py, fractions.Fraction) against the definition of round-to-nearest-even, the IEEE
754 rules for signed zeros and specials, and the double-rounding trap float64 falls into.
"""

from fractions import Fraction

import numpy as np
import pytest

from golden import fp16_mac
from golden.fp16_accumulator import CANONICAL_NAN, TIMING
from tests.mac_reference import reference

F16 = np.float16
L = 4


def bits(a):
    return np.asarray(a, dtype=F16).view(np.uint16)


def f16(*values):
    return np.array(values, dtype=F16)


def test_is_exact_where_float64_is_not():
    """32 + 2^-6 + 2^-48: FP16's ulp at 32 is 2^-5, so the exact sum lies just above the tie
    32 + 2^-6 and rounds up to 32 + 2^-5. float64 drops 2^-48 first and ties to even: 32."""
    x = f16(32, 2.0 ** -6, 2.0 ** -24, 0).reshape(1, L)
    g = f16(1, 1, 2.0 ** -24, 0).reshape(1, L)
    assert F16(np.float64(32) + 2.0 ** -6 + 2.0 ** -48) == 32  # the double-rounding trap
    assert fp16_mac(x, g)[0] == 32 + 2.0 ** -5
    # The mirror below the tie (minus 2^-48) rounds down.
    g_neg = f16(1, 1, -(2.0 ** -24), 0).reshape(1, L)
    assert fp16_mac(x, g_neg)[0] == 32


def _neighbors(r):
    r = F16(r)
    return np.nextafter(r, F16(-np.inf)), np.nextafter(r, F16(np.inf))


def test_rounds_exact_sum_to_nearest_even():
    """One beat over wide-range operands: the result is the FP16 nearest to the exact rational sum
    (ties to an even significand), or +-Inf iff |sum| >= 65520 (IEEE overflow)."""
    rng = np.random.default_rng(4)
    n = 3000
    raw = (rng.integers(0, 2, (2, n, L)) << 15 | rng.integers(0, 31, (2, n, L)) << 10
           | rng.integers(0, 1024, (2, n, L))).astype(np.uint16)
    x, g = raw.view(F16)
    # A third of the rows are exact ties: a normal v plus or minus half its ulp.
    k = n // 3
    e = rng.integers(-10, 16, k)
    x[:k] = 0
    x[:k, 0] = np.ldexp(rng.integers(1024, 2048, k), e - 10)
    x[:k, 1] = np.ldexp(rng.choice([-1.0, 1.0], k), e - 11)
    g[:k] = rng.choice([-1.0, 1.0], (k, L))
    got = fp16_mac(x[:, None], g[:, None])[:, 0]
    ties = 0
    for i in range(n):
        s = sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x[i], g[i]))
        r = got[i]
        if abs(s) >= 65520:
            assert np.isinf(r) and (r > 0) == (s > 0), (i, s)
            continue
        assert np.isfinite(r)
        err = abs(Fraction(float(r)) - s)
        for nb in _neighbors(r):
            if np.isfinite(nb):
                other = abs(Fraction(float(nb)) - s)
                assert err <= other, (i, s, r)
                if err == other:
                    ties += 1
                    assert bits(r) & 1 == 0, (i, s, r)
        if s != 0:
            assert np.signbit(r) == (s < 0), (i, s, r)
    assert ties > 0  # the draw exercised exact ties


@pytest.mark.parametrize("chains", [1, 2, 3])
def test_matches_the_reference(chains):
    """Operands of either sign in [2^-3, 2^3] or zero, random dot products, and a first dot
    product of 700 beats in [4, 8), positive: it overflows."""
    rng = np.random.default_rng(2 + chains)
    n = 1000
    mag = np.ldexp(rng.integers(1024, 2048, (2, n, L)), rng.integers(-13, -7, (2, n, L)))
    mag[:, :700] = np.ldexp(mag[:, :700], -np.frexp(mag[:, :700])[1] + 3)
    sign = np.where(np.arange(n)[:, None] < 700, 1.0, rng.choice([-1.0, 1.0], (2, n, L)))
    vals = np.where(rng.random((2, n, L)) < 0.1, 0.0, mag) * sign
    x, g = vals.astype(F16)
    last = (rng.random(n) < 0.05) & (np.arange(n) >= 700)
    got = bits(fp16_mac(x, g, last=last, chains=chains))
    assert np.array_equal(got, reference(x, g, last, chains))
    assert np.isinf(got.view(F16)).any()


def test_overflow_threshold():
    """65504 is FP16's largest finite; 65504 + 16 is the tie to 65536 (even): Inf; + 8 stays;
    a new dot product after Inf starts from -0."""
    one = f16(1, 0, 0, 0)
    x = f16([65504, 0, 0, 0], [16, 0, 0, 0], [8, 0, 0, 0], [-32752, 0, 0, 0])
    g = np.stack([one, one, one, f16(2, 0, 0, 0)])
    for chains in (1, 2):
        got = fp16_mac(x, g, last=[False, True, False, True], chains=chains)
        assert list(got[:2]) == [65504, np.inf] and got[2] == 8 and got[3] == -65504  # -65496 rounds
        assert list(fp16_mac(x[[0, 2]], g[[0, 2]], chains=chains)) == [65504, 65504]


@pytest.mark.parametrize("xs,gs,want", [
    # beats (x lanes, g lanes) of one dot product, one accumulator; expected FP16 bits
    ([[0, -0.0, 1, -2]], [[-1, 2, -0.0, 0]], 0x8000),            # every product -0: -0
    ([[0, 0, 0, 0]], [[1, 1, -0.0, 1]], 0x0000),                 # a +0 product: +0
    ([[0, -0.0, 1, -2], [-0.0, -0.0, 0, 0]], [[-1, 2, -0.0, 0], [1, 3, -1, -2]], 0x8000),  # -0 + -0
    ([[0, -0.0, 1, -2], [-0.0] * 4], [[-1, 2, -0.0, 0], [-1] * 4], 0x0000),  # -0 + +0: +0
    ([[3, -3, 0, 0]], [[5, 5, -1, -1]], 0x0000),                 # exact cancellation: +0
    ([[-(2.0 ** -24), 0, 0, 0]], [[2.0 ** -24, 0, 0, 0]], 0x8000),  # -2^-48 rounds to -0
    ([[0] * 4, [-(2.0 ** -24), 0, 0, 0]], [[0] * 4, [2.0 ** -24, 0, 0, 0]], 0x8000),  # +0 - 2^-48: -0
    ([[2.0 ** -24, 0, 0, 0], [-(2.0 ** -24), 0, 0, 0]], [[1, 0, 0, 0], [1, 0, 0, 0]], 0x0000),  # x - x: +0
])
def test_signed_zeros(xs, gs, want):
    assert bits(fp16_mac(f16(*xs), f16(*gs), chains=1))[-1] == want


NANS = [0x7C01, 0x7E00, 0x7FFF, 0xFC01, 0xFE00, 0xFFFF]


@pytest.mark.parametrize("nan", NANS)
def test_nan_operand_gives_canonical_nan_until_the_next_dot_product(nan):
    n = np.uint16(nan).view(F16)
    x = np.array([[n, 1, 1, 1], [1, 1, 1, 1], [2, 0, 0, 0], [1, 1, 1, 1]], F16)
    g = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [3, 0, 0, 0], [1, 1, 1, 1]], F16)
    for chains in (1, 2, 3):
        got = fp16_mac(x, g, last=[False, True, False, False], chains=chains)
        assert list(bits(got)) == [CANONICAL_NAN, CANONICAL_NAN, bits(F16(6)), bits(F16(10))]
        assert bits(fp16_mac(g[:1], x[:1], chains=chains))[0] == CANONICAL_NAN  # on g


@pytest.mark.parametrize("xs,gs,want", [
    # one beat, or two (an Inf in one chain, a finite or Inf one after it), one accumulator
    ([[np.inf, 0, 0, 0]], [[0, 0, 0, 0]], "nan"),           # Inf x 0
    ([[0, 0, 0, -np.inf]], [[0, 0, 0, -0.0]], "nan"),
    ([[np.inf, -np.inf, 0, 0]], [[1, 1, 0, 0]], "nan"),     # Inf - Inf among products
    ([[np.inf, 1, 0, 0]], [[-1, 65504, 0, 0]], -np.inf),    # Inf + finite
    ([[np.inf, 0, 0, 0], [np.inf, 0, 0, 0]], [[-1, 0, 0, 0], [2, 0, 0, 0]], "nan"),  # -Inf, then +Inf
    ([[np.inf, 0, 0, 0], [np.inf, 0, 0, 0]], [[1, 0, 0, 0], [2, 0, 0, 0]], np.inf),
    ([[np.inf, 0, 0, 0], [65504, 65504, 0, 0]], [[1, 0, 0, 0], [-65504, -65504, 0, 0]], np.inf),  # overflow into Inf
    ([[-np.inf, 0, 0, 0], [1, 0, 0, 0]], [[1, 0, 0, 0], [1, 0, 0, 0]], -np.inf),
])
def test_specials(xs, gs, want):
    got = fp16_mac(f16(*xs), f16(*gs), chains=1)[-1]
    assert bits(got) == CANONICAL_NAN if want == "nan" else got == want


def test_default_chains_are_the_rtl_configuration():
    x = f16([2048], [1], [1], [1])
    assert fp16_mac(x, np.ones_like(x))[-1] == fp16_mac(x, np.ones_like(x), chains=TIMING["fp16_mac"][1])[-1] == 2050


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="same shape"):
        fp16_mac(np.zeros((2, L), F16), np.zeros((2, L + 1), F16))
    with pytest.raises(ValueError, match="same shape"):
        fp16_mac(np.zeros(L, F16), np.zeros(L, F16))
    with pytest.raises(ValueError, match=r"chains must be an integer in \[1, 3\]"):
        fp16_mac(np.zeros((1, L), F16), np.zeros((1, L), F16), chains=4)
