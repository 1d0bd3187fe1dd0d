"""Training quantizers: PACT, SAWB, FracTrain's min/max quantizer and Chen et al.'s PTQ/PSQ/BHQ.

Every quantizer returns the *dequantized* values (what the next GEMM multiplies by), as float64.
The integer a hardware unit stores is `q` in the formulas below; `pact_codes`, `sawb_codes` and
`range_codes` return it: a `GridCodes` (q, lo, hi, levels) whose `values()` is the quantizer's
output bit for bit (the value functions are `..._codes(...).values()`).

Rounding, shared by all of them, on the integer grid v = (x - lo) / step, v in [0, 2^b - 1]:
  - `noise=None`: nearest, ties up: q = floor(v + 1/2).
  - `noise` given (an array of x's shape, uniform in [0, 1)): stochastic, q = floor(v + noise),
    so P(q = floor(v) + 1) = frac(v) and E[q] = v (unbiased). A hardware unit compares `noise`
    scaled to its random-bit width with the dropped fraction; the golden model takes it as given.
"""

import math
from typing import Any, NamedTuple

import numpy as np

BITS = tuple(range(2, 17))

# SAWB clipping-scale regression, Choi et al. 2018 ("Bridging the accuracy gap for 2-bit quantized
# neural networks (QNN)", arXiv:1807.06964, Sec. 3): alpha = c1 * sqrt(E[w^2]) - c2 * E[|w|].
# Numbers as published by the authors' group (IBM) in code: fms-model-optimizer
# fms_mo/quant_refactor/sawb_utils.py keeps them as `dic_coeff = {2:(3.212, -2.178), 3:(7.509,
# -6.892), 4:(12.68, -12.80), 5:(17.74, -18.64)}` (sign folded into c2 here); an independent
# implementation (`sawbFn`, opt_quant) uses the same 2/4/5-bit values. The paper PDF itself could
# not be retrieved to cross-check the table.
SAWB_COEFFS = {2: (3.212, 2.178), 3: (7.509, 6.892), 4: (12.68, 12.80), 5: (17.74, 18.64)}


def _check_bits(bits, allowed=BITS):
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or int(bits) not in allowed:
        raise ValueError(f"bits must be one of {tuple(allowed)}, got {bits!r}")
    return int(bits)


def _check_noise(noise, shape):
    if noise is None:
        return None
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != shape:
        raise ValueError(f"noise must have the input's shape {shape}, got {noise.shape}")
    if noise.size and not (np.all(noise >= 0.0) and np.all(noise < 1.0)):
        raise ValueError("noise must be uniform samples in [0, 1)")
    return noise


class NonFiniteInput(ValueError):
    """A quantizer was handed NaN or Inf: no grid holds them (a diverged training run ends here)."""


def _as_float(x):
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise NonFiniteInput("input must be finite (no NaN or Inf)")
    return x


class GridCodes(NamedTuple):
    """Integer codes q in [0, levels - 1] (int64) on the uniform grid from lo (code 0) to hi (code
    levels - 1); lo / hi are floats or arrays broadcasting against q (one range per channel or
    sample)."""
    codes: np.ndarray
    lo: Any
    hi: Any
    levels: int

    def values(self):
        """lo + q*(hi - lo)/(levels - 1), evaluated as lo*(1 - t) + hi*t, t = q/(levels - 1), so
        both ends of the range are exact. A zero range (constant tensor) gives lo: the constant is
        exactly representable."""
        t = self.codes / (self.levels - 1)
        v = self.lo * (1 - t) + self.hi * t
        span = self.hi - self.lo
        return v if np.ndim(span) == 0 and span > 0 else np.where(span > 0, v, self.lo)


def _grid(x, lo, hi, levels, noise):
    """GridCodes of x: q the rounded position of x on lo .. hi, clamped to [0, levels - 1]."""
    span = hi - lo
    v = np.clip((x - lo) / np.where(span > 0, span, 1.0) * (levels - 1), 0.0, levels - 1)
    q = np.floor(v + (0.5 if noise is None else noise)).astype(np.int64)
    return GridCodes(q, lo, hi, levels)


def pact(x, alpha, bits=4, noise=None):
    """PACT activation, `pact_codes(...).values()`."""
    return pact_codes(x, alpha, bits, noise).values()


def pact_codes(x, alpha, bits=4, noise=None):
    """PACT activation (Choi et al. 2018, "PACT: Parameterized Clipping Activation", Eqs. 1-2).

        y   = 0.5 * (|x| - |x - alpha| + alpha)          (= clip(x, 0, alpha))
        y_q = round(y * (2^k - 1) / alpha) * alpha / (2^k - 1)

    `q = round(...)` is the k-bit unsigned integer; alpha / (2^k - 1) is its scale. `alpha` is the
    learned clipping level (> 0, finite); the STE gradient for it is 1 where x >= alpha, else 0.
    """
    bits = _check_bits(bits)
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    x = _as_float(x)
    y = 0.5 * (np.abs(x) - np.abs(x - alpha) + alpha)
    return _grid(y, 0.0, alpha, 2 ** bits, _check_noise(noise, x.shape))


def sawb_alpha(w, bits=4):
    """SAWB clipping scale (Choi et al. 2018, arXiv:1807.06964, Sec. 3):

        alpha = c1 * sqrt(E[w^2]) - c2 * E[|w|]

    with (c1, c2) the published per-bit-width regression coefficients `SAWB_COEFFS`. The
    regression is fitted on bell-shaped weight distributions; where it gives alpha <= 0 (e.g. all
    |w| equal, so sqrt(E[w^2]) = E[|w|]) we fall back to alpha = max|w|.
    """
    bits = _check_bits(bits, SAWB_COEFFS)
    w = _as_float(w)
    if w.size == 0:
        raise ValueError("w must not be empty")
    c1, c2 = SAWB_COEFFS[bits]
    alpha = float(c1 * np.sqrt(np.mean(w * w)) - c2 * np.mean(np.abs(w)))
    return alpha if alpha > 0 else float(np.abs(w).max())


def sawb(w, bits=4, noise=None, alpha=None):
    """SAWB weight quantizer, `sawb_codes(...).values()`."""
    return sawb_codes(w, bits, noise, alpha).values()


def sawb_codes(w, bits=4, noise=None, alpha=None):
    """SAWB weight quantizer (Choi et al. 2018, arXiv:1807.06964, Sec. 3).

    Clip to [-alpha, alpha] with alpha = `sawb_alpha(w, bits)` (or the given `alpha`), then 2^b
    uniformly spaced levels covering [-alpha, alpha] (the paper's grid; for b = 2 it is
    {-alpha, -alpha/3, alpha/3, alpha}, no zero level):

        w_q = -alpha + q * 2*alpha / (2^b - 1),   q = 0 .. 2^b - 1

    As a b-bit two's-complement code c = q - 2^(b-1) this is w_q = (2c + 1) * alpha / (2^b - 1):
    a MAC on c needs the +1 (an extra sum of the other operand) or a doubled-and-offset operand.
    An all-zero tensor (alpha = 0) quantizes to zeros.
    """
    alpha = sawb_alpha(w, bits) if alpha is None else float(alpha)
    bits = _check_bits(bits, SAWB_COEFFS)
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    w = _as_float(w)
    return _grid(w, -alpha, alpha, 2 ** bits, _check_noise(noise, w.shape))


def range_quantize(x, bits=8, noise=None, axis=None):
    """FracTrain's min/max quantizer, `range_codes(...).values()`."""
    return range_codes(x, bits, noise, axis).values()


def range_codes(x, bits=8, noise=None, axis=None):
    """FracTrain's min/max quantizer (Fu et al. 2020, code `modules/quantize.py`, after Banner et al.
    2018 "Scalable methods for 8-bit training"):

        scale = (max - min) / (2^b - 1),  q = round((x - min) / scale),  x_q = q * scale + min

    `q` is the b-bit unsigned integer, `min` the zero point. `axis=None` takes min/max over the
    whole tensor (FracTrain's activations and gradients); `axis=k` keeps one (min, max) per index
    along axis k, reducing over all other axes (FracTrain's weights use axis=0, per output channel).
    FracTrain rounds activations/weights to nearest and gradients stochastically (`noise`).
    """
    bits = _check_bits(bits)
    x = _as_float(x)
    noise = _check_noise(noise, x.shape)
    if x.size == 0:
        return GridCodes(np.zeros(x.shape, np.int64), 0.0, 0.0, 2 ** bits)
    if axis is None:
        lo, hi = x.min(), x.max()
    else:
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(f"axis must be None or in [{-x.ndim}, {x.ndim}), got {axis!r}")
        others = tuple(a for a in range(x.ndim) if a != axis % x.ndim)
        lo, hi = x.min(axis=others, keepdims=True), x.max(axis=others, keepdims=True)
    return _grid(x, lo, hi, 2 ** bits, noise)


def ptq(g, bits=8, noise=None):
    """Per-tensor quantizer, PTQ (Chen et al. 2020, "A Statistical Framework for Low-bitwidth
    Training of Deep Neural Networks", Sec. 4.1): one zero point z = min(g) and one scale
    s = (2^b - 1) / (max(g) - min(g)) for the whole gradient,

        Q(g) = SR(s * (g - z)) / s + z

    with stochastic rounding SR when `noise` is given. Identical to `range_quantize(g, bits, noise)`.
    """
    return range_quantize(g, bits, noise)


def psq(g, bits=8, noise=None):
    """Per-sample quantizer, PSQ (Chen et al. 2020, Sec. 4.2): row i of the (N, ...) gradient (one
    sample) gets its own zero point z_i = min_j g_ij and scale s_i = (2^b - 1) / R_i, with
    R_i = max_j g_ij - min_j g_ij:

        Q(g)_i = SR(s_i * (g_i - z_i)) / s_i + z_i

    Its variance bound sum_i R_i^2 is never above PTQ's N * R^2, and far below it when samples'
    gradient magnitudes differ.
    """
    g = _as_float(g)
    if g.ndim < 2:
        raise ValueError(f"g must have a sample axis and at least one more axis, got shape {g.shape}")
    return range_quantize(g, bits, noise, axis=0)


def _householder_vector(n):
    """w with H = I - 2 w w^T / (w^T w) the reflection mapping e_1 to ones/sqrt(n)."""
    w = np.full(n, 1.0 / math.sqrt(n))
    w[0] -= 1.0
    return w


def _householder(n):
    """The reflection mapping e_1 to ones/sqrt(n) (symmetric, orthogonal, its own inverse)."""
    w = _householder_vector(n)
    return np.eye(n) - 2.0 * np.outer(w, w) / (w @ w)


class BHQBlock(NamedTuple):
    """One block of the BHQ transform: its rows (the large row first) and the scales s of
    H diag(s) (golden.quantizers.bhq_transform)."""
    rows: np.ndarray
    scales: np.ndarray


def bhq_blocks(ranges):
    """The non-identity blocks of the block-Householder transform for per-row dynamic ranges
    `ranges` (length N); every other row is an identity block.

    Follows the block construction of Chen et al. 2020 (Sec. 4.3; the authors' released
    `get_transform` in their preconditioner code):
      1. sort rows by range R, largest first;
      2. grow the set of "small" rows from the bottom until  n_small * R_(largest small) >=
         sum of the remaining large rows' R; each large row i then receives a share
         round(cumsum(n_small * R_i / sum R_large)) of the small rows, in order;
      3. a block = one large row + its small rows, size m. Its matrix is H_m diag(s): H_m the
         Householder reflection sending e_1 (the large row) to ones/sqrt(m), so the outlier is
         spread evenly over the block, and s = (s_1, s_2, ..., s_2) the variance-minimising
         scales s_1 = (R_large / sqrt(m))^(-1/3), s_2 = (R_small * max|H_m| / (m - 1))^(-1/3),
         normalised by ||(1/s_1, 1/s_2)||.
    Blocks of size 1, all-constant inputs and zero ranges are identity blocks (the released code
    divides by zero there).
    """
    r = np.asarray(ranges, dtype=np.float64)
    if r.size and r.max() > 0:
        r = r / r.max()  # T is scale-invariant; normalising keeps R^(-1/3) finite for tiny ranges
    n = r.shape[0]
    order = np.argsort(-r, kind="stable")
    v = r[order]
    if n < 2 or v[0] <= 0:
        return []
    n_small, total = 0, v.sum()
    while True:
        n_small += 1
        total -= v[n - n_small]
        if n_small * v[n - n_small - 1] >= total:
            break
    n_large = n - n_small
    ends = n_large + np.round(np.cumsum(n_small * v[:n_large] / total)).astype(int)
    start, blocks = n_large, []
    for i in range(n_large):
        members = [i] + list(range(start, ends[i]))
        m = len(members)
        if m > 1 and v[start] > 0:
            s1 = (v[i] / math.sqrt(m)) ** (-1 / 3)
            s2 = (v[start] * np.abs(_householder(m)).max() / (m - 1)) ** (-1 / 3)
            s = np.array([s1, s2]) * math.hypot(1 / s1, 1 / s2)
            blocks.append(BHQBlock(order[members], np.r_[s[0], np.full(m - 1, s[1])]))
        start = ends[i]
    return blocks


def bhq_transform(ranges):
    """Block-Householder transform T and its inverse for per-row dynamic ranges `ranges` (length
    N), from `bhq_blocks`: T = H diag(s) on each block's rows, the identity elsewhere. Returns
    (T, T_inv), both (N, N), T_inv = T^-1 exactly by construction (diag(1/s) H, H its own inverse).
    """
    return _transform(np.asarray(ranges).shape[0], bhq_blocks(ranges))


def _transform(n, blocks):
    t, t_inv = np.eye(n), np.eye(n)
    for rows, sv in blocks:
        h = _householder(len(rows))
        t[np.ix_(rows, rows)] = h * sv            # H diag(s)
        t_inv[np.ix_(rows, rows)] = h / sv[:, None]  # diag(1/s) H
    return t, t_inv


class BHQParts(NamedTuple):
    """BHQ's result Q(g) = T^-1 PSQ(T g) split for an integer GEMM unit: on a block with scales s
    and Householder vector w (H = I - beta w w^T, beta = 2 / w^T w), T^-1 P = diag(1/s) P -
    (w / s)(beta w^T P). So Q = codes' values - left @ right:

    codes  PSQ(T g)'s integer codes with each row's range (lo, hi) divided by the row's s (1
           outside the blocks): the part an integer unit multiplies, its scales per row;
    left   (N, blocks): column b holds w / s on block b's rows, zero elsewhere;
    right  (blocks, F): row b is beta w^T P over block b's rows (P = PSQ(T g)'s values).
    """
    codes: GridCodes
    left: np.ndarray
    right: np.ndarray

    def values(self):
        return self.codes.values() - self.left @ self.right


def bhq_parts(g, bits=8, noise=None):
    """BHQ (Chen et al. 2020, Sec. 4.3) of a 2-D gradient g (N samples, F features) as BHQParts;
    `noise` (g's shape) is consumed by the PSQ step. `bhq` is its values."""
    g = _as_float(g)
    if g.ndim != 2:
        raise ValueError(f"g must be 2-D (samples, features), got shape {g.shape}")
    noise = _check_noise(noise, g.shape)
    blocks = bhq_blocks(g.max(axis=1) - g.min(axis=1))
    t, _ = _transform(g.shape[0], blocks)
    p = range_codes(t @ g, bits, noise, axis=0)  # PSQ(T g)
    values = p.values()
    inv = np.ones((g.shape[0], 1))
    left, right = np.zeros((g.shape[0], len(blocks))), np.zeros((len(blocks), g.shape[1]))
    for b, (rows, sv) in enumerate(blocks):
        w = _householder_vector(len(rows))
        inv[rows, 0] = 1.0 / sv
        left[rows, b] = w / sv
        right[b] = 2.0 / (w @ w) * (w @ values[rows])
    return BHQParts(GridCodes(p.codes, p.lo * inv, p.hi * inv, p.levels), left, right)


def bhq(g, bits=8, noise=None):
    """Block Householder quantizer, BHQ (Chen et al. 2020, Sec. 4.3).

    For a gradient with a few samples of much larger magnitude than the rest, spread each large
    row over a block of small rows with a Householder reflection, scale, quantize per row (PSQ),
    and transform back:

        Q(g) = T^-1 PSQ(T g),   T = `bhq_transform(R)`,  R_i = max_j g_ij - min_j g_ij

    T is computed from the data (deterministic), so Q is unbiased whenever PSQ is. `g` is (N, ...)
    with samples on axis 0; `noise` has g's shape and is consumed by the PSQ step. Evaluated as
    `bhq_parts(...).values()` (T^-1 applied in its structured form).
    """
    g = _as_float(g)
    if g.ndim < 2:
        raise ValueError(f"g must have a sample axis and at least one more axis, got shape {g.shape}")
    noise = _check_noise(noise, g.shape)
    flat = g.reshape(g.shape[0], -1)
    return bhq_parts(flat, bits, None if noise is None else noise.reshape(flat.shape)).values().reshape(g.shape)
