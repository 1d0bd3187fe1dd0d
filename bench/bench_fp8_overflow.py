"""ibm4's FP8 GEMMs on fp8_mac: how many dot products overflow its FP16 accumulator.

`python -m bench.bench_fp8_overflow [--bench digits] [--steps 2]` (run by `make bench`). Trains
`steps` ibm4 steps (cosim.run.run) with a backend that returns the float result (the training
as the default backend runs it) and scores every FP8 x FP8 GEMM (the first and last layers) with
golden.gemm.fp8_gemm, exactly what the fp8_mac RTL computes; prints per layer / GEMM the dot
products and those that are +-Inf. The recipe's per-tensor FP8 scales (golden.training.qtensor.fp8)
put max|x| at the format's largest value, so products reach 480 x 57344: this is why HIL keeps
these layers on the host (docs/architecture.md, "The training MACs").
"""

import sys

import numpy as np

from golden import gemm as G
from golden.training.datasets import BENCHES
from cosim.run import run
from lptrain.cli import ArgumentParser


def overflow_counts(bench, steps):
    """{(layer, role, fmt_a, fmt_b): [dot products, +-Inf ones]} over `steps` ibm4 steps."""
    counts = {}

    def backend(layer, role, qa, qb):
        if {qa.fmt, qb.fmt} <= set(G.FP8_FORMATS):
            _, dots = G.fp8_gemm(qa, qb)
            c = counts.setdefault((layer, role, qa.fmt, qb.fmt), [0, 0])
            c[0] += dots.size
            c[1] += int(np.count_nonzero(np.isinf(dots)))
        return qa.dequant() @ qb.dequant()

    run(bench, "ibm4", steps, backend)
    return counts


def main(argv=None):
    p = ArgumentParser(prog="bench_fp8_overflow.py", description=__doc__.splitlines()[0])
    p.add_argument("--bench", choices=BENCHES, default="digits")
    p.add_argument("--steps", type=int, default=2)
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error(f"--steps must be >= 1, got {args.steps}")
    counts = overflow_counts(args.bench, args.steps)
    print(f"ibm4 on {args.bench}, {args.steps} steps: FP8 GEMMs scored by golden.gemm.fp8_gemm (fp8_mac)")
    print(f"{'layer':>5} {'GEMM':<6} {'formats':<12} {'dot products':>12} {'FP16 overflow':>14}")
    total = [0, 0]
    for (layer, role, fa, fb), (n, inf) in sorted(counts.items()):
        print(f"{layer:>5} {role:<6} {fa + ' x ' + fb:<12} {n:>12,} {inf:>8,} ({100 * inf / n:.1f}%)")
        total = [total[0] + n, total[1] + inf]
    print(f"{'total':>5} {'':<6} {'':<12} {total[0]:>12,} {total[1]:>8,} ({100 * total[1] / max(total[0], 1):.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
