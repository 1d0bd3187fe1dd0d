"""golden.r4fp4: R4FP4 encode/decode, TPR and GradScale against docs/spec.md's definitions.

Sweeps are exhaustive over the 65,536 FP16 bit patterns where they are cheap; the grid a value
should round onto always comes from `r4fp4_decode` of every code, never from a re-derivation.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden import gradscale_exp, r4fp4_decode, r4fp4_encode, r4fp4_encode_flags, tpr
from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN
from tests.rounding import assert_unbiased_over_all_u

SCALES = range(SCALE_EXP_MIN, SCALE_EXP_MAX + 1)
SOME_SCALES = (SCALE_EXP_MIN, -7, 0, SCALE_EXP_MAX)
ALL = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
FINITE = ALL[np.isfinite(ALL)]
NOT_NAN = ALL[~np.isnan(ALL)]
CODES = np.arange(16, dtype=np.uint8)

fp16 = st.integers(0, 0xFFFF).map(lambda b: np.array(b, dtype=np.uint16).view(np.float16))
scales = st.integers(SCALE_EXP_MIN, SCALE_EXP_MAX)
phases = st.integers(0, 1)


def grid(phase, scale_exp):
    """The non-negative grid magnitudes of (phase, scale_exp), ascending, as float64."""
    return r4fp4_decode(np.arange(8), phase, scale_exp).astype(np.float64)


def brackets(x, phase, scale_exp):
    """lo <= |x| < hi: the grid points around |x| (hi = lo at or above the top point)."""
    g = grid(phase, scale_exp)
    y = np.abs(np.asarray(x, dtype=np.float64))
    i = np.searchsorted(g, y, side="right") - 1
    return g[i], g[np.minimum(i + 1, 7)]


# ------------------------------------------------------------------------------ decode and codes

@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("scale_exp", SCALES)
def test_decode_is_the_spec_formula(phase, scale_exp):
    """(-1)^s * 4^(e-4) * 2^phase * 2^scale_exp, exactly, for e >= 1; e = 0 is a signed zero."""
    got = r4fp4_decode(CODES, phase, scale_exp)
    assert got.dtype == np.float16
    s, e = CODES >> 3, CODES & 7
    want = np.where(e == 0, 0.0, (-1.0) ** s * 4.0 ** (e.astype(np.int64) - 4) * 2.0 ** (phase + scale_exp))
    assert np.array_equal(got.astype(np.float64), want)
    assert np.array_equal(np.signbit(got), s == 1)


@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("scale_exp", SCALES)
def test_encode_decode_roundtrip_every_code(phase, scale_exp):
    """encode(decode(c)) == c for every code but 8 (-0), which encodes to +0 (code 0)."""
    values = r4fp4_decode(CODES, phase, scale_exp)
    want = np.where(CODES == 8, 0, CODES)
    assert np.array_equal(r4fp4_encode(values, phase, scale_exp), want)
    # A grid point is exact: stochastic rounding never moves it, whatever u.
    u = np.random.default_rng(scale_exp + 18 + 100 * phase).integers(0, 1 << 16, size=(64, 1))
    assert np.array_equal(r4fp4_encode(values, phase, scale_exp, "stochastic", u),
                          np.broadcast_to(want, (64, 16)))


def test_non_float16_input_is_cast_first():
    x = np.array([1.3, 2.6, 1e-9, 7e4, -3.0])
    with np.errstate(over="ignore"):
        assert np.array_equal(r4fp4_encode(x), r4fp4_encode(x.astype(np.float16)))
    assert r4fp4_encode(2.6) == r4fp4_encode(np.float16(2.6))
    assert np.array_equal(r4fp4_encode([1, 2, 3]), r4fp4_encode(np.array([1, 2, 3], dtype=np.float16)))


# ------------------------------------------------------------------------------ nearest rounding

@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("scale_exp", SOME_SCALES)
def test_nearest_picks_the_closer_neighbour_ties_up(phase, scale_exp):
    """Every finite FP16: the code's magnitude is lo or hi around |x|, the closer one by the
    linear distance, the larger on a tie, and the top point at or above it; the sign is x's."""
    x = FINITE
    q = r4fp4_decode(r4fp4_encode(x, phase, scale_exp), phase, scale_exp).astype(np.float64)
    y = np.abs(x.astype(np.float64))
    lo, hi = brackets(x, phase, scale_exp)
    inside = lo < hi
    expect = np.where(~inside, lo, np.where(y - lo >= hi - y, hi, lo))
    assert np.array_equal(np.abs(q), expect)
    assert np.all((q == 0) | (np.sign(q) == np.sign(x.astype(np.float64))))


@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("scale_exp", SOME_SCALES)
@pytest.mark.parametrize("mode,u", [("nearest", None), ("stochastic", 0), ("stochastic", 21845),
                                    ("stochastic", 65535)])
def test_monotonic_over_every_fp16(phase, scale_exp, mode, u):
    """Sorted by value, the decoded encodings of all non-NaN FP16s never decrease (fixed u)."""
    x = np.sort(NOT_NAN)
    q = r4fp4_decode(r4fp4_encode(x, phase, scale_exp, mode, u), phase, scale_exp).astype(np.float64)
    assert np.all(np.diff(q) >= 0)


# ------------------------------------------------------------------------------ stochastic

def _sample_x(seed, n, phase, scale_exp):
    """n seeded FP16s spread over the grid's range (both signs), plus the named corners."""
    rng = np.random.default_rng(seed)
    g = grid(phase, scale_exp)
    mag = g[1] / 2 * 2.0 ** rng.uniform(0, np.log2(g[7] * 2 / g[1] * 2), n)
    x = (mag * rng.choice([-1, 1], n)).astype(np.float16)
    corners = np.array([g[1] / 3, g[1], g[1] * 1.5, g[2] * 2.5, g[7], g[7] * 1.5], dtype=np.float16)
    return np.concatenate([x, corners, -corners])


@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("scale_exp", SOME_SCALES)
def test_stochastic_is_unbiased_over_all_u(phase, scale_exp):
    """Averaged over all 65,536 values of u (the exact expectation for uniform u), the result
    differs from x by at most (hi - lo) / 2^16 below saturation (the probability is quantized
    to 2^-16 steps), and only lo or hi ever come out."""
    x = _sample_x(100 + phase + 3 * scale_exp, 400, phase, scale_exp)
    lo, hi = brackets(x, phase, scale_exp)
    assert_unbiased_over_all_u(
        lambda xs, u: r4fp4_decode(r4fp4_encode(xs, phase, scale_exp, "stochastic", u), phase, scale_exp),
        x, lo, hi)


@settings(max_examples=200, deadline=None)
@given(fp16, phases, scales, st.integers(0, 0xFFFF))
def test_stochastic_rule(x, phase, scale_exp, u):
    """hi iff (y - lo) * 2^16 > u * (hi - lo): u = 0 rounds any off-grid value up, and a larger
    u never rounds up where a smaller one does not."""
    if np.isnan(x):
        return
    lo, hi = brackets(x, phase, scale_exp)
    y = abs(float(x))

    def mag(uu):
        return abs(float(r4fp4_decode(r4fp4_encode(x, phase, scale_exp, "stochastic", uu), phase, scale_exp)))

    q0, qu, qmax = mag(0), mag(u), mag(0xFFFF)
    assert q0 == (hi if lo < hi and y > lo else lo)
    assert qu in (lo, hi) and (qu <= q0) and (qmax <= qu)


# ------------------------------------------------------------------------------ TPR

@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=50), scales,
       st.sampled_from(["nearest", "stochastic"]), st.integers(0, 0xFFFF))
def test_tpr_is_both_phases_of_the_same_input(bits, scale_exp, mode, u):
    x = np.array(bits, dtype=np.uint16).view(np.float16)
    rand = np.full(x.shape, u) if mode == "stochastic" else None
    even, odd = tpr(x, scale_exp, mode, rand)
    assert np.array_equal(even, r4fp4_encode(x, 0, scale_exp, mode, rand))
    assert np.array_equal(odd, r4fp4_encode(x, 1, scale_exp, mode, rand))


def _tpr_errors(scale_exp):
    """Nearest-rounding errors (q - |x|) of both phases for the positive FP16s whose octave
    [2^j, 2^(j+1)) (in units of 2^scale_exp) has neighbours in both grids: j = -5..5."""
    x = FINITE[(FINITE > 0)]
    z = x.astype(np.float64) / 2.0 ** scale_exp
    mant, exp = np.frexp(z)  # z = (2 mant) * 2^(exp - 1), 2 mant in [1, 2)
    j = exp - 1
    keep = (j >= -5) & (j <= 5)
    x, sig, j = x[keep], 2 * mant[keep], j[keep]
    even, odd = tpr(x, scale_exp)
    y = x.astype(np.float64)
    e_even = r4fp4_decode(even, 0, scale_exp).astype(np.float64) - y
    e_odd = r4fp4_decode(odd, 1, scale_exp).astype(np.float64) - y
    return sig, j, e_even, e_odd


@pytest.mark.parametrize("scale_exp", SCALES)
def test_tpr_errors_have_opposite_signs_on_three_quarters_of_each_octave(scale_exp):
    """The property TPR rests on (Sun et al., "Two-Phase Rounding"), for nearest rounding: with
    |x| / 2^scale_exp = sig * 2^j, 1 <= sig < 2, inside the grids' range, the even and odd errors
    have strictly opposite signs iff sig >= 1.25; for sig < 1.25 both round down (error <= 0)."""
    sig, _, e_even, e_odd = _tpr_errors(scale_exp)
    upper = sig >= 1.25
    assert upper.any() and (~upper).any()
    assert np.all(e_even[upper] * e_odd[upper] < 0)
    assert np.all((e_even[~upper] <= 0) & (e_odd[~upper] <= 0))


@pytest.mark.parametrize("scale_exp", [-9, -4, 0, 5, SCALE_EXP_MAX])
def test_tpr_mean_errors_have_opposite_signs_in_every_octave(scale_exp):
    """Over all normal FP16s of one octave [2^j, 2^(j+1)) (significands uniformly spaced), the
    mean error of the phase whose grid holds 2^j is negative and the other phase's is positive:
    opposite-sign biases, so the two backward GEMMs do not accumulate the same bias."""
    sig, j, e_even, e_odd = _tpr_errors(scale_exp)
    octaves = [jj for jj in np.unique(j) if np.count_nonzero(j == jj) == 1024]  # normal FP16 only
    assert len(octaves) >= 3
    for jj in octaves:
        sel = j == jj
        holder, other = (e_even, e_odd) if (jj + 8) % 2 == 0 else (e_odd, e_even)
        assert holder[sel].mean() < 0 < other[sel].mean(), f"octave 2^{jj}"


# ------------------------------------------------------------------------------ flags

@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("scale_exp", SOME_SCALES)
@pytest.mark.parametrize("mode", ["nearest", "stochastic"])
def test_flags_over_every_fp16(phase, scale_exp, mode):
    rand = np.random.default_rng(5).integers(0, 1 << 16, ALL.size) if mode == "stochastic" else None
    codes, invalid, overflow, underflow = r4fp4_encode_flags(ALL, phase, scale_exp, mode, rand)
    assert np.array_equal(codes, r4fp4_encode(ALL, phase, scale_exp, mode, rand))
    x = ALL.astype(np.float64)
    top = grid(phase, scale_exp)[7]
    assert np.array_equal(invalid, np.isnan(x))
    assert np.all(codes[invalid] == 0)
    assert np.array_equal(overflow, np.abs(x) > top)  # NaN compares False
    assert np.all(codes[overflow] & 7 == 7)
    assert np.all(codes[np.isinf(x)] == np.where(x[np.isinf(x)] > 0, 7, 15))
    assert np.array_equal(underflow, ~np.isnan(x) & (x != 0) & (codes & 7 == 0))
    assert not np.any(invalid & overflow) and not np.any(invalid & underflow)
    assert np.all(codes[(x == 0)] == 0)  # +0 and -0 both encode to +0
    assert overflow.any() and invalid.any()
    assert underflow.any() or scale_exp == SCALE_EXP_MIN  # there the grid starts at 2^-24 or 2^-23


# ------------------------------------------------------------------------------ GradScale

@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=40))
def test_gradscale_is_the_smallest_fitting_exponent(bits):
    g = np.array(bits, dtype=np.uint16).view(np.float16)
    s = gradscale_exp(g)
    assert SCALE_EXP_MIN <= s <= SCALE_EXP_MAX
    m = np.max(np.abs(g[~np.isnan(g)]).astype(np.float64), initial=0.0)
    if s > SCALE_EXP_MIN:
        assert m > 64 * 2.0 ** (s - 1)  # s - 1 would not fit
    if s < SCALE_EXP_MAX:
        assert m <= 64 * 2.0 ** s
        assert not r4fp4_encode_flags(g, 0, s).overflow.any()


def test_gradscale_corners():
    assert gradscale_exp(np.float16([0, -0.0])) == SCALE_EXP_MIN
    assert gradscale_exp(np.float16([])) == SCALE_EXP_MIN
    assert gradscale_exp(np.float16([64])) == 0 and gradscale_exp(np.float16([-64.06])) == 1
    assert gradscale_exp(np.float16([1, np.nan])) == -6
    assert gradscale_exp(np.float16([np.nan])) == SCALE_EXP_MIN
    assert gradscale_exp(np.float16([1, -np.inf])) == SCALE_EXP_MAX
    assert gradscale_exp(np.float16([2 ** -24])) == SCALE_EXP_MIN
    assert gradscale_exp(np.float16([65504])) == SCALE_EXP_MAX


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("bad", [-19, 9, 100, 1.5, True, "0", None])
def test_bad_scale_exp_raises(bad):
    for call in (lambda: r4fp4_encode(1.0, 0, bad), lambda: r4fp4_decode(4, 0, bad),
                 lambda: tpr(1.0, bad), lambda: r4fp4_encode_flags(1.0, 0, bad)):
        with pytest.raises(ValueError, match=r"scale_exp must be an integer in \[-18, 8\]"):
            call()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"phase must be an integer in \[0, 1\]"):
        r4fp4_encode(1.0, phase=2)
    with pytest.raises(ValueError, match=r"phase must be"):
        r4fp4_decode(1, phase=-1)
    for call in (lambda: r4fp4_encode(1.0, rounding="up"), lambda: tpr(1.0, rounding="RNE")):
        with pytest.raises(ValueError, match=r"rounding must be one of \('nearest', 'stochastic'\)"):
            call()
    with pytest.raises(ValueError, match="needs rand"):
        r4fp4_encode(1.0, rounding="stochastic")
    with pytest.raises(ValueError, match=r"rand must hold integers in \[0, 65535\]"):
        tpr(np.ones(3), rounding="stochastic", rand=[0, 65536, 1])
    with pytest.raises(ValueError, match=r"rand must hold"):
        r4fp4_encode(1.0, rounding="stochastic", rand=0.5)
    with pytest.raises(ValueError, match=r"codes must be integers in \[0, 15\]"):
        r4fp4_decode([3, 16])
    with pytest.raises(ValueError, match=r"x must hold real numbers"):
        r4fp4_encode(np.array(["1.0"]))
