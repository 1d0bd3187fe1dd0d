"""golden.quantizers: PACT, SAWB, FracTrain's range_quantize and Chen et al.'s PTQ/PSQ/BHQ."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from golden.quantizers import (BITS, SAWB_COEFFS, bhq, bhq_transform, pact, psq, ptq,
                               range_quantize, sawb, sawb_alpha)

FLOATS = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
VECTORS = hnp.arrays(np.float64, st.integers(1, 40), elements=FLOATS)
MATRICES = hnp.arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=FLOATS)
DRAWS = 1000


def draws(fn, x, n=DRAWS, seed=0):
    """fn(x, noise) for n independent uniform noise arrays: shape (n, *x.shape).

    One call on n copies of x stacked on a new last axis: every quantizer here takes its min/max
    or ranges over whole tensors or whole samples (axis 0), which the copies leave unchanged.
    """
    stacked = np.repeat(x[..., None], n, axis=-1)
    out = fn(stacked, np.random.default_rng(seed).random(stacked.shape))
    return np.moveaxis(out, -1, 0)


def assert_unbiased(samples, x, step):
    """Stated bound, per element: |mean error| <= 6 standard errors + 20 step/n, `step` the
    element's grid spacing. The 20 step/n term covers values so close to a level (fraction f of a
    step) that n draws never round the other way: that happens with probability (1-f)^n, below
    e^-20 when the error it leaves, f step, exceeds 20 step/n. Truncation (bias up to a whole step)
    misses the bound for any fraction above 0.02 of a step at n = 1000."""
    n = samples.shape[0]
    err = samples.mean(axis=0) - x
    sem = samples.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(err) <= 6 * sem + 20 * step / n + 1e-12 * (1 + np.abs(x))), np.abs(err).max()


def total_variance(fn, g, n=300, seed=1):
    return draws(fn, g, n, seed).var(axis=0).sum()


def assert_monotone(x, q):
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(q[order]) >= 0)


# ---- deterministic behaviour ------------------------------------------------------------------

@given(VECTORS, st.sampled_from(BITS))
def test_range_quantize_on_grid_and_within_half_step(x, bits):
    q = range_quantize(x, bits)
    lo, hi = x.min(), x.max()
    step = (hi - lo) / (2 ** bits - 1)
    assert np.all((q >= lo) & (q <= hi))
    assert np.all(np.abs(q - x) <= step / 2 * (1 + 1e-9) + 1e-12)
    if step > 0:
        k = (q - lo) / step
        assert np.allclose(k, np.round(k), atol=1e-6)
        assert q.min() == lo and np.isclose(q.max(), hi)
    else:
        assert np.array_equal(q, x)  # a constant tensor is exact


@given(VECTORS, st.sampled_from(BITS))
def test_range_quantize_idempotent(x, bits):
    q = range_quantize(x, bits)
    assert np.allclose(range_quantize(q, bits), q, rtol=0, atol=1e-9 * (1 + np.abs(x).max()))


@given(MATRICES, st.sampled_from(BITS))
def test_range_quantize_axis_is_per_slice(x, bits):
    q = range_quantize(x, bits, axis=0)
    for i in range(x.shape[0]):
        assert np.array_equal(q[i], range_quantize(x[i], bits))
    assert np.array_equal(psq(x, bits), q)


@given(VECTORS, st.sampled_from(BITS))
def test_every_deterministic_quantizer_is_monotone(x, bits):
    assert_monotone(x, range_quantize(x, bits))
    assert_monotone(x, ptq(x, bits))
    assert_monotone(x, pact(x, alpha=1 + np.abs(x).max() / 2, bits=bits))
    if bits in SAWB_COEFFS:
        assert_monotone(x, sawb(x, bits))


@given(MATRICES, st.sampled_from(BITS))
def test_psq_is_monotone_within_each_sample(g, bits):
    q = psq(g, bits)
    for i in range(g.shape[0]):
        assert_monotone(g[i], q[i])


@given(VECTORS, st.floats(0.01, 100), st.sampled_from(BITS))
def test_pact_clips_and_lands_on_its_grid(x, alpha, bits):
    q = pact(x, alpha, bits)
    step = alpha / (2 ** bits - 1)
    assert np.all((q >= 0) & (q <= alpha))
    assert np.all(q[x <= 0] == 0) and np.allclose(q[x >= alpha], alpha)
    inside = (x > 0) & (x < alpha)
    assert np.all(np.abs(q[inside] - x[inside]) <= step / 2 * (1 + 1e-9))
    assert np.allclose(q / step, np.round(q / step), atol=1e-6)


@given(VECTORS, st.sampled_from(sorted(SAWB_COEFFS)))
def test_sawb_uses_2_to_the_b_levels_on_plus_minus_alpha(w, bits):
    alpha = sawb_alpha(w, bits)
    q = sawb(w, bits)
    assert alpha > 0 or not np.any(w)
    assert np.all(np.abs(q) <= alpha * (1 + 1e-12))
    if alpha > 0:
        k = (q / alpha + 1) * (2 ** bits - 1) / 2  # level index; never divides by a step that underflows
        assert np.allclose(k, np.round(k), atol=1e-6)
        assert len(np.unique(np.round(k))) <= 2 ** bits


@pytest.mark.parametrize("dist", ["normal", "laplace"])
@pytest.mark.parametrize("bits", sorted(SAWB_COEFFS))
def test_sawb_alpha_is_near_mse_optimal(dist, bits):
    """What the published regression is for (Choi et al. 2018, Sec. 3): its alpha gives a
    quantization MSE within 2% of the best clipping level found by search, for the bell-shaped
    weight distributions it was fitted on. A wrong coefficient pair misses by far more."""
    w = getattr(np.random.default_rng(bits), dist)(size=100_000)
    mse = lambda a: np.mean((sawb(w, bits, alpha=a) - w) ** 2)
    best = min(mse(a) for a in np.linspace(0.2, 8, 200) * w.std())
    assert mse(sawb_alpha(w, bits)) <= 1.02 * best


# ---- stochastic rounding ----------------------------------------------------------------------

def row_steps(g, bits):
    return (g.max(axis=1, keepdims=True) - g.min(axis=1, keepdims=True)) / (2 ** bits - 1)


@settings(max_examples=30, deadline=None)
@given(VECTORS, st.sampled_from((2, 4, 8)))
def test_range_quantize_and_ptq_stochastic_unbiased(x, bits):
    step = (x.max() - x.min()) / (2 ** bits - 1)
    assert_unbiased(draws(lambda v, n: range_quantize(v, bits, n), x), x, step)
    assert_unbiased(draws(lambda v, n: ptq(v, bits, n), x, seed=1), x, step)


@settings(max_examples=30, deadline=None)
@given(MATRICES, st.sampled_from((2, 4, 8)))
def test_psq_and_bhq_stochastic_unbiased(g, bits):
    assert_unbiased(draws(lambda v, n: psq(v, bits, n), g), g, row_steps(g, bits))
    # BHQ rounds T g per row; an error of one step there moves element i by sum_r |T^-1_ir| step_r
    t, t_inv = bhq_transform(g.max(axis=1) - g.min(axis=1))
    step = np.abs(t_inv) @ row_steps(t @ g, bits)
    assert_unbiased(draws(lambda v, n: bhq(v, bits, n), g, seed=2), g, step)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-1, 1)),
       st.sampled_from(sorted(SAWB_COEFFS)))
def test_pact_and_sawb_stochastic_unbiased_inside_the_clip_range(u, bits):
    """Clipping is biased by design; inside [0, alpha] / [-alpha, alpha] rounding must not be."""
    a = np.abs(u) * 2
    assert_unbiased(draws(lambda v, n: pact(v, 2.0, bits, n), a), a, 2.0 / (2 ** bits - 1))
    assert_unbiased(draws(lambda v, n: sawb(v, bits, n, alpha=1.0), u, seed=3), u, 2.0 / (2 ** bits - 1))


def test_stochastic_rounding_is_not_nearest():
    """The two rounding modes differ: a value 1/4 of a step above a level rounds down to nearest
    but up with probability 1/4."""
    x = np.array([0.0, 0.25, 3.0])  # range_quantize at 2 bits: grid step 1
    assert np.array_equal(range_quantize(x, 2), [0, 0, 3])
    q = draws(lambda v, n: range_quantize(v, 2, n), x, n=4000)
    assert abs(np.mean(q[:, 1] == 1) - 0.25) < 0.03


# ---- variance: PSQ vs PTQ, BHQ vs PSQ (Chen et al. 2020) --------------------------------------

@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(4, 24), st.integers(4, 32), st.sampled_from((4, 8)))
def test_psq_variance_at_most_ptq_on_heterogeneous_samples(seed, n, d, bits):
    """Per-sample gradient magnitudes spread over 3 decades (Chen et al. Sec. 4.2)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, d)) * 10.0 ** rng.uniform(-3, 0, size=(n, 1))
    g[0] *= 1000 / np.abs(g[0]).max()  # pin the spread: one sample at the top of the range
    assert total_variance(lambda v, z: psq(v, bits, z), g) < total_variance(lambda v, z: ptq(v, bits, z), g)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(16, 48), st.integers(8, 48), st.integers(1, 3),
       st.floats(30, 1000), st.sampled_from((4, 8)))
def test_bhq_variance_at_most_psq_with_a_few_outlier_samples(seed, n, d, outliers, ratio, bits):
    """Chen et al. Sec. 4.3: when a few samples carry much larger gradients, BHQ's variance is
    below PSQ's (the Householder blocks spread each outlier over many small rows)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, d))
    g[rng.choice(n, outliers, replace=False)] *= ratio
    assert total_variance(lambda v, z: bhq(v, bits, z), g) < total_variance(lambda v, z: psq(v, bits, z), g)


@given(hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(0, 1e3)))
def test_bhq_transform_inverse_is_exact(ranges):
    t, t_inv = bhq_transform(ranges)
    assert np.allclose(t @ t_inv, np.eye(len(ranges)), atol=1e-9)


def test_bhq_spreads_a_single_outlier_over_its_block():
    """One row 100x larger than 15 others: after T no row keeps the outlier's full range."""
    g = np.random.default_rng(0).normal(size=(16, 32))
    g[5] *= 100
    t, _ = bhq_transform(g.max(1) - g.min(1))
    assert t[5, 5] != 1 and np.count_nonzero(t[:, 5]) > 1
    tg = t @ g
    ranges = tg.max(1) - tg.min(1)
    assert ranges.max() < 0.5 * (g[5].max() - g[5].min()) * np.abs(t).max()


@pytest.mark.parametrize("seed", range(4))
def test_bhq_parts_are_the_transform(seed):
    """BHQ split for an integer unit: integer codes (PSQ's codes of T g) with each row's range
    divided by its block scale, minus a rank-(blocks) correction that lives on the blocks' rows
    only; their values are T^-1 PSQ(T g) with T, T^-1 the dense transform (up to float64
    rounding: the parts evaluate T^-1 in its structured form)."""
    from golden.quantizers import bhq_blocks, bhq_parts

    rng = np.random.default_rng(seed)
    g = rng.normal(size=(24, 10)) * rng.lognormal(0, 2, 24)[:, None]
    noise = rng.random(g.shape)
    parts = bhq_parts(g, 4, noise)
    t, t_inv = bhq_transform(g.max(1) - g.min(1))
    dense = t_inv @ psq(t @ g, 4, noise)
    np.testing.assert_allclose(parts.values(), dense, rtol=1e-12, atol=1e-12 * np.abs(dense).max())
    assert parts.codes.codes.min() >= 0 and parts.codes.codes.max() <= 15
    blocks = bhq_blocks(g.max(1) - g.min(1))
    assert parts.left.shape == (24, len(blocks)) and parts.right.shape == (len(blocks), 10) and blocks
    outside = np.setdiff1d(np.arange(24), np.concatenate([b.rows for b in blocks]))
    assert not parts.left[outside].any()
    np.testing.assert_array_equal(parts.values(), bhq(g, 4, noise))


def test_bhq_without_outliers_still_unbiased_and_deterministic_mode_runs():
    g = np.random.default_rng(3).normal(size=(6, 5))
    assert bhq(g, 8).shape == g.shape
    assert np.allclose(bhq(g, 16), g, atol=1e-3)


# ---- argument checking ------------------------------------------------------------------------

def test_bad_arguments_raise():
    x = np.zeros((3, 4))
    for fn in (range_quantize, ptq, psq, bhq):
        with pytest.raises(ValueError, match="bits must be one of"):
            fn(x, 1)
        with pytest.raises(ValueError, match="noise must have"):
            fn(x, 4, np.zeros(3))
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            fn(x, 4, np.ones_like(x))
    with pytest.raises(ValueError, match="bits must be one of"):
        sawb(x, 8)
    with pytest.raises(ValueError, match="alpha"):
        pact(x, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        sawb(x, 4, alpha=-1.0)
    with pytest.raises(ValueError, match="finite"):
        range_quantize(np.array([np.nan]), 4)
    with pytest.raises(ValueError, match="sample axis"):
        psq(np.zeros(4), 4)
    with pytest.raises(ValueError, match="sample axis"):
        bhq(np.zeros(4), 4)
    with pytest.raises(ValueError, match="axis"):
        range_quantize(x, 4, axis=2)
