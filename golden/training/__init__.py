"""Quantized training in NumPy: benchmarks, networks, recipes and the training GEMM hook.

    python -m golden.training --bench {digits,mnist1d} --recipe NAME|all [--seed N] [--epochs N]
                              [--dfq-target F] [--json]

Modules: `datasets` (scikit-learn digits; MNIST-1D generated offline), `networks` (MLP, CNN1D as
im2col GEMMs), `recipes` (fp32, fw8bw8, pfq, ibm4, Chen et al.'s ptq/psq/bhq), `dfq` (FracTrain's
DFQ gate; dfq, fractrain), `loop` (`train`), `qtensor` (QTensor, the default backend), `demo`.

Training GEMM hook (stable interface): every quantized GEMM of a training step, and the forward
GEMMs of evaluation, is one call

    backend(layer, role, qa, qb) -> float64 (M, N)

`layer` the layer index (0 = input side), `role` in {"fwd", "dgrad", "wgrad"}, `qa` (M, K) and
`qb` (K, N) `golden.training.qtensor.QTensor`s (fmt, codes, bits, signed, scale, zero, top, phase,
scale_exp, dequant(); formats and vector-scale orientation in that module's docstring). Layer
i's GEMMs: fwd qA (B*rows, K) x qW.T (K, out); wgrad qG.T (out, B*rows) x qA (B*rows, K); dgrad
qG (B*rows, out) x qW (out, K), not run for layer 0. Quantization, with its random bits, happens
before the call, so every backend sees the same codes. `train(..., backend=float_backend)`
takes the backend; the default multiplies the dequantized operands in float64. Call order per
mini-batch: every layer's fwd (0 .. L-1), then per layer from L-1 down to 0 its wgrad and (not
for layer 0) dgrad; `dfq`/`fractrain` then add, per layer, one more fwd call for each allowed
option the gate did not choose (its training signal; counted as `gate_macs`). After the last
epoch, the test set's fwd calls.
"""

from .loop import Config, config, train
from .qtensor import QTensor, float_backend
from .recipes import RECIPES

__all__ = ["Config", "config", "train", "QTensor", "float_backend", "RECIPES"]
