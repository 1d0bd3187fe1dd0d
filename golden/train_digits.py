"""Quantized-training demo: a NumPy MLP on scikit-learn's bundled digits set, four recipes.

    python -m golden.train_digits --recipe {fp32,ibm4,fw8bw8,pfq,all} [--json]

Network 64-64-64-10 (two hidden layers): three GEMM layers, so the middle one is the layer the
4-bit recipe runs fully in 4 bits while the first and last are its FP8 "sensitive" layers.
Every recipe trains the same initial weights on the same batches (fixed split and seeds); random
bits for stochastic rounding come from the generator passed to `train`.

Each layer runs three GEMMs: forward a @ W^T, input gradient g @ W, weight gradient g^T @ a, with
operands quantized per recipe (biases stay in the accumulator's precision, as the hardware adds
them there). Gradients pass the quantizers straight through (STE), PACT's clip excepted.
  fp32    no quantization, ReLU.
  ibm4    Sun et al. 2020: middle layer INT4 PACT activations (learned clip alpha, Choi et al.),
          INT4 SAWB weights, R4FP4 output gradient with GradScale and TPR (even grid for the
          weight-gradient GEMM, odd grid for the input-gradient GEMM, nearest rounding). First and
          last layers in FP8 (e4m3 activations/weights, e5m2 gradients, each tensor with a
          power-of-two scale putting its max in the format's top binade). PACT clip everywhere.
  fw8bw8  FracTrain's static baseline: 8-bit range_quantize for activations (per tensor, nearest),
          weights (per output channel, nearest) and gradients (per tensor, stochastic; one
          quantized gradient feeds both backward GEMMs). ReLU.
  pfq     as fw8bw8 with (FW, BW) bits from PFQScheduler: FW 3,4,6,8 / BW 6,6,8,8.
Cost: effective MACs (golden.fractrain) of every training GEMM; the first layer's input-gradient
GEMM is not run (its input is data).
"""

import argparse
import dataclasses
import json
import math
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from .fp8 import fp8_decode, fp8_encode
from .fractrain import PFQScheduler, training_costs
from .quantizers import pact, range_quantize, sawb
from .r4fp4 import gradscale_exp, r4fp4_decode, tpr

RECIPES = ("fp32", "ibm4", "fw8bw8", "pfq")
FP8_MAX = {"e4m3": 480.0, "e5m2": 57344.0}  # largest finite magnitudes at the default biases


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: tuple = (64, 64)
    epochs: int = 30
    batch: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_drop_epoch: int = 20  # lr x 0.1 from this epoch on
    test_fraction: float = 0.3
    seed: int = 0
    pact_alpha: float = 4.0
    pfq_epsilon: float = 0.15  # FracTrain's defaults
    pfq_alpha: float = 0.4


def load_data(cfg):
    """Digits (8x8 images, pixels 0..16) scaled to [0, 1], stratified fixed split."""
    d = load_digits()
    return train_test_split(d.data / 16.0, d.target, test_size=cfg.test_fraction,
                            random_state=cfg.seed, stratify=d.target)


# ---- per-tensor quantizers the recipes use (golden formats, dequantized to float64) ---------

def fp8(x, fmt):
    """FP8 with a per-tensor power-of-two scale 2^s, s = ceil(log2(max|x| / max_fmt))."""
    top = np.abs(x).max()
    if top == 0:
        return np.zeros_like(x)
    s = math.ceil(math.log2(top / FP8_MAX[fmt]))
    codes = fp8_encode(np.ldexp(x, -s).astype(np.float16), fmt)
    return np.ldexp(fp8_decode(codes, fmt).astype(np.float64), s)


def r4fp4_tpr(g):
    """GradScale + TPR: (even-grid, odd-grid) dequantized copies of the gradient."""
    g16 = g.astype(np.float16)
    s = gradscale_exp(g16)
    even, odd = tpr(g16, s)
    return r4fp4_decode(even, 0, s).astype(np.float64), r4fp4_decode(odd, 1, s).astype(np.float64)


@dataclasses.dataclass
class LayerQ:
    """How one layer quantizes its GEMM operands, and the bit widths it is charged for."""
    act: object          # f(a) -> quantized input activations (given the clipped/ReLU'd values)
    weight: object       # f(W) -> quantized weights
    grad: object         # f(g, rng) -> (gradient for the weight-grad GEMM, for the input-grad GEMM)
    bits: tuple          # (activation, weight, gradient) bits for the cost account
    pact: bool = False   # the activation feeding this layer is PACT-clipped (else ReLU)


def identity(x):
    return x


def _fp32(n_layers, **_):
    return [LayerQ(identity, identity, lambda g, rng: (g, g), (32, 32, 32)) for _ in range(n_layers)]


def _range(n_layers, fw, bw):
    def grad(g, rng):
        q = range_quantize(g, bw, rng.random(g.shape))
        return q, q
    return [LayerQ(lambda a: range_quantize(a, fw), lambda w: range_quantize(w, fw, axis=0), grad,
                   (fw, fw, bw)) for _ in range(n_layers)]


def _ibm4(n_layers, alphas, **_):
    edge = lambda i: LayerQ(lambda a: fp8(a, "e4m3"), lambda w: fp8(w, "e4m3"),
                            lambda g, rng: (fp8(g, "e5m2"),) * 2, (8, 8, 8), pact=i > 0)
    layers = [edge(i) for i in range(n_layers)]
    for i in range(1, n_layers - 1):
        layers[i] = LayerQ(lambda a, i=i: pact(a, alphas[i], 4), lambda w: sawb(w, 4),
                           lambda g, rng: r4fp4_tpr(g), (4, 4, 4), pact=True)
    return layers


# ---- the network ------------------------------------------------------------------------------

def init_params(cfg, n_in, n_out):
    rng = np.random.default_rng(cfg.seed)
    sizes = (n_in, *cfg.hidden, n_out)
    ws = [rng.normal(0, math.sqrt(2 / a), size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b) for b in sizes[1:]]
    alphas = np.full(len(ws), cfg.pact_alpha)  # alphas[i]: PACT clip of layer i's input (i >= 1)
    return ws, bs, alphas


def forward(x, ws, bs, alphas, layers):
    """Logits plus what the backward pass needs: per layer (pre-activation h, quantized input a,
    quantized weight)."""
    saved, h = [], x
    for i, (w, b, q) in enumerate(zip(ws, bs, layers)):
        z = h if i == 0 else (np.clip(h, 0, alphas[i]) if q.pact else np.maximum(h, 0))
        a, wq = q.act(z), q.weight(w)
        saved.append((h, a, wq))
        h = a @ wq.T + b
    return h, saved


def backward(logits, y, saved, alphas, layers, rng):
    """Cross-entropy gradients for weights, biases and PACT alphas."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    g = p
    g[np.arange(len(y)), y] -= 1
    g /= len(y)
    dws, dbs, dalphas = [None] * len(saved), [None] * len(saved), np.zeros_like(alphas)
    for i in reversed(range(len(saved))):
        h, a, wq = saved[i]
        g_w, g_x = layers[i].grad(g, rng)
        dws[i], dbs[i] = g_w.T @ a, g.sum(axis=0)
        if i == 0:
            break
        dz = g_x @ wq
        if layers[i].pact:
            dalphas[i] = np.sum(dz * (h >= alphas[i]))
            g = dz * ((h > 0) & (h < alphas[i]))
        else:
            g = dz * (h > 0)
    return dws, dbs, dalphas


def evaluate(x, y, ws, bs, alphas, layers):
    logits, _ = forward(x, ws, bs, alphas, layers)
    return float(np.mean(np.argmax(logits, axis=1) == y))


def train(recipe, cfg=Config(), rng=None):
    """Train one recipe; returns a dict: test_accuracy, effective_macs, macs, per-epoch schedule."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    rng = np.random.default_rng(cfg.seed + 1) if rng is None else rng
    x_tr, x_te, y_tr, y_te = load_data(cfg)
    ws, bs, alphas = init_params(cfg, x_tr.shape[1], 10)
    vel = [np.zeros_like(p) for p in ws + bs] + [np.zeros_like(alphas)]
    order_rng = np.random.default_rng(cfg.seed + 2)
    layer_macs = np.array([w.size for w in ws], dtype=np.float64)
    input_grad = [False] + [True] * (len(ws) - 1)
    sched = PFQScheduler(epsilon=cfg.pfq_epsilon, alpha=cfg.pfq_alpha) if recipe == "pfq" else None
    cost = {"effective_macs": 0.0, "macs": 0.0}
    history = []
    for epoch in range(cfg.epochs):
        if recipe == "pfq":
            layers = _range(len(ws), sched.fw_bits, sched.bw_bits)
        elif recipe == "fw8bw8":
            layers = _range(len(ws), 8, 8)
        else:
            layers = {"fp32": _fp32, "ibm4": _ibm4}[recipe](len(ws), alphas=alphas)
        bits = np.array([q.bits for q in layers]).T
        lr = cfg.lr * (0.1 if epoch >= cfg.lr_drop_epoch else 1.0)
        perm = order_rng.permutation(len(y_tr))
        losses = []
        for start in range(0, len(perm), cfg.batch):
            idx = perm[start:start + cfg.batch]
            logits, saved = forward(x_tr[idx], ws, bs, alphas, layers)
            z = logits - logits.max(axis=1, keepdims=True)
            losses.append(float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(idx)), y_tr[idx]])))
            dws, dbs, dalphas = backward(logits, y_tr[idx], saved, alphas, layers, rng)
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
        history.append({"epoch": epoch + 1, "loss": epoch_loss, "bits": [list(map(int, b)) for b in bits.T]})
        if sched is not None:
            sched.step(epoch_loss)
    return {
        "recipe": recipe,
        "test_accuracy": evaluate(x_te, y_te, ws, bs, alphas, layers),
        "effective_macs": cost["effective_macs"],
        "macs": cost["macs"],
        "epochs": cfg.epochs,
        "turning_points": sched.turning_points if sched else [],
        "history": history,
    }


def table(results):
    base = {r["recipe"]: r for r in results}
    ref = base.get("fw8bw8")
    lines = [f"{'recipe':8} {'test acc':>9} {'eff. MACs':>12} {'vs fw8bw8':>10}"]
    for r in results:
        rel = f"{r['effective_macs'] / ref['effective_macs']:10.3f}" if ref else f"{'':>10}"
        lines.append(f"{r['recipe']:8} {100 * r['test_accuracy']:8.2f}% {r['effective_macs']:12.4g} {rel}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", choices=RECIPES + ("all",), required=True)
    ap.add_argument("--json", action="store_true", help="print JSON (test accuracy, effective MACs)")
    ap.add_argument("--epochs", type=int, default=Config.epochs)
    ap.add_argument("--seed", type=int, default=Config.seed)
    args = ap.parse_args(argv)
    cfg = Config(epochs=args.epochs, seed=args.seed)
    names = RECIPES if args.recipe == "all" else (args.recipe,)
    results = [train(n, cfg) for n in names]
    if args.json:
        keep = ("recipe", "test_accuracy", "effective_macs", "macs", "epochs", "turning_points")
        out = [{k: r[k] for k in keep} for r in results]
        json.dump(out if args.recipe == "all" else out[0], sys.stdout, indent=1)
        print()
    else:
        print(table(results))


if __name__ == "__main__":
    main()
