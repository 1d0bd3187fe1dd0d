# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures and timing; not elaborating them is intended)
"""The cocotb testbench the training MACs share (verif/test_hybrid_mac.py, test_fp16_mac.py,
test_fp8_mac.py): one copy of a unit on one clock, dot products streamed through it one beat per
cycle, every result and every handshake checked against the golden model.

A stimulus is a list of dot products (`Dots`: per-beat operand words, `last` on each dot
product's final beat) with, per beat, the idle cycles the upstream inserts before offering it
(`gaps`); an offered beat is held until taken. In idle cycles the operand ports and `in_last` carry
random garbage (in_valid low must ignore them). Timing is part of the check: the cycle each beat
is taken must be golden.fp16_accumulator.beat_cycles of the gaps (so `in_ready` is low exactly
while a beat waits for its chain), `out_valid` must be high exactly `latency` cycles after each
dot product's last beat was taken and at no other cycle, and `out_data` then must equal the
golden result bit for bit. Named corners and random runs go through the same unit back to back,
without a reset in between: a dot product must not see its predecessors' chains.

The configuration under test (lanes, front, chains) comes from the environment (LPT_MAC_*),
set by the pytest side of each test module (`run_unit`).
"""

import fcntl
import os

import numpy as np

from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from golden.fp8 import fp8_format
from golden.fp16_accumulator import CANONICAL_NAN, beat_cycles
from hdl_gen.fp8_mac import FP8Mac
from hdl_gen.fp16_mac import FP16Mac
from hdl_gen.hybrid_mac import HybridMac
from lptrain.paths import RTL
from verif.harness import BUILD, port_list, prefixed, run, write_verilog

UNITS = {"hybrid_mac": HybridMac, "fp16_mac": FP16Mac, "fp8_mac": FP8Mac}
# Random beats per configuration when LPT_MAC_CYCLES is unset: the seeded subset `make test`
# runs; `make mac-sweep` runs 100,000.
MAKE_TEST_MAC_CYCLES = 8_000
# Verilator builds the three rtl/ units into one model (a build is mostly the fixed cost of
# compiling Verilator's runtime): one copy of each, on one clock, ports `<unit>_<port>`.
SHARED_TOP = "training_macs"
F16 = np.float16


# (simulator, lanes, front, chains; None: the rtl/ default) of every unit's regression (each test
# module's docstring says why these). A configuration other than rtl/'s runs the named corners
# that fit and 1/EXTRA_SHARE of the random beats.
CONFIGS = [("verilator", 4, None, None), ("icarus", 4, None, None), ("icarus", 1, 0, 1), ("icarus", 16, None, 3)]
EXTRA_SHARE = 8


def mac_cycles():
    """Random beats of the rtl/ configuration: LPT_MAC_CYCLES, default MAKE_TEST_MAC_CYCLES."""
    return int(os.environ.get("LPT_MAC_CYCLES", MAKE_TEST_MAC_CYCLES))


def random_beats_count():
    """Random beats of the configuration under test (set by build_and_run)."""
    return int(os.environ["LPT_MAC_BEATS"])


def configuration():
    """(lanes, front, chains) of the unit under test, from the environment."""
    return tuple(int(os.environ[f"LPT_MAC_{k}"]) for k in ("LANES", "FRONT", "CHAINS"))


def unit_ports(dut, unit):
    """The unit's ports: the toplevel's own, or its block of the shared top."""
    return prefixed(dut, unit) if os.environ.get("LPT_MAC_SHARED") == "1" else dut


def pack_words(values, width):
    """(n, lanes) integers -> n Python ints, lane i at bits [i*width +: width] (two's complement)."""
    v = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    return [sum(int(e) << (width * i) for i, e in enumerate(row)) for row in v.reshape(len(v), -1)]


class Dots:
    """A stream of dot products: per-beat arrays (port -> (beats, ...)) and `last` (beats,)."""

    def __init__(self, beats, last):
        self.beats, self.last = beats, np.asarray(last, dtype=bool)

    @classmethod
    def concat(cls, parts):
        keys = parts[0].beats
        return cls({k: np.concatenate([p.beats[k] for p in parts]) for k in keys},
                   np.concatenate([p.last for p in parts]))

    @classmethod
    def of(cls, dots):
        """`dots`: a list of dot products, each a list of beats (dicts port -> value)."""
        beats = [b for d in dots for b in d]
        last = [k == len(d) - 1 for d in dots for k in range(len(d))]
        return cls({k: np.array([b[k] for b in beats]) for k in beats[0]}, last)

    def __len__(self):
        return len(self.last)

    def dot_index(self):
        """The dot product each beat belongs to (beats,)."""
        return np.concatenate([[0], np.cumsum(self.last[:-1])])


def dot_lengths(rng, count, chains):
    """Random dot product lengths: around and below the chain count (chains a short dot product
    never reaches), medium, and long ones (accumulation to overflow)."""
    kind = rng.random(count)
    short = rng.integers(1, chains + 2, count)
    medium = rng.integers(2, 12, count)
    long = rng.integers(12, 48, count)
    return np.where(kind < 0.35, short, np.where(kind < 0.8, medium, long))


def stream_lasts(lengths):
    """`last` flags of dot products of the given lengths, back to back."""
    last = np.zeros(int(np.sum(lengths)), bool)
    last[np.cumsum(lengths) - 1] = True
    return last


def random_gaps(rng, beats, p_gap):
    """Idle input cycles before each beat: none with probability 1 - p_gap, else 1..4 (every
    remainder modulo the chains, so beats wait 0..chains - 1 cycles for their chain)."""
    return np.where(rng.random(beats) < p_gap, rng.integers(1, 5, beats), 0)


def held(rng, draws, p_change):
    """draws (T,), each value held until a change (probability p_change per beat)."""
    change = rng.random(draws.shape) < p_change
    change[0] = True
    idx = np.maximum.accumulate(np.where(change, np.arange(len(draws)), 0))
    return draws[idx]


def float_format(fmt):
    """golden.fp8.Format of an operand format, FP16 included (1-5-10, IEEE specials)."""
    return fp8_format("e5m2")._replace(name="fp16", mbits=10) if fmt == "fp16" else fp8_format(fmt)


def random_float(rng, shape, f, tiny):
    """Bit patterns of format f: clustered exponents (for rounding and cancellation), any
    finite, subnormals, zeros, and rare Inf/NaN where the format has them. `tiny` (shape[:1]):
    beats whose exponents cluster at the bottom (subnormal results)."""
    top = (1 << f.ebits) - (2 if f.ieee_specials else 1)  # largest finite exponent field
    sign = rng.integers(0, 2, shape) << (f.ebits + f.mbits)
    man = rng.integers(0, 1 << f.mbits, shape)
    center = held(rng, rng.integers(1 + top // 8, top - top // 8 + 1, shape[0]), 0.03)[:, None]
    center = np.where(tiny[:, None], 1 + top // 8, center)
    clustered = np.clip(center + rng.integers(-3, 4, shape), 1, top)
    exp = np.where(rng.random(shape) < 0.5, clustered, rng.integers(0, top + 1, shape))
    exp = np.where(tiny[:, None], np.minimum(exp, clustered), exp)
    kind = rng.random(shape)
    exp = np.where(kind < 0.08, 0, exp)  # subnormal
    man = np.where((kind >= 0.08) & (kind < 0.12), 0, man)
    exp = np.where((kind >= 0.08) & (kind < 0.12), 0, exp)  # +-0
    if f.ieee_specials:
        special = kind > 0.997  # Inf (man 0) or NaN
        exp = np.where(special, top + 1, exp)
        man = np.where(special & (rng.random(shape) < 0.6), 0, man)
    return (sign | exp << f.mbits | man).astype(np.int64)


def coverage(results, nan=True):
    """Assert that FP16 result bits cover every class (NaN only where the unit can make one)."""
    out, bits = results.view(F16), results
    seen = {
        "+Inf": np.any(out == np.inf), "-Inf": np.any(out == -np.inf),
        "-0": np.any(bits == 0x8000), "+0": np.any(bits == 0),
        "subnormal": np.any((bits & 0x7FFF > 0) & (bits & 0x7FFF < 0x400)),
        "normal": np.any(np.isfinite(out) & (np.abs(out) >= 2.0 ** -14)),
    }
    if nan:
        seen["NaN"] = np.any(bits == CANONICAL_NAN)
    missing = [k for k, v in seen.items() if not v]
    assert not missing, f"the random run never produced {missing}"


def holds(name, got, want):
    """Assert a named corner's outcome on its dot products' golden results (uint16 bits):
    `want` is a list (one entry per dot product: a number, "NaN", "+0", "-0") or
    "subnormal->normal" (some results subnormal, some normal) or "residual" (the last result is
    nonzero and below the first's ulp: the exact-sum rounding error a cancellation exposes)."""
    acc = got.view(F16)
    if want == "subnormal->normal":
        sub = (got & 0x7FFF > 0) & (got & 0x7FFF < 0x400)
        assert sub.any() and np.any(np.abs(acc.astype(np.float64)) >= 2.0 ** -14), name
    elif want == "residual":
        assert acc[-1] != 0 and abs(float(acc[-1])) < abs(float(acc[0])) * 2.0 ** -11, (name, acc)
    else:
        assert len(want) == len(got), name
        for a, w, b in zip(acc, want, got):
            if w == "NaN":
                assert b == CANONICAL_NAN, (name, acc)
            elif w in ("-0", "+0"):
                assert b == (0x8000 if w == "-0" else 0), (name, acc)
            else:
                assert float(a) == w, (name, acc)


async def run_corners(tb, corners, pad):
    """Run every named corner that fits the unit's lanes, back to back, without and with input
    gaps, asserting each corner's outcome on the golden results (`holds`; the RTL must equal
    them). `corners`: (name, dot products (lists of beats: dicts port -> encoded value, a list
    for the lane ports), expected); a corner's beats name as many lanes as it needs (at most 4),
    the rest get `pad` (port -> lane value: a -0 product, the exact identity). A corner with more
    lanes than the unit has does not fit: with 4 lanes or more, every corner runs."""
    lanes, ran = tb.comp.lanes, 0
    for name, dots, want in corners:
        if max(len(beat[k]) for d in dots for beat in d for k in pad) > lanes:
            continue
        stim = Dots.of([[{k: v + [pad[k]] * (lanes - len(v)) if k in pad else v for k, v in beat.items()}
                         for beat in d] for d in dots])
        for p_gap in (0.0, 0.5):
            holds(name, await tb.run(stim, random_gaps(tb.rng, len(stim), p_gap)), want)
        ran += 1
    assert ran == len(corners) if lanes >= 4 else ran >= 1, f"{ran} of {len(corners)} corners fit in {lanes} lanes"


class MacTB:
    """Clock, reset, driver and monitor of one MAC; `golden(dots, chains)` (the test module's) is
    the scoreboard: FP16 results after every beat, of which the `last` ones are the unit's."""

    def __init__(self, dut, comp, golden):
        self.clk, self.rst = dut.clk, dut.rst
        self.dut, self.comp, self.golden = unit_ports(dut, comp.unit), comp, golden
        self.chains, self.latency = comp.chains, comp.latency
        self.widths = {name: w for name, w, is_in in port_list(comp) if is_in}
        self.operands = [n for n in self.widths if n not in ("in_valid", "in_last")]
        self.rng = np.random.default_rng(int(os.environ.get("LPT_SEED", "2020")))
        self.fe = FallingEdge(self.clk)
        Clock(self.clk, 10, unit="ns").start(start_high=False)
        dut._log.info("%s: %d lanes, front %d, %d chains, latency %d", comp.unit, comp.lanes, comp.front,
                      comp.chains, comp.latency)

    async def reset(self):
        self.rst.value = 1
        for name in self.widths:
            getattr(self.dut, name).value = 0
        for _ in range(2):
            await self.fe
        self.rst.value = 0

    def words(self, dots):
        """Port words of every beat: lanes packed (pack_words), per-beat controls as they are."""
        out = {}
        for name in self.operands:
            v = np.asarray(dots.beats[name])
            w = self.widths[name]
            out[name] = pack_words(v, w // v.shape[1]) if v.ndim == 2 else pack_words(v[:, None], w)
        return out

    async def run(self, dots, gaps=None, expected=None):
        """Drive `dots` with `gaps` (default none) and check everything (module docstring).

        `expected`: the results (uint16, one per dot product), default golden(dots, chains)[last].
        Returns the expected results."""
        dut, n = self.dut, len(dots)
        gaps = np.zeros(n, np.int64) if gaps is None else np.asarray(gaps)
        if expected is None:
            expected = np.asarray(self.golden(dots, self.chains)).view(np.uint16)[dots.last]
        want_taken = beat_cycles(gaps, dots.last, self.chains)
        want_out = want_taken[dots.last] + self.latency
        words = self.words(dots)
        handles = [(getattr(dut, name), words[name]) for name in self.operands]
        garbage = [[int.from_bytes(self.rng.bytes(-(-w // 8)), "little") & ((1 << w) - 1) for _ in range(64)]
                   for w in (self.widths[name] for name in self.operands)]
        in_valid, in_last, in_ready = dut.in_valid, dut.in_last, dut.in_ready
        out_valid, out_data = dut.out_valid, dut.out_data
        lasts = dots.last.astype(int).tolist()
        taken, outs, i, wait = [], [], 0, int(gaps[0]) if n else 0
        limit = int(want_out[-1]) + 4 if n else 0
        for cycle in range(limit + self.latency + 4):
            # Between two rising edges: outputs stable, inputs driven now are taken at the next.
            if out_valid.value:
                outs.append((cycle, out_data.value.to_unsigned()))
            if i < n and wait == 0:
                for handle, values in handles:
                    handle.value = values[i]
                in_last.value, in_valid.value = lasts[i], 1
                if in_ready.value:
                    taken.append(cycle)
                    i += 1
                    wait = int(gaps[i]) if i < n else 0
            else:
                for (handle, _), pool in zip(handles, garbage):
                    handle.value = pool[cycle % 64]
                in_last.value, in_valid.value = cycle & 1, 0
                wait -= i < n
            await self.fe
        in_valid.value = 0
        self._compare(dots, np.array(taken), want_taken, outs, want_out, expected)
        return expected

    def _compare(self, dots, taken, want_taken, outs, want_out, expected):
        if len(taken) != len(want_taken) or np.any(taken != want_taken):
            k = next((k for k in range(min(len(taken), len(want_taken))) if taken[k] != want_taken[k]), len(taken))
            raise AssertionError(f"beat {k} taken in cycle {taken[k] if k < len(taken) else None}, expected "
                                 f"{want_taken[k] if k < len(want_taken) else None} (in_ready wrong; "
                                 f"{len(taken)}/{len(want_taken)} beats taken)")
        got_cycles = np.array([c for c, _ in outs], np.int64)
        got = np.array([v for _, v in outs], np.uint16)
        if len(got_cycles) != len(want_out) or np.any(got_cycles != want_out):
            raise AssertionError(f"out_valid in cycles {got_cycles[:8].tolist()}..., expected "
                                 f"{want_out[:8].tolist()}... (latency {self.latency}; "
                                 f"{len(got)} results for {len(want_out)} dot products)")
        bad = np.flatnonzero(got != expected)
        if bad.size:
            d = bad[0]
            beats = np.flatnonzero(dots.dot_index() == d)
            ops = {k: np.asarray(v)[beats].tolist() for k, v in dots.beats.items()}
            raise AssertionError(f"{bad.size} wrong results; first: dot product {d} (beats {beats[0]}.."
                                 f"{beats[-1]}, chains {self.chains}) got {got[d]:#06x}, expected "
                                 f"{expected[d]:#06x}; its beats {ops}")


def write_shared_top(directory):
    """SHARED_TOP: the three rtl/ units side by side on one clk/rst. Returns its sources."""
    ports, inst = ["    input  wire clk", "    input  wire rst"], []
    for unit, cls in UNITS.items():
        conns = [".clk(clk)", ".rst(rst)"]
        for name, w, is_in in port_list(cls()):
            ports.append(f"    {'input ' if is_in else 'output'} wire [{w - 1}:0] {unit}_{name}")
            conns.append(f".{name}({unit}_{name})")
        inst.append(f"    {unit} {unit}_dut ({', '.join(conns)});")
    text = "\n".join(["`timescale 1ns/1ps", f"module {SHARED_TOP} (", ",\n".join(ports) + ");", *inst,
                      "endmodule", ""])
    top = directory / f"{SHARED_TOP}.v"
    directory.mkdir(parents=True, exist_ok=True)
    if not top.exists() or top.read_text() != text:
        top.write_text(text)
    return [RTL / f"{unit}.v" for unit in UNITS] + [top]


def build_and_run(sim, unit, lanes, front, chains, test_module):
    """Compile one copy of `unit` in the configuration (lanes, front, chains; None: the rtl/
    default) with `sim` and run `test_module`'s cocotb tests on it. The rtl/ configuration is
    rtl/<unit>.v itself, on Verilator inside SHARED_TOP (built once for the three test modules; a
    lock keeps parallel test workers from building it twice); another configuration is
    generated into its own build directory."""
    cls = UNITS[unit]
    comp, default = cls(lanes, front=front, chains=chains), cls()
    is_default = (comp.lanes, comp.front, comp.chains) == (default.lanes, default.front, default.chains)
    env = {"LPT_MAC_LANES": comp.lanes, "LPT_MAC_FRONT": comp.front, "LPT_MAC_CHAINS": comp.chains,
           "LPT_MAC_BEATS": mac_cycles() if is_default else mac_cycles() // EXTRA_SHARE}
    if not is_default:
        name = f"{unit}_l{comp.lanes}_f{comp.front}_c{comp.chains}"
        source = write_verilog(comp, unit, BUILD / name / f"{unit}.v")
        run(sim, toplevel=unit, sources=[source], test_module=test_module, build_name=name, env=env)
    elif sim == "icarus":
        run(sim, toplevel=unit, sources=[RTL / f"{unit}.v"], test_module=test_module, build_name=unit, env=env)
    else:
        sources = write_shared_top(BUILD / SHARED_TOP)
        with open(BUILD / SHARED_TOP / f"{sim}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            run(sim, toplevel=SHARED_TOP, sources=sources, test_module=test_module, build_name=SHARED_TOP,
                env={**env, "LPT_MAC_SHARED": 1})
