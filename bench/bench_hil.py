"""Fast HIL harness: checked MACs per second of an 8x8 mac_array at mixed precision (issue 14).

`python bench/bench_hil.py` (run by `make bench`). Random integer GEMMs (M = N = 64, K = 256),
each in a random mode pair (uniform over the 9 power-of-two pairs, as bench_mac_array's tiles),
with code widths 2..8 and signedness drawn within it, are mapped by golden.gemm,
run through the C++ Verilator driver (verif/hil_sim.py) and checked: every output tile against
the golden integer GEMM (golden.gemm.int_gemm), cycles against golden.gemm.predict_cycles, the
RTL's MAC counters against the mapper. Wall time includes mapping/packing, simulation and
checking (the Verilator build is done before the clock starts); CPU seconds (this process plus the
driver process) are printed too, since wall time on a shared machine depends on its load. Also timed: the same streams
scored beat by beat with golden.mac_array (the cocotb regression's scoreboard) instead of the
GEMM. `bench/bench_mac_array.py` runs the cocotb harness (0.69M checked MACs/s on 8x8 on this
machine at the time of issue 14) for the side-by-side number.
"""

import argparse
import dataclasses
import os
import pathlib
import resource
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from golden import gemm as G  # noqa: E402
from golden.mac_array import mac_array  # noqa: E402
from verif.hil import check_mac_array  # noqa: E402
from verif.hil_sim import Config, build_verilator, open_sim  # noqa: E402


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemms", type=int, default=24)
    parser.add_argument("--m", type=int, default=64)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--cols", type=int, default=8)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    ops = []
    for _ in range(args.gemms):
        # Mixed precision as bench_mac_array and the reference loop: the mode pair uniform
        # over the 9 power-of-two modes, then the code width uniform among those of the mode.
        ba, bb = (int(rng.choice(WIDTHS[m])) for m in rng.integers(0, 3, 2))
        sa, sb = (bool(v) for v in rng.integers(0, 2, 2))
        ops.append((random_operand(rng, (args.m, args.k), ba, sa), random_operand(rng, (args.k, args.n), bb, sb)))
    config = Config("mac_array", args.rows, args.cols)
    t0 = time.perf_counter()
    build_verilator(config)
    build = time.perf_counter() - t0

    macs = cycles = 0
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    sim = open_sim(config, "verilator")
    streams = []
    for i, (qa, qb) in enumerate(ops):
        plan, beats = G.map_mac_array(qa, qb, rows=args.rows, cols=args.cols)
        out = sim.mac_array(beats)
        _, sums, _ = G.int_gemm(qa, qb)
        check_mac_array(f"gemm {i}", plan, beats, out, sums)
        want = G.predict_cycles("mac_array", args.m, args.k, args.n, qa.bits, qb.bits,
                                rows=args.rows, cols=args.cols)
        assert out["cycles"] == want, f"gemm {i}: {out['cycles']} cycles, predicted {want}"
        macs += sum(v for k, v in out["counters"].items() if k.startswith("macs_"))
        cycles += out["cycles"]
        streams.append((beats, out))
    sim.close()
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0

    t0 = time.perf_counter()
    for beats, out in streams:
        scored = mac_array(**beats)
        assert np.array_equal(scored.tiles.reshape(-1, args.cols), out["data"])
    beat_model = time.perf_counter() - t0

    print(f"fast HIL harness, {args.rows}x{args.cols} mac_array, Verilator (build/reuse {build:.1f} s): "
          f"{args.gemms} GEMMs {args.m}x{args.k}x{args.n}, uniform over the 9 mode pairs")
    print(f"{'MACs':>12} {'cycles':>9} {'seconds':>8} {'checked MACs/s':>15} {'cycles/s':>10} "
          f"{'CPU s':>7} {'MACs/CPU-s':>11}  load avg")
    print(f"{macs:>12} {cycles:>9} {seconds:>8.2f} {macs / seconds:>15.3e} {cycles / seconds:>10.3e} "
          f"{cpu:>7.2f} {macs / cpu:>11.3e}  {os.getloadavg()[0]:.1f}")
    print(f"scoring the same streams beat by beat with golden.mac_array instead: +{beat_model:.2f} s "
          f"-> {macs / (seconds + beat_model):.3e} checked MACs/s")


if __name__ == "__main__":
    main()
