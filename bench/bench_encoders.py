"""Encode throughput of the golden number formats next to NumPy's float32 -> float16 cast.

`python -m bench.bench_encoders [--n 10000000]` (run by `make bench`). The data are gradient-like
float32 values (normal, sigma 1e-2, so nearly all are FP16 normals); the cast is timed on that
array and every encoder on the same values as float16 (the golden API's input type). Prints
values/s and the ratio to the cast. Best of --repeat runs.
"""

import argparse
import time

import numpy as np

from golden import fp8_encode, r4fp4_encode, tpr


def best_time(fn, repeat):
    fn()  # warm up: builds the per-configuration lookup tables
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="values per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (best is kept)")
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    x32 = rng.normal(0.0, 1e-2, args.n).astype(np.float32)
    x16 = x32.astype(np.float16)
    u = rng.integers(0, 1 << 16, args.n, dtype=np.uint16)
    s = -9  # GradScale exponent of this data: max|x| ~ 0.05 <= 64 * 2^-9

    cases = {
        "numpy float32->float16 cast": lambda: x32.astype(np.float16),
        "r4fp4_encode nearest": lambda: r4fp4_encode(x16, 0, s),
        "r4fp4_encode stochastic": lambda: r4fp4_encode(x16, 1, s, "stochastic", u),
        "tpr nearest (both phases)": lambda: tpr(x16, s),
        "tpr stochastic (both phases)": lambda: tpr(x16, s, "stochastic", u),
        "fp8_encode e4m3 nearest": lambda: fp8_encode(x16, "e4m3"),
        "fp8_encode e5m2 nearest": lambda: fp8_encode(x16, "e5m2"),
        "fp8_encode e4m3 stochastic": lambda: fp8_encode(x16, "e4m3", rounding="stochastic", rand=u),
    }
    print(f"{args.n:,} values, best of {args.repeat} runs")
    print(f"{'case':<32} {'time (ms)':>10} {'values/s':>12} {'vs cast':>8}")
    ref = None
    for name, fn in cases.items():
        t = best_time(fn, args.repeat)
        ref = ref or t
        print(f"{name:<32} {t * 1e3:>10.1f} {args.n / t:>12.3e} {ref / t:>7.2f}x")


if __name__ == "__main__":
    main()
