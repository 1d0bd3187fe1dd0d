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
import hashlib
import os

import numpy as np

from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from golden.fp16_accumulator import CANONICAL_NAN, beat_cycles
from hdl_gen.fp8_mac import FP8Mac
from hdl_gen.fp16_mac import FP16Mac
from hdl_gen.hybrid_mac import HybridMac
from lptrain.paths import ROOT, RTL
from verif.harness import BUILD, port_list, prefixed, run, write_verilog

UNITS = {"hybrid_mac": HybridMac, "fp16_mac": FP16Mac, "fp8_mac": FP8Mac}
# Random beats per configuration when LPT_MAC_CYCLES is unset: the seeded subset `make test`
# runs; `make mac-sweep` runs 100,000.
MAKE_TEST_MAC_CYCLES = 8_000
# Verilator builds all its configurations of the three units into one model (a build is mostly
# the fixed cost of compiling Verilator's runtime): one copy of each, on one clock (write_top).
SHARED_TOP = "training_macs"
F16 = np.float16


# Per unit, the (simulator, lanes, front, chains; None: the rtl/ default) of its regression (each
# test module's docstring says why these). fp16_mac and fp8_mac are one generator (FloatMac), so
# its other configurations run once, as fp8_mac (the cheaper to simulate). An Icarus configuration
# other than rtl/'s runs 1/ICARUS_EXTRA_SHARE of the random beats (Icarus costs milliseconds per
# cycle).
_DEFAULTS = [("verilator", 4, None, None), ("icarus", 4, None, None)]
_EXTRAS = [("icarus", 1, 0, 1), ("verilator", 16, None, 3)]
CONFIGS = {"hybrid_mac": _DEFAULTS + _EXTRAS, "fp16_mac": _DEFAULTS,
           "fp8_mac": _DEFAULTS + _EXTRAS + [("verilator", 16, 3, 2)]}
ICARUS_EXTRA_SHARE = 4


def mac_cycles():
    """Random beats of the rtl/ configuration: LPT_MAC_CYCLES, default MAKE_TEST_MAC_CYCLES."""
    return int(os.environ.get("LPT_MAC_CYCLES", MAKE_TEST_MAC_CYCLES))


def random_beats_count():
    """Random beats of the configuration under test (set by build_and_run from mac_cycles)."""
    return int(os.environ["LPT_MAC_BEATS"])


def configuration():
    """(lanes, front, chains) of the unit under test, from the environment."""
    return tuple(int(os.environ[f"LPT_MAC_{k}"]) for k in ("LANES", "FRONT", "CHAINS"))


def pack_words(values, width):
    """(n, lanes) integers -> n Python ints, lane i at bits [i*width +: width] (two's complement)."""
    v = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    return [sum(int(e) << (width * i) for i, e in enumerate(row)) for row in v.reshape(len(v), -1)]


class Dots:
    """A stream of dot products: per-beat arrays (port -> (beats, ...)) and `last` (beats,)."""

    def __init__(self, beats, last):
        self.beats, self.last = beats, np.asarray(last, dtype=bool)

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


def random_stream(rng, beats, chains):
    """(`last`, class) of random dot products back to back covering about `beats` beats: their
    lengths from `dot_lengths`, and per beat a uniform draw in [0, 1) shared by all beats of one
    dot product, which the unit's test maps to an operand class."""
    lengths = dot_lengths(rng, beats, chains)
    lengths = lengths[:np.searchsorted(np.cumsum(lengths), beats) + 1]
    return stream_lasts(lengths), np.repeat(rng.random(len(lengths)), lengths)


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


def random_float(rng, shape, f, tiny):
    """Bit patterns of format f: clustered exponents (for rounding and cancellation), any
    finite, subnormals, zeros, and rare Inf/NaN where the format has them. `tiny` (shape[:1]):
    beats whose exponents cluster at the bottom (subnormal results)."""
    top = (1 << f.ebits) - (2 if f.ieee_specials else 1)  # largest finite exponent field
    sign = rng.integers(0, 2, shape) << (f.ebits + f.mbits)
    man = rng.integers(0, 1 << f.mbits, shape)
    center = held(rng, rng.integers(1 + top // 8, top - top // 8 + 1, shape[0]), 0.03)[:, None]
    center = np.where(tiny[:, None], 1, center)
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
    the scoreboard: FP16 results after every beat, of which the `last` ones are the unit's.

    The unit's inputs are driven through its `<prefix>_stim` port of the generated toplevel
    (`write_top`; the prefix from the environment): all of them packed in one word, so a cycle is
    one write, and the simulator propagates one input change per cycle instead of one per port."""

    def __init__(self, dut, comp, golden):
        self.dut, self.comp, self.golden = prefixed(dut, os.environ["LPT_MAC_PREFIX"]), comp, golden
        self.clk, self.rst = self.dut.clk, dut.rst
        self.chains, self.latency = comp.chains, comp.latency
        self.layout = stim_layout(comp)
        self.rng = np.random.default_rng(int(os.environ.get("LPT_SEED", "2020")))
        self.fe = FallingEdge(self.clk)
        Clock(self.clk, 10, unit="ns").start(start_high=False)
        dut._log.info("%s: %d lanes, front %d, %d chains, latency %d", comp.unit, comp.lanes, comp.front,
                      comp.chains, comp.latency)

    async def reset(self):
        self.rst.value = 1
        self.dut.stim.value = 0
        for _ in range(2):
            await self.fe
        self.rst.value = 0

    def stim_words(self, dots):
        """The `stim` word of every beat (in_valid set): lanes packed (pack_words), per-beat
        controls as they are."""
        words = [0] * len(dots)
        for name, (offset, w) in self.layout.items():
            v = np.ones(len(dots), int) if name == "in_valid" else np.asarray(dots.last if name == "in_last"
                                                                               else dots.beats[name])
            packed = pack_words(v, w // v.shape[1]) if v.ndim == 2 else pack_words(v[:, None], w)
            words = [a | b << offset for a, b in zip(words, packed)]
        return words

    def garbage(self, count):
        """Random `stim` words with in_valid low: what idle cycles carry."""
        width = sum(w for _, w in self.layout.values())
        valid = 1 << self.layout["in_valid"][0]
        return [int.from_bytes(self.rng.bytes(-(-width // 8)), "little") & ((1 << width) - 1) & ~valid
                for _ in range(count)]

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
        words, garbage = self.stim_words(dots), self.garbage(64)
        stim, in_ready, out_valid, out_data = dut.stim, dut.in_ready, dut.out_valid, dut.out_data
        taken, outs, i, wait = [], [], 0, int(gaps[0]) if n else 0
        limit = int(want_out[-1]) + 4 if n else 0
        for cycle in range(limit + self.latency + 4):
            # Between two rising edges: outputs stable, inputs driven now are taken at the next.
            if out_valid.value:
                outs.append((cycle, out_data.value.to_unsigned()))
            if i < n and wait == 0:
                stim.value = words[i]
                if in_ready.value:
                    taken.append(cycle)
                    i += 1
                    wait = int(gaps[i]) if i < n else 0
            else:
                stim.value = garbage[cycle % 64]
                wait -= i < n
            await self.fe
        stim.value = 0
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


def stim_layout(comp):
    """{input port: (offset, width)} of the unit's inputs packed in its `stim` word."""
    layout, offset = {}, 0
    for name, w, is_in in port_list(comp):
        if is_in:
            layout[name], offset = (offset, w), offset + w
    return layout


def write_top(blocks, path):
    """Toplevel `mac_top` of `blocks` (prefix -> (module, component)), one shared `rst`: per block,
    its own clock `<prefix>_clk` (a block whose clock stands still costs the simulator nothing),
    `<prefix>_stim` (every input, stim_layout) and its outputs as `<prefix>_<port>`. Returns
    `path`."""
    ports, inst = ["    input  wire rst"], []
    for prefix, (module, comp) in blocks.items():
        layout = stim_layout(comp)
        ports.append(f"    input  wire {prefix}_clk")
        ports.append(f"    input  wire [{sum(w for _, w in layout.values()) - 1}:0] {prefix}_stim")
        conns = [f".clk({prefix}_clk)", ".rst(rst)"] + [f".{name}({prefix}_stim[{o + w - 1}:{o}])"
                                                         for name, (o, w) in layout.items()]
        for name, w, is_in in port_list(comp):
            if not is_in:
                ports.append(f"    output wire [{w - 1}:0] {prefix}_{name}")
                conns.append(f".{name}({prefix}_{name})")
        inst.append(f"    {module} {prefix}_dut ({', '.join(conns)});")
    text = "\n".join(["`timescale 1ns/1ps", "module mac_top (", ",\n".join(ports) + ");", *inst, "endmodule", ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def write_public_ports(path):
    """A Verilator configuration file making only mac_top's ports visible to cocotb (all the
    testbench touches). cocotb's default, every signal public, keeps all of the generators' named
    intermediates alive in the model: it compiles several times slower. Returns `path`."""
    text = '`verilator_config\npublic_flat_rw -module "mac_top" -var "*"\n'
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _block(unit, lanes, front, chains):
    """(prefix = module name, component, Verilog source) of a configuration: the rtl/ one is
    rtl/<unit>.v; another is generated as module <unit>_l<L>_f<F>_c<C> into build/sim/."""
    cls = UNITS[unit]
    comp, default = cls(lanes, front=front, chains=chains), cls()
    if (comp.lanes, comp.front, comp.chains) == (default.lanes, default.front, default.chains):
        return unit, comp, RTL / f"{unit}.v"
    name = f"{unit}_l{comp.lanes}_f{comp.front}_c{comp.chains}"
    path, stamp = BUILD / "mac_configs" / f"{name}.v", BUILD / "mac_configs" / f"{name}.stamp"
    # Elaborating costs seconds: regenerate only when a generator or golden source changed.
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted((ROOT / "hdl_gen").glob("*.py"))
                                     + sorted((ROOT / "golden").glob("*.py")))).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers generate it once
        if not (path.exists() and stamp.exists() and stamp.read_text() == digest):
            write_verilog(comp, name, path)
            stamp.write_text(digest)
    return name, comp, path


def build_and_run(sim, unit, lanes, front, chains, test_module):
    """Compile one copy of `unit` in the configuration (lanes, front, chains; None: the rtl/
    default) with `sim` and run `test_module`'s cocotb tests on it. Icarus builds each
    configuration on its own; Verilator builds every Verilator configuration in CONFIGS of the
    three units into one model (SHARED_TOP, built once for the three test modules; a lock keeps
    parallel test workers from building it twice)."""
    prefix, comp, source = _block(unit, lanes, front, chains)
    is_default = prefix == unit
    env = {"LPT_MAC_PREFIX": prefix, "LPT_MAC_LANES": comp.lanes, "LPT_MAC_FRONT": comp.front,
           "LPT_MAC_CHAINS": comp.chains,
           "LPT_MAC_BEATS": mac_cycles() // (ICARUS_EXTRA_SHARE if sim == "icarus" and not is_default else 1)}
    if sim == "icarus":
        name, blocks = prefix, {prefix: (prefix, comp, source)}
    else:
        name = SHARED_TOP
        blocks = {b[0]: b for b in (_block(u, *c[1:]) for u in UNITS for c in CONFIGS[u] if c[0] == sim)}
    sources = [b[2] for b in blocks.values()]
    sources.append(write_top({p: (p, c) for p, c, _ in blocks.values()}, BUILD / name / "mac_top.v"))
    build_args = ["--no-public-flat-rw", str(write_public_ports(BUILD / name / "mac_top.vlt"))] if sim == "verilator" else []
    with open(BUILD / name / f"{sim}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run(sim, toplevel="mac_top", sources=sources, test_module=test_module, build_name=name, env=env,
            build_args=build_args)
