"""Results cached by content, written atomically.

A sweep point's result is stored under the SHA-256 of what determines it: the function that
computes it, its parameters, and a salt the flow derives from everything else it depends on
(generator and golden-model sources, tool versions). Rerunning or resuming a sweep finds the
finished points there and computes only the others; changing a source file or a tool changes the
salt, so stale results are never reused. Every file is written to a temporary name in the same
directory and renamed over the target, so a run killed at any moment leaves either the old file
or the new one, never half of one.

The cache also remembers how long each named point took last time (`durations.json`), whatever
its key: a sweep whose sources changed still knows which points are long, and the executor
starts those first.
"""

import hashlib
import json
import os
import pathlib
import tempfile

from .paths import ROOT


def write_atomic(path, text):
    """Write `text` to `path` through a temporary file in the same directory and a rename."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def source_digest(*patterns, root=ROOT):
    """SHA-256 over the paths and contents of the repository files matching the glob patterns."""
    h = hashlib.sha256()
    for path in sorted({p for pat in patterns for p in root.glob(pat) if p.is_file()}):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def function_name(fn):
    return f"{fn.__module__}.{fn.__qualname__}"


class Cache:
    """A directory of `<key>.json` files, one per finished sweep point.

    `salt`: a string (or anything JSON-able) standing for every input that is not a parameter.
    """

    def __init__(self, directory, salt):
        self.directory = pathlib.Path(directory)
        self.salt = salt

    def key(self, fn, params):
        blob = json.dumps([function_name(fn), params, self.salt], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, fn, params):
        return self.directory / f"{self.key(fn, params)}.json"

    def get(self, fn, params):
        """The stored record ({name, fn, params, seconds, value}) or None."""
        path = self.path(fn, params)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:  # not written by write_atomic (e.g. edited by hand): recompute
            return None

    def put(self, fn, params, record):
        write_atomic(self.path(fn, params), json.dumps(record, indent=1, default=str) + "\n")
        if record.get("seconds") is not None:
            durations = self.durations()
            durations[record["name"]] = round(record["seconds"], 3)
            write_atomic(self.directory / "durations.json", json.dumps(durations, indent=1, sort_keys=True) + "\n")

    def durations(self):
        """{task name: seconds it took when last computed}."""
        try:
            return json.loads((self.directory / "durations.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
