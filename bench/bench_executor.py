"""The executor's benchmark: the same sweeps serially and on a LocalCluster, side by side.

    python -m bench.bench_executor [--workers 2] [--seeds 3] [--units 16] [--noop 200]
                                   [--out build/bench/executor.json]

On this machine, one after the other, with no cache (every point computed in both runs):
  - `make demo`'s trainings (golden.training.demo.tasks: digits + MNIST-1D x --seeds), serially in
    this process and on a LocalCluster of --workers processes; the two result sets are compared
    (times excluded);
  - a synthesis sweep of the first --units small units of `make synth` (no arrays), the same way;
  - --noop tasks that do nothing, on the cluster: the scheduler overhead per task (ms);
then, from the per-task durations of the last full `make synth` and `make demo` runs (their
ppa.json / results.json, when present) and of this run: the simulated wall time on 1 / 2 / 8 /
32 / 128 workers (`lptrain.executor.schedule_makespan`; the points of a sweep are independent
tasks, only the flow's final write waits for all), beside its bounds: the longest task (the
critical path) and total work / workers. Writes --out with provenance and the load average
before and after; `make report` renders it.
"""

import json
import os
import pathlib
import time

from golden.training import demo
from lptrain import executor
from lptrain.cache import write_atomic
from lptrain.cli import ArgumentParser, non_negative_int, positive
from lptrain.paths import ROOT
from lptrain.provenance import provenance
from synth import ppa

SCALE = (1, 2, 8, 32, 128)
LIBERTY = ROOT / "build" / "tech" / "osu018" / "osu018_stdcells.lib"
TIMES = ("cpu_s", "seconds")  # measurements of the run, not results

def noop():
    return None

def results_only(value):
    """A result without the measurements of the run itself (times), for comparing two runs."""
    if isinstance(value, dict):
        return {k: results_only(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [results_only(v) for v in value]
    return value

def side_by_side(make_tasks, workers):
    """`make_tasks(label)` serially, then on a LocalCluster: wall times, per-task durations, equal
    results (each run gets its own tasks, so nothing one run leaves on disk serves the other)."""
    runs = {}
    for label, n in (("serial", 0), ("cluster", workers)):
        tasks = make_tasks(label)
        t0 = time.perf_counter()
        with executor.connect(workers=n) as ex:
            t1 = time.perf_counter()
            outcomes = ex.run(tasks, label=label)
            wall = time.perf_counter() - t1
            runs[label] = {"executor": ex.description, "workers": ex.workers, "wall_s": round(wall, 3),
                           "startup_s": round(t1 - t0, 3),
                           "tasks": {o.task.name: round(o.seconds, 3) for o in outcomes if o.seconds is not None},
                           "failed": [o.task.name for o in outcomes if not o.ok]}
            runs[label]["values"] = [results_only(o.value) for o in outcomes]
    same = runs["serial"].pop("values") == runs["cluster"].pop("values")
    return {"tasks": len(tasks), "identical_results": same,
            "speedup": round(runs["serial"]["wall_s"] / runs["cluster"]["wall_s"], 3), **runs}

def overhead(n, workers):
    """Scheduler overhead per task (ms): wall time of `n` no-op tasks on the cluster / n."""
    with executor.connect(workers=workers) as ex:
        ex.run([executor.Task("warm-up", noop)], label="warm-up")
        t0 = time.perf_counter()
        ex.run([executor.Task(f"noop{i}", noop) for i in range(n)], label="no-op")
        wall = time.perf_counter() - t0
    return {"tasks": n, "workers": workers, "wall_s": round(wall, 3), "ms_per_task": round(1e3 * wall / n, 3)}

def scale(durations):
    """Simulated wall time of independent tasks with these {name: seconds} on SCALE workers."""
    total = sum(durations.values())
    longest = max(durations, key=durations.get)
    return {"tasks": len(durations), "total_s": round(total, 1), "longest": longest,
            "longest_s": round(durations[longest], 1),
            "workers": {str(w): {"makespan_s": round(executor.schedule_makespan(durations.values(), w), 1),
                                 "bound_s": round(max(durations[longest], total / w), 1)} for w in SCALE}}

def recorded(path):
    """{task: seconds} of a flow's last execution record (ppa.json / results.json), or None."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    tasks = (doc.get("execution") or {}).get("tasks") or []
    fresh = {t["name"]: t["seconds"] for t in tasks if t["seconds"] is not None and not t["cached"]}
    return {"source": str(path.relative_to(ROOT)), "command": doc.get("command"), "date": doc.get("date"),
            "executor": doc["execution"]["executor"], "wall_s": doc["execution"]["wall_s"],
            **scale(fresh)} if fresh else None

def main(argv=None):
    parser = ArgumentParser(prog="python -m bench.bench_executor", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=positive(), default=os.cpu_count() or 1, help="LocalCluster size")
    parser.add_argument("--seeds", type=positive(), default=demo.SEEDS, help="MNIST-1D seeds of the demo sweep")
    parser.add_argument("--units", type=non_negative_int, default=16, help="units of the synthesis sweep")
    parser.add_argument("--noop", type=positive(), default=200, help="no-op tasks for the overhead")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "bench" / "executor.json")
    args = parser.parse_args(argv)
    if args.units and not LIBERTY.exists():
        parser.error(f"{LIBERTY} not found: run `make synth-tools` (fetches Debian qflow-tech-osu018)")
    load_before = os.getloadavg()
    doc = {**provenance("bench.bench_executor", argv, ppa.tool_versions(LIBERTY) if args.units else {}),
           "cpus": os.cpu_count()}

    from golden.training.datasets import mnist1d
    mnist1d()  # the dataset cache, before any worker reads it
    doc["demo"] = side_by_side(lambda _: demo.tasks(args.seeds), args.workers)
    if args.units:
        small = [u for u in ppa.default_selection(ppa.discover()) if u.kind not in ("array", "lanes")
                 and not u.name.startswith("mac_array")][:args.units]
        out = ROOT / "build" / "bench" / "executor_synth"
        doc["synth"] = side_by_side(lambda label: [
            executor.Task(u.name, ppa.measure_unit, {"name": u.name, "liberty": str(LIBERTY),
                                                     "cells": str(LIBERTY.with_suffix(".v")), "out": str(out / label)})
            for u in small], args.workers)
    doc["overhead"] = overhead(args.noop, args.workers)
    doc["scale"] = {"this run: demo": scale(doc["demo"]["serial"]["tasks"])}
    if args.units:
        doc["scale"]["this run: synthesis"] = scale(doc["synth"]["serial"]["tasks"])
    for name, path in (("make synth", ROOT / "build" / "synth" / "ppa.json"),
                       ("make demo", ROOT / "build" / "demo" / "results.json")):
        rec = recorded(path)
        if rec:
            doc["scale"][name] = rec
    doc["loadavg"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    write_atomic(args.out, json.dumps(doc, indent=1) + "\n")
    plot(doc, args.out.with_name("executor_scale.png"))
    print(markdown(doc))
    print(f"wrote {args.out}")
    return 0

def markdown(doc):
    """The benchmark's tables (also `make report`'s section)."""
    lines = ["| sweep | tasks | serial wall (s) | cluster wall (s) | workers | speed-up | identical results |",
             "|---|---|---|---|---|---|---|"]
    for key, label in (("demo", "`make demo` trainings"), ("synth", "synthesis of small units")):
        r = doc.get(key)
        if r:
            lines.append(f"| {label} | {r['tasks']} | {r['serial']['wall_s']:.1f} | {r['cluster']['wall_s']:.1f} "
                         f"| {r['cluster']['workers']} | {r['speedup']:.2f}x | {'yes' if r['identical_results'] else 'NO'} |")
    o = doc["overhead"]
    lines += ["", f"Scheduler overhead: {o['tasks']} no-op tasks on {o['workers']} workers in {o['wall_s']:.2f} s, "
                  f"**{o['ms_per_task']:.2f} ms per task**. Cluster start-up (not in the wall times above): "
                  + ", ".join(f"{k} {doc[k]['cluster']['startup_s']:.1f} s" for k in ("demo", "synth") if k in doc)
                  + f". Load average before / after: {doc['loadavg']['before'][0]} / {doc['loadavg']['after'][0]} "
                  f"on {doc['cpus']} CPUs.", ""]
    lines += ["Simulated scale-out (independent tasks, longest first on identical workers; bound = "
              "max(longest task, total work / workers)):", "",
              "| sweep | tasks | total work (s) | longest task (s) | "
              + " | ".join(f"{w} worker{'s' if w > 1 else ''} (s)" for w in SCALE) + " |",
              "|---|---|---|---|" + "---|" * len(SCALE)]
    for name, s in doc["scale"].items():
        cells = " | ".join(f"{s['workers'][str(w)]['makespan_s']:.0f} (bound {s['workers'][str(w)]['bound_s']:.0f})"
                           for w in SCALE)
        lines.append(f"| {name} | {s['tasks']} | {s['total_s']:.0f} | {s['longest']} {s['longest_s']:.0f} | {cells} |")
    return "\n".join(lines)

def plot(doc, path):
    """Simulated wall time vs workers per sweep (log-log), with each sweep's longest task as the
    floor it cannot go below."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, s in doc["scale"].items():
        line, = ax.plot(SCALE, [s["workers"][str(w)]["makespan_s"] for w in SCALE], "o-", label=name)
        ax.axhline(s["longest_s"], color=line.get_color(), ls=":", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("workers")
    ax.set_ylabel("wall time (s), simulated from measured task times")
    ax.set_title("Sweeps on W workers (dotted: the longest task)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
