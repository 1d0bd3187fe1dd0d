"""FracTrain (Fu et al., NeurIPS 2020): the effective-MAC cost metric, the DFQ cost account and the
PFQ precision scheduler.

Cost metric (docs/spec.md; FracTrain's `train_pfq.py` computes fw/eb/gc costs the same way):

    effective MACs = MACs x (bits_a / 32) x (bits_b / 32)

A training step of one linear/conv layer runs three GEMMs with the same MAC count: forward
(activation x weight), input gradient (output gradient x weight) and weight gradient (output
gradient x activation). The first layer's input gradient is not needed (its input is data).
"""

import math

import numpy as np

MAX_BITS = 32


def _check_bits_array(name, bits):
    b = np.asarray(bits)
    if b.dtype.kind not in "iu" or np.any(b < 1) or np.any(b > MAX_BITS):
        raise ValueError(f"{name} must be integers in 1..{MAX_BITS}, got {bits!r}")
    return b


def effective_macs(macs, bits_a, bits_b):
    """MACs x (bits_a/32) x (bits_b/32): the cost of a GEMM with bits_a x bits_b operands, in units
    of 32x32-bit MACs. Vectorized; returns a float for scalar inputs."""
    m = np.asarray(macs, dtype=np.float64)
    if np.any(m < 0) or not np.all(np.isfinite(m)):
        raise ValueError(f"macs must be finite and >= 0, got {macs!r}")
    a, b = _check_bits_array("bits_a", bits_a), _check_bits_array("bits_b", bits_b)
    out = m * (a / MAX_BITS) * (b / MAX_BITS)
    return float(out) if out.ndim == 0 else out


def training_costs(macs, act_bits, weight_bits, grad_bits, input_grad=True):
    """Effective MACs of one training step, per GEMM kind, summed over layers (and samples).

    `macs`: per-layer MACs of the forward GEMM, shape (L,). `act_bits`, `weight_bits`,
    `grad_bits`: per-layer operand precisions, broadcastable to (..., L) (leading axes = e.g.
    samples with their own precision, as DFQ chooses per input). `input_grad`: bool or (L,) bools,
    whether the layer's input-gradient GEMM runs (False for a layer fed by data).
    Returns {"forward", "input_grad", "weight_grad", "total"} as floats.
    """
    m = np.asarray(macs, dtype=np.float64)
    if m.ndim != 1:
        raise ValueError(f"macs must be a 1-D per-layer array, got shape {m.shape}")
    ig = np.broadcast_to(np.asarray(input_grad, dtype=bool), m.shape)
    fw = effective_macs(m, act_bits, weight_bits)
    ib = effective_macs(m, grad_bits, weight_bits) * ig
    wg = effective_macs(m, grad_bits, act_bits)
    out = {"forward": float(np.sum(fw)), "input_grad": float(np.sum(ib)),
           "weight_grad": float(np.sum(wg))}
    out["total"] = out["forward"] + out["input_grad"] + out["weight_grad"]
    return out


def dfq_cost(macs, fw_bits, bw_bits, input_grad=True):
    """DFQ cost account (Fu et al. 2020, Sec. 3.2): each layer runs at the precision chosen for it
    (per mini-batch or per input): `fw_bits` for its activations and weights, `bw_bits` for its
    output gradient, both broadcastable to (..., L). Returns `training_costs(...)`."""
    return training_costs(macs, fw_bits, fw_bits, bw_bits, input_grad)


class PFQScheduler:
    """Progressive Fractional Quantization's precision indicator (Fu et al. 2020, Sec. 3.1; the
    authors' `loss_diff_indicator` in `fractrain_cifar/train_pfq.py`).

    Call `step(loss)` once per epoch with that epoch's training loss; then `fw_bits` / `bw_bits`
    give the precision for the next epoch. Rule:
      - the loss scale is the mean epoch loss over the first `scale_epochs` (10) epochs;
      - the last `window` (5) losses are kept; once the window is full, a turning point is found
        when |L_i - L_now| / scale <= epsilon for every earlier loss L_i in the window;
      - at a turning point the precision moves to the next stage of the schedule, epsilon is
        multiplied by alpha (< 1: later stages need a flatter curve) and the window is cleared.
    Stops looking after the last stage. `epsilon` / `alpha` are the authors' `--initial_threshold`
    / `--decay` (their defaults 0.15 / 0.4 are this class's defaults).
    """

    def __init__(self, fw_schedule=(3, 4, 6, 8), bw_schedule=(6, 6, 8, 8), epsilon=0.15, alpha=0.4,
                 window=5, scale_epochs=10):
        fw, bw = tuple(fw_schedule), tuple(bw_schedule)
        if len(fw) == 0 or len(fw) != len(bw):
            raise ValueError(f"fw_schedule and bw_schedule must be non-empty and of equal length, "
                             f"got {fw} and {bw}")
        for name, sched in (("fw_schedule", fw), ("bw_schedule", bw)):
            _check_bits_array(name, sched)
            if any(b > a for a, b in zip(sched[1:], sched[:-1])):
                raise ValueError(f"{name} must be non-decreasing (PFQ only raises precision), got {sched}")
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon must be a finite number > 0, got {epsilon!r}")
        if not (0 < alpha <= 1):
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if not (isinstance(window, int) and window >= 2):
            raise ValueError(f"window must be an integer >= 2, got {window!r}")
        if not (isinstance(scale_epochs, int) and scale_epochs >= 1):
            raise ValueError(f"scale_epochs must be an integer >= 1, got {scale_epochs!r}")
        self.fw_schedule, self.bw_schedule = fw, bw
        self.threshold = float(epsilon)
        self.alpha = float(alpha)
        self.window = window
        self.scale_epochs = scale_epochs
        self.stage = 0
        self.epoch = 0
        self.turning_points = []  # epochs (1-based) after which the precision rose
        self._scale_sum = 0.0
        self._losses = []

    @property
    def fw_bits(self):
        return self.fw_schedule[self.stage]

    @property
    def bw_bits(self):
        return self.bw_schedule[self.stage]

    def step(self, loss):
        """Record one epoch's training loss; returns True when it is a turning point."""
        loss = float(loss)
        if not math.isfinite(loss):
            raise ValueError(f"loss must be finite, got {loss!r}")
        self.epoch += 1
        if self.epoch <= self.scale_epochs:
            self._scale_sum += loss
            self._scale = self._scale_sum / self.epoch
        if self.stage == len(self.fw_schedule) - 1:
            return False
        self._losses = (self._losses + [loss])[-self.window:]
        if len(self._losses) < self.window:
            return False
        scale = self._scale if self._scale != 0 else 1.0
        if any(abs(l - loss) / abs(scale) > self.threshold for l in self._losses[:-1]):
            return False
        self.stage += 1
        self.turning_points.append(self.epoch)
        self.threshold *= self.alpha
        self._losses = []
        return True
