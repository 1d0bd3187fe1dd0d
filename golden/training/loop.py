"""The training loop: SGD with momentum, every quantized GEMM through one backend call.

`train(bench, recipe, cfg, backend=float_backend)`: per mini-batch, per layer i (0 = input side):
    forward       Y_i  = backend(i, "fwd",   qA_i,       qW_i.T)    (B*rows, out)
    weight grad   dW_i = backend(i, "wgrad", qG_i(w).T,  qA_i)      (out, K)
    input grad    dA_i = backend(i, "dgrad", qG_i(x),    qW_i)      (B*rows, K), not for layer 0
(a block-format operand reaches the backend blocked along the GEMM's contraction axis: `contract`)
with the QTensors of golden.training.qtensor, quantized by the recipe (golden.training.recipes)
before the call; evaluation runs the test set's forward GEMMs through the same backend. Random
bits: three Generators from the seed, `default_rng(seed)` for the initial weights,
`default_rng(seed + 1)` for rounding noise (and DFQ's gate noise), `default_rng(seed + 2)` for
the batch order (golden.train_digits' streams, so its digits numbers reproduce bit for bit).
"""

import dataclasses

import numpy as np

from ..fractrain import effective_macs, training_costs
from ..gemm import low_rank_macs
from . import datasets, dfq, networks
from ..quantizers import NonFiniteInput
from .qtensor import float_backend
from .recipes import DYNAMIC, RECIPES, forward_policy, grad_quantizer, pfq_scheduler, scheduled_layer, static_layers

__all__ = ["Config", "config", "train", "forward", "backward", "softmax_xent", "contract"]


@dataclasses.dataclass(frozen=True)
class Config:
    bench: str = "digits"
    epochs: int = 30
    batch: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_drop_epoch: int = 20   # lr x 0.1 from this epoch on
    seed: int = 0
    hidden: tuple = (64, 64)  # digits MLP
    pact_alpha: float = 4.0
    pfq_epsilon: float = 0.15  # FracTrain's defaults
    pfq_alpha: float = 0.4
    fw_schedule: tuple = (3, 4, 6, 8)  # PFQ's stages (pfq, fractrain and their combinations)
    bw_schedule: tuple = (6, 6, 8, 8)
    dfq_target: float = 0.5    # DFQ cost target, fraction of fw8bw8's effective MACs
    dfq_options: str = "fractrain"  # "fractrain" | "hw"
    dfq_beta: float = 2.0      # weight of the cost penalty
    dfq_lr: float = 0.05       # gate learning rate
    dfq_tau: float = 1.0       # Gumbel-softmax temperature


# Per-benchmark defaults: digits as golden.train_digits; MNIST-1D after Greydanus 2020 (SGD with
# momentum, batch 50, 80 epochs).
BENCH_DEFAULTS = {
    "digits": {},
    "mnist1d": {"epochs": 80, "batch": 50, "lr": 0.05, "lr_drop_epoch": 60},
}


def config(bench="digits", **overrides):
    """The benchmark's default Config with `overrides` (None values ignored)."""
    if bench not in datasets.BENCHES:
        raise ValueError(f"bench must be one of {datasets.BENCHES}, got {bench!r}")
    kw = {**BENCH_DEFAULTS[bench], **{k: v for k, v in overrides.items() if v is not None}}
    return Config(bench=bench, **kw)


def network(cfg, n_in):
    return networks.mlp(n_in, cfg.hidden) if cfg.bench == "digits" else networks.cnn1d()


def contract(backend, layer, role, qa, qb):
    """The backend's GEMM qa @ qb on the operands as it contracts them: a block-format operand
    quantized along both axes passes the copy blocked along the contraction axis (QTensor.along)."""
    return backend(layer, role, qa.along(1), qb.along(0))


def forward(x, ws, bs, alphas, net, select, backend):
    """Logits and, per layer, (input pre-activation h, A rows, qA, qW, LayerQ, Y rows) for the
    backward pass. `select(i, h)` gives layer i's LayerQ (DFQ's gate looks at h)."""
    saved, h = [], x
    for i, (lay, w, b) in enumerate(zip(net, ws, bs)):
        q = select(i, h)
        z = h if i == 0 else (np.clip(h, 0, alphas[i]) if q.pact else np.maximum(h, 0))
        rows = lay.to_rows(z)
        qa, qw = q.act(rows), q.weight(w)
        y = contract(backend, i, "fwd", qa, qw.T)
        saved.append((h, rows, qa, qw, q, y))
        h = lay.from_rows(y + b, len(x))
    return h, saved


def softmax_xent(logits, y):
    """(mean cross-entropy loss, d loss / d logits)."""
    z = logits - logits.max(axis=1, keepdims=True)
    loss = float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    p /= len(y)
    return loss, p


def backward(g, saved, alphas, net, backend, rng):
    """Gradients for weights, biases and PACT alphas from d loss / d logits `g`, and each layer's
    output gradient as GEMM rows (DFQ's gate trains on them)."""
    n = len(saved)
    dws, dbs, dalphas, out_grads = [None] * n, [None] * n, np.zeros_like(alphas), [None] * n
    for i in reversed(range(n)):
        h, _, qa, qw, q, _ = saved[i]
        lay = net[i]
        rows = out_grads[i] = lay.grad_to_rows(g)
        g_w, g_x = q.grad(rows, rng)
        dws[i], dbs[i] = contract(backend, i, "wgrad", g_w.T, qa), rows.sum(axis=0)
        if i == 0:
            break
        dz = lay.rows_to_input(contract(backend, i, "dgrad", g_x, qw), h.shape)
        if q.pact:
            dalphas[i] = np.sum(dz * (h >= alphas[i]))
            g = dz * ((h > 0) & (h < alphas[i]))
        else:
            g = dz * (h > 0)
    return dws, dbs, dalphas, out_grads


class Static:
    """A recipe whose precision is fixed for an epoch (PFQ's scheduler moves it between epochs)."""

    def __init__(self, recipe, cfg, net, alphas):
        self.recipe, self.net, self.alphas = recipe, net, alphas
        self.sched = pfq_scheduler(cfg) if forward_policy(recipe) == "pfq" else None
        self.gate_macs = 0.0

    def start_epoch(self):
        self.layers = static_layers(self.recipe, self.net, self.alphas, self.sched)

    def train_select(self, rng):
        return lambda i, h: self.layers[i]

    def eval_select(self):
        return lambda i, h: self.layers[i]

    def after_backward(self, saved, out_grads, ws, backend):
        pass

    def end_epoch(self, loss):
        if self.sched is not None:
            self.sched.step(loss)


class Dynamic:
    """DFQ / FracTrain: a gate per layer picks the option per mini-batch (golden.training.dfq)."""

    def __init__(self, recipe, cfg, net):
        self.net = net
        quantizer = grad_quantizer(recipe)
        self.dfq = dfq.DFQ(cfg, networks.layer_macs(net), pfq=forward_policy(recipe) == "fractrain",
                           make_layer=lambda i, fw, bw: scheduled_layer(quantizer, fw, bw, net[i].rows))
        self.sched = self.dfq.sched
        self.gate_macs = 0.0

    def start_epoch(self):
        pass

    def train_select(self, rng):
        self.picks = []

        def select(i, h):
            self.picks.append(self.dfq.choose(i, h, rng))
            return self.dfq.layer(i, self.picks[-1][0])
        return select

    def eval_select(self):
        return lambda i, h: self.dfq.layer(i, self.dfq.choose(i, h)[0])

    def after_backward(self, saved, out_grads, ws, backend):
        def candidate(i, k):
            rows, w = saved[i][1], ws[i]
            q = self.dfq.layer(i, k)
            fw = self.dfq.options[k][0]
            self.gate_macs += effective_macs(rows.shape[0] * self.net[i].k * self.net[i].n_out, fw, fw)
            return contract(backend, i, "fwd", q.act(rows), q.weight(w).T)
        self.dfq.update(self.picks, [s[5] for s in saved], out_grads, candidate)

    def end_epoch(self, loss):
        if self.sched is not None:
            self.sched.step(loss)


def train(bench="digits", recipe="fp32", cfg=None, backend=float_backend, rng=None, data=None):
    """Train one recipe on one benchmark (`data`: (x_train, x_test, y_train, y_test) instead of
    the benchmark's, e.g. a subset for tests). Returns a dict: bench, recipe, seed, epochs,
    test_accuracy, effective_macs, macs, precisions (per epoch, per layer [act, weight, grad]
    bits; DFQ/FracTrain: per epoch, per mini-batch, per layer), eval_precisions (the bits the
    test-set forward used), gate_macs (DFQ's candidate forward GEMMs, effective MACs, not in
    effective_macs), host_transform_macs (multiply-adds of low-rank operand corrections, BHQ's
    Householder part: what a hardware run leaves to the host, golden.gemm.low_rank_macs),
    turning_points, history (per-epoch loss), diverged_epoch (None, or the epoch
    in which a weight, activation, gradient or the loss stopped being finite: training stops, test_accuracy is 0)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    cfg = config(bench) if cfg is None else cfg
    if cfg.bench != bench:
        raise ValueError(f"cfg.bench must equal bench ({bench!r}), got {cfg.bench!r}")
    rng = np.random.default_rng(cfg.seed + 1) if rng is None else rng
    x_tr, x_te, y_tr, y_te = datasets.load(bench, cfg.seed) if data is None else data
    net = network(cfg, x_tr.shape[1])
    ws, bs = networks.init_params(net, np.random.default_rng(cfg.seed))
    alphas = np.full(len(ws), cfg.pact_alpha)  # alphas[i]: PACT clip of layer i's input (i >= 1)
    vel = [np.zeros_like(p) for p in ws + bs] + [np.zeros_like(alphas)]
    order_rng = np.random.default_rng(cfg.seed + 2)
    layer_macs = networks.layer_macs(net)
    input_grad = [False] + [True] * (len(ws) - 1)
    dynamic = forward_policy(recipe) in DYNAMIC
    policy = Dynamic(recipe, cfg, net) if dynamic else Static(recipe, cfg, net, alphas)
    cost = {"effective_macs": 0.0, "macs": 0.0, "host_transform_macs": 0}

    def counted(layer, role, qa, qb):
        # BHQ's Householder part is the host's work in hardware; the run reports how much
        cost["host_transform_macs"] += low_rank_macs(qa, qb)
        return backend(layer, role, qa, qb)
    history, precisions, diverged = [], [], None
    for epoch in range(cfg.epochs):
        policy.start_epoch()
        lr = cfg.lr * (0.1 if epoch >= cfg.lr_drop_epoch else 1.0)
        perm = order_rng.permutation(len(y_tr))
        losses, batch_bits = [], []
        for start in range(0, len(perm), cfg.batch):
            idx = perm[start:start + cfg.batch]
            try:
                logits, saved = forward(x_tr[idx], ws, bs, alphas, net, policy.train_select(rng), counted)
                loss, g = softmax_xent(logits, y_tr[idx])
                if not np.isfinite(loss):
                    raise NonFiniteInput("loss")
                dws, dbs, dalphas, out_grads = backward(g, saved, alphas, net, counted, rng)
                policy.after_backward(saved, out_grads, ws, counted)  # before the update
            except NonFiniteInput:
                # diverged: a weight, activation, gradient or the loss overflowed (no quantizer
                # grid holds NaN/Inf); stop before the update
                diverged = epoch + 1
                break
            losses.append(loss)
            params = ws + bs + [alphas]
            grads = [dw + cfg.weight_decay * w for dw, w in zip(dws, ws)] + dbs + \
                    [dalphas + cfg.weight_decay * alphas]
            for p, v, gr in zip(params, vel, grads):
                v *= cfg.momentum
                v -= lr * gr
                p += v
            bits = np.array([s[4].bits for s in saved]).T
            batch_bits.append([list(map(int, b)) for b in bits.T])
            step = training_costs(layer_macs * len(idx), bits[0], bits[1], bits[2], input_grad)
            cost["effective_macs"] += step["total"]
            cost["macs"] += training_costs(layer_macs * len(idx), 32, 32, 32, input_grad)["total"]
        if diverged:
            break
        epoch_loss = float(np.mean(losses))
        history.append({"epoch": epoch + 1, "loss": epoch_loss})
        precisions.append(batch_bits if dynamic else batch_bits[0])
        policy.end_epoch(epoch_loss)
    accuracy, eval_bits = 0.0, []
    if not diverged:
        try:
            logits, saved = forward(x_te, ws, bs, alphas, net, policy.eval_select(), counted)
            accuracy = float(np.mean(np.argmax(logits, axis=1) == y_te))
            eval_bits = [list(map(int, s[4].bits)) for s in saved]
        except NonFiniteInput:  # trained weights that overflow on the test set
            diverged = cfg.epochs
    return {
        "bench": bench,
        "recipe": recipe,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "test_accuracy": accuracy,
        "diverged_epoch": diverged,
        "effective_macs": cost["effective_macs"],
        "macs": cost["macs"],
        "precisions": precisions,
        "eval_precisions": eval_bits,
        "gate_macs": policy.gate_macs,
        "host_transform_macs": cost["host_transform_macs"],
        "turning_points": policy.sched.turning_points if policy.sched else [],
        "history": history,
    }
