"""`make hil`: several HIL runs (recipe x array), each a task of the project's executor.

    python -m cosim.sweep --bench digits --steps 4 --runs fw8bw8:mac_array pfq:mac_array ...
                          [--sim verilator] [--rows 8 --cols 8] [--out build/hil_runs]
                          [--workers N | --scheduler tcp://HOST:PORT]

Each run (`cosim.run.hil_run`: every GEMM of N training steps on simulated RTL, checked bit for
bit) lands on one worker, which builds (once, under a lock) and owns its simulator processes; the
runs are independent, so a cluster of W workers runs W of them at once. A run's GEMMs stay in one
process and in order: golden.training feeds each GEMM's RTL result into the next computation of
the step, so they cannot be spread over workers without changing what the run checks. Results
are cached by content (run parameters, golden / generator / cosim sources, simulator version):
a rerun with nothing changed simulates nothing. Each finished run is written atomically to
OUT/<bench>_<recipe>_<array>.json (the `python -m cosim --json` report) and printed as a table.
Exit status 1 if a run mismatched or failed.
"""

import argparse
import json
import pathlib
import sys

from lptrain import executor
from lptrain.cache import Cache, source_digest, write_atomic
from lptrain.cli import ArgumentParser, positive
from lptrain.paths import ROOT

from .run import ARRAYS, hil_run, simulator_version, table


def run_spec(text):
    """RECIPE:ARRAY -> (recipe, array)."""
    from golden.training import RECIPES
    recipe, _, array = text.partition(":")
    if recipe not in RECIPES or array not in ARRAYS:
        raise argparse.ArgumentTypeError(f"expected RECIPE:ARRAY with RECIPE one of {', '.join(RECIPES)} and ARRAY one of "
                         f"{', '.join(ARRAYS)}, got {text!r}")
    return recipe, array


def main(argv=None):
    from golden.training.datasets import BENCHES
    p = ArgumentParser(prog="python -m cosim.sweep", description=__doc__.splitlines()[0])
    p.add_argument("--bench", choices=BENCHES, default="digits")
    p.add_argument("--steps", type=positive(), required=True, help="training steps per run (within one epoch)")
    p.add_argument("--runs", type=run_spec, nargs="+", required=True, metavar="RECIPE:ARRAY")
    p.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--rows", type=positive(), default=8)
    p.add_argument("--cols", type=positive(), default=8)
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "hil_runs")
    executor.add_arguments(p)
    args = p.parse_args(argv)
    cache = Cache(args.out / "cache", {"sources": source_digest("golden/**/*.py", "hdl_gen/**/*.py", "cosim/*.py"),
                                       "simulator": simulator_version(args.sim)})
    tasks = [executor.Task(f"{args.bench}_{recipe}_{array}", hil_run,
                           {"bench": args.bench, "recipe": recipe, "steps": args.steps, "sim": args.sim, "rows": args.rows,
                            "cols": args.cols, "array": array})
             for recipe, array in args.runs]
    mismatched = []

    def write(outcome):
        if not outcome.ok:
            return
        report = outcome.value
        write_atomic(args.out / f"{outcome.task.name}.json", json.dumps(report, indent=1) + "\n")
        print(table(report), flush=True)
        if report.get("error"):
            mismatched.append(outcome.task.name)
            print(f"MISMATCH: {report['error']}", file=sys.stderr, flush=True)

    with executor.from_args(p, args) as ex:
        outcomes = ex.run(tasks, cache=cache, on_result=write, label="hil")
    failed = executor.report_failures(outcomes)
    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
