"""golden.fp8: e4m3 / e5m2 encode and decode against docs/spec.md's FP8 definitions.

Exhaustive over all 65,536 FP16 inputs and all 256 codes; the grid a value should round onto
always comes from `fp8_decode` of every code.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden import fp8_decode, fp8_encode, fp8_encode_flags
from tests.rounding import assert_unbiased_over_all_u

ALL = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
NOT_NAN = ALL[~np.isnan(ALL)]
CODES = np.arange(256, dtype=np.uint8)
BIASES = {"e4m3": range(0, 23), "e5m2": range(15, 24)}
CONFIGS = [("e4m3", None), ("e4m3", 0), ("e4m3", 11), ("e4m3", 22), ("e5m2", None), ("e5m2", 23)]
EVERY_BIAS = [(f, b) for f, r in BIASES.items() for b in r]


def finite_grid(fmt, bias):
    """(magnitudes ascending as float64, their codes) of the format's finite non-negative codes."""
    v = fp8_decode(CODES[:128], fmt, bias).astype(np.float64)
    keep = np.isfinite(v)
    return v[keep], CODES[:128][keep]


def spec_value(code, fmt, bias):
    """SPEC / IEEE formula of a finite code: (-1)^s (1 + m/2^M) 2^(e-bias), subnormal m/2^M 2^(1-bias)."""
    eb, mb = (4, 3) if fmt == "e4m3" else (5, 2)
    bias = (7 if fmt == "e4m3" else 15) if bias is None else bias
    c = code.astype(np.int64)
    s, e, m = c >> 7, (c >> mb) & ((1 << eb) - 1), c & ((1 << mb) - 1)
    mag = np.where(e == 0, m / 2.0 ** mb * 2.0 ** (1 - bias), (1 + m / 2.0 ** mb) * 2.0 ** (e - bias))
    return (-1.0) ** s * mag


# ------------------------------------------------------------------------------ decode and codes

@pytest.mark.parametrize("fmt,bias", EVERY_BIAS)
def test_decode_is_exact_and_roundtrips(fmt, bias):
    """decode(c) is the formula's value exactly (every allowed bias), and encode(decode(c)) == c
    for every non-NaN code, nearest and stochastic (a representable value never moves)."""
    y = fp8_decode(CODES, fmt, bias)
    assert y.dtype == np.float16
    specials = (fmt == "e5m2") & ((CODES & 0x7C) == 0x7C)
    assert np.array_equal(y[~specials].astype(np.float64), spec_value(CODES[~specials], fmt, bias))
    assert np.array_equal(np.signbit(y), CODES >= 128)
    keep = ~np.isnan(y)
    assert np.array_equal(fp8_encode(y[keep], fmt, bias), CODES[keep])
    u = np.random.default_rng(bias).integers(0, 1 << 16, size=(16, 1))
    assert np.array_equal(fp8_encode(y[keep], fmt, bias, "stochastic", u),
                          np.broadcast_to(CODES[keep], (16, keep.sum())))


def test_e4m3_has_no_specials_and_max_480():
    y = fp8_decode(CODES, "e4m3")
    assert np.all(np.isfinite(y))
    assert y.max() == 480 and y.min() == -480  # SPEC: max 480 at bias 7


def test_e5m2_is_the_fp16_upper_byte():
    """At bias 15 every code decodes to code << 8, and every FP16 whose low byte is zero encodes
    to its upper byte (NaNs: with the quiet bit set)."""
    assert np.array_equal(fp8_decode(CODES, "e5m2").view(np.uint16), CODES.astype(np.uint16) << 8)
    x = (CODES.astype(np.uint16) << 8).view(np.float16)
    nan = np.isnan(x)
    got = fp8_encode(x, "e5m2")
    assert np.array_equal(got[~nan], CODES[~nan])
    assert np.array_equal(got[nan], CODES[nan] | 0x02)
    assert np.all(np.isnan(fp8_decode(got[nan], "e5m2")))
    assert np.array_equal(np.isinf(fp8_decode(CODES, "e5m2")), (CODES & 0x7F) == 0x7C)


# ------------------------------------------------------------------------------ nearest rounding

@pytest.mark.parametrize("fmt,bias", CONFIGS)
def test_nearest_even_over_every_fp16(fmt, bias):
    """Every non-NaN FP16 at or below the largest finite magnitude goes to the nearest finite
    value (ties to the even code), above it saturates, Inf saturates (e4m3) or stays Inf (e5m2);
    the sign is kept (zeros included)."""
    v, c = finite_grid(fmt, bias)
    x = NOT_NAN
    y = np.abs(x.astype(np.float64))
    codes = fp8_encode(x, fmt, bias)
    assert np.array_equal(codes >> 7, np.signbit(x).astype(np.uint8))
    mag = codes & 0x7F
    i = np.searchsorted(v, y, side="right") - 1
    lo, hi = i, np.minimum(i + 1, len(v) - 1)
    d_lo, d_hi = y - v[lo], v[hi] - y
    pick = np.where(d_lo < d_hi, lo, np.where(d_hi < d_lo, hi, np.where(c[lo] % 2 == 0, lo, hi)))
    finite = np.isfinite(y)
    sat = finite & (y >= v[-1])
    assert np.array_equal(mag[finite & ~sat], c[pick[finite & ~sat]])
    assert np.all(mag[sat] == c[-1])
    inf_code = 0x7C if fmt == "e5m2" else c[-1]
    assert np.all(mag[~finite] == inf_code)


@pytest.mark.parametrize("fmt,bias", CONFIGS)
@pytest.mark.parametrize("mode,u", [("nearest", None), ("stochastic", 0), ("stochastic", 40000),
                                    ("stochastic", 65535)])
def test_monotonic_over_every_fp16(fmt, bias, mode, u):
    x = np.sort(NOT_NAN)
    q = fp8_decode(fp8_encode(x, fmt, bias, mode, u), fmt, bias).astype(np.float64)
    assert np.all(np.diff(q) >= 0)


# ------------------------------------------------------------------------------ stochastic

@pytest.mark.parametrize("fmt,bias", CONFIGS)
def test_stochastic_is_unbiased_over_all_u(fmt, bias):
    """Over all 65,536 u (the exact expectation for uniform u) the mean result differs from x by
    at most (hi - lo) / 2^16 below the largest magnitude; only lo and hi ever come out."""
    v, _ = finite_grid(fmt, bias)
    rng = np.random.default_rng(99)
    bits = rng.integers(0, 1 << 16, 600).astype(np.uint16)
    x = bits.view(np.float16)
    x = x[np.isfinite(x)]
    i = np.searchsorted(v, np.abs(x.astype(np.float64)), side="right") - 1
    lo, hi = v[i], v[np.minimum(i + 1, len(v) - 1)]
    assert_unbiased_over_all_u(lambda xs, u: fp8_decode(fp8_encode(xs, fmt, bias, "stochastic", u), fmt, bias),
                               x, lo, hi)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0xFFFF), st.sampled_from(CONFIGS), st.integers(0, 0xFFFF))
def test_stochastic_rule(bits, config, u):
    """u = 0 rounds every value strictly between two finite codes up; larger u never rounds up
    where a smaller one does not."""
    fmt, bias = config
    x = np.array(bits, dtype=np.uint16).view(np.float16)
    if not np.isfinite(x):
        return
    v, _ = finite_grid(fmt, bias)
    y = abs(float(x))

    def mag(uu):
        return abs(float(fp8_decode(fp8_encode(x, fmt, bias, "stochastic", uu), fmt, bias)))

    q0, qu, qmax = mag(0), mag(u), mag(0xFFFF)
    if y < v[-1]:
        assert q0 == v[np.searchsorted(v, y, side="left")]  # the smallest value >= y
    assert qmax <= qu <= q0


# ------------------------------------------------------------------------------ flags

@pytest.mark.parametrize("fmt,bias", CONFIGS)
@pytest.mark.parametrize("mode", ["nearest", "stochastic"])
def test_flags_over_every_fp16(fmt, bias, mode):
    rand = np.random.default_rng(3).integers(0, 1 << 16, ALL.size) if mode == "stochastic" else None
    codes, invalid, overflow, underflow = fp8_encode_flags(ALL, fmt, bias, mode, rand)
    assert np.array_equal(codes, fp8_encode(ALL, fmt, bias, mode, rand))
    v, c = finite_grid(fmt, bias)
    x = ALL.astype(np.float64)
    nan = np.isnan(x)
    if fmt == "e4m3":
        assert np.array_equal(invalid, nan) and np.all(codes[nan] == 0)
        assert np.array_equal(overflow, np.abs(x) > v[-1])  # Inf included
    else:
        assert not invalid.any() and np.all(np.isnan(fp8_decode(codes[nan], fmt, bias)))
        assert np.array_equal(overflow, np.isfinite(x) & (np.abs(x) > v[-1]))
    assert np.all((codes[overflow] & 0x7F) == c[-1])
    assert np.array_equal(underflow, ~nan & (x != 0) & ((codes & 0x7F) == 0))
    assert overflow.any()
    assert underflow.any() or v[1] == 2.0 ** -24  # the largest biases reach FP16's smallest step


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("fmt,bad", [("e4m3", -1), ("e4m3", 23), ("e5m2", 14), ("e5m2", 24),
                                     ("e4m3", 7.0), ("e5m2", True)])
def test_inexact_bias_raises(fmt, bad):
    lo, hi = BIASES[fmt][0], BIASES[fmt][-1]
    for call in (lambda: fp8_encode(1.0, fmt, bad), lambda: fp8_decode(1, fmt, bad)):
        with pytest.raises(ValueError, match=rf"bias for {fmt} must be an integer in \[{lo}, {hi}\]"):
            call()


def test_bad_arguments_raise():
    for call in (lambda: fp8_encode(1.0, "e3m4"), lambda: fp8_decode(1, "E4M3")):
        with pytest.raises(ValueError, match=r"fmt must be one of \('e4m3', 'e5m2'\)"):
            call()
    with pytest.raises(ValueError, match=r"rounding must be one of \('nearest', 'stochastic'\)"):
        fp8_encode(1.0, rounding="truncate")
    with pytest.raises(ValueError, match="needs rand"):
        fp8_encode(1.0, "e5m2", rounding="stochastic")
    with pytest.raises(ValueError, match=r"codes must be integers in \[0, 255\]"):
        fp8_decode([-1, 3])
