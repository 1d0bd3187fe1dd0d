"""Cross-check of the activity method: gate-level simulation of a netlist with the osu018 cells.

Icarus simulates the synthesized netlist with the cell models (`-gspecify`: the cells' path
delays, so glitches happen as in silicon, to first order) on a workload's exact stimulus, dumps
every net to VCD, and counts 0<->1 transitions per net. Switching energy is
sum over cell-driven nets of toggles x 0.5 x C x V^2, with C the input-pin capacitances of the
net's loads from the liberty plus the output-port load OpenSTA is given. OpenSTA's "switching"
column is the same sum with its propagated activities, so the two differ only by how activity
inside the netlist is obtained: simulated (here) vs propagated from the ports (OpenSTA, which
assumes independent signals and no glitches).
"""

import pathlib
import re
import shutil
import subprocess

import numpy as np

from .liberty import load
from .sta import LOAD_CELL, LOAD_PIN, netlist_ports

__all__ = ["parse_netlist", "simulate", "switching_energy"]

RESET_CYCLES = 2

_INST = re.compile(r"^\s*(\w+)\s+(\\\S+|\w+)\s*\((.*?)\);", re.M | re.S)
_CONN = re.compile(r"\.(\w+)\(\s*(\\\S+\s|[^)\s]+)\s*\)")
_ASSIGN = re.compile(r"^\s*assign\s+(\\\S+\s|[^=\s]+)\s*=\s*(\\\S+\s|[^;\s]+)\s*;", re.M)


def _norm(name):
    return name.strip().lstrip("\\")


def parse_netlist(netlist, lib):
    """Nets driven by cells and their load capacitance (pF), with `assign` aliases merged.

    Returns (caps: {net: pF}, alias: {name: representative net}).
    """
    text = pathlib.Path(netlist).read_text()
    parent = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for lhs, rhs in _ASSIGN.findall(text):
        lhs, rhs = _norm(lhs), _norm(rhs)
        if re.fullmatch(r"\d+'b[01xz]", rhs):
            continue
        parent[find(lhs)] = find(rhs)
    caps, driven = {}, set()
    for cell, _, conns in _INST.findall(text):
        if cell not in lib.cells:
            continue
        for pin, net in _CONN.findall(conns):
            net = find(_norm(net))
            if lib.is_output(cell, pin):
                driven.add(net)
            else:
                caps[net] = caps.get(net, 0.0) + lib.pin_cap_pf(cell, pin)
    for port in netlist_ports(netlist)["outputs"]:
        net = find(port)
        caps[net] = caps.get(net, 0.0) + lib.pin_cap_pf(LOAD_CELL, LOAD_PIN)
    alias = {name: find(name) for name in parent}
    return {net: caps.get(net, 0.0) for net in driven}, alias


def _testbench(top, inputs, outputs, cycles, period_ns, clock):
    width = len(inputs)
    conns = [f"    .\\{p} (stim[{width - 1 - i}])" for i, p in enumerate(inputs)]
    conns += [f"    .\\{p} ()" for p in outputs]
    if clock:
        conns.append(f"    .{clock}(clk)")
    half = period_ns / 2
    # Clock edges at (k + 1/2) periods; inputs change 0.1 period after them (past clock-to-Q).
    clock_lines = [f"  initial clk = 0;", f"  always #{half} clk = ~clk;"] if clock else []
    return "\n".join([
        "`timescale 1ns/1ps",  # VCD times in ps, as _count_toggles assumes
        "module tb;",
        f"  reg [{width - 1}:0] mem [0:{cycles - 1}];",
        f"  reg [{width - 1}:0] stim;",
        "  reg clk;",
        "  integer i;",
        *clock_lines,
        f"  {top} dut (",
        ",\n".join(conns),
        "  );",
        "  initial begin",
        '    $readmemb("stim.mem", mem);',
        "    stim = mem[0];",
        '    $dumpfile("gates.vcd");',
        "    $dumpvars(1, dut);",
        f"    for (i = 0; i < {cycles}; i = i + 1) begin",
        f"      #{period_ns * 0.6:g} stim = mem[i];",
        f"      #{period_ns * 0.4:g};",
        "    end",
        "    $finish;",
        "  end",
        "endmodule",
        "",
    ])


def _count_toggles(vcd, skip_until_ps, duty=False):
    """{signal name: 0<->1 transitions after time skip_until_ps} from a scalar-only VCD.

    duty=True: also {signal name: fraction of the time after skip_until_ps spent at 1}.
    """
    names, counts, last, high, since = {}, {}, {}, {}, {}
    time = 0
    with open(vcd) as f:
        for line in f:
            if line.startswith("$var"):
                parts = line.split()
                ident, name = parts[3], _norm(" ".join(parts[4:-1]))
                names.setdefault(ident, []).append(name)
                counts[ident] = 0
                high[ident] = 0
            elif line.startswith("#"):
                time = int(line[1:])
            elif line[:1] in "01xz" and len(line) > 1:
                v, ident = line[0], line[1:].strip()
                prev = last.get(ident)
                if prev is not None and v != prev and v in "01" and prev in "01" and time > skip_until_ps:
                    counts[ident] += 1
                if prev == "1":
                    high[ident] += max(time - max(since[ident], skip_until_ps), 0)
                last[ident], since[ident] = v, time
    span = max(time - skip_until_ps, 1)
    for ident, v in last.items():
        if v == "1":
            high[ident] += max(time - max(since[ident], skip_until_ps), 0)
    out, duties = {}, {}
    for ident, ns in names.items():
        for n in ns:
            out[n] = counts[ident]
            duties[n] = high[ident] / span
    return (out, duties) if duty else out


def simulate(netlist, top, cells_v, workload, workdir, *, period_ns, clock=None, delays=True, duty=False):
    """Gate-level simulation of `workload`; returns {net: transitions} and the cycle count
    (duty=True: {net: transitions}, {net: duty}, cycle count).

    `delays`: use the cell models' specify delays (glitches included); else zero-delay, which
    counts only the functional transitions, the quantity OpenSTA's propagation estimates.
    """
    if shutil.which("iverilog") is None:
        raise SystemExit("iverilog not found: install Debian's 'iverilog' (scripts/bootstrap.sh tools)")
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ports = netlist_ports(netlist)
    inputs = [p for p in ports["inputs"] if p != clock]
    columns = []
    for name in inputs:
        base, _, idx = name.partition("[")
        m = workload.streams.get(base)
        bit = int(idx.rstrip("]")) if idx else 0
        columns.append(m[:, bit] if m is not None else np.zeros(workload.cycles, dtype=np.uint8))
    stim = np.stack(columns, axis=1)
    # Units with a reset start from it (their flops are X until then): RESET_CYCLES cycles of the
    # first beat with rst high, not counted.
    settle = 1
    if "rst" in inputs:
        head = np.repeat(stim[:1], RESET_CYCLES, axis=0)
        head[:, inputs.index("rst")] = 1
        stim = np.concatenate([head, stim])
        settle += RESET_CYCLES
    (workdir / "stim.mem").write_text("\n".join("".join(map(str, row)) for row in stim) + "\n")
    (workdir / "tb.v").write_text(_testbench(top, inputs, ports["outputs"], len(stim), period_ns, clock))
    exe = workdir / "tb.vvp"
    build = subprocess.run(["iverilog", *(["-gspecify"] if delays else []), "-o", str(exe), str(workdir / "tb.v"),
                            str(pathlib.Path(netlist).resolve()), str(pathlib.Path(cells_v).resolve())],
                           capture_output=True, text=True)
    if build.returncode != 0:
        raise RuntimeError(f"iverilog failed:\n{build.stdout}\n{build.stderr}")
    run = subprocess.run(["vvp", "-n", exe.name], cwd=workdir, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"vvp failed:\n{run.stdout}\n{run.stderr}")
    # The first cycle settles from X: not counted, as OpenSTA's steady-state activity has no start.
    counted = _count_toggles(workdir / "gates.vcd", skip_until_ps=int(settle * period_ns * 1000), duty=duty)
    (workdir / "gates.vcd").unlink()
    return (*counted, len(stim) - settle) if duty else (counted, len(stim) - settle)


def switching_energy(netlist, liberty, toggles):
    """Total switching energy (pJ) of the cell-driven nets: sum toggles x 0.5 C V^2."""
    lib = load(liberty)
    caps, alias = parse_netlist(netlist, lib)
    energy = 0.0
    for net, cap in caps.items():
        n = toggles.get(net)
        if n is None:
            # A net known only under an alias in the VCD.
            n = next((toggles[a] for a, r in alias.items() if r == net and a in toggles), 0)
        energy += n * 0.5 * cap * lib.voltage ** 2
    return energy
