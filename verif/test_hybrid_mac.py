# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""hybrid_mac, fp16_mac and fp8_mac against golden.hybrid_mac / fp16_mac / fp8_mac, cycle for cycle.

One generated top, `macs_lanes`, holds COPIES independent copies of each MAC side by side on one
clock (packed buses, ports prefixed by the unit name; see verif/harness.py write_lanes_wrapper), so
each simulator builds once for both units, and each cocotb cycle drives and checks every copy,
each with its own operands, en, clear, phase, scale_exp and sx. The stimulus of a whole run is drawn up
front, the golden model computes every accumulator value of every copy in one vectorized call,
and the accumulator read after every clock edge is compared with it.

Timing is part of the check: the units are pipelined (golden.hybrid_mac.TIMING): a beat's result
must appear on `acc` exactly `latency(unit)` cycles after its inputs, with a new beat every cycle,
and cycle t updates interleaved chain t mod C (golden `chains=C`). Every read is compared, so a
result one cycle early or late, or a stall, fails. Named corners run each sequence on one chain
(its cycles C apart, the other chains idle).

Random runs (LPT_MAC_CYCLES MAC cycles per unit: a seeded subset of MAKE_TEST_MAC_CYCLES in `make
test`, the full 100,000 per unit and simulator in `make mac-sweep`) mix en/clear patterns, per-tensor scale_exp that
changes now and then plus per-cycle random ones, both phases and signednesses (hybrid_mac), and
operand classes from subnormal to near-overflow with exact lane cancellations and rare Inf/NaN
(fp16_mac); they assert that the results covered Inf, NaN, signed zeros and subnormals. Named
corners: exact overflow threshold (65504 + 16 ties to Inf, 65504 + 8 stays), overflow by
accumulation, NaN in and invalid operations (fp16_mac), signed zeros, subnormal sums, and
cancellation that exposes the accumulator's rounding error (only an exact sum gets it right).
"""

import os

import numpy as np
import pytest

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from golden.fusion import pack
from golden.fp8 import fp8_decode, fp8_encode, fp8_format
from golden.hybrid_mac import CANONICAL_NAN, TIMING, fp8_mac, fp16_mac, hybrid_mac, latency
from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN
from hdl_gen.hybrid_mac import FP8Mac, FP16Mac, HybridMac
from lptrain.paths import RTL
from verif.harness import BUILD, SIMS, port_list, run, write_lanes_wrapper

UNITS = {"hybrid_mac": HybridMac, "fp16_mac": FP16Mac, "fp8_mac": FP8Mac}
FLOAT_FORMATS = {"fp16_mac": ("fp16", "fp16"), "fp8_mac": ("e4m3", "e5m2")}  # (x, g) operand formats
LANES = 4  # the default configuration in rtl/
# Copies of each MAC (at least one per named corner): Verilator's build time grows with them,
# its run time is small either way; Icarus's cost is per MAC evaluated, its build cheap.
COPIES = {"verilator": {"hybrid_mac": 16, "fp16_mac": 12, "fp8_mac": 12},
          "icarus": {"hybrid_mac": 32, "fp16_mac": 16, "fp8_mac": 16}}
# Random MAC cycles per unit and simulator when LPT_MAC_CYCLES is unset: the seeded subset `make
# test` runs (its time budget); `make mac-sweep` runs the 100,000. Named corners run in full.
MAKE_TEST_MAC_CYCLES = 8_000
F16 = np.float16


def held(rng, draws, p_change):
    """draws (N, T), each value held until a change (probability p_change per cycle)."""
    change = rng.random(draws.shape) < p_change
    change[:, 0] = True
    idx = np.maximum.accumulate(np.where(change, np.arange(draws.shape[1]), 0), axis=1)
    return np.take_along_axis(draws, idx, axis=1)


class TB:
    """Clock, reset and drivers of one unit's copies in `macs_lanes`; the golden model is the
    scoreboard."""

    def __init__(self, dut, unit):
        self.dut, self.unit = dut, unit
        self.copies = int(os.environ[f"LPT_COPIES_{unit.upper()}"])
        self.rng = np.random.default_rng(int(os.environ.get("LPT_SEED", "2020")))
        self.ports = {name: (getattr(dut, f"{unit}_{name}"), w)
                      for name, w, _ in port_list(UNITS[unit](LANES))}
        self.chains, self.lat = TIMING[unit][1], latency(unit)
        comp = UNITS[unit](LANES)
        assert (comp.latency, comp.chains, comp.macs_per_cycle) == (self.lat, self.chains, LANES), \
            "generator timing attributes disagree with golden.hybrid_mac.TIMING"
        self.fe = FallingEdge(dut.clk)
        self.zero_state()
        Clock(dut.clk, 10, unit="ns").start(start_high=False)
        dut._log.info("%s: %d copies of %d lanes", unit, self.copies, LANES)

    async def reset(self):
        """Reset every MAC of the top (both units share rst), all inputs 0."""
        self.dut.rst.value = 1
        for unit in UNITS:
            for name, _, is_in in port_list(UNITS[unit](LANES)):
                if is_in:
                    getattr(self.dut, f"{unit}_{name}").value = 0
        for _ in range(2):
            await self.fe
        self.dut.rst.value = 0
        self.zero_state()

    def zero_state(self):
        """After reset: every chain holds +0, and so does every read still in flight."""
        self.acc = np.zeros((self.copies, self.chains), np.uint16)  # chain values, next cycle's first
        self.tail = np.zeros((self.copies, self.lat - 1), np.uint16)  # reads due from earlier cycles

    def golden(self, stim):
        acc, c = self.acc.view(F16), self.chains
        if self.unit == "hybrid_mac":
            return hybrid_mac(stim["x"], stim["g"], stim["phase"], stim["scale_exp"], stim["sx"],
                              stim["en"], stim["clear"], acc=acc, chains=c)
        if self.unit == "fp8_mac":
            return fp8_mac(stim["x"], stim["g"], stim["en"], stim["clear"], acc=acc, chains=c)
        return fp16_mac(stim["x"], stim["g"], stim["en"], stim["clear"], acc=acc, chains=c)

    async def drive(self, stim):
        """Apply per-copy, per-cycle inputs (arrays (copies, T[, lanes])); the acc after each cycle.

        Inputs are set at the falling edge, so each rising edge takes one cycle's inputs, and acc
        is read at the next falling edge. Returns uint16 (copies, T).
        """
        t_len = stim["en"].shape[1]
        rows = {}
        for name, v in stim.items():
            v = np.asarray(v)
            if v.dtype == F16:
                v = v.view(np.uint16)
            fields = np.moveaxis(v, 1, 0).reshape(t_len, -1)  # (T, copies * lanes), copy 0 first
            rows[name] = pack(fields, self.ports[name][1] // (fields.shape[1] // self.copies))
        handles = [(self.ports[name][0], rows[name]) for name in rows]
        acc, got = self.ports["acc"][0], []
        for t in range(t_len):
            for handle, values in handles:
                handle.value = values[t]
            await self.fe
            got.append(acc.value.to_unsigned())
        raw = b"".join(v.to_bytes(2 * self.copies, "little") for v in got)
        return np.frombuffer(raw, "<u2").reshape(t_len, self.copies).T

    async def check(self, stim, expected=None):
        """Drive `stim` and compare every cycle of every copy with the golden model (or `expected`,
        per stimulus cycle), `latency` cycles later. Returns the expected values (copies, T)."""
        stim = {k: np.broadcast_to(v, np.shape(stim["x"])[:2] + np.shape(v)[2:]) for k, v in stim.items()}
        t_len, drain = stim["en"].shape[1], self.lat - 1
        # `drain` idle cycles (en = clear = 0: every chain holds) bring the last results out.
        stim = {k: np.concatenate([v, np.zeros(v.shape[:1] + (drain,) + v.shape[2:], v.dtype)], axis=1)
                for k, v in stim.items()}
        if expected is None:
            expected = self.golden(stim).view(np.uint16)
        else:
            held = np.concatenate([self.acc, expected], axis=1)  # column j + chains: after cycle j
            for _ in range(drain):  # an idle cycle shows what its chain held `chains` cycles before
                held = np.concatenate([held, held[:, [-self.chains]]], axis=1)
            expected = held[:, self.chains:]
        got = await self.drive(stim)
        want = np.concatenate([self.tail, expected[:, :t_len]], axis=1)  # read k shows cycle k - drain
        bad = np.argwhere(got != want)
        if bad.size:
            c, t = bad[0]
            ops = {k: np.asarray(v)[c, t - drain].tolist() for k, v in stim.items()} if t >= drain else "earlier"
            raise AssertionError(
                f"{len(bad)} mismatches; first: copy {c} read {t} (the result of cycle {t - drain}, latency "
                f"{self.lat}, chains {self.chains}), inputs {ops}: got {got[c, t]:#06x}, expected {want[c, t]:#06x}")
        self.tail = expected[:, t_len:]
        self.acc = expected[:, -self.chains:].copy()
        return expected[:, :t_len]

    # ------------------------------------------------------------------ random stimulus

    def random(self, t_len):
        rng, n = self.rng, self.copies
        en = rng.random((n, t_len)) < 0.85
        clear = rng.random((n, t_len)) < 1 / 24
        if self.unit == "hybrid_mac":
            sx = rng.random((n, t_len)) < 0.5
            x = np.where(sx[..., None], rng.integers(-8, 8, (n, t_len, LANES)),
                         rng.integers(0, 16, (n, t_len, LANES)))
            g = rng.integers(0, 16, (n, t_len, LANES))
            # Per-tensor scales that change now and then, with per-cycle outliers.
            scale = held(rng, rng.integers(SCALE_EXP_MIN, SCALE_EXP_MAX + 1, (n, t_len)), 0.05)
            jump = rng.random((n, t_len)) < 0.2
            scale = np.where(jump, rng.integers(SCALE_EXP_MIN, SCALE_EXP_MAX + 1, (n, t_len)), scale)
            phase = np.where(rng.random((n, t_len)) < 0.2, rng.integers(0, 2, (n, t_len)),
                             held(rng, rng.integers(0, 2, (n, t_len)), 0.05))
            # Exact cancellation between lanes 0 and 1 in some cycles.
            cancel = (rng.random((n, t_len)) < 0.1) & (x[..., 0] != -8)
            x[..., 1] = np.where(cancel & sx, -x[..., 0], x[..., 1])
            g[..., 1] = np.where(cancel & sx, g[..., 0], g[..., 1])
            # Zero cycles: x >= 0 times R4FP4 -0 (code 8) in every lane: all products -0.
            zero = (rng.random((n, t_len)) < 0.03)[..., None]
            x = np.where(zero, rng.integers(0, 8, x.shape), x)
            g = np.where(zero, 8, g)
            return dict(x=x, sx=sx, g=g, phase=phase, scale_exp=scale, en=en, clear=clear)
        fx, fg = (_format(f) for f in FLOAT_FORMATS[self.unit])
        x, g = self.random_float(t_len, fx), self.random_float(t_len, fg)
        sx, sg = 1 << (fx.ebits + fx.mbits), 1 << (fg.ebits + fg.mbits)  # sign bits
        cancel = rng.random((n, t_len)) < 0.1  # lane 1's product is minus lane 0's
        x[..., 1] = np.where(cancel, x[..., 0] ^ sx, x[..., 1])
        g[..., 1] = np.where(cancel, g[..., 0], g[..., 1])
        # Zero cycles: every x is a zero signed so that all products share one sign.
        zero = rng.random((n, t_len)) < 0.03
        x = np.where(zero[..., None], ((g >= sg) ^ rng.integers(0, 2, (n, t_len, 1))) * sx, x)
        if fx.name == "fp16":
            return dict(x=x.astype(np.uint16).view(F16), g=g.astype(np.uint16).view(F16), en=en, clear=clear)
        return dict(x=x, g=g, en=en, clear=clear)

    def random_float(self, t_len, f):
        """Bit patterns of format f: clustered exponents (for rounding and cancellation), any
        finite, subnormals, zeros, and rare Inf/NaN where the format has them."""
        rng, shape = self.rng, (self.copies, t_len, LANES)
        top = (1 << f.ebits) - (2 if f.ieee_specials else 1)  # largest finite exponent field
        sign = rng.integers(0, 2, shape) << (f.ebits + f.mbits)
        man = rng.integers(0, 1 << f.mbits, shape)
        center = held(rng, rng.integers(1 + top // 8, top - top // 8 + 1, shape[:2]), 0.03)[..., None]
        clustered = np.clip(center + rng.integers(-3, 4, shape), 1, top)
        exp = np.where(rng.random(shape) < 0.5, clustered, rng.integers(0, top + 1, shape))
        kind = rng.random(shape)
        exp = np.where(kind < 0.08, 0, exp)  # subnormal
        man = np.where((kind >= 0.08) & (kind < 0.12), 0, man)
        exp = np.where((kind >= 0.08) & (kind < 0.12), 0, exp)  # +-0
        if f.ieee_specials:
            special = kind > 0.995  # Inf (man 0) or NaN
            exp = np.where(special, top + 1, exp)
            man = np.where(special & (rng.random(shape) < 0.6), 0, man)
        return (sign | exp << f.mbits | man).astype(np.int64)


def _fp8_code(v, fmt):
    if isinstance(v, np.uint8):
        return int(v)
    code = int(fp8_encode(np.array([v], F16), fmt)[0])
    assert np.array_equal(fp8_decode(np.array([code]), fmt).astype(np.float64), [v]), (v, fmt)
    return code


def _format(fmt):
    return fp8_format("e5m2")._replace(name="fp16", mbits=10) if fmt == "fp16" else fp8_format(fmt)


@cocotb.test()
@cocotb.parametrize(unit=list(UNITS))
async def random_cycles(dut, unit):
    """LPT_MAC_CYCLES random MAC cycles against the golden model; results must cover every class."""
    tb = TB(dut, unit)
    await tb.reset()
    cycles = int(os.environ.get("LPT_MAC_CYCLES", MAKE_TEST_MAC_CYCLES))
    t_len = -(-cycles // tb.copies)
    out = (await tb.check(tb.random(t_len))).view(F16)
    bits = out.view(np.uint16)
    seen = {
        "+Inf": np.any(out == np.inf), "-Inf": np.any(out == -np.inf),
        "-0": np.any(bits == 0x8000), "+0": np.any(bits == 0),
        "subnormal": np.any((bits & 0x7FFF > 0) & (bits & 0x7FFF < 0x400)),
        "normal": np.any(np.isfinite(out) & (np.abs(out) >= 2.0 ** -14)),
    }
    if tb.unit != "hybrid_mac":
        seen["NaN"] = np.any(bits == CANONICAL_NAN)
    missing = [k for k, v in seen.items() if not v]
    assert not missing, f"random run never produced {missing}"
    dut._log.info("%d MAC cycles checked", out.size)
    assert out.size >= cycles


def _scenarios(unit):
    """Named corners, one short sequence each: (name, stimulus of one MAC, check of its golden acc).

    Each check states the outcome that makes the sequence the named corner (independent
    reasoning, not a copy of the model), so a changed model cannot silently skip the corner.
    """
    h = unit == "hybrid_mac"

    def seq(*cycles):
        """cycles: dicts with x, g (lane lists) and en, clear (+ phase, scale_exp, sx)."""
        keys = ("x", "g", "en", "clear") + (("phase", "scale_exp", "sx") if h else ())
        defaults = dict(en=1, clear=0, phase=0, scale_exp=0, sx=1)
        stim = {k: np.array([c.get(k, defaults.get(k)) for c in cycles]) for k in keys}
        if unit == "fp16_mac":
            # Element by element: a NaN operand keeps its sign and payload bits.
            stim["x"], stim["g"] = (np.array([[F16(v) for v in c[k]] for c in cycles], F16) for k in ("x", "g"))
        elif unit == "fp8_mac":
            # Values chosen exactly representable (asserted); np.uint8 entries are raw codes.
            for k, fmt in zip(("x", "g"), FLOAT_FORMATS[unit]):
                stim[k] = np.array([[_fp8_code(v, fmt) for v in c[k]] for c in cycles])
        return stim

    z = [0] * LANES
    out = []
    if h:
        # 14*2^12 + 7*2^10 + 14*2^6 + 6*2^4 = 65504, FP16's largest finite (sx=0: x up to 15;
        # codes e = 7, 6, 4, 3 at scale_exp 6 are 2^12, 2^10, 2^6, 2^4).
        top = dict(x=[14, 7, 14, 6], g=[7, 6, 4, 3], scale_exp=6, sx=0, clear=1)
        sixteen = dict(x=[1, 0, 0, 0], g=[3, 0, 0, 0], scale_exp=6)  # 2^4
        eight = dict(x=[1, 0, 0, 0], g=[2, 0, 0, 0], scale_exp=6, phase=1)  # 2^3

        def neg(c):  # the same cycle with every g negated (code sign bit)
            return {**c, "g": [v | 8 for v in c["g"]]}

        out += [
            ("65504 + 16 ties to +Inf", seq(top, sixteen), [65504, np.inf]),
            ("-65504 - 16 ties to -Inf", seq(neg(top), neg(sixteen)), [-65504, -np.inf]),
            ("65504 + 8 stays", seq(top, eight, eight), [65504, 65504, 65504]),
            ("Inf holds under finite adds, clear+en restarts",
             seq(top, sixteen, {**neg(top), "clear": 0}, dict(x=[7] * 4, g=[9] * 4, clear=1)), [65504, np.inf, np.inf, -7 / 16]),
            ("accumulation overflows", seq(*[dict(x=[7] * 4, g=[7] * 4, scale_exp=2, phase=1)] * 20),
             [v if v < 65520 else np.inf for v in 7 * 4 * 512 * np.arange(1, 21)]),  # 4 x 7 x 2^9 a cycle
            ("signed zeros", seq(dict(x=z, g=[8, 9, 15, 12], clear=1),  # 0 * -g: all -0
                                 dict(x=[-1, -3, -8, -2], g=[0] * 4),   # -x * +0: -0 + -0
                                 dict(x=z, g=z),                        # + +0: +0
                                 dict(x=[-1] * 4, g=[8] * 4, clear=1),  # -1 * -0 = +0
                                 dict(x=[3, -3, 0, 0], g=[5, 5, 8, 8], clear=1),  # cancels: +0
                                 dict(x=z, g=z, clear=1, en=0)),        # clear alone: +0
             ["-0", "-0", "+0", "+0", "+0", "+0"]),
            ("subnormal sums", seq(*[dict(x=[1, 2, 3, 7], g=[1, 2, 1, 3], scale_exp=-18, phase=k % 2,
                                          clear=k == 0) for k in range(40)]), "subnormal->normal"),
            ("cancellation exposes the rounding error",
             seq(dict(x=[7, 7, 7, 7], g=[7, 5, 3, 1], clear=1), dict(x=[7, 7, 7, 7], g=[15, 13, 11, 9])),
             "residual"),
        ]
    elif unit == "fp8_mac":
        # 448*128 + 240*32 + 480*1 = 65504 (e4m3 x e5m2 products), FP16's largest finite.
        top, inf, ninf = dict(x=[448, 240, 480, 0], g=[128, 32, 1, 0], clear=1), np.uint8(0x7C), np.uint8(0xFC)
        one = [1, 0, 0, 0]
        out += [
            ("65504 + 16 ties to +Inf", seq(top, dict(x=[16, 0, 0, 0], g=one)), [65504, np.inf]),
            ("65504 + 8 stays, -65504 - 16 ties to -Inf",
             seq(top, dict(x=[8, 0, 0, 0], g=one), {**top, "x": [-448, -240, -480, 0]}, dict(x=[-16, 0, 0, 0], g=one)),
             [65504, 65504, -65504, -np.inf]),
            ("product overflow", seq(dict(x=[480, 0, 0, 0], g=[57344, 0, 0, 0], clear=1)), [np.inf]),
            ("NaN in", seq(dict(x=[1, 1, 1, 1], g=[np.uint8(0x7F), 1, 1, 1], clear=1),
                           dict(x=[1, 1, 1, 1], g=[1, 1, 1, 1]),  # NaN holds under en
                           dict(x=[1, 0, 0, 0], g=[np.uint8(0xFE), 0, 0, 0], clear=1),
                           dict(x=[2, 0, 0, 0], g=[3, 0, 0, 0], clear=1)),  # clear+en restarts
             ["NaN", "NaN", "NaN", 6.0]),
            ("invalid operations", seq(dict(x=[0, 0, 0, 0], g=[inf, 0, 0, 0], clear=1),  # 0 * Inf
                                       dict(x=[1, 1, 0, 0], g=[inf, ninf, 0, 0], clear=1),  # Inf - Inf
                                       dict(x=[-1, 1, 0, 0], g=[inf, 1, 0, 0], clear=1),  # -Inf + 1
                                       dict(x=[2, 0, 0, 0], g=[inf, 0, 0, 0])),  # -Inf + Inf
             ["NaN", "NaN", -np.inf, "NaN"]),
            ("signed zeros", seq(dict(x=[0, -0.0, 1, -2], g=[-1, 2, -0.0, 0], clear=1),  # all -0
                                 dict(x=[-0.0] * 4, g=[1] * 4),  # -0 + -0
                                 dict(x=[0, 0, 0, 0], g=[0, 0, 0, 0]),  # + +0
                                 dict(x=[-(2.0 ** -9), 0, 0, 0], g=[2.0 ** -16, 0, 0, 0], clear=1),  # -2^-25
                                 dict(x=[0, 0, 0, 0], g=[0, 0, 0, 0], en=0, clear=1)),
             ["-0", "-0", "+0", "-0", "+0"]),
            ("subnormal sums", seq(*[dict(x=[2.0 ** -9 * (k % 7 + 1), 2.0 ** -6, 2.0 ** -8, 1.0],
                                          g=[2.0 ** -16, 2.0 ** -14, -(2.0 ** -15), 2.0 ** -16], clear=k == 0)
                                     for k in range(24)]), "subnormal->normal"),
            ("cancellation exposes the rounding error",
             seq(dict(x=[240, 3.25, 0.0078125, 2.0 ** -9], g=[1.5, 7, 3, 1], clear=1),
                 dict(x=[-240, -3.25, -0.0078125, -(2.0 ** -9)], g=[1.5, 7, 3, 1])),
             "residual"),
        ]
    else:
        nan_pos, nan_neg = np.uint16(0x7C01).view(F16), np.uint16(0xFFFF).view(F16)
        inf, ninf = np.inf, -np.inf
        one = [1, 0, 0, 0]
        out += [
            ("65504 + 16 ties to +Inf", seq(dict(x=[65504, 0, 0, 0], g=one, clear=1), dict(x=[16, 0, 0, 0], g=one)),
             [65504, np.inf]),
            ("65504 + 8 stays, -65504 - 16 ties to -Inf",
             seq(dict(x=[65504, 0, 0, 0], g=one, clear=1), dict(x=[8, 0, 0, 0], g=one),
                 dict(x=[-65504, 0, 0, 0], g=[2, 0, 0, 0]), dict(x=[-16, 0, 0, 0], g=one)),
             [65504, 65504, -65504, -np.inf]),
            ("overflowing products cancel exactly", seq(dict(x=[65504, -65504, 2.0 ** -24, 0],
                                                             g=[65504, 65504, 2.0 ** -24, 0], clear=1)),
             ["+0"]),  # 2^-48 rounds to +0
            ("product overflow", seq(dict(x=[256, 0, 0, 0], g=[256, 0, 0, 0], clear=1)), [np.inf]),
            ("NaN in", seq(dict(x=[nan_pos, 1, 1, 1], g=[1, 1, 1, 1], clear=1),
                           dict(x=[1, 1, 1, 1], g=[1, 1, 1, 1]),  # NaN holds under en
                           dict(x=[1, 0, 0, 0], g=[nan_neg, 0, 0, 0], clear=1),
                           dict(x=[2, 0, 0, 0], g=[3, 0, 0, 0], clear=1)),  # clear+en restarts
             ["NaN", "NaN", "NaN", 6.0]),
            ("invalid operations", seq(dict(x=[inf, 0, 0, 0], g=[0, 0, 0, 0], clear=1),  # Inf * 0
                                       dict(x=[inf, ninf, 0, 0], g=[1, 1, 0, 0], clear=1),  # Inf - Inf
                                       dict(x=[inf, 1, 0, 0], g=[-1, 1, 0, 0], clear=1),  # -Inf + 1
                                       dict(x=[inf, 0, 0, 0], g=[2, 0, 0, 0])),  # -Inf + Inf
             ["NaN", "NaN", -np.inf, "NaN"]),
            ("signed zeros", seq(dict(x=[0, -0.0, 1, -2], g=[-1, 2, -0.0, 0], clear=1),  # all -0
                                 dict(x=[-0.0] * 4, g=[1] * 4),  # -0 + -0
                                 dict(x=[0, 0, 0, 0], g=[0, 0, 0, 0]),  # + +0
                                 dict(x=[-2.0 ** -24, 0, 0, 0], g=[2.0 ** -24, 0, 0, 0], clear=1),  # -2^-48
                                 dict(x=[2.0 ** -24, 0, 0, 0], g=[2.0 ** -24, 0, 0, 0], en=0, clear=1)),
             ["-0", "-0", "+0", "-0", "+0"]),
            ("subnormal sums", seq(*[dict(x=[2.0 ** -24 * (k + 1), 2.0 ** -20, -(2.0 ** -23), 2.0 ** -17],
                                          g=[1, 0.75, 1.5, 0.5], clear=k == 0) for k in range(24)]),
             "subnormal->normal"),
            ("cancellation exposes the rounding error",
             seq(dict(x=[1000.5, 3.25, 0.0078125, 2.0 ** -20], g=[1.5, 7, 3, 1], clear=1),
                 dict(x=[-1000.5, -3.25, -0.0078125, -(2.0 ** -20)], g=[1.5, 7, 3, 1])),
             "residual"),
        ]
    return out


def _holds(name, acc, want):
    """Assert the named corner's outcome on its golden acc values (float16 array)."""
    bits = acc.view(np.uint16)
    if want == "subnormal->normal":
        sub = (bits & 0x7FFF > 0) & (bits & 0x7FFF < 0x400)
        assert sub.any() and np.any(np.abs(acc.astype(np.float64)) >= 2.0 ** -14), name
    elif want == "residual":
        # acc = fp16(S), then acc - S exactly: a nonzero value far below acc's ulp.
        assert acc[1] != 0 and abs(float(acc[1])) < abs(float(acc[0])) * 2.0 ** -11, name
    else:
        for a, w, b in zip(acc, want, bits):
            if w == "NaN":
                assert b == CANONICAL_NAN, name
            elif w in ("-0", "+0"):
                assert b == (0x8000 if w == "-0" else 0), name
            else:
                assert float(a) == w, (name, acc)


@cocotb.test()
@cocotb.parametrize(unit=list(UNITS))
async def corners(dut, unit):
    """Every named corner at once, one per copy (copies beyond them rerun them shifted in time);
    a sequence's cycles are `chains` apart, so it runs on one chain (the others idle)."""
    tb = TB(dut, unit)
    await tb.reset()
    scen, step = _scenarios(tb.unit), tb.chains
    t_len = max(s["en"].shape[0] for _, s, _ in scen) * 2 * step
    stim = {k: np.zeros((tb.copies, t_len) + v.shape[1:], v.dtype) for k, v in scen[0][1].items()}
    at = []
    for c in range(tb.copies):
        name, s, _ = scen[c % len(scen)]
        start = (c // len(scen)) % (t_len - s["en"].shape[0] * step + 1)
        at.append(start + step * np.arange(s["en"].shape[0]))
        for k, v in s.items():
            stim[k][c, at[c]] = v
    expected = await tb.check(stim)
    for c in range(min(tb.copies, len(scen))):
        name, s, want = scen[c]
        _holds(name, expected[c, at[c]].view(F16), want)
    assert tb.copies >= len(scen), "every corner needs a copy"


@cocotb.test()
async def scale_exp_out_of_range(dut):
    """hybrid_mac: an enabled cycle with scale_exp outside [-18, 8] stores the quiet NaN 0x7E00
    (as r4fp4_to_fp16 decodes such codes); en=0 holds, clear alone gives +0."""
    tb = TB(dut, "hybrid_mac")
    await tb.reset()
    bad = np.array([v for v in range(-32, 32) if not SCALE_EXP_MIN <= v <= SCALE_EXP_MAX])
    n, rng, c = tb.copies, tb.rng, tb.chains
    t_len = 3 * c  # cycles 0, c, 2c on one chain; the other chains idle and hold +0
    scale = bad[rng.integers(0, len(bad), (n, t_len))]
    en = np.zeros(t_len, int)
    en[0] = 1
    clear = np.zeros(t_len, int)
    clear[2 * c] = 1
    stim = dict(x=rng.integers(-8, 8, (n, t_len, LANES)), g=rng.integers(0, 16, (n, t_len, LANES)), sx=1,
                phase=rng.integers(0, 2, (n, t_len)), scale_exp=scale, en=en, clear=clear)
    want = np.zeros(t_len, np.uint16)
    want[[0, c]] = CANONICAL_NAN
    await tb.check(stim, np.broadcast_to(want, (n, t_len)))


# ------------------------------------------------------------------------------ pytest side

def write_top(copies, build):
    """`macs_lanes`: each unit's `<unit>_lanes` wrapper on one clk/rst, ports as `<unit>_<port>`."""
    ports, inst, paths = ["    input  wire clk", "    input  wire rst"], [], []
    for unit, cls in UNITS.items():
        n, conns = copies[unit], [".clk(clk)", ".rst(rst)"]
        paths.append(write_lanes_wrapper(cls(LANES), unit, n, build / f"{unit}_lanes.v", shared=("clk", "rst")))
        for name, w, is_in in port_list(cls(LANES)):
            ports.append(f"    {'input ' if is_in else 'output'} wire [{n * w - 1}:0] {unit}_{name}")
            conns.append(f".{name}({unit}_{name})")
        inst.append(f"    {unit}_lanes {unit} ({', '.join(conns)});")
    text = "\n".join(["`timescale 1ns/1ps", "module macs_lanes (", ",\n".join(ports) + ");", *inst,
                      "endmodule", ""])
    top = build / "macs_lanes.v"
    if not top.exists() or top.read_text() != text:
        top.write_text(text)
    return [*paths, top]


@pytest.mark.sim
@pytest.mark.parametrize("sim", SIMS)
def test_hybrid_mac(sim):
    copies = COPIES[sim]
    build = BUILD / ("macs_" + "_".join(f"{u}_x{n}" for u, n in copies.items()))
    run(sim, toplevel="macs_lanes", sources=[RTL / f"{u}.v" for u in UNITS] + write_top(copies, build),
        test_module="verif.test_hybrid_mac", build_name=build.name,
        env={f"LPT_COPIES_{u.upper()}": n for u, n in copies.items()})
