"""golden.fractrain: effective MACs, the DFQ cost account and the PFQ turning-point scheduler."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden.fractrain import PFQScheduler, dfq_cost, effective_macs, training_costs

BITS = st.integers(1, 32)


def run(losses, **kw):
    """Feed a loss curve; returns the scheduler and the (fw, bw) precision used in each epoch."""
    s = PFQScheduler(**kw)
    used = []
    for loss in losses:
        used.append((s.fw_bits, s.bw_bits))
        s.step(loss)
    return s, used


# ---- effective MACs and the cost account ------------------------------------------------------

@given(st.integers(0, 10**12), BITS, BITS)
def test_effective_macs_is_the_spec_metric(macs, a, b):
    assert effective_macs(macs, 32, 32) == macs  # the 32x32 baseline costs its MACs
    assert effective_macs(macs, a, b) == effective_macs(macs, b, a)
    if a <= 16:
        assert effective_macs(macs, 2 * a, b) == pytest.approx(2 * effective_macs(macs, a, b))
    assert effective_macs(2 * macs, a, b) == pytest.approx(2 * effective_macs(macs, a, b))


def test_effective_macs_vectorized():
    out = effective_macs(np.array([100, 200]), np.array([8, 4]), 8)
    assert out.tolist() == [effective_macs(100, 8, 8), effective_macs(200, 4, 8)]


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=6), st.data())
def test_training_costs_are_three_gemms_per_layer(macs, data):
    n = len(macs)
    lst = lambda: data.draw(st.lists(BITS, min_size=n, max_size=n))
    a, w, g = lst(), lst(), lst()
    ig = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    c = training_costs(macs, a, w, g, ig)
    expect = [sum(effective_macs(m, x, y) * use for m, x, y, use in zip(macs, xs, ys, uses))
              for xs, ys, uses in ((a, w, [1] * n), (g, w, ig), (g, a, [1] * n))]
    assert [c["forward"], c["input_grad"], c["weight_grad"]] == pytest.approx(expect)
    assert c["total"] == pytest.approx(sum(expect))
    full = training_costs(macs, 32, 32, 32)
    assert full["total"] == pytest.approx(3 * sum(macs))


def test_dfq_cost_per_sample_choices_and_monotone():
    """DFQ picks a precision per layer per input: leading axes are summed; raising any layer's
    precision never lowers the cost."""
    macs = [4096, 4096, 640]
    fw = np.array([[4, 4, 8], [8, 6, 8]])  # two inputs, three layers
    bw = np.array([[6, 6, 8], [8, 8, 8]])
    per_input = [dfq_cost(macs, fw[i], bw[i], [False, True, True])["total"] for i in range(2)]
    assert dfq_cost(macs, fw, bw, [False, True, True])["total"] == pytest.approx(sum(per_input))
    assert dfq_cost(macs, fw[0], bw[0])["total"] < dfq_cost(macs, fw[1], bw[1])["total"]
    assert dfq_cost(macs, 8, 8) == training_costs(macs, 8, 8, 8)


def test_cost_arguments_checked():
    with pytest.raises(ValueError, match="bits_a"):
        effective_macs(10, 0, 8)
    with pytest.raises(ValueError, match="bits_b"):
        effective_macs(10, 8, 33)
    with pytest.raises(ValueError, match="bits_a"):
        effective_macs(10, 4.5, 8)
    with pytest.raises(ValueError, match="macs"):
        effective_macs(-1, 8, 8)
    with pytest.raises(ValueError, match="1-D"):
        training_costs(5, 8, 8, 8)


# ---- PFQ scheduler on synthetic loss curves ---------------------------------------------------

def test_flat_loss_raises_precision_every_window():
    """A plateau is a turning point as soon as the 5-epoch window is full; each one moves to the
    next stage (FW 3,4,6,8 / BW 6,6,8,8) and clears the window."""
    s, used = run([1.0] * 30)
    assert s.turning_points == [5, 10, 15]
    assert used[4] == (3, 6) and used[5] == (4, 6) and used[10] == (6, 8) and used[15] == (8, 8)
    assert used[-1] == (8, 8) and s.stage == 3


def test_steep_decrease_and_steep_rise_keep_low_precision():
    """While the loss still moves by more than epsilon (relative to the early-loss scale) there is
    no turning point; the rule uses |difference|, so a rising loss does not count as converged."""
    falling = 10.0 * 0.8 ** np.arange(30)
    rising = 1.0 + 0.2 * np.arange(30)
    for curve in (falling[:12], rising):
        s, used = run(curve)
        assert s.turning_points == [] and set(used) == {(3, 6)}


def test_decaying_curve_turning_points_need_flatter_curves():
    """An exponentially flattening curve crosses each (shrinking) threshold later; epsilon is
    multiplied by alpha at every turning point."""
    curve = 2.0 * np.exp(-np.arange(120) / 8.0) + 0.1
    s, _ = run(curve, epsilon=0.15, alpha=0.4)
    assert len(s.turning_points) == 3
    gaps = np.diff([0] + s.turning_points)
    assert np.all(gaps >= 5)
    assert s.threshold == pytest.approx(0.15 * 0.4 ** 3)
    # with no decay the later turning points come sooner: alpha matters
    s_flat, _ = run(curve, epsilon=0.15, alpha=1.0)
    assert s_flat.turning_points[-1] < s.turning_points[-1]


def test_plateau_then_drop_then_plateau():
    """A turning point raises precision; the window restarts, so a loss that starts moving again
    holds the new precision until it settles."""
    curve = [2.0] * 5 + list(2.0 - 0.2 * np.arange(1, 8)) + [0.6] * 10  # settles at epoch 12
    s, used = run(curve)
    assert s.turning_points[:2] == [5, 16]  # 16: the first full window of settled epochs
    assert all(u == (4, 6) for u in used[5:16]) and used[16] == (6, 8)


@given(st.lists(st.floats(0.01, 10), min_size=1, max_size=60), st.floats(0.01, 0.5),
       st.floats(0.05, 1.0), st.floats(0.1, 100))
def test_scheduler_invariants(losses, eps, alpha, c):
    s, used = run(losses, epsilon=eps, alpha=alpha)
    fws, bws = zip(*used)
    assert list(fws) == sorted(fws) and list(bws) == sorted(bws)  # precision never drops
    assert len(s.turning_points) <= 3
    assert np.all(np.diff([0] + s.turning_points) >= 5)
    # the loss is normalised by its early scale: rescaling the curve changes nothing
    s2, _ = run([c * l for l in losses], epsilon=eps, alpha=alpha)
    assert s2.turning_points == s.turning_points


def test_custom_schedule_and_bad_arguments():
    s, used = run([1.0] * 10, fw_schedule=(4, 8), bw_schedule=(8, 8))
    assert s.turning_points == [5] and used[-1] == (8, 8)
    with pytest.raises(ValueError, match="equal length"):
        PFQScheduler((3, 4), (6,))
    with pytest.raises(ValueError, match="non-decreasing"):
        PFQScheduler((4, 3), (6, 6))
    with pytest.raises(ValueError, match="fw_schedule"):
        PFQScheduler((0, 4), (6, 6))
    with pytest.raises(ValueError, match="epsilon"):
        PFQScheduler(epsilon=0)
    with pytest.raises(ValueError, match="alpha"):
        PFQScheduler(alpha=1.5)
    with pytest.raises(ValueError, match="window"):
        PFQScheduler(window=1)
    with pytest.raises(ValueError, match="loss"):
        PFQScheduler().step(float("nan"))
