"""`verilator --lint-only -Wall` on generated Verilog, with the waivers in lint_waivers.vlt."""

import pathlib
import subprocess
import sys

from lptrain.paths import RTL
from verif.harness import setup_verilator

WAIVERS = pathlib.Path(__file__).resolve().parent / "lint_waivers.vlt"


def lint(path):
    """Lint one file; returns (ok, verilator's output)."""
    root = setup_verilator()
    proc = subprocess.run(
        [str(root / "bin" / "verilator"), "--lint-only", "-Wall", str(WAIVERS), str(path)],
        capture_output=True, text=True)
    return proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


def main():
    failed = 0
    for path in sorted(RTL.glob("*.v")):
        ok, out = lint(path)
        print(f"lint {'ok  ' if ok else 'FAIL'} {path.relative_to(RTL.parent)}")
        if not ok:
            failed += 1
            print(out)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
