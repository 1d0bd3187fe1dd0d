"""`make fpga-sweep BOARD=ulx3s`: place-and-route runs on the project's executor, per ECP5 board.

    python -m fpga.ecp5_sweep [--board ulx3s] [--sizes 2 4 6] [--array-sizes 2 4]
                              [--out build/fpga_ecp5] [--workers N | --scheduler tcp://HOST:PORT]

Two kinds of task, one nextpnr run each:
- `bist_top` N x N on the board (`fpga.ecp5.run_bitstream`): the self-checking design a user
  loads, timed at the board clock. A quadratic LUT(N) = a + bN + cN^2 fitted to these runs
  predicts the largest N under the device's LUTs (`largest`), which `fpga.ecp5` also uses to
  refuse a size that cannot fit before spending minutes on synthesis.
- `mac_array` N x N alone, with fusion PEs and with fixed 8-bit PEs (with and without DSP
  blocks), placed and routed out of
  context (`nextpnr-ecp5 --out-of-context`: no pads, the ports stay inside the fabric), timed
  against the board clock: LUTs, FFs, DSPs and Fmax of the array itself, and LUTs per MAC/cycle in each
  precision mode (a fusion PE does (8/a)(8/b) a x b-bit MACs a cycle, a fixed PE one): the FPGA
  view of the iso-area question.
Results are cached by content (generator and flow sources, tool versions); OUT/<board>.json holds
both lists, the fit and provenance (`make report` renders it).
"""

import json
import pathlib
import subprocess
import sys
import time

from lptrain import executor
from lptrain.cache import Cache, source_digest, write_atomic
from lptrain.cli import ArgumentParser, positive
from lptrain.paths import ROOT
from lptrain.provenance import provenance

from . import capacity, ecp5

# (PE, DSP blocks allowed): a fixed 8-bit PE maps its multiplier onto a MULT18X18D; without DSPs
# it is all LUTs, like the fusion PE (whose shift-add bricks Yosys does not map to DSPs).
PES = (("fusion", True), ("fixed", True), ("fixed", False))


def bist_run(board, size, out):
    """One bist_top build (no routed simulation: `make bitstream` and the tests do that)."""
    summary, _ = ecp5.run_bitstream(board, size, pathlib.Path(out) / board / f"bist_{size}")
    return summary


def nextpnr_device(platform):
    """nextpnr-ecp5's device and package options for an Amaranth ECP5 platform (the same table its
    build script uses)."""
    return [platform._nextpnr_device_options[platform.device],
            "--package", platform._nextpnr_package_options[platform.package].upper(),
            "--speed", str(platform.speed)]


def array_run(board, pe, size, out, dsp=True):
    """mac_array size x size with `pe` PEs, out of context (`dsp`: DSP blocks allowed): {"pe",
    "dsp", "rows", "cols", "used", "available", "fmax_mhz", "target_mhz", "timing_met",
    "build_seconds"}."""
    from hdl_gen.rtl import generate

    platform = ecp5.BOARDS[board].platform()
    work = pathlib.Path(out) / board / f"array_{pe}{'' if dsp else '_nodsp'}_{size}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "mac_array.v").write_text(generate("mac_array", rows=size, cols=size, pe=pe))
    tools = ecp5.tool_env()
    target = platform.default_clk_frequency / 1e6
    start = time.monotonic()
    subprocess.run([tools["YOSYS"], "-q", "-l", "synth.log", "-p",
                    "read_verilog mac_array.v; synth_ecp5 -top mac_array -json mac_array.json"
                    + ("" if dsp else " -nodsp")],
                   cwd=work, check=True)
    subprocess.run([tools["NEXTPNR_ECP5"], "--quiet", "--log", "pnr.log", *nextpnr_device(platform),
                    "--out-of-context", "--freq", f"{target:g}", "--timing-allow-fail",
                    "--json", "mac_array.json", "--report", "report.json"], cwd=work, check=True)
    report = json.loads((work / "report.json").read_text())
    return {"pe": pe, "dsp": dsp, "rows": size, "cols": size, **ecp5.summarize(report, target),
            "build_seconds": round(time.monotonic() - start, 1)}


def macs_per_cycle(pe, bits_a, bits_b):
    """MACs a PE completes per cycle at a x b bits: a Bit Fusion unit (8/a)(8/b), a fixed PE 1."""
    return (8 // bits_a) * (8 // bits_b) if pe == "fusion" else 1


def main(argv=None):
    p = ArgumentParser(prog="python -m fpga.ecp5_sweep", description=__doc__.splitlines()[0])
    p.add_argument("--board", default="ulx3s")
    p.add_argument("--sizes", type=positive(), nargs="*", default=[2, 4, 6], help="bist_top sizes")
    p.add_argument("--array-sizes", type=positive(), nargs="*", default=[2, 4],
                   help="out-of-context mac_array sizes (fusion and fixed PEs)")
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "fpga_ecp5")
    executor.add_arguments(p)
    args = p.parse_args(argv)
    if args.board not in ecp5.BOARDS:
        p.error(f"unsupported board {args.board!r}; ECP5 boards: {', '.join(sorted(ecp5.BOARDS))}")
    versions = ecp5.tool_versions()
    cache = Cache(args.out / "cache", {"sources": source_digest("hdl_gen/**/*.py", "golden/**/*.py", "fpga/*.py", "fpga/*.v"),
                                       **versions})
    out = str(args.out)
    tasks = [executor.Task(f"bist_{n}", bist_run, {"board": args.board, "size": n, "out": out}) for n in args.sizes]
    tasks += [executor.Task(f"array_{pe}{'' if dsp else '_nodsp'}_{n}", array_run,
                            {"board": args.board, "pe": pe, "size": n, "out": out, "dsp": dsp})
              for n in args.array_sizes for pe, dsp in PES]
    start = time.monotonic()
    with executor.from_args(p, args) as ex:
        outcomes = ex.run(tasks, cache=cache, label="fpga")
        where = executor.summary(outcomes, ex, time.monotonic() - start)
    done = [o for o in outcomes if o.ok]
    bist = sorted((o.value for o in done if o.task.name.startswith("bist_")), key=lambda r: r["rows"])
    arrays = sorted((o.value for o in done if o.task.name.startswith("array_")), key=lambda r: (r["pe"] != "fusion", not r["dsp"], r["rows"]))
    coef = capacity.fit([r["rows"] for r in bist], [r["used"]["LUT"] for r in bist])
    doc = {**provenance("fpga.ecp5_sweep", argv, versions), "board": args.board,
           "device": bist[0]["device"] if bist else None, "bist_top": bist, "arrays": arrays,
           "fit": None if coef is None else {"coef": coef, "available_luts": bist[0]["available"]["LUT"],
                                             "largest": capacity.largest(coef, bist[0]["available"]["LUT"])},
           "execution": where}
    write_atomic(args.out / f"{args.board}.json", json.dumps(doc, indent=1) + "\n")
    print(markdown(doc))
    print(f"wrote {args.out / (args.board + '.json')}")
    return executor.report_failures(outcomes)


def markdown(doc):
    """The sweep's tables: bist_top per size (with the fit), and fusion vs fixed arrays."""
    lines = [f"**{doc['board']}** ({doc['device']}), bist_top at the board clock:", "",
             "| size | LUT | FF | DSP | BRAM | Fmax (MHz) | target | timing | build (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in doc["bist_top"]:
        u, a = r["used"], r["available"]
        lines.append(f"| {r['rows']}x{r['cols']} | {u['LUT']:,} ({100 * u['LUT'] / a['LUT']:.0f} %) | {u['FF']:,} | "
                     f"{u['DSP']} | {u['BRAM']} | {r['fmax_mhz']} | {r['target_mhz']:g} | "
                     f"{'met' if r['timing_met'] else 'NOT met'} | {r['build_seconds']} |")
    if doc.get("fit"):
        f = doc["fit"]
        a, b, c = f["coef"]
        lines += ["", f"Fit LUT(N) = {a:,.0f} {'-' if b < 0 else '+'} {abs(b):,.0f} N + {c:,.1f} N^2: the largest bist_top under the "
                      f"device's {f['available_luts']:,} LUTs is {f['largest']}x{f['largest']} (a prediction, not a build)."]
    if doc["arrays"]:
        lines += ["", "mac_array alone, placed and routed out of context; LUTs per MAC/cycle in each mode "
                      "(a fixed PE uses DSP blocks besides, counted apart):", "",
                  "| PEs | size | LUT | FF | DSP | Fmax (MHz) | target | LUT/(MAC/cycle) 8x8 | 4x4 | 2x2 |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in doc["arrays"]:
            n = r["rows"] * r["cols"]
            per = [r["used"]["LUT"] / (n * macs_per_cycle(r["pe"], b, b)) for b in (8, 4, 2)]
            lines.append(f"| {r['pe']}{'' if r['dsp'] else ' (no DSP)'} | {r['rows']}x{r['cols']} | {r['used']['LUT']:,} | {r['used']['FF']:,} | "
                         f"{r['used']['DSP']} | {r['fmax_mhz']} | {r['target_mhz']:g} | "
                         + " | ".join(f"{v:,.0f}" for v in per) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
