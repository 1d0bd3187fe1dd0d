"""golden.gradscale: the per-tensor result of gradscale_unit (exponent from gradscale_exp, flags
from the R4FP4 encoder) and the stream split on `last`."""

import numpy as np
import pytest

from golden import gradscale_exp, r4fp4_encode_flags
from golden.gradscale import GradScale, gradscale, gradscale_stream
from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN

ALL = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)


def test_single_values():
    """scale_exp is gradscale_exp; invalid iff NaN; overflow iff |x| > 64 * 2^8 (every 7th pattern:
    the flag identity is checked on every pattern below, the RTL sweep covers all of them)."""
    for x in ALL[::7]:
        r = gradscale(np.array([x]))
        assert r.scale_exp == gradscale_exp(np.array([x]))
        assert r.invalid == bool(np.isnan(x))
        assert r.overflow == bool(abs(float(x)) > 64 * 2.0 ** SCALE_EXP_MAX)


def test_flags_exhaustive():
    flags = r4fp4_encode_flags(ALL, scale_exp=SCALE_EXP_MAX)
    mag = np.abs(ALL.astype(np.float64))
    assert np.array_equal(flags.overflow, ~np.isnan(mag) & (mag > 64 * 2.0 ** SCALE_EXP_MAX))


@pytest.mark.parametrize("g,want", [
    ([0.0, -0.0], (SCALE_EXP_MIN, False, False)),
    ([np.nan], (SCALE_EXP_MIN, True, False)),
    ([1.0, np.nan], (-6, True, False)),
    ([16384.0], (SCALE_EXP_MAX, False, False)),   # 64 * 2^8 fits exactly
    ([-16400.0], (SCALE_EXP_MAX, False, True)),   # one ulp above: saturates even at the clamp
    ([np.inf, 1.0], (SCALE_EXP_MAX, False, True)),
    ([-np.inf, np.nan], (SCALE_EXP_MAX, True, True)),
    ([2.0 ** -24], (SCALE_EXP_MIN, False, False)),
])
def test_corners(g, want):
    assert gradscale(np.float16(g)) == GradScale(*want)


def test_stream_splits_on_last():
    g = np.float16([1, 2, 3, 0, np.nan, 7])
    got = gradscale_stream(g, [0, 1, 0, 1, 1, 0])  # the trailing 7 has no `last` yet
    assert got == [gradscale(g[:2]), gradscale(g[2:4]), gradscale(g[4:5])]


def test_stream_of_lane_rows():
    rng = np.random.default_rng(5)
    rows = rng.normal(0, 10.0 ** rng.integers(-6, 5, (40, 1)), (40, 3)).astype(np.float16)
    last = rng.random(40) < 0.3
    last[-1] = True
    ends = np.flatnonzero(last) + 1
    want = [gradscale(rows[a:b]) for a, b in zip(np.r_[0, ends[:-1]], ends)]
    assert gradscale_stream(rows, last) == want and len(want) == last.sum()


def test_stream_shape_mismatch():
    with pytest.raises(ValueError, match="one beat per entry of last"):
        gradscale_stream(np.float16([1, 2]), [True])
