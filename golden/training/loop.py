"""The training loop: SGD with momentum, every quantized GEMM through one backend call.

`train(bench, recipe, cfg, backend=float_backend)`: per mini-batch, per layer i (0 = input side):
    forward       Y_i  = backend(i, "fwd",   qA_i,       qW_i.T)    (B*rows, out)
    weight grad   dW_i = backend(i, "wgrad", qG_i(w).T,  qA_i)      (out, K)
    input grad    dA_i = backend(i, "dgrad", qG_i(x),    qW_i)      (B*rows, K), not for layer 0
with the QTensors of golden.training.qtensor, quantized by the recipe (golden.training.recipes)
before the call; evaluation runs the test set's forward GEMMs through the same backend. Random
bits: three Generators from the seed, `default_rng(seed)` for the initial weights,
`default_rng(seed + 1)` for rounding noise (and DFQ's gate noise), `default_rng(seed + 2)` for
the batch order (golden.train_digits' streams, so its digits numbers reproduce bit for bit).
"""

import dataclasses

import numpy as np

from ..fractrain import training_costs
from . import datasets, networks
from .qtensor import float_backend
from .recipes import RECIPES, pfq_scheduler, static_layers

__all__ = ["Config", "config", "train", "forward", "backward", "softmax_xent"]


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


def forward(x, ws, bs, alphas, net, select, backend):
    """Logits and, per layer, (input pre-activation h, qA, qW, LayerQ) for the backward pass.
    `select(i, h)` gives layer i's LayerQ (DFQ's gate looks at h)."""
    saved, h = [], x
    for i, (lay, w, b) in enumerate(zip(net, ws, bs)):
        q = select(i, h)
        z = h if i == 0 else (np.clip(h, 0, alphas[i]) if q.pact else np.maximum(h, 0))
        qa, qw = q.act(lay.to_rows(z)), q.weight(w)
        saved.append((h, qa, qw, q))
        h = lay.from_rows(backend(i, "fwd", qa, qw.T) + b, len(x))
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
    """Gradients for weights, biases and PACT alphas from d loss / d logits `g`."""
    n = len(saved)
    dws, dbs, dalphas = [None] * n, [None] * n, np.zeros_like(alphas)
    for i in reversed(range(n)):
        h, qa, qw, q = saved[i]
        lay = net[i]
        rows = lay.grad_to_rows(g)
        g_w, g_x = q.grad(rows, rng)
        dws[i], dbs[i] = backend(i, "wgrad", g_w.T, qa), rows.sum(axis=0)
        if i == 0:
            break
        dz = lay.rows_to_input(backend(i, "dgrad", g_x, qw), h.shape)
        if q.pact:
            dalphas[i] = np.sum(dz * (h >= alphas[i]))
            g = dz * ((h > 0) & (h < alphas[i]))
        else:
            g = dz * (h > 0)
    return dws, dbs, dalphas


def train(bench="digits", recipe="fp32", cfg=None, backend=float_backend, rng=None, data=None):
    """Train one recipe on one benchmark (`data`: (x_train, x_test, y_train, y_test) instead of
    the benchmark's, e.g. a subset for tests). Returns a dict: bench, recipe, seed, epochs,
    test_accuracy, effective_macs, macs, precisions (per epoch, per layer [act, weight, grad]
    bits), turning_points, history (per-epoch loss)."""
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
    sched = pfq_scheduler(cfg) if recipe == "pfq" else None
    cost = {"effective_macs": 0.0, "macs": 0.0}
    history, precisions = [], []
    for epoch in range(cfg.epochs):
        layers = static_layers(recipe, net, alphas, sched)
        bits = np.array([q.bits for q in layers]).T
        lr = cfg.lr * (0.1 if epoch >= cfg.lr_drop_epoch else 1.0)
        perm = order_rng.permutation(len(y_tr))
        losses = []
        for start in range(0, len(perm), cfg.batch):
            idx = perm[start:start + cfg.batch]
            logits, saved = forward(x_tr[idx], ws, bs, alphas, net, lambda i, h: layers[i], backend)
            loss, g = softmax_xent(logits, y_tr[idx])
            losses.append(loss)
            dws, dbs, dalphas = backward(g, saved, alphas, net, backend, rng)
            params = ws + bs + [alphas]
            grads = [dw + cfg.weight_decay * w for dw, w in zip(dws, ws)] + dbs + \
                    [dalphas + cfg.weight_decay * alphas]
            for p, v, gr in zip(params, vel, grads):
                v *= cfg.momentum
                v -= lr * gr
                p += v
            step = training_costs(layer_macs * len(idx), bits[0], bits[1], bits[2], input_grad)
            cost["effective_macs"] += step["total"]
            cost["macs"] += training_costs(layer_macs * len(idx), 32, 32, 32, input_grad)["total"]
        epoch_loss = float(np.mean(losses))
        history.append({"epoch": epoch + 1, "loss": epoch_loss})
        precisions.append([list(map(int, b)) for b in bits.T])
        if sched is not None:
            sched.step(epoch_loss)
    logits, _ = forward(x_te, ws, bs, alphas, net, lambda i, h: layers[i], backend)
    return {
        "bench": bench,
        "recipe": recipe,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "test_accuracy": float(np.mean(np.argmax(logits, axis=1) == y_te)),
        "effective_macs": cost["effective_macs"],
        "macs": cost["macs"],
        "precisions": precisions,
        "turning_points": sched.turning_points if sched else [],
        "history": history,
    }
