"""How large an array a device holds: the quadratic LUT(N) = a + bN + cN^2 of an N x N design
(a fixed part, per-row and per-column logic, and N^2 PEs), fitted to measured sizes, and the
largest N it predicts under a LUT budget. Both FPGA flows use it: `fpga.flow` (ZC706, Yosys
estimates) to pick the sizes it synthesizes, `fpga.ecp5` / `fpga.ecp5_sweep` (placed and routed
builds) to refuse a size that cannot fit."""

import numpy as np

__all__ = ["fit", "predict", "largest"]


def fit(sizes, luts):
    """Least-squares [a, b, c] of LUT(N) = a + bN + cN^2 over (sizes, luts); None with fewer than
    three distinct sizes."""
    if len(set(sizes)) < 3:
        return None
    n = np.asarray(sizes, dtype=float)
    return np.linalg.lstsq(np.vander(n, 3, increasing=True), np.asarray(luts, dtype=float), rcond=None)[0].tolist()


def predict(coef, size):
    return coef[0] + coef[1] * size + coef[2] * size * size


def largest(coef, budget):
    """The largest N with predicted LUT(N) <= budget (0 if none; LUT(N) grows for N >= 1 when
    c > 0, as an array's does)."""
    if coef[2] <= 0:
        raise ValueError(f"a LUT fit must grow quadratically (c > 0), got c = {coef[2]:g}")
    n = 0
    while predict(coef, n + 1) <= budget:
        n += 1
    return n
