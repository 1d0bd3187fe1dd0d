"""`make demo`: every recipe on both benchmarks (3 seeds on MNIST-1D), one table, one plot.

    python -m golden.training.demo [--jobs N] [--seeds N] [--epochs N] [--out build/demo] [--resume]

Runs the (benchmark, recipe, seed) trainings in a pool of `--jobs` processes (default: all
cores), each with single-threaded BLAS (the GEMMs are small; threaded BLAS on a shared 2-core
machine only adds contention): digits first, then MNIST-1D seed by seed. Each finished run is
appended to `runs.jsonl` at once (`--resume` keeps the runs already there with the same
benchmark, recipe, seed and epochs, and trains only the others). Writes `results.json` (every
run, without per-batch precisions),
`table.md` (mean and sample standard deviation over seeds, effective MACs relative to fw8bw8)
and `accuracy_vs_macs.png`; prints the table and the wall-clock and CPU time. `make report`
renders the same table from results.json into docs/results.md.
"""

import concurrent.futures
import json
import os
import pathlib
import sys
import time

import numpy as np

from lptrain.cli import ArgumentParser, positive
from lptrain.provenance import provenance

from .datasets import BENCHES
from .recipes import RECIPES

SEEDS = 3
KEEP = ("bench", "recipe", "seed", "epochs", "test_accuracy", "effective_macs", "macs", "gate_macs",
        "turning_points", "eval_precisions", "diverged_epoch", "cpu_s")


def _run(job):
    from threadpoolctl import threadpool_limits
    from .loop import config, train
    bench, recipe, seed, epochs = job
    with threadpool_limits(1):
        t = time.process_time()
        r = train(bench, recipe, config(bench, seed=seed, epochs=epochs))
        r["cpu_s"] = time.process_time() - t
    return {k: r[k] for k in KEEP}


SLOW_FIRST = ("dfq", "fractrain", "bhq4", "bhq5")


def jobs(seeds=SEEDS, epochs=None):
    """Digits with seed 0 (its historical numbers), then MNIST-1D seed by seed, the slowest
    recipes of a seed first (so a partial run has whole seeds and the pool stays balanced)."""
    order = sorted(RECIPES, key=lambda r: r not in SLOW_FIRST)
    return [("digits", r, 0, epochs) for r in RECIPES] + \
        [("mnist1d", r, s, epochs) for s in range(seeds) for r in order]


def summarize(results):
    """{(bench, recipe): {acc_mean, acc_std, rel_mean, rel_std, n}} in percent / fraction of
    fw8bw8's effective MACs (same bench, same seed)."""
    ref = {(r["bench"], r["seed"]): r["effective_macs"] for r in results if r["recipe"] == "fw8bw8"}
    groups = {}
    for r in results:
        if (r["bench"], r["seed"]) not in ref:  # an unfinished seed without its reference run
            continue
        groups.setdefault((r["bench"], r["recipe"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        acc = np.array([100 * r["test_accuracy"] for r in rs])
        rel = np.array([r["effective_macs"] / ref[(r["bench"], r["seed"])] for r in rs])
        std = lambda v: float(v.std(ddof=1)) if len(v) > 1 else 0.0
        out[key] = {"acc_mean": float(acc.mean()), "acc_std": std(acc), "rel_mean": float(rel.mean()),
                    "rel_std": std(rel), "n": len(rs), "acc": acc.tolist(),
                    "diverged": sum(bool(r.get("diverged_epoch")) for r in rs),
                    "cpu_s": float(sum(r["cpu_s"] for r in rs))}
    return out


def table(summary, wall_s=None, cpu_s=None, jobs_n=None):
    lines = ["| bench | recipe | seeds | test accuracy % (mean +- std) | per seed | effective MACs / fw8bw8 |",
             "|---|---|---|---|---|---|"]
    for bench in BENCHES[::-1]:
        for rec in RECIPES:
            v = summary.get((bench, rec))
            if v is None:
                continue
            seeds = " / ".join(f"{a:.1f}" for a in v["acc"])
            lines.append(f"| {bench} | {rec} | {v['n']} | {v['acc_mean']:.2f} +- {v['acc_std']:.2f} | {seeds} "
                         f"| {v['rel_mean']:.3f} +- {v['rel_std']:.3f} |")
    if wall_s is not None:
        lines += ["", f"Wall time of this invocation {wall_s:.0f} s with {jobs_n} worker processes; CPU "
                      f"time of the trainings in the table {cpu_s:.0f} s (single-threaded BLAS each)."]
    return "\n".join(lines)


def plot(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, bench in zip(axes, BENCHES[::-1]):
        diverged = []
        for rec in RECIPES:
            v = summary.get((bench, rec))
            if v is None:
                continue
            if v["diverged"]:  # accuracy 0 would squash the axis; named in the title instead
                diverged.append(f"{rec} ({v['diverged']} of {v['n']})")
                continue
            ax.errorbar(v["rel_mean"], v["acc_mean"], xerr=v["rel_std"], yerr=v["acc_std"], fmt="o", capsize=3)
            ax.annotate(rec, (v["rel_mean"], v["acc_mean"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("effective MACs / fw8bw8's (log)")
        ax.set_ylabel("test accuracy (%)")
        n = max((v["n"] for (b, _), v in summary.items() if b == bench), default=0)
        ax.set_title(f"{bench}: mean +- std over {n} seed(s)" + (f"\ndiverged, not shown: {', '.join(diverged)}" if diverged else ""))
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = ArgumentParser(prog="python -m golden.training.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=positive(), default=os.cpu_count() or 1)
    ap.add_argument("--seeds", type=positive(), default=SEEDS)
    ap.add_argument("--epochs", type=positive(), default=None, help="default: each benchmark's")
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("build/demo"))
    ap.add_argument("--resume", action="store_true", help="keep the finished runs of OUT/runs.jsonl")
    ap.add_argument("--report-only", action="store_true", help="no training: tabulate OUT/runs.jsonl as it is")
    args = ap.parse_args(argv)
    from .datasets import mnist1d
    mnist1d()  # generate the cache once, before the workers read it
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "runs.jsonl"
    key = lambda r: (r["bench"], r["recipe"], r["seed"], r["epochs"])
    keep = args.resume or args.report_only
    done = [json.loads(line) for line in log.read_text().splitlines()] if keep and log.exists() else []
    from .loop import config
    todo = [j for j in jobs(args.seeds, args.epochs)
            if (j[0], j[1], j[2], config(j[0], epochs=j[3]).epochs) not in {key(r) for r in done}]
    t0 = time.time()
    results = sorted(done, key=lambda r: (r["bench"], RECIPES.index(r["recipe"]), r["seed"]))
    if args.report_only:
        todo = []
    with open(log, "a" if args.resume or args.report_only else "w") as f, \
            concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        for fut in concurrent.futures.as_completed([pool.submit(_run, j) for j in todo]):
            results.append(fut.result())
            f.write(json.dumps(results[-1]) + "\n")
            f.flush()
    wall = time.time() - t0
    summary = summarize(results)
    cpu = sum(r["cpu_s"] for r in results)
    text = table(summary, wall, cpu, args.jobs)
    (args.out / "results.json").write_text(json.dumps({**provenance("golden.training.demo", argv), "wall_s": wall,
                                                       "cpu_s": cpu, "jobs": args.jobs, "runs": results}, indent=1))
    (args.out / "table.md").write_text(text + "\n")
    plot(summary, args.out / "accuracy_vs_macs.png")
    print(text)
    print(f"-> {args.out}/table.md, results.json, accuracy_vs_macs.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
