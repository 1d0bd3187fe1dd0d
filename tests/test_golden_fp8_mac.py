"""golden.fp8_mac: HFP8's FP8 x FP8 dot products on the shared accumulator, from outside.

FP8 decodes exactly to FP16, so fp8_mac must agree with the independent reference (tests/
mac_reference.py) on the decoded finite codes, for every pair of formats; named cases for e5m2's
Inf/NaN codes, and the argument checks.
"""

import numpy as np
import pytest

from golden import fp8_decode, fp8_encode, fp8_mac
from golden.fp16_accumulator import CANONICAL_NAN
from tests.mac_reference import reference

F16 = np.float16
L = 4


def bits(a):
    return np.asarray(a, dtype=F16).view(np.uint16)


def _finite_codes(rng, shape, fmt):
    """Random codes of every finite class (e5m2: exponent 31 is Inf/NaN, left out here)."""
    codes = rng.integers(0, 256, shape)
    if fmt == "e5m2":
        codes = np.where((codes & 0x7C) == 0x7C, codes & 0x83, codes)
    return codes


@pytest.mark.parametrize("fmt_x,fmt_g", [("e4m3", "e5m2"), ("e5m2", "e4m3"), ("e4m3", "e4m3"), ("e5m2", "e5m2")])
@pytest.mark.parametrize("chains", [1, 2])
def test_matches_the_reference(fmt_x, fmt_g, chains):
    rng = np.random.default_rng(11)
    t = 600
    x, g = _finite_codes(rng, (t, L), fmt_x), _finite_codes(rng, (t, L), fmt_g)
    last = rng.random(t) < 0.03
    got = bits(fp8_mac(x, g, last=last, fmt_x=fmt_x, fmt_g=fmt_g, chains=chains))
    assert np.array_equal(got, reference(fp8_decode(x, fmt_x), fp8_decode(g, fmt_g), last, chains))
    assert np.isinf(got.view(F16)).any()  # overflow reached


@pytest.mark.parametrize("chains", [1, 2])
def test_shift_matches_the_reference(chains):
    """The product shift: random per-beat shifts over the whole range (every beat's products
    scaled by its own 2^-shift), against the reference's exact rational sums; large shifts take
    sums that overflow at shift 0 down to subnormals."""
    from golden.fp8_mac import SHIFT_MAX

    rng = np.random.default_rng(12)
    t = 800
    x, g = _finite_codes(rng, (t, L), "e4m3"), _finite_codes(rng, (t, L), "e5m2")
    last = rng.random(t) < 0.05
    shift = rng.integers(0, SHIFT_MAX + 1, t)
    got = bits(fp8_mac(x, g, last=last, chains=chains, shift=shift))
    assert np.array_equal(got, reference(fp8_decode(x, "e4m3"), fp8_decode(g, "e5m2"), last, chains, shift))
    unshifted = bits(fp8_mac(x, g, last=last, chains=chains))
    assert np.isinf(unshifted.view(F16)).any() and not np.array_equal(got, unshifted)
    subnormal = (got & 0x7FFF > 0) & (got & 0x7FFF < 0x400)
    assert subnormal.any()
    # A scalar shift is every beat's: 2^-s on the exact products.
    assert np.array_equal(bits(fp8_mac(x, g, last=last, chains=chains, shift=7)),
                          reference(fp8_decode(x, "e4m3"), fp8_decode(g, "e5m2"), last, chains, np.full(t, 7)))


def test_specials():
    """e5m2 Inf/NaN codes: Inf x 0 and Inf - Inf are invalid (canonical NaN), NaN propagates as
    0x7E00, Inf times a finite nonzero is that Inf; e4m3 has no specials (0x7F is 480)."""
    e4 = lambda *v: fp8_encode(np.array(v, F16), "e4m3")
    inf, ninf, nan = 0x7C, 0xFC, 0x7F
    cases = [([0, 0, 0, 0], [inf, 0, 0, 0], "nan"), ([1, 1, 0, 0], [inf, ninf, 0, 0], "nan"),
             ([1, 1, 1, 1], [nan, 1, 1, 1], "nan"), ([-1, 0, 0, 0], [inf, 0, 0, 0], -np.inf)]
    for xs, gs, want in cases:
        got = fp8_mac(e4(*xs)[None], np.array(gs)[None])[0]
        assert bits(got) == CANONICAL_NAN if want == "nan" else got == want
    assert fp8_mac(np.array([[0x7F]]), np.array([[0x3C]]))[0] == 480  # 480 * 1


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="FP8 codes"):
        fp8_mac(np.full((1, L), 256), np.zeros((1, L), int))
    with pytest.raises(ValueError, match="fmt must be one of"):
        fp8_mac(np.zeros((1, L), int), np.zeros((1, L), int), fmt_g="e3m4")
    with pytest.raises(ValueError, match="same shape"):
        fp8_mac(np.zeros((1, L), int), np.zeros((2, L), int))
    for bad in (-1, 32, 1.5, np.array([0, 1])):
        with pytest.raises(ValueError, match="shift must"):
            fp8_mac(np.zeros((3, L), int), np.zeros((3, L), int), shift=bad)
