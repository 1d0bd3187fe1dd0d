"""lptrain.executor and lptrain.cache on a real Dask LocalCluster of 2 worker processes: the same
results as the serial run, a worker killed mid-task, a failing task, an interrupted and resumed
sweep, an unreachable scheduler."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import cloudpickle
import pytest

from golden.training import demo
from lptrain import executor
from lptrain.cache import Cache, source_digest, write_atomic
from lptrain.paths import ROOT
from synth import ppa

# The workers unpickle this module's task functions by value: nothing imports a test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

LIB = ROOT / "build" / "tech" / "osu018" / "osu018_stdcells.lib"


@pytest.fixture(scope="module")
def cluster():
    with executor.connect(workers=2) as ex:
        yield ex


def marked(i, marks, sleep_s=0.0):
    """A task that leaves one line per execution (its worker's pid) in marks/<i>."""
    with open(pathlib.Path(marks) / str(i), "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(sleep_s)
    return {"i": i, "square": i * i}


def failing(i):
    raise ValueError(f"i must be even, got {i}")


def runs(marks, i):
    path = pathlib.Path(marks) / str(i)
    return len(path.read_text().splitlines()) if path.exists() else 0


# Wall and CPU times are measurements of the run, not results.
TIMES = ("cpu_s", "seconds")


def results_only(value):
    if isinstance(value, dict):
        return {k: results_only(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [results_only(v) for v in value]
    return value


def test_sweep_on_the_cluster_equals_the_serial_run(cluster, tmp_path):
    assert LIB.exists(), "run `make synth-tools`"
    out = ROOT / "build" / f"executor_test_{os.getpid()}"
    trainings = [executor.Task(f"digits/{r}/{s}", demo.train_one, {"bench": "digits", "recipe": r, "seed": s,
                                                                   "epochs": 1})
                 for r in ("fw8bw8", "pfq", "ibm4") for s in (0, 1)]
    syntheses = [executor.Task(u, ppa.measure_unit, {"name": u, "liberty": str(LIB), "cells": str(LIB.with_suffix(".v")),
                                                     "out": str(out)})
                 for u in ("lfsr16", "e4m3_to_fp16", "r4fp4_to_fp16")]
    tasks = trainings + syntheses
    with executor.connect(workers=0) as serial:
        want = serial.run(tasks)
    got = cluster.run(tasks)
    assert [o.task for o in got] == tasks
    assert all(o.ok for o in want + got), [o.error for o in want + got if not o.ok]
    assert all(o.worker.startswith("tcp://") for o in got) and all(o.worker.startswith("local:") for o in want)
    assert [results_only(o.value) for o in got] == [results_only(o.value) for o in want]
    assert json.dumps([results_only(o.value) for o in got], sort_keys=True) == \
        json.dumps([results_only(o.value) for o in want], sort_keys=True)


def test_worker_killed_mid_task_is_rerun_elsewhere(cluster, tmp_path):
    tasks = [executor.Task(f"t{i}", marked, {"i": i, "marks": str(tmp_path), "sleep_s": 3.0 if i == 0 else 0.2})
             for i in range(6)]
    killed = []

    def kill_first_runner():
        deadline = time.time() + 60
        while time.time() < deadline and not runs(tmp_path, 0):
            time.sleep(0.05)
        pid = int((tmp_path / "0").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_first_runner)
    killer.start()
    outcomes = cluster.run(tasks)
    killer.join()
    assert killed, "the killer never saw task 0 start"
    assert [o.value for o in outcomes] == [{"i": i, "square": i * i} for i in range(6)]
    assert all(o.ok for o in outcomes)
    pids = (tmp_path / "0").read_text().split()
    assert len(pids) == 2 and pids[0] == str(killed[0]) and pids[1] != pids[0]  # killed, then rerun elsewhere
    assert [runs(tmp_path, i) for i in range(1, 6)] == [1] * 5  # nothing else ran twice


def test_failing_task_is_reported_and_the_rest_completes(cluster, tmp_path, capsys):
    tasks = [executor.Task(f"t{i}", marked, {"i": i, "marks": str(tmp_path)}) for i in range(4)]
    tasks.insert(2, executor.Task("bad", failing, {"i": 3}))
    outcomes = cluster.run(tasks)
    assert [o.ok for o in outcomes] == [True, True, False, True, True]
    assert [o.value["i"] for o in outcomes if o.ok] == [0, 1, 2, 3]
    assert outcomes[2].error.startswith("ValueError: i must be even, got 3")
    assert executor.report_failures(outcomes) == 1
    err = capsys.readouterr().err
    assert "FAILED bad {'i': 3}: ValueError: i must be even, got 3" in err and "1 of 5 task(s) failed: bad" in err
    assert executor.report_failures([o for o in outcomes if o.ok]) == 0


def test_interrupted_sweep_reruns_only_the_missing_points(cluster, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    cache = Cache(tmp_path / "cache", "salt")
    tasks = [executor.Task(f"t{i}", marked, {"i": i, "marks": str(marks), "sleep_s": 0.3}) for i in range(8)]
    finished = []

    def interrupt_after_three(outcome):
        finished.append(outcome.task.params["i"])
        if len(finished) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cluster.run(tasks, cache=cache, on_result=interrupt_after_three)
    assert len([p for p in (tmp_path / "cache").glob("*.json") if p.name != "durations.json"]) == 3
    outcomes = cluster.run(tasks, cache=cache)
    assert [o.value for o in outcomes] == [{"i": i, "square": i * i} for i in range(8)]
    assert sorted(i for i, o in enumerate(outcomes) if o.cached) == sorted(finished)
    assert all(runs(marks, i) == 1 for i in finished)  # no finished point computed again
    assert all(runs(marks, i) >= 1 for i in range(8))
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_longest_tasks_start_first_from_the_durations_last_time(tmp_path):
    cache = Cache(tmp_path / "cache", "salt")
    tasks = [executor.Task(f"t{i}", marked, {"i": i, "marks": str(tmp_path), "sleep_s": 0.01 * i}) for i in range(4)]
    executor.connect(workers=0).run(tasks[1:], cache=cache)
    assert set(cache.durations()) == {"t1", "t2", "t3"} and cache.durations()["t3"] >= 0.03
    cache.salt = "changed sources"  # every point is computed again; the durations still order them
    started = []
    outcomes = executor.connect(workers=0).run(tasks, cache=cache, on_result=lambda o: started.append(o.task.name))
    assert started == ["t0", "t3", "t2", "t1"]  # never measured first, then longest first
    assert [o.task.name for o in outcomes] == ["t0", "t1", "t2", "t3"]  # results in task order


def test_unreachable_scheduler_is_one_line_exit_2():
    address = "tcp://127.0.0.1:9"
    p = subprocess.run([sys.executable, "-m", "golden.training.demo", "--scheduler", address, "--out",
                        str(ROOT / "build" / "executor_unreachable")], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and address in lines[0] and "cannot reach the Dask scheduler" in lines[0], p.stderr


def test_environment_variable_names_the_scheduler(monkeypatch):
    monkeypatch.setenv(executor.ENV_SCHEDULER, "tcp://127.0.0.1:9")
    with pytest.raises(executor.Unreachable, match="127.0.0.1:9"):
        executor.connect(workers=0)


@pytest.mark.parametrize("workers", [-1, 1.5, "2"])
def test_bad_worker_count(workers):
    with pytest.raises(ValueError, match="workers must be a non-negative integer"):
        executor.connect(workers=workers)


def test_cache_key_follows_function_parameters_and_salt(tmp_path):
    a = Cache(tmp_path, "s1")
    assert a.key(marked, {"i": 1}) == Cache(tmp_path / "x", "s1").key(marked, {"i": 1})
    assert len({a.key(marked, {"i": 1}), a.key(marked, {"i": 2}), a.key(failing, {"i": 1}),
                Cache(tmp_path, "s2").key(marked, {"i": 1})}) == 4
    a.put(marked, {"i": 1}, {"value": 1})
    assert a.get(marked, {"i": 1}) == {"value": 1} and a.get(marked, {"i": 2}) is None
    a.path(marked, {"i": 2}).write_text('{"value": ')  # a torn file (not one write_atomic leaves)
    assert a.get(marked, {"i": 2}) is None


def test_write_atomic_replaces_whole_files_only(tmp_path):
    path = tmp_path / "d" / "r.json"
    write_atomic(path, "old")
    write_atomic(path, "new")
    assert path.read_text() == "new" and [p.name for p in path.parent.iterdir()] == ["r.json"]

    with pytest.raises(TypeError):
        write_atomic(path, 123)  # a failed write leaves the old file and no temporary
    assert path.read_text() == "new" and [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_source_digest_sees_content_and_names(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    d1 = source_digest("*.py", root=tmp_path)
    (tmp_path / "a.py").write_text("x = 2\n")
    d2 = source_digest("*.py", root=tmp_path)
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert len({d1, d2, source_digest("*.py", root=tmp_path)}) == 3


@pytest.mark.parametrize("durations,workers,want", [
    ([5, 4, 3, 3, 2, 1], 2, 9), ([10, 1, 1], 8, 10), ([1] * 8, 3, 3), ([], 4, 0)])
def test_schedule_makespan_longest_first(durations, workers, want):
    # Hand-checked LPT schedules: {5,3,1} {4,3,2}; the longest task bounds any count of workers.
    assert executor.schedule_makespan(durations, workers) == want
