"""OpenSTA (Debian `opensta`, 2.0.x) on a Yosys netlist: worst path, Fmax and power.

Constraints (the same for every unit, so numbers compare):
- Sequential units: `clk` is a clock of the stated period; every other input arrives 0 ns after
  the edge and every output is required 0 ns before the next one (the unit's neighbours are
  registers). Fmax = 1 / (period - worst slack), which includes the capturing flop's setup.
- Combinational units: the same constraints against a *virtual* clock, so the worst path is the
  input-to-output delay and Fmax = 1 / that delay, i.e. as if registered on both sides minus the
  flops' clock-to-Q and setup.
- Inputs are driven by a BUFX2 and outputs drive the D pin of one DFFPOSX1, so paths see
  realistic slews and loads rather than ideal ones.

Activity: `set_power_activity -input_ports` per input bit (transitions per clock period and
duty). This OpenSTA has no read_vcd and `-pins` is broken: internal activity is OpenSTA's own
propagation from the ports (and across flops D -> Q), which `synth.gatesim` cross-checks.
"""

import pathlib
import re
import shutil
import subprocess

from .area import DRIVING_CELL
from .liberty import load

__all__ = ["sta_exe", "sta_version", "netlist_ports", "analyze", "cut_registers"]

LOAD_CELL, LOAD_PIN = "DFFPOSX1", "D"
CLOCK_TRANSITION_NS = 0.1  # ideal clock's slew at the flops (a buffered clock tree's, roughly)


def sta_exe():
    exe = shutil.which("sta")
    if exe is None:
        raise SystemExit("OpenSTA not found: install Debian's 'opensta' (scripts/bootstrap.sh opensta)")
    return exe


def sta_version():
    return subprocess.run([sta_exe(), "-version"], capture_output=True, text=True).stdout.strip()


def netlist_ports(netlist):
    """{'inputs': [...], 'outputs': [...]} bit names (e.g. 'a[3]', 'sa') of a split-port netlist."""
    ports = {"input": [], "output": []}
    for direction, name in re.findall(r"^\s*(input|output)\s+\\?(\S+)\s*;", pathlib.Path(netlist).read_text(), re.M):
        ports[direction].append(name)
    return {"inputs": ports["input"], "outputs": ports["output"]}


def _tcl_port(name):
    return "{" + name + "}"


def _script(netlist, top, liberty, period_ns, clock, activity, default_activity, reset, timing=True, power=True):
    ports = netlist_ports(netlist)
    data_inputs = [p for p in ports["inputs"] if p != clock]
    lines = [
        f"read_liberty {liberty}",
        f"read_verilog {netlist}",
        f"link_design {top}",
        f"create_clock -name clk -period {period_ns} [get_ports {clock}]" if clock
        else f"create_clock -name clk -period {period_ns}",
        "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports {clk}]]" if clock
        else "set_input_delay 0 -clock clk [all_inputs]",
        "set_output_delay 0 -clock clk [all_outputs]",
        # The clock is ideal (no clock tree): a BUFX2 "driving" thousands of flops would give
        # slews of tens of ns and flop internal power far off the liberty tables.
        f"set_driving_cell -lib_cell {DRIVING_CELL} [delete_from_list [all_inputs] [get_ports {clock}]]"
        if clock else f"set_driving_cell -lib_cell {DRIVING_CELL} [all_inputs]",
        *([f"set_clock_transition {CLOCK_TRANSITION_NS} [get_clocks clk]"] if clock else []),
        f"set_load {load(liberty).pin_cap_pf(LOAD_CELL, LOAD_PIN)} [all_outputs]",
    ]
    if timing:
        lines += ["puts \"@@timing\"", "report_checks -path_delay max -digits 4 -fields {input_pin}"]
    if not power:
        return "\n".join(lines) + "\n", ports
    act, duty = default_activity
    lines.append(f"set_power_activity -input -activity {act} -duty {duty}")
    for port in data_inputs:
        if port in activity:
            a, d = activity[port]
            lines.append(f"set_power_activity -input_ports [get_ports {_tcl_port(port)}] -activity {a:.6g} -duty {d:.6g}")
    for port in reset:
        lines.append(f"set_power_activity -input_ports [get_ports {_tcl_port(port)}] -activity 0 -duty 0")
    lines += ["puts \"@@power\"", "report_power -digits 8"]
    return "\n".join(lines) + "\n", ports


_FLOAT = r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?"


def _parse(out):
    timing_text, _, power_text = out.partition("@@power")
    timing_text = timing_text.partition("@@timing")[2]
    if not timing_text:
        timing = None
    elif "No paths found" in timing_text:
        timing = {"worst_path_ns": 0.0, "slack_ns": None, "startpoint": None, "endpoint": None}
    else:
        arrival = re.search(rf"({_FLOAT})\s+data arrival time", timing_text)
        slack = re.search(rf"({_FLOAT})\s+slack", timing_text)
        start = re.search(r"Startpoint:\s*(\S+)", timing_text)
        end = re.search(r"Endpoint:\s*(\S+)", timing_text)
        if not (arrival and slack and start and end):
            raise RuntimeError(f"cannot parse OpenSTA timing report:\n{timing_text}")
        timing = {"worst_path_ns": float(arrival.group(1)), "slack_ns": float(slack.group(1)),
                  "startpoint": start.group(1), "endpoint": end.group(1)}
    if not power_text:
        return timing, None
    rows = {}
    for group in ("Sequential", "Combinational", "Total"):
        m = re.search(rf"^{group}\s+({_FLOAT})\s+({_FLOAT})\s+({_FLOAT})\s+({_FLOAT})", power_text, re.M)
        if not m:
            raise RuntimeError(f"cannot parse OpenSTA power report:\n{power_text}")
        rows[group] = [float(v) for v in m.groups()]
    internal, switching, leakage, total = rows["Total"]
    power = {"internal_mw": internal * 1e3, "switching_mw": switching * 1e3, "leakage_mw": leakage * 1e3,
             "total_mw": total * 1e3, "sequential_mw": rows["Sequential"][3] * 1e3}
    return timing, power


def analyze(netlist, top, liberty, workdir, *, period_ns, clock=None, activity=None,
            default_activity=(0.0, 0.0), reset=(), tag="vectorless", timing=True, power=True):
    """Run OpenSTA once: worst path / Fmax and power at `period_ns` with the given input activity.

    `activity` maps input bit names to (transitions per period, duty); inputs not in it get
    `default_activity`; `reset` ports are held inactive (0, 0). Paths are relative to the
    repository root or absolute. Returns {'timing': ..., 'power': ...}.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script, _ = _script(netlist, top, liberty, period_ns, clock, activity or {}, default_activity, reset,
                        timing, power)
    tcl = workdir / f"{top}.{tag}.tcl"
    tcl.write_text(script)
    proc = subprocess.run([sta_exe(), "-no_init", "-exit", str(tcl)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    (workdir / f"{top}.{tag}.sta.log").write_text(out)
    if proc.returncode != 0 or re.search(r"^Error", out, re.M):
        raise RuntimeError(f"OpenSTA failed on {netlist} (log: {workdir / f'{top}.{tag}.sta.log'}):\n{out[-2000:]}")
    timing, power = _parse(out)
    if timing is None:
        return {"timing": None, "power": power}
    if timing["slack_ns"] is not None:
        min_period = period_ns - timing["slack_ns"]
        timing["min_period_ns"] = min_period
        timing["fmax_mhz"] = 1e3 / min_period
    else:
        timing["min_period_ns"] = timing["fmax_mhz"] = None
    timing["combinational"] = clock is None
    return {"timing": timing, "power": power}


_CELL = re.compile(r"^(\s*)(\w+)\s+(\\\S+|\w+)\s*\((.*?)\);", re.M | re.S)
_PIN = re.compile(r"\.(\w+)\(\s*(\\\S+\s|[^)\s]+)\s*\)")


def cut_registers(netlist, liberty, out):
    """Copy of `netlist` whose flops take D from new input ports: {port: the flop's Q net}.

    OpenSTA propagates activity through flops (D -> Q) and around every feedback loop
    (accumulators, counters) until it settles; on this version it does not settle (activities
    grow, then NaN). With each flop's D on its own input port there is no loop: the port gets the
    activity the flop's Q has in simulation (synth.gatesim), OpenSTA copies it D -> Q and
    propagates it forward through the logic. Timing is analysed on the uncut netlist.
    """
    lib = load(liberty)
    text = pathlib.Path(netlist).read_text()
    ports = {}

    def cut(m):
        indent, cell, inst, conns = m.groups()
        if cell not in lib.cells or not lib.cells[cell]["sequential"]:
            return m.group(0)
        pins = dict((pin, net.strip()) for pin, net in _PIN.findall(conns))
        if "D" not in pins or "Q" not in pins:
            return m.group(0)
        port = f"__regq_{len(ports)}"
        ports[port] = pins["Q"].lstrip("\\")
        conns = _PIN.sub(lambda p: f".D({port})" if p.group(1) == "D" else p.group(0), conns)
        return f"{indent}{cell} {inst} ({conns});"

    text = _CELL.sub(cut, text)
    if ports:
        header = re.search(r"^module\s+\S+\s*\(", text, re.M)
        text = (text[:header.end()] + "".join(f"{p}, " for p in ports) + text[header.end():])
        decl = text.index(";", header.end()) + 1
        text = text[:decl] + "".join(f"\n  input {p};" for p in ports) + text[decl:]
    pathlib.Path(out).write_text(text)
    return ports
