"""`python -m report.timing NAME -- CMD...`: run CMD, record its wall time in build/times/NAME.json.

The record: the timed command, its exit status, wall seconds, the start date, the revision,
Python and package versions (lptrain.provenance), the cores this process may use (`nproc`) and
the 1/5/15-minute load average just before the start (the machine is shared: the same command
takes longer on a busy one). It is written atomically (a reader never sees half a file), also
when CMD fails; this command then exits with CMD's status. `make report` copies build/times/
into docs/results/times/ and renders the "Command times" section and README's `times` block.

    python -m report.timing sim -- make sim
    python -m report.timing test -- make test
"""

import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

from lptrain.cli import ArgumentParser
from lptrain.paths import BUILD
from lptrain.provenance import provenance

from .sources import write_json

__all__ = ["measure", "main"]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def measure(name, command, argv=None):
    """Run `command` (a list) with this process's stdin/stdout/stderr; returns the record."""
    origin = provenance("report.timing", argv)
    load = os.getloadavg()
    start = time.monotonic()
    status = subprocess.run(command).returncode
    wall = time.monotonic() - start
    return {**origin, "name": name, "timed_command": shlex.join(command), "exit_status": status,
            "wall_s": round(wall, 2), "nproc": len(os.sched_getaffinity(0)), "loadavg_before": list(load)}


def main(argv=None):
    ap = ArgumentParser(prog="python -m report.timing", description=__doc__.splitlines()[0])
    ap.add_argument("name", help="record name: build/times/NAME.json (letters, digits, _ . -)")
    ap.add_argument("command", nargs="+", help="the command, after --")
    ap.add_argument("--out", type=pathlib.Path, default=BUILD / "times", help="directory of the records")
    args = ap.parse_args(argv)
    if not NAME.fullmatch(args.name):
        ap.error(f"NAME must be letters, digits, '_', '.', '-' (not starting with one of the last three), "
                 f"got {args.name!r}")
    command = args.command[1:] if args.command[0] == "--" else args.command
    if not command:
        ap.error("no command after --")
    try:
        record = measure(args.name, command, argv)
    except FileNotFoundError:
        ap.error(f"command not found: {command[0]!r}")
    write_json(args.out / f"{args.name}.json", record)
    print(f"{args.name}: {record['wall_s']:.1f} s, exit status {record['exit_status']} -> "
          f"{args.out / (args.name + '.json')}", file=sys.stderr)
    return record["exit_status"]


if __name__ == "__main__":
    sys.exit(main())
