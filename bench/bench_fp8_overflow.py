"""ibm4's FP8 GEMMs on fp8_mac: how many dot products overflow its FP16 accumulator, with the
GEMM's product shift (golden.gemm.fp8_shift) and without it.

`python -m bench.bench_fp8_overflow [--bench digits] [--steps 2]` (run by `make bench`). Trains
`steps` ibm4 steps (cosim.run.run) with a backend that returns the float result (the training
as the default backend runs it) and scores every FP8 x FP8 GEMM (the first and last layers) as
fp8_mac computes it: golden.gemm.fp8_gemm at the GEMM's product shift, and golden.fp8_mac on the
same beats at shift 0 (the unit before the shift existed). The recipe's per-tensor FP8 scales
(golden.training.qtensor.fp8) put max|x| at the format's largest value, so products reach
480 x 57344 ~ 2^24.7 and most unshifted dot products overflow FP16. Per layer / GEMM: the dot
products, the +-Inf ones at shift 0 and at the chosen shift, the shifts chosen, and the relative
error of the shifted fp8_mac result against the exact (float64) product of the same codes,
||C_fp8_mac - C_exact||_F / ||C_exact||_F (FP16 accumulation and the FP16 subnormal floor).
"""

import sys

import numpy as np

from golden import gemm as G
from golden.fp8_mac import fp8_mac
from golden.training.datasets import BENCHES
from cosim.run import run
from lptrain.cli import ArgumentParser


def overflow_counts(bench, steps):
    """{(layer, role, fmt_a, fmt_b): dict(dots, inf_unshifted, inf, shifts, err2, ref2)} over
    `steps` ibm4 steps (err2, ref2: squared Frobenius norms of the error and of the exact product)."""
    counts = {}

    def backend(layer, role, qa, qb):
        exact = qa.dequant() @ qb.dequant()
        if {qa.fmt, qb.fmt} <= set(G.FP8_FORMATS):
            result, dots = G.fp8_gemm(qa, qb)
            beats = G.map_fp8(qa, qb)
            unshifted = fp8_mac(beats["x"], beats["g"], last=beats["last"], fmt_x=beats["fmt_x"],
                                fmt_g=beats["fmt_g"])[beats["last"]]
            c = counts.setdefault((layer, role, qa.fmt, qb.fmt),
                                  dict(dots=0, inf_unshifted=0, inf=0, shifts=set(), err2=0.0, ref2=0.0))
            c["dots"] += dots.size
            c["inf_unshifted"] += int(np.count_nonzero(np.isinf(unshifted)))
            c["inf"] += int(np.count_nonzero(np.isinf(dots)))
            c["shifts"].add(beats["shift"])
            c["err2"] += float(np.sum((result - exact) ** 2))
            c["ref2"] += float(np.sum(exact ** 2))
        return exact

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
    print(f"{'layer':>5} {'GEMM':<6} {'formats':<12} {'dot products':>12} {'overflow, shift 0':>18} "
          f"{'overflow, shifted':>18} {'shifts':>8} {'rel. error':>10}")
    pct = lambda k, n: f"{k:>8,} ({100 * k / max(n, 1):.1f}%)"
    total = dict(dots=0, inf_unshifted=0, inf=0)
    for (layer, role, fa, fb), c in sorted(counts.items()):
        shifts = f"{min(c['shifts'])}..{max(c['shifts'])}"
        err = (c["err2"] / c["ref2"]) ** 0.5 if c["ref2"] else 0.0
        print(f"{layer:>5} {role:<6} {fa + ' x ' + fb:<12} {c['dots']:>12,} {pct(c['inf_unshifted'], c['dots']):>18} "
              f"{pct(c['inf'], c['dots']):>18} {shifts:>8} {err:>10.2e}")
        total = {k: total[k] + c[k] for k in total}
    print(f"{'total':>5} {'':<6} {'':<12} {total['dots']:>12,} {pct(total['inf_unshifted'], total['dots']):>18} "
          f"{pct(total['inf'], total['dots']):>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
