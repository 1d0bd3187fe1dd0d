"""ibm4 trained with its FP8 GEMMs as fp8_mac computes them, next to the float model.

`python -m bench.bench_fp8_training [--bench digits] [--seeds 1]` (run by `make bench`). Every
accuracy of the project comes from golden.training's float backend, which multiplies the
dequantized codes in float64. fp8_mac computes the FP8 GEMMs differently: products scaled by
the GEMM's shift (golden.gemm.fp8_shift), FP16 accumulation with one rounding per beat and per
chain combination, then 2^shift. This trains `ibm4` twice per seed from the same start: once
with the float backend, once with a backend that runs every FP8 x FP8 GEMM through
golden.gemm.fp8_gemm (bit for bit what the RTL computes, as training on the RTL checks) and
every other GEMM as the float backend does. Prints both test accuracies per seed and the mean.

The golden FP16 accumulator is exact Python-integer arithmetic: a digits run (30 epochs) takes
tens of minutes, an MNIST-1D run (80 epochs) hours.
"""

import sys
import time

import numpy as np

from golden import gemm as G
from golden.training import config, train
from golden.training.datasets import BENCHES
from golden.training.qtensor import float_backend
from lptrain.cli import ArgumentParser


def fp8_mac_backend(layer, role, qa, qb):
    """FP8 x FP8 GEMMs as fp8_mac computes them (shift, FP16 accumulation); the rest in float64."""
    if {qa.fmt, qb.fmt} <= set(G.FP8_FORMATS):
        return G.fp8_gemm(qa, qb)[0]
    return float_backend(layer, role, qa, qb)


def main(argv=None):
    p = ArgumentParser(prog="bench_fp8_training.py", description=__doc__.splitlines()[0])
    p.add_argument("--bench", choices=BENCHES, default="digits")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1")
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error(f"--seeds must be >= 1, got {args.seeds}")
    print(f"ibm4 on {args.bench}: test accuracy, float model vs FP8 GEMMs as fp8_mac computes them")
    print(f"{'seed':>4} {'float model':>12} {'fp8_mac':>10} {'seconds':>9}")
    acc = {"float": [], "fp8_mac": []}
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        for name, backend in (("float", float_backend), ("fp8_mac", fp8_mac_backend)):
            acc[name].append(train(args.bench, "ibm4", config(args.bench, seed=seed), backend=backend)["test_accuracy"])
        print(f"{seed:>4} {100 * acc['float'][-1]:>11.2f}% {100 * acc['fp8_mac'][-1]:>9.2f}% "
              f"{time.perf_counter() - t0:>9.0f}")
    mean = {k: 100 * np.mean(v) for k, v in acc.items()}
    spread = {k: 100 * np.std(v) for k, v in acc.items()}
    print(f"mean {mean['float']:>11.2f}% {mean['fp8_mac']:>9.2f}%  (std {spread['float']:.2f} / {spread['fp8_mac']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
