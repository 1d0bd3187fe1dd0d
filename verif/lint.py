"""`verilator --lint-only -Wall` on generated Verilog, with the waivers in lint_waivers.vlt.

Every waiver there names one unit's file (`-file "*/<unit>.v"`, which also matches the copy
FuseSoC makes of it) and the message it covers (`-match`); a unit with no waiver is linted with
every -Wall warning on. Verilator does not report a waiver that matched nothing, so
`stale_waivers` does: it matches the waivers against the warnings of a lint without them, the
way Verilator matches (`waives`); tests/test_lint.py checks that emulation against Verilator.
"""

import pathlib
import re
import shlex
import subprocess
import sys
from typing import NamedTuple

from lptrain.paths import RTL
from verif.harness import setup_verilator

WAIVERS = pathlib.Path(__file__).resolve().parent / "lint_waivers.vlt"

# "%Warning-RULE: file:line:col: message" (Verilator's documented format); only the first line
# of a message is kept, which is why a waiver's -match must end in `*` (see `waives`).
_WARNING = re.compile(r"^%Warning-(\w+): (\S+?):(\d+):(?:\d+:)? (.*)$", re.MULTILINE)


class LintWarning(NamedTuple):
    rule: str
    file: str
    line: int
    message: str


class Waiver(NamedTuple):
    rule: str | None
    file: str | None
    match: str | None
    lineno: int  # in the waiver file, for error messages


def _verilator(*args):
    root = setup_verilator()
    return subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", *map(str, args)],
                          capture_output=True, text=True)


def lint(path, waivers=WAIVERS):
    """Lint one file with the waiver file `waivers`; returns (ok, verilator's output)."""
    proc = _verilator(waivers, path)
    return proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


def warnings(path):
    """Every -Wall warning of one file, with no waiver."""
    proc = _verilator(path)
    if proc.returncode != 0 and "%Warning" not in proc.stderr:
        raise RuntimeError(f"verilator failed on {path}:\n{proc.stderr}")
    return [LintWarning(rule, file, int(line), message)
            for rule, file, line, message in _WARNING.findall(proc.stderr)]


def read_waivers(path=WAIVERS):
    """The `lint_off` lines of a Verilator configuration file, as Waivers.

    Only `-rule`, `-file` and `-match` are understood (ValueError for anything else, so that
    `waives` never silently ignores a restriction Verilator applies)."""
    result = []
    for lineno, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        code = line.split("//", 1)[0].strip()
        if not code or code == "`verilator_config":
            continue
        words = shlex.split(code)
        if words[0] != "lint_off" or len(words) % 2 != 1:
            raise ValueError(f"{path}:{lineno}: expected `lint_off` with -option value pairs, got {code!r}")
        options = dict(zip(words[1::2], words[2::2]))
        unknown = sorted(set(options) - {"-rule", "-file", "-match"})
        if unknown:
            raise ValueError(f"{path}:{lineno}: option(s) {', '.join(unknown)} not understood; "
                             f"use -rule, -file and -match")
        result.append(Waiver(options.get("-rule"), options.get("-file"), options.get("-match"), lineno))
    return result


def wildmatch(text, pattern):
    """Verilator's wildcard match (VString::wildmatch): `*` any run of characters, `?` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def waives(waiver, warning):
    """Whether `waiver` suppresses `warning`, as Verilator decides it (V3Control: same rule, file
    and message wildcard-matched). A -match ending in `*` matches a message exactly when it
    matches its first line, which is all `warnings` keeps."""
    return ((waiver.rule is None or waiver.rule == warning.rule)
            and (waiver.file is None or wildmatch(warning.file, waiver.file))
            and (waiver.match is None or wildmatch(warning.message, waiver.match)))


def stale_waivers(waivers, found):
    """The waivers that match none of the warnings `found`."""
    return [w for w in waivers if not any(waives(w, x) for x in found)]


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
