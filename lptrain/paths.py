"""The repository's directories: every tool resolves its inputs and outputs from here."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
RTL = ROOT / "rtl"
BUILD = ROOT / "build"
DOCS = ROOT / "docs"


def repo_relative(path):
    """`path` relative to the repository root (yowasp tools run in a WASI sandbox that sees only
    the working directory, so they are given relative paths)."""
    return str(pathlib.Path(path).resolve().relative_to(ROOT))
