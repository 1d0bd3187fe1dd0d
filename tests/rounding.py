"""Checks shared by the encoder tests (R4FP4, FP8): stochastic rounding over every u."""

import numpy as np

ALL_U = np.arange(1 << 16, dtype=np.uint16)


def assert_unbiased_over_all_u(roundtrip, x, lo, hi, chunk=32):
    """`roundtrip(x_column, u_row)`: decoded results of encoding x[:, None] with every u.

    Averaged over all 65,536 u (the exact expectation for uniform u) the result differs from |x|
    by at most (hi - lo) / 2^16 (the probability is quantized to 2^-16 steps), and only the grid
    neighbours lo <= |x| < hi ever come out; where lo == hi (saturation) only lo does.
    """
    y = np.abs(x.astype(np.float64))
    for k in range(0, x.size, chunk):
        q = np.abs(roundtrip(x[k:k + chunk, None], ALL_U).astype(np.float64))
        l, h = lo[k:k + chunk, None], hi[k:k + chunk, None]
        assert np.all((q == l) | (q == h))
        inside = (l < h)[:, 0]
        err = q.mean(axis=1) - y[k:k + chunk]
        assert np.all(np.abs(err[inside]) <= (h - l)[inside, 0] / 2 ** 16)
        assert np.all(q[~inside] == l[~inside])
