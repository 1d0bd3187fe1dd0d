"""Training operands for workload-annotated power: activations, weights and gradients of one layer.

They come from the golden digits training run (golden.training, recipe fp32): the middle
64x64 layer's input activations a (after ReLU), weights W and output gradient g, captured at the
last mini-batches of a short run, so the values are those a MAC array sees mid-training. The three
GEMMs of training that layer (forward a.W^T, input gradient g.W, weight gradient g^T.a) are what
the arrays run; `quantize_*` turn the float tensors into the b-bit integers a fusion unit sees at
each precision, R4FP4/INT4/FP16 operands for the hybrid and FP16 MACs come from the golden
encoders (synth.workloads).
"""

import dataclasses
import functools

import numpy as np

from golden.training import config, train

__all__ = ["tensors", "quantize_unsigned", "quantize_signed", "gemm_operands"]

EPOCHS = 3        # capture point: end of the third epoch (loss well below its initial value)
BATCHES = 4       # mini-batches captured (4 x 32 samples) so the weight-gradient GEMM has K = 128
LAYER = 1         # the middle 64x64 layer


@functools.lru_cache(maxsize=1)
def _capture():
    # The training GEMM hook sees every operand: per mini-batch, the layer's forward GEMM brings
    # (a, W^T), then its weight-gradient GEMM brings (g^T, a). The test set's forward at the end
    # is followed by no weight gradient, so it is never recorded.
    seen, fwd = [], {}

    def recording_backend(layer, role, qa, qb):
        if layer == LAYER and role == "fwd":
            fwd["a"], fwd["w"] = qa.dequant().copy(), qb.dequant().T.copy()
        elif layer == LAYER and role == "wgrad":
            seen.append((fwd["a"], fwd["w"], qa.dequant().T.copy()))
        return qa.dequant() @ qb.dequant()

    train("digits", "fp32", dataclasses.replace(config("digits"), epochs=EPOCHS),
          backend=recording_backend)
    last = seen[-BATCHES - 1:-1]  # full-size batches (the epoch's last batch may be short)
    return (np.concatenate([s[0] for s in last]).astype(np.float32), last[-1][1].astype(np.float32),
            np.concatenate([s[2] for s in last]).astype(np.float32))


def tensors():
    """({'x': activations (B x 64), 'w': weights (64 out x 64 in), 'g': output gradient (B x 64)},
    a one-line description of where they come from)."""
    x, w, g = _capture()
    source = (f"golden digits training run (golden.training, fp32 recipe): middle "
              f"{w.shape[1]}x{w.shape[0]} layer after {EPOCHS} epochs, last {BATCHES} mini-batches "
              f"({x.shape[0]} samples): ReLU activations, weights, output gradients")
    return {"x": x, "w": w, "g": g}, source


def _clip_level(t):
    # Per-tensor clipping at the 99.9th percentile of |t| (PACT/SAWB-like; keeps outliers from
    # wasting the few levels of 2-bit codes).
    level = float(np.quantile(np.abs(t), 0.999))
    return level if level > 0 else 1.0


def quantize_unsigned(t, bits):
    """Uniform unsigned `bits`-bit codes of a non-negative tensor (activations after ReLU)."""
    top = (1 << bits) - 1
    return np.clip(np.rint(t / _clip_level(t) * top), 0, top).astype(np.int64)


def quantize_signed(t, bits):
    """Symmetric signed `bits`-bit codes in [-(2^(b-1)-1), 2^(b-1)-1] (weights, gradients)."""
    top = (1 << (bits - 1)) - 1
    return np.clip(np.rint(t / _clip_level(t) * top), -top, top).astype(np.int64)


def gemm_operands(t, bits_a, bits_b):
    """The three training GEMMs as (name, A (M x K), B (K x N), A signed, B signed) in integers.

    A carries bits_a, B bits_b: forward a(unsigned).W^T, input gradient g.W, weight gradient
    g^T.a (golden.training's layout: W is out x in).
    """
    x, w, g = t["x"], t["w"], t["g"]
    return [
        ("forward", quantize_unsigned(x, bits_a), quantize_signed(w.T, bits_b), False, True),
        ("input_grad", quantize_signed(g, bits_a), quantize_signed(w, bits_b), True, True),
        ("weight_grad", quantize_signed(g.T, bits_a), quantize_unsigned(x, bits_b), True, False),
    ]
