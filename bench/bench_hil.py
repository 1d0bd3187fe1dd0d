"""Fast HIL harness: checked MACs per second of an 8x8 mac_array at mixed precision.

`python -m bench.bench_hil` (run by `make bench`). Random integer GEMMs (M = N = 64, K = 256),
each in a random mode pair (uniform over the 9 power-of-two pairs, as bench_mac_array's tiles),
with code widths 2..8 and signedness drawn within it, are mapped by golden.gemm,
run through the C++ Verilator driver (cosim/sim.py) and checked: every output word against
the golden integer GEMM (golden.gemm.int_gemm), cycles against golden.gemm.predict_cycles, the
RTL's MAC counters against the mapper. Wall time includes mapping/packing, simulation and
checking (the Verilator build is done before the clock starts); CPU seconds (this process plus the
driver process) are printed too, since wall time on a shared machine depends on its load.

The same GEMMs run twice in one process, side by side: one GEMM at a time (map, simulate, check,
then the next: the harness of the first HIL version) and pipelined (the driver simulates GEMM i
while Python maps GEMM i+1 and checks GEMM i-1, on the second core). Then, untimed by the
harness: the driver alone on the same job bytes (the C++ model's speed, no Python), and the
streams scored beat by beat with golden.mac_array (the cocotb regression's scoreboard).
`bench/bench_mac_array.py` runs the cocotb harness for the side-by-side number.

Last, one full epoch of the digits MLP in HIL per recipe (`--epoch-recipes`; every GEMM on the
8x8 RTL and checked, as `python -m cosim --bench digits --recipe R --steps <one epoch>`):
wall seconds.
"""

import argparse
import collections
import dataclasses
import os
import resource
import subprocess
import time

import numpy as np

from golden import gemm as G
from golden.mac_array import mac_array
from cosim.run import HilBackend, check_mac_array, epoch_steps, run
from cosim.sim import Config, build_verilator, mac_array_job, open_sim


WIDTHS = ([2], [3, 4], [5, 6, 7, 8])  # code widths running in the 2-, 4- and 8-bit modes


@dataclasses.dataclass(frozen=True)
class Codes:
    """The QTensor fields the integer path reads (scale 1, zero 0: the bench checks codes)."""
    codes: np.ndarray
    bits: int
    signed: bool
    fmt: str = "int"
    scale: float = 1.0
    zero: float = 0.0


def random_operand(rng, shape, bits, signed):
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    return Codes(rng.integers(lo, hi, shape), bits, signed)


def cpu_seconds():
    """User + system CPU time of this process and its finished children (the driver process)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_gemms(config, ops, depth, procs=1):
    """Map, simulate and check every GEMM of `ops` with up to `depth` GEMMs per driver at once
    (1: one at a time), GEMM i on driver process i % procs (each GEMM on one 8x8 model; procs = 2:
    two models simulate independent GEMMs on the two cores). Returns (MACs from the RTL counters,
    cycles, [(beats, out)])."""
    rows, cols = config.rows, config.cols
    macs = cycles = 0
    streams, inflight = [], collections.deque()

    def check():
        i, qa, qb, plan, beats = inflight.popleft()
        out = sims[i % procs].result()
        _, sums, _ = G.int_gemm(qa, qb)
        check_mac_array(f"gemm {i}", plan, beats, out, sums)
        want = G.predict_cycles("mac_array", qa.codes.shape[0], qa.codes.shape[1], qb.codes.shape[1],
                                qa.bits, qb.bits, rows=rows, cols=cols)
        assert out["cycles"] == want, f"gemm {i}: {out['cycles']} cycles, predicted {want}"
        streams.append((beats, out))
        return sum(v for k, v in out["counters"].items() if k.startswith("macs_")), out["cycles"]

    sims = [open_sim(config, "verilator") for _ in range(procs)]
    try:
        for i, (qa, qb) in enumerate(ops):
            plan, beats = G.map_mac_array(qa, qb, rows=rows, cols=cols)
            sims[i % procs].submit_mac_array(beats)
            inflight.append((i, qa, qb, plan, beats))
            if len(inflight) >= depth * procs:
                m, c = check()
                macs, cycles = macs + m, cycles + c
        while inflight:
            m, c = check()
            macs, cycles = macs + m, cycles + c
    finally:
        for sim in sims:
            sim.close()
    return macs, cycles, streams


def epoch(recipe):
    """One full epoch of the digits MLP with every GEMM on the 8x8 RTL; (seconds, stats)."""
    backend = HilBackend()
    t0 = time.perf_counter()
    try:
        run("digits", recipe, epoch_steps("digits"), backend)
    finally:
        backend.close()
    return time.perf_counter() - t0, backend.stats()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemms", type=int, default=24)
    parser.add_argument("--m", type=int, default=64)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--cols", type=int, default=8)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--epoch-recipes", default="fw8bw8,pfq,dfq,ibm4",
                        help="comma-separated recipes to run one digits epoch of in HIL ('' for none)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    ops = []
    for _ in range(args.gemms):
        # Mixed precision as bench_mac_array: the mode pair uniform
        # over the 9 power-of-two modes, then the code width uniform among those of the mode.
        ba, bb = (int(rng.choice(WIDTHS[m])) for m in rng.integers(0, 3, 2))
        sa, sb = (bool(v) for v in rng.integers(0, 2, 2))
        ops.append((random_operand(rng, (args.m, args.k), ba, sa), random_operand(rng, (args.k, args.n), bb, sb)))
    config = Config("mac_array", args.rows, args.cols)
    t0 = time.perf_counter()
    exe = build_verilator(config)
    build = time.perf_counter() - t0

    print(f"fast HIL harness, {args.rows}x{args.cols} mac_array, Verilator (build/reuse {build:.1f} s): "
          f"{args.gemms} GEMMs {args.m}x{args.k}x{args.n}, uniform over the 9 mode pairs; load avg "
          f"{os.getloadavg()[0]:.1f} at the start")
    print(f"{'harness':<22} {'MACs':>12} {'cycles':>9} {'seconds':>8} {'checked MACs/s':>15} {'cycles/s':>10} "
          f"{'CPU s':>7} {'MACs/CPU-s':>11}")
    results = {}
    for name, depth, procs in (("one GEMM at a time", 1, 1), ("pipelined", 2, 1), ("pipelined, 2 drivers", 2, 2)):
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        macs, cycles, streams = run_gemms(config, ops, depth, procs)
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
        results[name] = macs / seconds
        print(f"{name:<22} {macs:>12} {cycles:>9} {seconds:>8.2f} {macs / seconds:>15.3e} "
              f"{cycles / seconds:>10.3e} {cpu:>7.2f} {macs / cpu:>11.3e}")

    # The C++ model and driver loop alone: the same job bytes, no Python while it runs.
    jobs = b"".join(mac_array_job(config, beats) for beats, _ in streams)
    t0 = time.perf_counter()
    subprocess.run([str(exe)], input=jobs, stdout=subprocess.DEVNULL, check=True)
    alone = time.perf_counter() - t0
    print(f"{'driver alone (C++)':<22} {macs:>12} {cycles:>9} {alone:>8.2f} {macs / alone:>15.3e} "
          f"{cycles / alone:>10.3e}   (same job bytes from a buffer, replies discarded, nothing checked)")

    t0 = time.perf_counter()
    for beats, out in streams:
        scored = mac_array(**beats)
        assert np.array_equal(scored.tiles.reshape(-1, args.cols), out["data"])
    beat_model = time.perf_counter() - t0
    print(f"scoring the same streams beat by beat with golden.mac_array instead of the GEMM: "
          f"+{beat_model:.2f} s per run")
    best = results["pipelined"]
    print(f"RESULT checked MACs/s (8x8 mac_array, mixed precision, Verilator, pipelined harness): {best:.3e} "
          f"-> {best / 1e6:.1f}M (one GEMM at a time: {results['one GEMM at a time'] / 1e6:.1f}M)")

    recipes = [r for r in args.epoch_recipes.split(",") if r]
    if recipes:
        print(f"one full digits epoch in HIL ({epoch_steps('digits')} steps, every GEMM on the 8x8 RTL, checked):")
        print(f"{'recipe':<8} {'RTL GEMMs':>9} {'mismatches':>10} {'RTL MACs':>12} {'cycles':>10} {'host GEMMs':>10} "
              f"{'seconds':>8}")
    for recipe in recipes:
        seconds, st = epoch(recipe)
        tot = st["total"]
        assert tot["mismatches"] == 0 and st["cycles_equal_predicted_every_gemm"]
        print(f"{recipe:<8} {tot['gemms']:>9} {tot['mismatches']:>10} {sum(tot['macs_by_mode'].values()):>12} "
              f"{tot['cycles']:>10} {st['host']['gemms']:>10} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
