"""Where a measured number came from: every flow's JSON carries `provenance(...)` at its top level.

    {"command": "python -m synth.ppa --liberty ...", "date": "2026-12-03T08:28:44+00:00",
     "revision": "b7ee2ec-dirty", "python": "3.11.2", "packages": {"numpy": "2.4.6", ...},
     "tools": {...}}

`make report` prints these beside every section, so a number in docs/results.md names the
command, the day, the source revision and the tool versions that produced it.
"""

import datetime
import functools
import importlib.metadata
import re
import shlex
import subprocess
import sys
import tomllib

from .paths import ROOT

__all__ = ["provenance", "revision", "packages", "command", "now"]

KEYS = ("command", "date", "revision", "python", "packages", "tools")


def now():
    """UTC, to the second, ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1)
def revision():
    """`git describe --always --dirty` of the repository, or a one-line reason it has none."""
    try:
        proc = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown (git: {type(exc).__name__})"
    return proc.stdout.strip() if proc.returncode == 0 else "unknown (not a git checkout)"


@functools.lru_cache(maxsize=1)
def packages():
    """Installed version of every dependency pinned in pyproject.toml ("not installed" if absent)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        name = re.match(r"[A-Za-z0-9_.-]+", dep).group(0)
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def command(module, argv=None):
    """The command line that reproduces this run: `python -m MODULE ARGS` (ARGS: `argv`, else
    this process's own arguments)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return shlex.join(["python", "-m", module, *map(str, args)])


def provenance(module, argv=None, tools=None):
    """The provenance keys of a flow's JSON (KEYS); `tools`: {tool: version} of the external tools
    the flow ran (Yosys, OpenSTA, a simulator, a solver)."""
    return {"command": command(module, argv), "date": now(), "revision": revision(),
            "python": sys.version.split()[0], "packages": packages(), "tools": dict(tools or {})}
