"""`make demo`: every published recipe on both benchmarks (3 seeds on MNIST-1D), one table, one plot.

    python -m golden.training.demo [--seeds N] [--epochs N] [--out build/demo]
                                   [--workers N | --scheduler tcp://HOST:PORT]

Each (benchmark, recipe, seed) training is one task of the project's executor
(`lptrain.executor`: a Dask LocalCluster of one process per core by default, any Dask cluster by
address, `--workers 0` serially here), each with single-threaded BLAS (the GEMMs are small):
digits first, then MNIST-1D seed by seed. Finished trainings are cached by content under
OUT/cache (their parameters, the golden model's sources, NumPy's version), so a rerun or a
resumed interrupted run trains only what is missing. Writes `results.json` (every run, without
per-batch precisions; the executor's per-task times), `table.md` (mean and sample standard
deviation over seeds, effective MACs relative to fw8bw8) and `accuracy_vs_macs.png`; prints the
table and the wall-clock and CPU time. `make report` renders the same table from results.json
into docs/results.md.
"""

import json
import pathlib
import sys
import time

import numpy as np

from lptrain import executor
from lptrain.cache import Cache, source_digest, write_atomic
from lptrain.cli import ArgumentParser, positive
from lptrain.provenance import provenance

from .datasets import BENCHES
from .recipes import PUBLISHED

SEEDS = 3
KEEP = ("bench", "recipe", "seed", "epochs", "test_accuracy", "effective_macs", "macs", "gate_macs",
        "turning_points", "eval_precisions", "diverged_epoch", "cpu_s")


def train_one(bench, recipe, seed, epochs):
    """One training of the demo (an executor task): the KEEP fields of its result."""
    from threadpoolctl import threadpool_limits
    from .loop import config, train
    with threadpool_limits(1):
        t = time.process_time()
        r = train(bench, recipe, config(bench, seed=seed, epochs=epochs))
        r["cpu_s"] = time.process_time() - t
    return {k: r[k] for k in KEEP}


def tasks(seeds=SEEDS, epochs=None):
    from .loop import config
    return [executor.Task(f"{bench}/{recipe}/seed{seed}", train_one,
                          {"bench": bench, "recipe": recipe, "seed": seed, "epochs": config(bench, epochs=epochs).epochs})
            for bench, recipe, seed in jobs(seeds)]


def cache(out):
    """Trainings depend on their parameters, the golden model and NumPy (and the dataset
    generator, whose version pins the data)."""
    import mnist1d as m1d
    return Cache(pathlib.Path(out) / "cache",
                 {"sources": source_digest("golden/**/*.py"), "numpy": np.__version__,
                  "mnist1d": getattr(m1d, "__version__", "unknown")})


SLOW_FIRST = ("dfq", "fractrain", "bhq4", "bhq5")


def jobs(seeds=SEEDS):
    """(bench, recipe, seed): digits with seed 0 (its historical numbers), then MNIST-1D seed by
    seed, the slowest recipes of a seed first (so the workers stay balanced to the end)."""
    order = sorted(PUBLISHED, key=lambda r: r not in SLOW_FIRST)
    return [("digits", r, 0) for r in PUBLISHED] + [("mnist1d", r, s) for s in range(seeds) for r in order]


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


def table(summary, wall_s=None, cpu_s=None, where=None):
    lines = ["| bench | recipe | seeds | test accuracy % (mean +- std) | per seed | effective MACs / fw8bw8 |",
             "|---|---|---|---|---|---|"]
    for bench in BENCHES[::-1]:
        for rec in PUBLISHED:
            v = summary.get((bench, rec))
            if v is None:
                continue
            seeds = " / ".join(f"{a:.1f}" for a in v["acc"])
            lines.append(f"| {bench} | {rec} | {v['n']} | {v['acc_mean']:.2f} +- {v['acc_std']:.2f} | {seeds} "
                         f"| {v['rel_mean']:.3f} +- {v['rel_std']:.3f} |")
    if wall_s is not None:
        lines += ["", f"Wall time of this invocation {wall_s:.0f} s ({where}); CPU "
                      f"time of the trainings in the table {cpu_s:.0f} s (single-threaded BLAS each)."]
    return "\n".join(lines)


def where(doc):
    """How a results.json was computed (older ones recorded a process-pool size)."""
    if "execution" in doc:
        return doc["execution"]["executor"]
    return f"{doc['jobs']} worker processes" if "jobs" in doc else "executor not recorded"


def plot(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, bench in zip(axes, BENCHES[::-1]):
        diverged = []
        for rec in PUBLISHED:
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
    ap.add_argument("--seeds", type=positive(), default=SEEDS)
    ap.add_argument("--epochs", type=positive(), default=None, help="default: each benchmark's")
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("build/demo"))
    executor.add_arguments(ap)
    args = ap.parse_args(argv)
    from .datasets import mnist1d
    mnist1d()  # generate the cache once, before the workers read it
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with executor.from_args(ap, args) as ex:
        outcomes = ex.run(tasks(args.seeds, args.epochs), cache=cache(args.out), label="demo")
        where = ex.description
    wall = time.time() - t0
    results = [o.value for o in outcomes if o.ok]
    summary = summarize(results)
    cpu = sum(r["cpu_s"] for r in results)
    text = table(summary, wall, cpu, where)
    write_atomic(args.out / "results.json",
                 json.dumps({**provenance("golden.training.demo", argv), "wall_s": wall, "cpu_s": cpu,
                             "execution": executor.summary(outcomes, ex, wall), "runs": results}, indent=1))
    write_atomic(args.out / "table.md", text + "\n")
    plot(summary, args.out / "accuracy_vs_macs.png")
    print(text)
    print(f"-> {args.out}/table.md, results.json, accuracy_vs_macs.png")
    return executor.report_failures(outcomes)


if __name__ == "__main__":
    sys.exit(main())
