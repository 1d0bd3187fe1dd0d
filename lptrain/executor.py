"""The one executor every sweep submits to: Dask distributed, local by default.

    from lptrain import executor
    tasks = [executor.Task(f"digits/{r}", train_one, {"recipe": r}) for r in recipes]
    with executor.from_args(parser, args) as ex:          # --scheduler / --workers
        outcomes = ex.run(tasks, cache=Cache(dir, salt), on_result=write_partial)
    sys.exit(executor.report_failures(outcomes))

A `Task` is a module-level function and its keyword arguments (JSON-able: they are also the
cache key). `run` skips the tasks the cache already holds (calling `on_result` with them first), submits the others, shows a progress
bar (done / total, ETA) and returns one `Outcome` per task, in task order, whatever order they
finished in. A task that raises is an `Outcome` with `error` set (its parameters and traceback are
reported by `report_failures`; the rest of the sweep goes on). A worker that dies mid-task is
Dask's business: the scheduler re-runs the task on another worker (up to
`distributed.scheduler.allowed-failures` times), so a killed worker loses nothing.

Where it runs:
  - default: a `LocalCluster` of `os.cpu_count()` worker processes with one thread each (the
    tasks are CPU-bound Python, NumPy with one BLAS thread, and external tools);
  - `--scheduler tcp://HOST:PORT` or `LPTRAIN_SCHEDULER`: an existing cluster (workers must run
    this checkout's code: same repository path or `PYTHONPATH`, same `.venv`);
  - `--workers 0`: in this process, one task after the other (the serial reference: no Dask).
"""

import dataclasses
import logging
import os
import socket
import sys
import time
import traceback
from typing import Callable

ENV_SCHEDULER = "LPTRAIN_SCHEDULER"
CONNECT_TIMEOUT_S = 5


@dataclasses.dataclass(frozen=True)
class Task:
    name: str                 # shown in the progress bar and in failure reports
    fn: Callable              # a module-level function: workers import it by name
    params: dict = dataclasses.field(default_factory=dict)  # keyword arguments; JSON-able


@dataclasses.dataclass
class Outcome:
    task: Task
    value: object = None
    error: str = None         # "Type: message" and the traceback, when the task raised
    seconds: float = None     # time the task ran (on the worker; for a cached one, when computed)
    worker: str = None        # where it ran ("cache" when not run again)
    cached: bool = False
    computed: dict = None     # {date, revision} of the run that computed a cached value

    @property
    def ok(self):
        return self.error is None


class Unreachable(ValueError):
    """The scheduler address does not answer."""


def _call(fn, params):
    """Run one task where it lands; exceptions come back as data, so Dask never retries a task
    that failed by itself (only one whose worker died)."""
    try:
        from distributed import get_worker
        where = get_worker().address
    except (ImportError, ValueError):
        where = f"local:{socket.gethostname()}:{os.getpid()}"
    t0 = time.perf_counter()
    try:
        value, error = fn(**params), None
    except Exception as exc:  # noqa: BLE001 -- reported with the task's parameters by the caller
        value, error = None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    return {"value": value, "error": error, "seconds": time.perf_counter() - t0, "worker": where}


class _Runner:
    """What `connect` yields: `run(tasks, cache=None, on_result=None, label="sweep")`."""

    workers = 0
    description = "serial, in this process"

    def run(self, tasks, cache=None, on_result=None, label="sweep"):
        tasks = list(tasks)
        outcomes = [None] * len(tasks)
        todo = []
        for i, t in enumerate(tasks):
            record = cache.get(t.fn, t.params) if cache is not None else None
            if record is None:
                todo.append(i)
            else:
                outcomes[i] = Outcome(t, record["value"], None, record["seconds"], "cache", cached=True,
                                      computed=record.get("computed"))
                if on_result is not None:
                    on_result(outcomes[i])
        todo = _longest_first(tasks, todo, cache.durations() if cache is not None else {})
        bar = _progress(len(tasks), len(tasks) - len(todo), label)
        try:
            for i, result in self._execute(tasks, todo):
                t = tasks[i]
                outcomes[i] = Outcome(t, result["value"], result["error"], result["seconds"], result["worker"])
                if outcomes[i].ok and cache is not None:
                    from .cache import function_name
                    from .provenance import now, revision
                    cache.put(t.fn, t.params, {"name": t.name, "fn": function_name(t.fn), "params": t.params,
                                               "seconds": result["seconds"], "worker": result["worker"],
                                               "computed": {"date": now(), "revision": revision()},
                                               "value": result["value"]})
                if on_result is not None:
                    on_result(outcomes[i])
                bar.update(1)
        finally:
            bar.close()
        return outcomes

    def _execute(self, tasks, todo):
        for i in todo:
            yield i, _call(tasks[i].fn, tasks[i].params)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _DaskRunner(_Runner):
    def __init__(self, scheduler=None, workers=None):
        from distributed import Client, LocalCluster
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                raise Unreachable(f"cannot reach the Dask scheduler at {scheduler}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            self.description = f"Dask cluster at {scheduler}"
        else:
            n = workers or os.cpu_count() or 1
            # Processes, one thread each: the tasks hold the GIL (Python, NumPy with one BLAS
            # thread) or wait on a tool; Dask's worker environment already pins BLAS to 1 thread.
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                        dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            self.description = f"Dask LocalCluster, {n} worker process(es)"
        self.workers = len(self.client.scheduler_info(n_workers=-1)["workers"])
        print(f"executor: {self.description}; dashboard {self.client.dashboard_link}", file=sys.stderr, flush=True)

    def _execute(self, tasks, todo):
        from distributed import as_completed
        # `todo` comes longest first; Dask runs the highest priority first.
        futures = {self.client.submit(_call, tasks[i].fn, tasks[i].params, pure=False, priority=len(todo) - rank,
                                      key=f"{_key_name(tasks[i].name)}-{i}-{os.urandom(4).hex()}"): i
                   for rank, i in enumerate(todo)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                yield i, fut.result()
            except Exception as exc:  # noqa: BLE001 -- KilledWorker (died too often), lost scheduler
                yield i, {"value": None, "error": f"{type(exc).__name__}: {exc}", "seconds": None, "worker": None}

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _longest_first(tasks, todo, durations):
    """`todo` ordered by the time each task took last time, longest first, the never-measured
    ones before all (they may be the longest): with a list schedule, starting the long tasks first
    is what keeps one of them from running alone at the end (LPT, see `schedule_makespan`)."""
    return sorted(todo, key=lambda i: -durations.get(tasks[i].name, float("inf")))


def _key_name(name):
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name)[:60]


def _progress(total, done, label):
    from tqdm import tqdm
    return tqdm(total=total, initial=done, desc=label, unit="task", file=sys.stderr, dynamic_ncols=True,
                disable=total == 0)


def connect(scheduler=None, workers=None):
    """A runner (context manager): an existing cluster at `scheduler` (or $LPTRAIN_SCHEDULER),
    else a LocalCluster of `workers` processes (default: one per core); `workers=0`: serial.
    Raises `Unreachable` when the scheduler does not answer."""
    scheduler = scheduler or os.environ.get(ENV_SCHEDULER) or None
    if workers is not None and (not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers must be a non-negative integer (0: serial, in this process), got {workers!r}")
    if not scheduler and workers == 0:
        return _Runner()
    return _DaskRunner(scheduler, workers)


def add_arguments(parser):
    """--scheduler and --workers on a sweep's command line."""
    from .cli import non_negative_int
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help=f"an existing Dask scheduler (default: ${ENV_SCHEDULER}, else a local cluster)")
    parser.add_argument("--workers", type=non_negative_int, default=None,
                        help="local cluster size (default: one process per core; 0: serial in this process)")


def from_args(parser, args):
    """`connect` from the parsed --scheduler/--workers; an unreachable scheduler is the parser's
    one-line error (exit 2)."""
    try:
        return connect(args.scheduler, args.workers)
    except Unreachable as exc:
        parser.error(str(exc))


def report_failures(outcomes, stream=None):
    """Print each failed task with its parameters and exception (to stderr); 1 if any failed, else 0."""
    stream = stream or sys.stderr
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"FAILED {o.task.name} {o.task.params}: {o.error.rstrip()}", file=stream)
    if failed:
        print(f"{len(failed)} of {len(outcomes)} task(s) failed: {', '.join(o.task.name for o in failed)}",
              file=stream)
    return 1 if failed else 0


def summary(outcomes, runner, wall_s):
    """JSON-able record of a sweep's execution: where it ran, wall time, each task's time."""
    return {"executor": runner.description, "workers": runner.workers, "wall_s": round(wall_s, 3),
            "tasks": [{"name": o.task.name, "seconds": None if o.seconds is None else round(o.seconds, 3),
                       "cached": o.cached, "worker": o.worker, "ok": o.ok} for o in outcomes]}


def schedule_makespan(durations, workers):
    """Wall time of independent tasks of these durations on `workers` identical workers, each
    task given to the first free worker, longest first (Graham's LPT list schedule: within 4/3
    of optimal). Its lower bounds are max(durations) (critical path) and sum / workers."""
    import heapq
    free = [0.0] * max(1, workers)
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(free, free[0] + d)
    return max(free)
