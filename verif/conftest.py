"""`--sim verilator|icarus|all` picks the simulators of the parametrized cocotb tests; the
simulation tests run first.

Order: under pytest-xdist (`--maxschedchunk 1`, Makefile) a worker takes the next test when it
finishes one, so the run ends soonest when the longest tests start first: the cocotb tests (a
build and a simulation each, up to minutes) ahead of the golden and generator tests
(milliseconds to seconds), which then fill the gaps at the end; tests marked `long` (a board
build) start with the Verilator builds. Among the cocotb tests Verilator
builds (C++ compiles) go ahead of Icarus runs. The sort is stable: otherwise collection order.
"""

from verif.harness import SIMS


def pytest_addoption(parser):
    parser.addoption("--sim", default="all", choices=(*SIMS, "all"),
                     help="simulator for cocotb tests (default: all)")


def _simulator(item):
    params = getattr(item, "callspec", None)
    return params.params.get("sim") if params else None


def _start_rank(item):
    """0: a Verilator build (sim tests without a `sim` parameter build for Verilator) or a test
    marked `long` (an FPGA build), 1: Icarus, 2: everything else."""
    if item.get_closest_marker("long") is not None:
        return 0
    if item.get_closest_marker("sim") is None:
        return 2
    return 1 if _simulator(item) == "icarus" else 0


def pytest_collection_modifyitems(config, items):
    sim = config.getoption("--sim")
    if sim != "all":
        keep, drop = [], []
        for item in items:
            (keep if _simulator(item) in (None, sim) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
    items.sort(key=_start_rank)
