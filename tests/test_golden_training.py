"""golden.training: the GEMM hook, QTensor, the networks' GEMMs, the recipes, the cost account."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from threadpoolctl import threadpool_limits

from golden.fractrain import dfq_cost, effective_macs, training_costs
from golden.quantizers import (pact, pact_codes, psq, ptq, range_codes, range_quantize, sawb,
                               sawb_codes)
from golden.training import QTensor, config, float_backend, train
from golden.training import demo, dfq, networks
from golden.training.cli import main
from golden.training.datasets import digits, mnist1d
from golden.mx import dequantize, mx_quantize, nvfp4_quantize
from golden.training.qtensor import block_operand, block_quantize, fp8, from_codes, r4fp4_pair
from golden.training.recipes import (BLOCK, CHEN, COMBINED, DYNAMIC, RECIPES, RHT_SEED, RHT_SIZE, STATIC, block_layer,
                                     check_schedule, chen_layer, q_range, range_layer, rht, scheduled_layer)

SMALL = config("digits", hidden=(16, 16), epochs=2)


@pytest.fixture(autouse=True, scope="module")
def single_threaded_blas():
    """Small GEMMs: threaded BLAS under pytest-xdist on 2 cores only adds contention."""
    with threadpool_limits(1):
        yield


def mnist1d_subset(n_train=130, n_test=70):
    return [a[:n] for a, n in zip(mnist1d(), (n_train, n_test, n_train, n_test))]


@pytest.fixture(scope="module")
def small():
    return {r: train("digits", r, SMALL) for r in STATIC}


# ---- QTensor: codes + grid give the golden quantizers' values bit for bit --------------------

@given(st.integers(0, 2 ** 32 - 1), st.sampled_from([2, 3, 4, 6, 8]))
@settings(max_examples=40)
def test_int_qtensor_reproduces_the_quantizers(seed, bits):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(7, 5)) * rng.uniform(0.01, 100)
    noise = rng.random(x.shape)
    for q, want in ((q_range(x, bits), range_quantize(x, bits)),
                    (q_range(x, bits, noise), range_quantize(x, bits, noise)),
                    (q_range(x, bits, axis=0), range_quantize(x, bits, axis=0))):
        assert q.fmt == "int" and q.codes.dtype == np.int64
        assert q.codes.min() >= 0 and q.codes.max() <= 2 ** bits - 1
        np.testing.assert_array_equal(q.dequant(), want)
        # the affine reading x ~ scale * q + zero (the hook's contract) to float64 rounding
        np.testing.assert_allclose(q.scale * q.codes + q.zero, want, rtol=0, atol=1e-12 * np.abs(x).max())
        np.testing.assert_array_equal(q.T.dequant(), want.T)
    np.testing.assert_array_equal(from_codes(range_codes(x, bits, noise, axis=0)).dequant(), psq(x, bits, noise))
    a = np.abs(x)
    np.testing.assert_array_equal(from_codes(pact_codes(a, 2.0, 4)).dequant(), pact(a, 2.0, 4))
    np.testing.assert_array_equal(from_codes(sawb_codes(x, 4)).dequant(), sawb(x, 4))


def test_float_formats_qtensor():
    x = np.random.default_rng(3).normal(size=(6, 4))
    q = fp8(x, "e4m3")
    assert q.codes.dtype == np.uint8 and q.bits == 8 and np.abs(q.dequant()).max() <= 480 * q.scale
    np.testing.assert_allclose(q.dequant(), x, rtol=2 ** -4)  # 3 mantissa bits, nearest
    assert not fp8(np.zeros((2, 2)), "e5m2").dequant().any()
    even, odd = r4fp4_pair(x)
    assert (even.phase, odd.phase) == (0, 1) and even.scale_exp == odd.scale_exp
    assert np.abs(even.dequant()).max() <= 64 * 2.0 ** even.scale_exp
    with pytest.raises(ValueError, match="fmt"):
        QTensor("int8", np.zeros(1), 8)


# ---- the networks' GEMMs --------------------------------------------------------------------

def direct_conv(x, w, k, stride, pad):
    """y[b, o, co] = sum_{j, c} x[b, stride*o + j - pad, c] w[co, j*C + c], zero padding."""
    b, length, c = x.shape
    out = (length + 2 * pad - k) // stride + 1
    y = np.zeros((b, out, w.shape[0]))
    for o in range(out):
        for j in range(k):
            pos = stride * o + j - pad
            if 0 <= pos < length:
                y[:, o, :] += x[:, pos, :] @ w[:, j * c:(j + 1) * c].T
    return y


@pytest.mark.parametrize("length,c,k,stride,pad", [(40, 1, 5, 2, 1), (19, 3, 3, 2, 1), (7, 2, 3, 1, 0), (6, 2, 2, 3, 2)])
def test_im2col_gemm_is_a_convolution_and_col2im_its_adjoint(length, c, k, stride, pad):
    rng = np.random.default_rng(length)
    lay = networks.Layer("conv1d", c, 4, k, stride, pad, length)
    x, w = rng.normal(size=(3, length, c)), rng.normal(size=(4, k * c))
    y = lay.from_rows(lay.to_rows(x) @ w.T, 3)
    np.testing.assert_allclose(y, direct_conv(x, w, k, stride, pad), rtol=1e-12, atol=1e-12)
    d = rng.normal(size=(3 * lay.rows, k * c))  # <im2col(x), d> = <x, col2im(d)>
    assert np.vdot(lay.to_rows(x), d) == pytest.approx(np.vdot(x, lay.rows_to_input(d, x.shape)), rel=1e-12)


def test_cnn1d_shapes():
    net = networks.cnn1d()
    assert [(l.n_in, l.n_out, l.kernel, l.out_length) for l in net] == \
        [(1, 25, 5, 19), (25, 25, 3, 10), (25, 25, 3, 5), (125, 10, 1, 1)]


def test_cnn_gradient_check_in_float():
    """backward() of the fp32 recipe against central differences of the loss (float64)."""
    from golden.training.loop import backward, forward, softmax_xent
    from golden.training.recipes import fp32_layer
    net = networks.cnn1d(length=12, channels=(1, 3, 3, 2), kernels=(5, 3, 3))
    rng = np.random.default_rng(0)
    ws, bs = networks.init_params(net, rng)
    bs = [rng.normal(size=b.shape) * 0.1 for b in bs]
    x, y = rng.normal(size=(4, 12, 1)), rng.integers(0, 10, 4)
    alphas = np.full(len(net), 4.0)
    layers = [fp32_layer() for _ in net]

    def loss():
        return softmax_xent(forward(x, ws, bs, alphas, net, lambda i, h: layers[i], float_backend)[0], y)[0]

    logits, saved = forward(x, ws, bs, alphas, net, lambda i, h: layers[i], float_backend)
    dws, dbs, _, _ = backward(softmax_xent(logits, y)[1], saved, alphas, net, float_backend, rng)
    for params, grads in ((ws, dws), (bs, dbs)):
        for p, g in zip(params, grads):
            for idx in list(np.ndindex(p.shape))[::max(1, p.size // 6)]:
                old = p[idx]
                p[idx] = old + 1e-6
                up = loss()
                p[idx] = old - 1e-6
                down = loss()
                p[idx] = old
                assert g[idx] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-8)


# ---- the hook -------------------------------------------------------------------------------

@pytest.mark.parametrize("bench,recipe", [("digits", "fw8bw8"), ("digits", "ibm4"), ("mnist1d", "psq4"),
                                          ("mnist1d", "bhq5"), ("mnist1d", "fp32"), ("digits", "nvfp4"),
                                          ("mnist1d", "mxfp4_rht")])
def test_recording_backend_sees_every_gemm(bench, recipe):
    """One epoch of 3 mini-batches: per batch, per layer, fwd then (reverse order) wgrad and dgrad
    (none for layer 0) with the shapes of the module docstring; the evaluation forward last."""
    calls = []

    def recorder(layer, role, qa, qb):
        assert isinstance(qa, QTensor) and isinstance(qb, QTensor)
        assert qa.shape[1] == qb.shape[0]
        axes = (qa.block.axis, qb.block.axis) if qa.fmt == "mx" else None
        calls.append((layer, role, qa.shape, qb.shape, qa.fmt, qb.fmt, axes, qa.low_rank is not None))
        return float_backend(layer, role, qa, qb)

    data = [a[:n] for a, n in zip(digits(0), (130, 70, 130, 70))] if bench == "digits" else mnist1d_subset()
    x_tr, batches = data[0], 3
    cfg = config(bench, epochs=1, hidden=(8, 8), batch=len(x_tr) // batches + 1)
    train(bench, recipe, cfg, backend=recorder, data=data)
    net = (networks.mlp(64, (8, 8)) if bench == "digits" else networks.cnn1d())
    sizes = [len(x_tr) - k * cfg.batch if k == batches - 1 else cfg.batch for k in range(batches)]
    want = []
    for b in sizes:
        want += [(i, "fwd", (b * l.rows, l.k), (l.k, l.n_out)) for i, l in enumerate(net)]
        for i in reversed(range(len(net))):
            l = net[i]
            rows = b * l.rows + (-b * l.rows % RHT_SIZE if recipe == "mxfp4_rht" else 0)  # rotated: padded
            want.append((i, "wgrad", (l.n_out, rows), (rows, l.k)))
            if i:
                want.append((i, "dgrad", (b * l.rows, l.n_out), (l.n_out, l.k)))
    n_te = len(data[1])
    want += [(i, "fwd", (n_te * l.rows, l.k), (l.k, l.n_out)) for i, l in enumerate(net)]
    assert [c[:4] for c in calls] == want
    if recipe == "fp32":
        assert {c[4] for c in calls} == {c[5] for c in calls} == {"float"}
    elif recipe == "bhq5":  # integer codes everywhere; Q_b1 (BHQ) adds a low-rank correction
        assert {c[4] for c in calls} == {c[5] for c in calls} == {"int"}
        assert all(c[7] for c in calls if c[1] == "wgrad") and not any(c[7] for c in calls if c[1] != "wgrad")
    elif recipe == "ibm4":
        assert {c[4] for c in calls if c[1] != "fwd" and c[0] == 1} == {"r4fp4"}
    elif recipe in BLOCK:  # every operand blocked along its GEMM's contraction axis
        assert {c[4] for c in calls} == {c[5] for c in calls} == {"mx"}
        assert all(c[6] == (1, 0) for c in calls)


def test_backend_result_is_used():
    """A backend that zeroes the forward GEMMs leaves the biases alone: every test logit row is
    equal, so accuracy is one class's share — the hook's result is what trains and evaluates."""
    data = [a[:n] for a, n in zip(digits(0), (200, 300, 200, 300))]
    r = train("digits", "fw8bw8", SMALL, backend=lambda l, role, a, b: np.zeros((a.shape[0], b.shape[1])), data=data)
    assert r["test_accuracy"] < 0.2


# ---- recipes, cost account, seeds -----------------------------------------------------------

def test_recipes_run_and_learn(small):
    for r in small.values():
        assert 0.5 < r["test_accuracy"] <= 1.0  # chance is 0.1
        assert len(r["history"]) == SMALL.epochs and all(np.isfinite(h["loss"]) for h in r["history"])


def test_cost_account(small):
    """fp32 costs its MACs; fw8bw8 is 8x8 bits in every GEMM; pfq charges each epoch at the bits
    the scheduler chose; ibm4 (4-bit middle layer, FP8 edges) is below fw8bw8."""
    macs = small["fp32"]["macs"]
    assert all(r["macs"] == macs for r in small.values())
    assert small["fp32"]["effective_macs"] == pytest.approx(macs)
    assert small["fw8bw8"]["effective_macs"] == pytest.approx(effective_macs(macs, 8, 8))
    n_train = len(digits(0)[2])
    layer_macs = networks.layer_macs(networks.mlp(64, SMALL.hidden)) * n_train
    expect = sum(training_costs(layer_macs, *np.array(bits).T, [False, True, True])["total"]
                 for bits in small["pfq"]["precisions"])
    assert small["pfq"]["effective_macs"] == pytest.approx(expect)
    assert small["pfq"]["precisions"][0] == [[3, 3, 6]] * 3  # PFQ starts at FW 3 / BW 6
    assert small["ibm4"]["precisions"][0] == [[8, 8, 8], [4, 4, 4], [8, 8, 8]]
    assert small["ibm4"]["effective_macs"] < small["fw8bw8"]["effective_macs"]


def test_seeded_runs_repeat_and_the_noise_generator_matters():
    a = train("digits", "fw8bw8", SMALL)
    assert train("digits", "fw8bw8", SMALL)["history"] == a["history"]
    other = train("digits", "fw8bw8", SMALL, rng=np.random.default_rng(123))
    assert other["history"] != a["history"]  # stochastic gradient rounding draws from `rng`


def _inf_weight_gradient(layer, role, qa, qb):
    out = qa.dequant() @ qb.dequant()
    return np.full_like(out, np.inf) if role == "wgrad" else out


def _overflowing_first_layer(layer, role, qa, qb):
    out = qa.dequant() @ qb.dequant()
    return out * 1e300 if (layer, role) == (0, "fwd") else out


@pytest.mark.parametrize("backend", [_inf_weight_gradient, _overflowing_first_layer])
def test_divergence_is_reported_not_raised(backend):
    """A step that overflows (an Inf weight after the update, or a finite forward pass whose
    next layer overflows, as ptq4 does on MNIST-1D) ends the run as diverged instead of failing in
    the next quantizer."""
    r = train("digits", "fw8bw8", SMALL, backend=backend)
    assert r["diverged_epoch"] == 1 and r["test_accuracy"] == 0.0 and r["history"] == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="recipe"):
        train("digits", "int2")
    with pytest.raises(ValueError, match="bench"):
        train("cifar", "fp32")


def test_cli_json(capsys):
    assert main(["--recipe", "fp32", "--json", "--epochs", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recipe"] == "fp32" and out["bench"] == "digits" and out["seed"] == 0
    assert 0 < out["test_accuracy"] <= 1 and out["effective_macs"] == out["macs"] > 0
    assert out["precisions"] == [[[32, 32, 32]] * 3]


@pytest.mark.parametrize("args", [["--recipe", "int2"], ["--recipe", "fp32", "--bench", "cifar"],
                                  ["--recipe", "fp32", "--epochs", "0"], ["--recipe", "fp32", "--seed", "x"],
                                  ["--recipe", "fp32", "--dfq-target", "-1"], ["--recipe", "dfq", "--dfq-options", "x"],
                                  ["--recipe", "pfq+psq", "--fw-schedule", "2,4,9", "--bw-schedule", "4,4,8"],
                                  ["--recipe", "pfq", "--fw-schedule", "1,8", "--bw-schedule", "8,8"],
                                  ["--recipe", "pfq", "--fw-schedule", "4,2", "--bw-schedule", "4,4"],
                                  ["--recipe", "pfq", "--bw-schedule", "8,4,8,8"],
                                  ["--recipe", "pfq", "--fw-schedule", "4,8"], ["--recipe", "pfq", "--fw-schedule", "4;8"],
                                  []])
def test_cli_bad_argument_one_line_exit_2(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    out = capsys.readouterr()
    assert e.value.code == 2 and out.out == ""
    assert len(out.err.strip().splitlines()) == 1, out.err


@pytest.mark.parametrize("module,args", [("golden.training", ["--recipe", "int2"]), ("golden.training.demo", ["--workers", "-1"])])
def test_cli_bad_argument_as_a_program(module, args):
    p = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_digits_paper_claims_full_configuration():
    """The papers' claims, reproduced on the default digits configuration (deterministic, ~8 s on
    one core): IBM's 4-bit training within 2 and FracTrain's PFQ within 1 point of fp32 test
    accuracy; PFQ >= 30% fewer effective MACs than fw8bw8."""
    r = {name: train("digits", name) for name in STATIC}
    acc = {name: 100 * r[name]["test_accuracy"] for name in STATIC}
    assert acc["fp32"] - acc["ibm4"] <= 2.0, acc
    assert acc["fp32"] - acc["pfq"] <= 1.0, acc
    assert r["pfq"]["effective_macs"] <= 0.7 * r["fw8bw8"]["effective_macs"]
    assert len(r["pfq"]["turning_points"]) == 3  # PFQ reached its final FW 8 / BW 8 stage


# ---- Chen et al.'s quantizers in training ------------------------------------------------------

@pytest.mark.parametrize("per", [1, 5])
def test_chen_routing(per):
    """Q_b1 (weight-gradient operand) is the recipe's quantizer on G viewed per sample (`per`
    GEMM rows a sample); Q_b2 (input-gradient operand) is PTQ at the same bits with its own noise."""
    rng_g = np.random.default_rng(per)
    g = rng_g.normal(size=(4 * per, 6)) * np.repeat(rng_g.uniform(0.01, 10, 4), per)[:, None]
    for name in CHEN:
        bits = int(name[3:])
        draw = np.random.default_rng(7)
        to_w, to_x = chen_layer(name, per).grad(g, np.random.default_rng(7))
        n1, n2 = draw.random(g.shape), draw.random(g.shape)
        flat, n1f = g.reshape(4, -1), n1.reshape(4, -1)
        want = {"ptq": ptq(g, bits, n1), "psq": psq(flat, bits, n1f).reshape(g.shape)}.get(name[:3])
        assert to_w.fmt == "int" and to_w.bits == bits and to_w.codes.max() <= 2 ** bits - 1
        if name.startswith("bhq"):
            # integer codes plus the Householder part as a correction; with per > 1 the
            # correction's terms are rewritten per row (float64 sums in another order)
            from golden.quantizers import bhq
            want = bhq(flat, bits, n1f).reshape(g.shape)
            assert to_w.low_rank is not None
            np.testing.assert_allclose(to_w.dequant(), want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
        else:
            np.testing.assert_array_equal(to_w.dequant(), want)
        np.testing.assert_array_equal(to_x.dequant(), ptq(g, bits, n2))
        assert to_x.bits == bits and np.ndim(to_x.zero) == 0


def test_psq_beats_ptq_on_uneven_samples():
    """The reason the Chen recipes exist: on a gradient whose samples differ in magnitude, the
    per-sample quantizer's weight-gradient error (variance over noise draws) is below PTQ's."""
    rng = np.random.default_rng(0)
    g = rng.normal(size=(16, 30)) * np.r_[100.0, np.ones(15)][:, None]
    a = rng.normal(size=(16, 8))
    exact = g.T @ a
    err = {q: np.mean([np.sum((chen_layer(q, 1).grad(g, np.random.default_rng(s))[0].dequant().T @ a - exact) ** 2)
                       for s in range(20)]) for q in ("ptq4", "psq4", "bhq4")}
    assert err["psq4"] < err["ptq4"] and err["bhq4"] < err["ptq4"], err


# ---- DFQ -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dfq_runs():
    data = mnist1d_subset(200, 60)
    cfg = config("mnist1d", epochs=3, batch=50)
    return {r: train("mnist1d", r, cfg, data=data) for r in DYNAMIC}, data, cfg


def test_dfq_cost_is_the_effective_mac_formula_of_the_chosen_precisions(dfq_runs):
    runs, data, cfg = dfq_runs
    net = networks.cnn1d()
    macs = networks.layer_macs(net)
    sizes = [min(cfg.batch, len(data[0]) - s) for s in range(0, len(data[0]), cfg.batch)]
    for r in runs.values():
        want = 0.0
        for epoch in r["precisions"]:
            assert len(epoch) == len(sizes)
            for n, bits in zip(sizes, epoch):
                bits = np.array(bits)
                assert all((f, b) in dfq.OPTION_SETS["fractrain"] for f, w, b in bits) and (bits[:, 0] == bits[:, 1]).all()
                want += dfq_cost(macs * n, bits[:, 0], bits[:, 2], [False, True, True, True])["total"]
        assert r["effective_macs"] == pytest.approx(want, rel=1e-12)
        assert r["gate_macs"] >= 0
    # PFQ's first stage (FW 3, BW 6) leaves FracTrain one option in the first epoch
    assert {tuple(b) for batch in runs["fractrain"]["precisions"][0] for b in batch} == {(3, 3, 6)}
    assert len({tuple(b) for e in runs["dfq"]["precisions"] for batch in e for b in batch}) > 1


def test_dfq_gate_is_deterministic_at_evaluation():
    cfg = config("mnist1d")
    gate = dfq.DFQ(cfg, networks.layer_macs(networks.cnn1d()))
    h = np.random.default_rng(0).normal(size=(50, 19, 25))
    gate.choose(1, h)
    gate.v[1] = np.random.default_rng(1).normal(size=gate.v[1].shape)
    k = gate.choose(1, h)[0]
    assert all(gate.choose(1, h)[0] == k for _ in range(5))
    assert k == int(np.argmax(gate.v[1] @ dfq.gate_features(h)))
    rng = np.random.default_rng(2)  # training draws Gumbel noise: the choice varies
    assert len({gate.choose(1, h, rng)[0] for _ in range(60)}) > 1


@given(st.integers(0, 2 ** 32 - 1))
@settings(max_examples=30)
def test_st_gumbel_never_picks_a_disallowed_option_and_its_jacobian(seed):
    rng = np.random.default_rng(seed)
    z, u = rng.normal(size=5) * 3, rng.uniform(1e-9, 1, size=5)
    allowed = rng.random(5) < 0.6
    allowed[rng.integers(5)] = True
    k, y = dfq.st_gumbel(z, 0.7, u, allowed)
    assert allowed[k] and k == int(np.argmax(y)) and np.all(y[~allowed] == 0)
    assert dfq.st_gumbel(z, 0.7, None, allowed)[0] == int(np.argmax(np.where(allowed, z, -np.inf)))


def test_dfq_gate_update_follows_the_cost_penalty():
    """With no task signal (zero output gradient) the gate moves toward the cheaper options when
    the realized cost is above the target, and toward the dearer ones below it."""
    net = networks.cnn1d()
    for target, cheaper in ((0.01, True), (10.0, False)):
        gate = dfq.DFQ(config("mnist1d", dfq_target=target, dfq_lr=1.0), networks.layer_macs(net))
        h = np.ones((2, 4, 25))
        picks = [gate.choose(i, h, np.random.default_rng(i)) for i in range(len(net))]
        before = [softmax_cost(gate, i, h) for i in range(len(net))]
        zeros = [np.zeros((3, 3))] * len(net)
        gate.update(picks, zeros, zeros, lambda i, k: np.zeros((3, 3)))
        after = [softmax_cost(gate, i, h) for i in range(len(net))]
        assert all((a < b) == cheaper and a != b for a, b in zip(after, before)), (before, after)


def softmax_cost(gate, i, h):
    return float(dfq.softmax(gate.v[i] @ dfq.gate_features(h)) @ gate.cost[i])


def test_fractrain_option_set_grows_with_pfq():
    gate = dfq.DFQ(config("mnist1d"), networks.layer_macs(networks.cnn1d()), pfq=True)
    seen = []
    for stage, (fw, bw) in enumerate(zip(gate.sched.fw_schedule, gate.sched.bw_schedule)):
        gate.sched.stage = stage
        ok = gate.allowed()
        seen.append(int(ok.sum()))
        last = stage == len(gate.sched.fw_schedule) - 1
        assert last or all(f <= fw and b <= bw for (f, b), a in zip(gate.options, ok) if a)
    assert seen == [1, 2, 4, 5]


# ---- demo ------------------------------------------------------------------------------------

def test_demo_summary_and_table():
    runs = []
    for seed, (a32, a8, amin) in enumerate(((0.95, 0.945, 0.93), (0.96, 0.95, 0.94))):
        for r in RECIPES:
            acc = {"fp32": a32, "fw8bw8": a8}.get(r, amin)
            runs.append({"bench": "mnist1d", "recipe": r, "seed": seed, "test_accuracy": acc, "cpu_s": 1.0,
                         "effective_macs": {"fw8bw8": 100.0, "fp32": 1600.0}.get(r, 50.0)})
    s = demo.summarize(runs)
    assert s[("mnist1d", "fp32")]["acc_mean"] == pytest.approx(95.5)
    assert s[("mnist1d", "fp32")]["acc_std"] == pytest.approx(np.std([95, 96], ddof=1))
    assert s[("mnist1d", "dfq")]["rel_mean"] == 0.5 and s[("mnist1d", "fw8bw8")]["rel_mean"] == 1.0
    assert "| mnist1d | dfq | 2 |" in demo.table(s)


def test_cli_dfq_json_has_per_batch_precisions(capsys):
    assert main(["--recipe", "dfq", "--json", "--epochs", "1", "--dfq-target", "0.3", "--dfq-options", "hw"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["precisions"]) == 1 and len(out["precisions"][0]) == 40  # 1257 samples / 32
    assert all(len(batch) == 3 for batch in out["precisions"][0])
    assert {tuple(b[::2]) for batch in out["precisions"][0] for b in batch} <= set(dfq.OPTION_SETS["hw"])


# ---- block formats (MX, NVFP4) in training ---------------------------------------------------------

def test_rht_is_orthogonal_along_the_rows():
    rng = np.random.default_rng(0)
    g, a = rng.normal(size=(50, 6)), rng.normal(size=(50, 9))
    signs = rng.choice([-1.0, 1.0], 32)
    tg, ta = rht(g, signs), rht(a, signs)
    assert tg.shape == (64, 6)  # zero-padded to whole 32-row blocks
    np.testing.assert_allclose(tg.T @ ta, g.T @ a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(tg), np.linalg.norm(g), rtol=1e-12)


@pytest.mark.parametrize("recipe", BLOCK)
def test_block_recipe_routing(recipe):
    """A and W blocked along K (forward) and along axis 0 (the other GEMM; A rotated for
    mxfp4_rht); G quantized stochastically twice with independent bits: along the rows for the
    weight gradient (rotated for mxfp4_rht), along the outputs for the input gradient."""
    fmt = "nvfp4" if recipe == "nvfp4" else "mxfp4"
    quant = (lambda x, axis, *r: nvfp4_quantize(x, axis, *r)) if fmt == "nvfp4" else \
        (lambda x, axis, *r: mx_quantize(x, "fp4_e2m1", 32, axis, *r))
    signs = np.random.default_rng(RHT_SEED).choice([-1.0, 1.0], RHT_SIZE)
    turn = (lambda x: rht(x, signs)) if recipe == "mxfp4_rht" else (lambda x: x)
    rng = np.random.default_rng(3)
    a, w, g = rng.normal(size=(40, 36)), rng.normal(size=(5, 36)), rng.normal(size=(40, 5)) * 1e-3
    q = block_layer(recipe)
    qa, qw = q.act(a), q.weight(w)
    np.testing.assert_array_equal(qa.along(1).dequant(), dequantize(quant(a, 1)))
    np.testing.assert_array_equal(qa.along(0).dequant(), dequantize(quant(turn(a), 0)))
    np.testing.assert_array_equal(qw.T.along(0).dequant(), dequantize(quant(w, 1)).T)
    np.testing.assert_array_equal(qw.along(0).dequant(), dequantize(quant(w, 0)))
    to_w, to_x = q.grad(g, np.random.default_rng(7))
    draw = np.random.default_rng(7)
    u1 = draw.integers(0, 1 << 16, turn(g).shape)
    u2 = draw.integers(0, 1 << 16, g.shape)
    np.testing.assert_array_equal(to_w.T.along(1).dequant(), dequantize(quant(turn(g), 0, "stochastic", u1)).T)
    np.testing.assert_array_equal(to_x.along(1).dequant(), dequantize(quant(g, 1, "stochastic", u2)))
    assert q.bits == (4, 4, 4) and qa.fmt == to_w.fmt == "mx"


def test_block_operand_blocked_one_way_says_so():
    q = block_quantize(np.ones((4, 40)), "mxfp4", 1)
    assert q.along(1) is q
    with pytest.raises(ValueError, match="blocked along axis 1 only"):
        q.along(0)
    with pytest.raises(ValueError, match="fmt must be one of"):
        block_quantize(np.ones((4, 40)), "mxfp6", 1)
    assert block_operand(np.ones((4, 40)), "nvfp4").T.along(1).block.axis == 1


# ---- the combined recipes: FracTrain's forward schedule, Chen et al.'s gradient quantizer ----------

@pytest.mark.parametrize("fw,bw,sched", [
    ((2, 4, 8), (4, 4, 8), None),
    ((3, 4, 6, 8), (6, 6, 8, 8), None),
    ((2, 9), (4, 4), "fw_schedule widths must be integers in 2..8"),
    ((1, 8), (4, 4), "fw_schedule widths"),
    ((2, 4), (4, 17), "bw_schedule widths must be integers in 2..16"),
    ((2.0, 4), (4, 4), "fw_schedule widths"),
    ((True, 4), (4, 4), "fw_schedule widths"),
    ((4, 2), (4, 4), "fw_schedule must be non-decreasing"),
    ((2, 4), (8, 4), "bw_schedule must be non-decreasing"),
    ((2, 4), (4,), "equal length"),
    ((), (), "non-empty"),
])
def test_check_schedule(fw, bw, sched):
    if sched is None:
        assert check_schedule(fw, bw) == (fw, bw)
    else:
        with pytest.raises(ValueError, match=sched):
            check_schedule(fw, bw)
        with pytest.raises(ValueError, match=sched):
            train("digits", "pfq", config("digits", epochs=1, fw_schedule=fw, bw_schedule=bw))


@pytest.mark.parametrize("quantizer", ["range", "psq", "bhq"])
def test_scheduled_layer_is_the_recipe_it_names(quantizer):
    """FracTrain's range layer for "range"; a Chen layer with the forward at the schedule's bits
    otherwise: same codes for the same random bits."""
    rng = np.random.default_rng(3)
    a, w, g = rng.normal(size=(10, 6)), rng.normal(size=(4, 6)), rng.normal(size=(10, 4))
    got = scheduled_layer(quantizer, 4, 2, 5)
    want = range_layer(4, 2) if quantizer == "range" else chen_layer(f"{quantizer}2", 5, fw=4)
    assert got.bits == want.bits == (4, 4, 2)
    for f in ("act", "weight"):
        np.testing.assert_array_equal(getattr(got, f)(a if f == "act" else w).codes,
                                      getattr(want, f)(a if f == "act" else w).codes)
    for x, y in zip(got.grad(g, np.random.default_rng(1)), want.grad(g, np.random.default_rng(1))):
        np.testing.assert_array_equal(x.codes, y.codes)
        np.testing.assert_array_equal(x.dequant(), y.dequant())


@pytest.mark.parametrize("recipe", COMBINED)
def test_combined_recipes_route_the_schedule_and_the_quantizer(recipe):
    """Every GEMM of a combined recipe is integer codes (what the fusion array runs) at the stage's
    or the gate option's bits; the weight-gradient operand carries one range per sample (PSQ,
    BHQ's codes) and, for BHQ, the low-rank correction; the input-gradient operand is per tensor."""
    calls = []

    def recorder(layer, role, qa, qb):
        calls.append((layer, role, qa, qb))
        return float_backend(layer, role, qa, qb)

    data = mnist1d_subset(100, 50)
    cfg = config("mnist1d", epochs=2, batch=50, fw_schedule=(2, 4), bw_schedule=(4, 8), dfq_options="hw")
    r = train("mnist1d", recipe, cfg, backend=recorder, data=data)
    assert {q.fmt for c in calls for q in c[2:]} == {"int"}
    net = networks.cnn1d()
    for layer, role, qa, qb in calls:
        if role == "wgrad":
            g = qa.T  # (rows, out): one range per sample, repeated over the sample's rows
            zero = np.broadcast_to(np.asarray(g.zero, float), (g.shape[0], 1)).reshape(-1, net[layer].rows)
            assert np.all(zero == zero[:, :1]) and len(np.unique(zero[:, 0])) > 1
            assert (qa.low_rank is not None) == recipe.endswith("bhq")
            assert qa.bits in (4, 8)
        elif role == "dgrad":
            assert np.ndim(qa.zero) == 0 and qa.low_rank is None
    if recipe.startswith("pfq"):
        assert r["precisions"][0] == [[2, 2, 4]] * len(net)
    else:  # DFQ: per mini-batch, per layer, an option of the hw set
        assert {tuple(b) for e in r["precisions"] for batch in e for b in batch} <= {(f, f, b) for f in (2, 4, 8) for b in (4, 8)}


def test_default_schedule_is_fractrains():
    """Without schedule overrides, pfq is FracTrain's (3, 4, 6, 8) / (6, 6, 8, 8) and pfq+psq
    starts at its first stage."""
    cfg = config("digits", hidden=(8, 8), epochs=1)
    assert train("digits", "pfq", cfg)["precisions"] == [[[3, 3, 6]] * 3]
    assert train("digits", "pfq+psq", cfg)["precisions"] == [[[3, 3, 6]] * 3]


def test_dfq_gate_with_non_finite_logits_is_divergence():
    """A gate whose weights overflowed ends the run as diverged: argmax over NaN logits would
    otherwise pick the first option for the rest of training without a word."""
    from golden.quantizers import NonFiniteInput
    from golden.training.dfq import DFQ
    cfg = config("digits", hidden=(8, 8), epochs=2, dfq_options="hw")
    gate = DFQ(cfg, [64 * 8, 8 * 8, 8 * 10])
    h = np.ones((4, 64))
    assert gate.choose(0, h)[0] in range(len(gate.options))
    gate.v[0][:] = np.nan
    with pytest.raises(NonFiniteInput, match="DFQ gate logits of layer 0"):
        gate.choose(0, h, np.random.default_rng(0))
    r = train("digits", "dfq", dataclasses.replace(cfg, dfq_lr=float("inf")))  # the first update overflows
    assert r["diverged_epoch"] == 1 and r["test_accuracy"] == 0.0
