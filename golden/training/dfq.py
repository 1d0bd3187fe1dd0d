"""FracTrain's Dynamic Fractional Quantization (DFQ) and FracTrain = PFQ + DFQ (Fu et al. 2020,
Sec. 3.2-3.3; released code `fractrain_cifar/train_dfq.py`, `train_frac.py`, `models.py`).

Per layer and per mini-batch a gate picks one option (forward bits, gradient bits) from a set;
the layer then trains as `range_layer(fw, bw)` (FracTrain's min/max quantizer; the weights take
the forward bits, as golden.fractrain.dfq_cost charges them), or, in the combined recipes
(dfq+psq, ...), as the `make_layer(i, fw, bw)` the caller gives. One precision per layer per
mini-batch: bit-parallel hardware switches per tile, never per sample.

Gate (a small gate per layer on the layer's input statistics, instead of FracTrain's LSTM shared
across layers): features f = [1, per-channel mean of the layer input h over the mini-batch and
positions] (FracTrain's gate average-pools the block output the same way, then projects), logits
z = V f, one (V) per layer, V = 0 at the start.
  training   Gumbel-softmax straight-through (Jang et al. 2017): y = softmax((z + g) / tau) with
             g ~ Gumbel(0, 1) drawn from the run's Generator, the layer runs option
             k = argmax y; the backward pass treats the one-hot choice as y (FracTrain's
             `hard - prob.detach() + prob`).
  evaluation argmax z (deterministic: no noise).
Gate loss (train_dfq.py): task loss + beta * reg * C, C = the step's effective MACs as a fraction
of fw8bw8's, reg = +1 when the realized (argmax) C of the mini-batch is >= the target, else -1
(FracTrain's `reg` with relax 0): the penalty pushes the cost down above the target and lets it
rise below. The task loss reaches the gate through the layer output Y = sum_k y_k Y_k (released
`models.py` computes every option's output `output_candidates` and mixes them with the one-hot
mask): d loss / d y_k = <d loss / d Y, Y_k>. So the gate's update needs the forward GEMM of every
option, not only the chosen one; those candidate GEMMs go through the backend (role "fwd") and
are counted separately (`gate_macs`), not in the training cost, as FracTrain does not count them.
Gate update: plain SGD, rate `dfq_lr`.

Option sets: "fractrain" (released code: forward {3,4,4,6,6} with gradient {6,6,8,8,12}) and
"hw" ({2,4,8} x {4,8}: the widths the fusion array runs at full rate).
fractrain (PFQ + DFQ): PFQScheduler's stage (FW, BW) caps the option set, so the set grows at each
turning point: options with forward bits <= FW and gradient bits <= BW (the cheapest option if
none qualifies); PFQ's last stage (8, 8) opens the whole set (FracTrain's 12-bit gradients too). FracTrain's train_frac.py raises the cost target at turning points instead; the
issue asks that PFQ raise the option set, which also keeps early training at PFQ's low precision.
"""

import numpy as np

from ..fractrain import training_costs
from ..quantizers import NonFiniteInput
from .recipes import pfq_scheduler, range_layer

__all__ = ["OPTION_SETS", "DFQ", "gate_features", "st_gumbel", "softmax"]

OPTION_SETS = {
    "fractrain": ((3, 6), (4, 6), (4, 8), (6, 8), (6, 12)),
    "hw": tuple((f, b) for f in (2, 4, 8) for b in (4, 8)),
}


def gate_features(h):
    """[1, mean of h per channel over the mini-batch and positions] (channel = last axis)."""
    return np.concatenate([[1.0], h.reshape(-1, h.shape[-1]).mean(axis=0)])


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def st_gumbel(z, tau, uniform, allowed):
    """(choice, soft y) of the straight-through Gumbel-softmax; `uniform` in (0, 1) per option
    (None at evaluation: argmax z); options outside `allowed` (bool mask) are never chosen."""
    z = np.where(allowed, z, -np.inf)
    if uniform is None:
        return int(np.argmax(z)), softmax(z)
    y = softmax((z - np.log(-np.log(uniform))) / tau)
    return int(np.argmax(y)), y


def option_costs(macs, options, first):
    """Effective MACs per sample of one layer's training step at each (fw, bw) option:
    weights and activations at fw, gradients at bw (golden.fractrain.dfq_cost)."""
    return np.array([training_costs(np.array([macs]), f, f, b, not first)["total"] for f, b in options])


class DFQ:
    """The gates of one network and their training state (`dfq` or, with `pfq=True`, `fractrain`)."""

    def __init__(self, cfg, net_macs, pfq=False, make_layer=lambda i, fw, bw: range_layer(fw, bw)):
        if cfg.dfq_options not in OPTION_SETS:
            raise ValueError(f"dfq_options must be one of {tuple(OPTION_SETS)}, got {cfg.dfq_options!r}")
        if not 0 < cfg.dfq_target:
            raise ValueError(f"dfq_target must be > 0, got {cfg.dfq_target!r}")
        self.cfg, self.make_layer = cfg, make_layer
        self.options = OPTION_SETS[cfg.dfq_options]
        self.sched = pfq_scheduler(cfg) if pfq else None
        n = len(net_macs)
        reference = training_costs(np.asarray(net_macs, float), 8, 8, 8, [False] + [True] * (n - 1))["total"]
        # cost[i, k]: layer i's step at option k, a fraction of fw8bw8's whole-network step
        self.cost = np.array([option_costs(m, self.options, i == 0) for i, m in enumerate(net_macs)]) / reference
        self.v = [None] * n  # created at the first mini-batch, sized by the features

    def allowed(self):
        if self.sched is None or self.sched.stage == len(self.sched.fw_schedule) - 1:
            return np.ones(len(self.options), bool)
        ok = np.array([f <= self.sched.fw_bits and b <= self.sched.bw_bits for f, b in self.options])
        return ok if ok.any() else np.arange(len(self.options)) == np.argmin(self.cost.sum(axis=0))

    def choose(self, i, h, rng=None):
        """Layer i's option for this mini-batch: (k, soft y, features). rng None: evaluation."""
        f = gate_features(h)
        if self.v[i] is None:
            self.v[i] = np.zeros((len(self.options), len(f)))
        u = None if rng is None else rng.random(len(self.options))
        with np.errstate(invalid="ignore", over="ignore"):
            z = self.v[i] @ f
        if not np.all(np.isfinite(z)):
            # a gate whose weights overflowed has diverged: argmax of NaN logits would silently
            # pick the first option for the rest of training
            raise NonFiniteInput(f"DFQ gate logits of layer {i}")
        k, y = st_gumbel(z, self.cfg.dfq_tau, u, self.allowed())
        return k, y, f

    def layer(self, i, k):
        """Layer i's quantizers at option k."""
        return self.make_layer(i, *self.options[k])

    def update(self, picks, outputs, grads, candidates):
        """One SGD step of every gate. picks[i] = (k, y, f); outputs[i] = the chosen option's
        forward rows Y_k; grads[i] = d loss / d Y; candidates(i, k) -> option k's forward rows.
        Returns the realized cost fraction C of the mini-batch."""
        c = self.cfg
        realized = sum(self.cost[i, k] for i, (k, _, _) in enumerate(picks))
        reg = 1.0 if realized >= c.dfq_target else -1.0
        for i, (k, y, f) in enumerate(picks):
            allowed = self.allowed()
            dy = np.zeros(len(self.options))
            for j in np.flatnonzero(allowed):
                dy[j] = np.vdot(grads[i], outputs[i] if j == k else candidates(i, j))
            dy += c.dfq_beta * reg * self.cost[i]
            dz = (y * (dy - y @ dy)) / c.dfq_tau  # softmax Jacobian (symmetric) times dy
            self.v[i] -= c.dfq_lr * np.outer(np.where(allowed, dz, 0.0), f)
        return realized
