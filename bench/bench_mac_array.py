"""mac_array under Verilator: checked MACs per second and array utilization.

`python -m bench.bench_mac_array` (run by `make bench`). Runs the `throughput` cocotb test of
verif/test_mac_array.py (the regression's TB and scoreboard: every result is checked against
golden.mac_array) on the default 4x4 array and on 8x8, T back-to-back tiles of K = 4, 16, 64
beats with a random precision pair per tile, no gaps, no backpressure. Prints:
- checked MACs/s: MACs the golden model counted (ROWS*COLS*P per beat) / wall time of the run,
  stimulus generation and checking included;
- utilization: T*K beats / cycles from the first beat in to the last row out (T = 64, so the
  pipeline latency costs latency/(T*K)).
Cycle counts are deterministic; the wall times are this machine's.
"""

import argparse
import json
import os
import pathlib
import time

import cocotb

from golden.mac_array import ACCW_DEFAULT, CNTW_DEFAULT
from verif.harness import BUILD, run
from verif.mac_array_tb import TB, sources


@cocotb.test()
async def throughput(dut):
    """The cocotb side of this benchmark: checked MACs per
    second of wall time, and array utilization (accepted beats / cycles from the first beat in
    to the last row out) for T back-to-back tiles of K beats, a random precision pair per tile.
    Every result is checked as in the regression, so the numbers are for verified MACs."""
    tb = TB(dut)
    await tb.reset()
    tiles = int(os.environ.get("LPT_BENCH_TILES", "64"))
    report = {"rows": tb.rows, "cols": tb.cols, "pe": tb.pe, "tiles": tiles, "runs": []}
    for k in (4, 16, 64):
        beats = tb.stream(tiles, k, k, mixed=0.0)
        t0 = time.perf_counter()
        result = await tb.run(beats)
        seconds = time.perf_counter() - t0
        macs = sum(result["golden"].macs.values())
        cycles = result["last_out"] - result["first_in"] + 1
        report["runs"].append(dict(k=k, beats=tiles * k, cycles=cycles, macs=macs, seconds=seconds,
                                   utilization=tiles * k / cycles, stalls=result["stalls"]))
    pathlib.Path(os.environ["LPT_BENCH_OUT"]).write_text(json.dumps(report, indent=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=64, help="tiles per K")
    parser.add_argument("--sim", default="verilator", choices=("verilator", "icarus"))
    args = parser.parse_args(argv)
    print(f"{'array':<10} {'K':>3} {'beats':>6} {'cycles':>7} {'util.':>7} {'MACs':>10} "
          f"{'seconds':>8} {'checked MACs/s':>15}")
    for rows, cols in ((4, 4), (8, 8)):
        build_name, srcs = sources("fusion", rows, cols, ACCW_DEFAULT, CNTW_DEFAULT)
        out = BUILD / "bench" / f"mac_array_{rows}x{cols}_{args.sim}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        run(args.sim, toplevel=srcs[0].stem, sources=srcs, test_module="bench.bench_mac_array",
            build_name=build_name, testcase=["throughput"],
            env=dict(LPT_ROWS=rows, LPT_COLS=cols, LPT_MAXB=8, LPT_ACCW=ACCW_DEFAULT, LPT_PE="fusion",
                     LPT_CNTW=CNTW_DEFAULT, LPT_BENCH_OUT=out, LPT_BENCH_TILES=args.tiles))
        report = json.loads(out.read_text())
        for r in report["runs"]:
            print(f"{rows}x{cols:<8} {r['k']:>3} {r['beats']:>6} {r['cycles']:>7} "
                  f"{100 * r['utilization']:>6.2f}% {r['macs']:>10} {r['seconds']:>8.2f} "
                  f"{r['macs'] / r['seconds']:>15.3e}")


if __name__ == "__main__":
    main()
