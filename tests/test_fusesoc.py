"""FuseSoC cores of rtl/ (hdl_gen/cores.py): fresh, one per unit, parsed by fusesoc, and the lint
target of the AXI wrapper runs (offline: an empty HOME, the cores root only) and passes."""

import os
import pathlib
import subprocess
import sys

import pytest

from hdl_gen.cores import core_name
from hdl_gen.rtl import DEFAULTS, RTL_DIR, core
from verif.harness import setup_verilator


def _fusesoc(args, tmp_path):
    root = setup_verilator()
    bindir = pathlib.Path(sys.executable).parent
    env = {"HOME": str(tmp_path / "home"), "VERILATOR_ROOT": str(root),
           "PATH": os.pathsep.join([str(root / "bin"), str(bindir), "/usr/bin", "/bin"])}
    return subprocess.run([str(bindir / "fusesoc"), "--cores-root", str(RTL_DIR), *args], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_core_is_fresh(name):
    path = RTL_DIR / f"{name}.core"
    assert path.exists() and path.read_text() == core(name), f"{path} is stale: run `make rtl`"


def test_fusesoc_parses_every_core(tmp_path):
    proc = _fusesoc(["core", "list"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("lptrain:")}
    assert listed == {core_name(name) for name in DEFAULTS}
    assert sorted(p.stem for p in RTL_DIR.glob("*.core")) == sorted(DEFAULTS)


def test_fusesoc_runs_lint(tmp_path):
    proc = _fusesoc(["run", "--build-root", str(tmp_path / "build"), "--target", "lint",
                     core_name("mac_array_axi")], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "%Warning" not in proc.stdout + proc.stderr
    (work,) = (tmp_path / "build").rglob("lint-verilator")
    assert "VERILATOR_OPTIONS := -Wall" in (work / "config.mk").read_text()
    assert (work / "lptrain_ip_mac_array_axi_0.1.0.vc").read_text().split()[2:4] == [
        "src/lptrain_ip_mac_array_axi_0.1.0/../verif/lint_waivers.vlt", "src/lptrain_ip_mac_array_axi_0.1.0/mac_array_axi.v"]
