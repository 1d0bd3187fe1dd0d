"""`make fpga-sweep BOARD=ulx3s`: place-and-route runs on the project's executor, per ECP5 board.

    python -m fpga.ecp5_sweep [--board ulx3s] [--sizes N ...] [--array-sizes 2 3 4]
                              [--largest bist_top fusion fixed fixed_nodsp | --no-largest]
                              [--out build/fpga_ecp5] [--workers N | --scheduler tcp://HOST:PORT]

Three kinds of task, one nextpnr run each (`fpga.ecp5.build`, `fpga.ecp5.build_array`):
- `bist_top` N x N on the board: the self-checking design a user loads, timed at the board clock,
  at the board's fit sizes (`Board.sweep_sizes`). A quadratic LUT(N) = a + bN + cN^2 fitted to
  them predicts the largest N under the device's LUTs, which `fpga.ecp5` also uses to refuse a
  size that cannot fit before spending minutes on synthesis.
- `mac_array` N x N alone, with fusion PEs and with fixed 8-bit PEs (with and without DSP
  blocks), placed and routed out of context, timed against the board clock: LUTs, FFs, DSPs and
  Fmax of the array itself, and LUTs per MAC/cycle in each precision mode (a fusion PE does
  (8/a)(8/b) a x b-bit MACs a cycle, a fixed PE one): the FPGA view of the iso-area question.
  Each PE kind gets its own fit (and, with DSPs, the DSP blocks per PE).
- The largest of each design named by --largest (default all four; --no-largest: none) is built
  at its predicted largest N
  (the LUT fit, and for DSP-backed PEs the device's DSP blocks); a size that does not place and
  route, or misses the board clock, is recorded with nextpnr's error and the next smaller one
  is built, until one fits and meets timing. The answer is a build, not a prediction; N + 1 is
  above the device by the fit (its predicted LUTs are in the JSON).
Results are cached by content: a build's key is the sources that build it (`hdl_gen`, `golden`,
`fpga/ecp5.py`) and the tool versions, not this file, so changing how the sweep is organised or
reported never repeats an hour of place and route. OUT/<board>.json holds the builds, the fits,
the largest sizes and provenance (`make report` renders it).
"""

import json
import math
import pathlib
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


def kind_name(kind):
    """"bist_top", or "fusion" / "fixed" / "fixed_nodsp" for a (pe, dsp) kind of mac_array."""
    return kind if kind == "bist_top" else ecp5.array_name(*kind)


KINDS = tuple(kind_name(k) for k in ("bist_top", *PES))


def task(kind, size, board, out):
    if kind == "bist_top":
        return executor.Task(f"bist_{size}", ecp5.build, {"board": board, "size": size, "out": out})
    pe, dsp = kind
    return executor.Task(f"array_{kind_name(kind)}_{size}", ecp5.build_array,
                         {"board": board, "pe": pe, "size": size, "out": out, "dsp": dsp})


def macs_per_cycle(pe, bits_a, bits_b):
    """MACs a PE completes per cycle at a x b bits: a Bit Fusion unit (8/a)(8/b), a fixed PE 1."""
    return (8 // bits_a) * (8 // bits_b) if pe == "fusion" else 1


def fit_kind(runs):
    """{"coef", "available_luts", "largest", and for DSP users "dsp_per_pe", "available_dsp"} of
    the built runs of one kind, or None with fewer than three sizes. The largest N holds the LUT
    fit and, when the design uses DSP blocks, N^2 PEs' DSPs under the device's."""
    built = [r for r in runs if r.get("built", True)]
    coef = capacity.fit([r["rows"] for r in built], [r["used"]["LUT"] for r in built])
    if coef is None:
        return None
    available = built[0]["available"]
    result = {"coef": coef, "available_luts": available["LUT"], "largest": capacity.largest(coef, available["LUT"])}
    biggest = max(built, key=lambda r: r["rows"])
    if biggest["used"]["DSP"]:
        per_pe = biggest["used"]["DSP"] / (biggest["rows"] * biggest["cols"])
        result.update(dsp_per_pe=per_pe, available_dsp=available["DSP"],
                      largest=min(result["largest"], math.isqrt(int(available["DSP"] / per_pe))))
    return result


def search_largest(ex, cache, kinds, board, out, log):
    """Build each kind at its predicted largest size, stepping down while a build fails or misses
    timing: {kind: {"predicted", "built" (the run, or None if even N = 1 failed), "failed": [runs]}};
    the executor's outcomes are appended to `log`."""
    found = {kind: {"predicted": n, "built": None, "failed": []} for kind, n in kinds.items()}
    size = dict(kinds)
    while size:
        outcomes = ex.run([task(kind, n, board, out) for kind, n in size.items()], cache=cache, label="fpga largest")
        log += outcomes
        for kind, outcome in zip(list(size), outcomes):
            run = outcome.value if outcome.ok else {"rows": size[kind], "cols": size[kind], "built": False,
                                                     "error": str(outcome.error)}
            if run["built"] and run["timing_met"]:
                found[kind]["built"] = run
                del size[kind]
            else:
                found[kind]["failed"].append(run)
                size[kind] -= 1
                if size[kind] < 1:
                    del size[kind]
    return found


def main(argv=None):
    p = ArgumentParser(prog="python -m fpga.ecp5_sweep", description=__doc__.splitlines()[0])
    p.add_argument("--board", default="ulx3s")
    p.add_argument("--sizes", type=positive(), nargs="*", help="bist_top fit sizes (default: the board's)")
    p.add_argument("--array-sizes", type=positive(), nargs="*", default=[2, 3, 4],
                   help="out-of-context mac_array fit sizes (fusion and fixed PEs)")
    p.add_argument("--largest", nargs="+", choices=KINDS, default=list(KINDS),
                   help="designs whose largest size is built (default: all)")
    p.add_argument("--no-largest", action="store_true", help="fit only: build no largest size")
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "fpga_ecp5")
    executor.add_arguments(p)
    args = p.parse_args(argv)
    if args.board not in ecp5.BOARDS:
        p.error(f"unsupported board {args.board!r}; ECP5 boards: {', '.join(sorted(ecp5.BOARDS))}")
    sizes = ecp5.BOARDS[args.board].sweep_sizes if args.sizes is None else args.sizes
    versions = ecp5.tool_versions()
    cache = Cache(args.out / "cache", {"sources": source_digest("hdl_gen/**/*.py", "golden/**/*.py", "fpga/ecp5.py"),
                                       **versions})
    out = str(args.out)
    kinds = ["bist_top", *PES]
    plan = [("bist_top", n) for n in sizes] + [(kind, n) for n in args.array_sizes for kind in PES]
    start = time.monotonic()
    with executor.from_args(p, args) as ex:
        outcomes = ex.run([task(kind, n, args.board, out) for kind, n in plan], cache=cache, label="fpga")
        runs = {kind: sorted((o.value for (k, _), o in zip(plan, outcomes) if k == kind and o.ok),
                             key=lambda r: r["rows"]) for kind in kinds}
        fits = {kind: fit_kind(runs[kind]) for kind in kinds}
        largest, searched = {}, []
        if not args.no_largest:
            largest = search_largest(ex, cache, {k: f["largest"] for k, f in fits.items()
                                                 if f and f["largest"] and kind_name(k) in args.largest},
                                     args.board, out, searched)
        where = executor.summary(outcomes + searched, ex, time.monotonic() - start)
    bist = runs["bist_top"]
    doc = {**provenance("fpga.ecp5_sweep", argv, versions), "board": args.board,
           "device": next((r["device"] for r in bist if r.get("built")), None), "bist_top": bist,
           "arrays": [r for kind in PES for r in runs[kind]], "fit": fits["bist_top"],
           "array_fits": {kind_name(k): fits[k] for k in PES},
           "largest": {kind_name(k): {**v, "next_predicted_luts": round(capacity.predict(fits[k]["coef"], v["predicted"] + 1))}
                       for k, v in largest.items()},
           "execution": where}
    write_atomic(args.out / f"{args.board}.json", json.dumps(doc, indent=1) + "\n")
    print(markdown(doc))
    print(f"wrote {args.out / (args.board + '.json')}")
    return executor.report_failures(outcomes + searched)  # a task that crashed (not a design that failed to fit)


def _failed(r):
    return f"did not build: {r['error']}"


def _kind_label(kind):
    return {"bist_top": "bist_top (on the board)", "fusion": "mac_array, fusion PEs",
            "fixed": "mac_array, fixed-8 PEs", "fixed_nodsp": "mac_array, fixed-8 PEs (no DSP)"}[kind]


def _fit_text(f):
    a, b, c = f["coef"]
    text = f"LUT(N) = {a:,.0f} {'-' if b < 0 else '+'} {abs(b):,.0f} N + {c:,.1f} N^2"
    return text + (f", {f['dsp_per_pe']:g} DSP per PE" if "dsp_per_pe" in f else "")


def markdown(doc):
    """The sweep's tables: bist_top per size, fusion vs fixed arrays, and the largest of each."""
    lines = [f"**{doc['board']}** ({doc['device']}), bist_top at the board clock:", "",
             "| size | LUT | FF | DSP | BRAM | Fmax (MHz) | target | timing | build (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in doc["bist_top"]:
        if not r.get("built", True):
            lines.append(f"| {r['rows']}x{r['cols']} | {_failed(r)} ||||||||")
            continue
        u, a = r["used"], r["available"]
        lines.append(f"| {r['rows']}x{r['cols']} | {u['LUT']:,} ({100 * u['LUT'] / a['LUT']:.0f} %) | {u['FF']:,} | "
                     f"{u['DSP']} | {u['BRAM']} | {r['fmax_mhz']} | {r['target_mhz']:g} | "
                     f"{'met' if r['timing_met'] else 'NOT met'} | {r['build_seconds']} |")
    if doc.get("fit"):
        f = doc["fit"]
        lines += ["", f"Fit {_fit_text(f)}: the largest bist_top under the device's {f['available_luts']:,} LUTs "
                      f"is predicted at {f['largest']}x{f['largest']}."]
    if doc["arrays"]:
        lines += ["", "mac_array alone, placed and routed out of context; LUTs per MAC/cycle in each mode "
                      "(a fixed PE uses DSP blocks besides, counted apart):", "",
                  "| PEs | size | LUT | FF | DSP | Fmax (MHz) | target | LUT/(MAC/cycle) 8x8 | 4x4 | 2x2 |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in doc["arrays"]:
            label = f"| {r['pe']}{'' if r['dsp'] else ' (no DSP)'} | {r['rows']}x{r['cols']} |"
            if not r.get("built", True):
                lines.append(f"{label} {_failed(r)} ||||||||")
                continue
            n = r["rows"] * r["cols"]
            per = [r["used"]["LUT"] / (n * macs_per_cycle(r["pe"], b, b)) for b in (8, 4, 2)]
            lines.append(f"{label} {r['used']['LUT']:,} | {r['used']['FF']:,} | "
                         f"{r['used']['DSP']} | {r['fmax_mhz']} | {r['target_mhz']:g} | "
                         + " | ".join(f"{v:,.0f}" for v in per) + " |")
    if doc.get("largest"):
        lines += ["", "The largest of each, built: placed, routed and timed at the board clock (arrays out of "
                      "context). Predicted: the fit's largest size under the device's LUTs (and DSP blocks); "
                      "a size that failed is listed with nextpnr's reason.", "",
                  "| design | fit | predicted | built | LUT | DSP | Fmax (MHz) | MAC/cycle 8x8 | 4x4 | 2x2 "
                  "| N+1 predicted LUT | build (s) | failed |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        fits = {"bist_top": doc.get("fit"), **doc.get("array_fits", {})}
        for kind in (k for k in KINDS if fits.get(k) and k not in doc["largest"]):
            n = fits[kind]["largest"]
            lines.append(f"| {_kind_label(kind)} | {_fit_text(fits[kind])} | {n}x{n} | not built in this run "
                         "| | | | | | | | | |")
        for kind, v in doc["largest"].items():
            r = v["built"]
            failed = "; ".join(f"{x['rows']}x{x['cols']}: " + (x["error"] if not x.get("built", True) else
                                                                f"timing not met ({x['fmax_mhz']} MHz)")
                               for x in v["failed"]) or "-"
            head = f"| {_kind_label(kind)} | {_fit_text(fits[kind])} | {v['predicted']}x{v['predicted']} |"
            if r is None:
                lines.append(f"{head} none | | | | | | | {v['next_predicted_luts']:,} | | {failed} |")
                continue
            u, a, n = r["used"], r["available"], r["rows"] * r["cols"]
            pe = "fusion" if kind in ("bist_top", "fusion") else "fixed"
            lines.append(f"{head} {r['rows']}x{r['cols']} | {u['LUT']:,} ({100 * u['LUT'] / a['LUT']:.0f} %) | "
                         f"{u['DSP']} / {a['DSP']} | {r['fmax_mhz']} | "
                         + " | ".join(f"{n * macs_per_cycle(pe, b, b):,}" for b in (8, 4, 2))
                         + f" | {v['next_predicted_luts']:,} | {r['build_seconds']} | {failed} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
