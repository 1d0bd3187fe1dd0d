# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""fusion_unit (and its fixed 8x8 baseline, fixed_mul) against golden.fusion_dot, bit for bit.

MAXB = 8: every mode with seeded random buses (and lanes mixing modes in one call), named
corners, and the invalid 16-bit code; on EXHAUSTIVE_SIM also all 65,536 operand pairs of the 8x8
mode for all four signedness combinations. MAXB = 16: random buses and corners in every mode.
Unused bus bits carry random junk so a unit that reads them fails. Every bus layout and
summation variant (hdl_gen.fusion) runs the same tests against golden.fusion_dot in its layout;
fixed_mul runs them in its one mode.

The exhaustive sweep runs on one simulator: `make formal` proves every variant equal to the flat
reference in every mode, and the sweep cross-checks that proof (and the golden model) on real
vectors; the other simulator's seeded random buses and corners hold the same units to the golden
model in every mode.

One build per (simulator, MAXB) holds every unit it tests side by side (verif.harness.
write_lanes_top). Verilator runs every variant (its cycles are cheap); Icarus runs the committed
default and fixed_mul. The two simulators differ in how they read Verilog (4-state values,
scheduling, expression widths), not in which variant it came from: every variant is the same
Amaranth -> Yosys back end emitting the same constructs, and the bitwise-summation PE in the linear
layout also runs on Icarus inside mac_array (verif/test_mac_array.py).
"""

import itertools
import os

import numpy as np
import pytest

import cocotb
from cocotb.triggers import gather

from golden.fusion import (DEFAULT_LAYOUT, LAYOUTS, PRECISION_BITS, fusion_dot, is_valid_mode, pack,
                           precision_bits, products)
from hdl_gen.fusion import DEFAULT_SUMMATION, SUMMATIONS, FixedMul, FusionUnit
from lptrain.paths import RTL
from verif.harness import (BUILD, SIMS, LanesTB, port_list, prefixed, run, write_lanes_top,
                           write_verilog)

# Lanes per call, by simulator and MAXB: Verilator's build time grows with the instances (their
# VPI symbol tables); Icarus's per-call cost dominates at MAXB = 8, its compile time at 16.
LANES = {("verilator", 8): 32, ("icarus", 8): 256, ("verilator", 16): 4, ("icarus", 16): 16}
SIGNS = list(itertools.product((0, 1), repeat=2))


def _random_bus(rng, width, n):
    """n random `width`-bit buses: uint64 when they fit, else object arrays of Python ints."""
    words = rng.integers(0, 1 << 32, size=(n, (width + 31) // 32), dtype=np.uint64)
    if width <= 64:
        return (words[:, 0] | (words[:, -1] << np.uint64(32)) if width > 32 else words[:, 0]) \
            & np.uint64((1 << width) - 1)
    return np.array([sum(int(w) << (32 * i) for i, w in enumerate(row)) for row in words], dtype=object)


class TB(LanesTB):
    """One block of the build: `unit` at `maxb` in `variant` (layout, summation; None for fixed_mul)."""

    def __init__(self, dut, prefix, unit, maxb, variant):
        self.prefix, self.unit, self.maxb = prefix, unit, maxb
        self.seed = int(os.environ.get("LPT_SEED", "2020"))
        # fixed_mul's operands are plain MAXB-bit numbers: the linear layout of its only mode.
        self.layout = variant[0] if unit == "fusion_unit" else "linear"
        super().__init__(prefixed(dut, prefix), LANES[os.environ["LPT_SIM"], maxb],
                         {n: w for n, w, _ in port_list(_component(unit, maxb, variant))})
        dut._log.info("%s: unit %s MAXB=%d variant %s lanes=%d seed=%d", prefix, unit, maxb, variant,
                      self.lanes, self.seed)

    async def check(self, a, b, pa, pb, sa, sb):
        """Apply up to LANES vectors (arrays; scalars broadcast) and compare with the golden model."""
        n = len(a)
        pa, pb, sa, sb = (np.broadcast_to(np.asarray(v), (n,)) for v in (pa, pb, sa, sb))
        expected = np.zeros(n, dtype=np.int64)
        for mode in set(zip(pa.tolist(), pb.tolist(), sa.tolist(), sb.tolist())):
            sel = (pa == mode[0]) & (pb == mode[1]) & (sa == mode[2]) & (sb == mode[3])
            expected[sel] = fusion_dot(a[sel], b[sel], *mode, maxb=self.maxb, layout=self.layout)
        pad = self.lanes - n
        inputs = dict(a=np.concatenate([a, a[:1].repeat(pad)]), b=np.concatenate([b, b[:1].repeat(pad)]),
                      sa=np.pad(sa, (0, pad)), sb=np.pad(sb, (0, pad)))
        if self.unit == "fusion_unit":
            inputs.update(pa=np.pad(pa, (0, pad)), pb=np.pad(pb, (0, pad)))
        got = (await self.apply({"p": True}, **inputs))["p"][:n]
        bad = np.flatnonzero(got != expected)
        assert bad.size == 0, (
            f"{self.prefix}: {bad.size} mismatches; first: a={a[bad[0]]:#x} b={b[bad[0]]:#x} pa={pa[bad[0]]} "
            f"pb={pb[bad[0]]} sa={sa[bad[0]]} sb={sb[bad[0]]}: got {got[bad[0]]}, expected {expected[bad[0]]}")
        return n


def _blocks(dut, fusion_only=False):
    """A TB per block of this build (the pytest side's `blocks`), fixed_mul's left out when
    `fusion_only`; at least one."""
    tbs = [TB(dut, *block) for block in blocks(os.environ["LPT_SIM"], int(os.environ["LPT_MAXB"]))
           if block[1] == "fusion_unit" or not fusion_only]
    assert tbs, "no unit in this build to test"
    return tbs


async def _every_block(check, dut, fusion_only=False):
    """`check(tb)` on every block of the build at once: the blocks are independent, and one
    simulator step then serves them all (Verilator evaluates the whole model at each step)."""
    await gather(*(check(tb) for tb in _blocks(dut, fusion_only)))


def _modes(tb):
    """The (pa, pb) codes a block takes: every valid mode of fusion_unit; fixed_mul has one, the
    MAXB x MAXB mode (its operands are the linear layout's one element)."""
    if tb.unit == "fixed_mul":
        return [(PRECISION_BITS.index(tb.maxb),) * 2]
    return [(pa, pb) for pa, pb in itertools.product(range(4), repeat=2) if is_valid_mode(pa, pb, tb.maxb)]


@cocotb.test()
async def exhaustive_8x8(dut):
    """Every 8-bit operand pair, every signedness; bus bits above the operands are random junk
    (linear layout; the hierarchical layout replicates the digits, every bus bit is used)."""
    await _every_block(_exhaustive_8x8, dut)


async def _exhaustive_8x8(tb):
    rng = np.random.default_rng(tb.seed)
    pairs = np.arange(1 << 16, dtype=np.uint64)
    a, b = pairs & np.uint64(0xFF), pairs >> np.uint64(8)
    if tb.unit == "fusion_unit" and tb.layout == "hierarchical":
        a, b = (np.array(pack(x[:, None].astype(object), 8, other_bits=8, side=side, layout=tb.layout),
                         dtype=np.uint64) for x, side in ((a, "a"), (b, "b")))
    elif tb.widths["a"] > 8:
        junk = np.uint64(((1 << tb.widths["a"]) - 1) & ~0xFF)
        a = a | (_random_bus(rng, tb.widths["a"], a.size) & junk)
        b = b | (_random_bus(rng, tb.widths["b"], b.size) & junk)
    checked = 0
    for sa, sb in SIGNS:
        for lo in range(0, a.size, tb.lanes):
            checked += await tb.check(a[lo:lo + tb.lanes], b[lo:lo + tb.lanes], 2, 2, sa, sb)
    assert checked == 4 << 16


@cocotb.test()
async def random_every_mode(dut):
    """Seeded random buses in every valid (pa, pb) and signedness, one mode per call."""
    await _every_block(_random_every_mode, dut)


async def _random_every_mode(tb):
    rng = np.random.default_rng(tb.seed + 1)
    width = tb.widths["a"]
    for pa, pb in _modes(tb):
        for sa, sb in SIGNS:
            for _ in range(4):
                await tb.check(_random_bus(rng, width, tb.lanes), _random_bus(rng, width, tb.lanes),
                               pa, pb, sa, sb)


@cocotb.test()
async def random_mixed_lanes(dut):
    """Every lane in its own random mode (invalid codes included) and signedness."""
    await _every_block(_random_mixed_lanes, dut, fusion_only=True)


async def _random_mixed_lanes(tb):
    rng = np.random.default_rng(tb.seed + 2)
    width = tb.widths["a"]
    for _ in range(32):
        modes = rng.integers(0, 4, size=(4, tb.lanes))
        modes[2:] &= 1
        await tb.check(_random_bus(rng, width, tb.lanes), _random_bus(rng, width, tb.lanes), *modes)


@cocotb.test()
async def corners(dut):
    """Extreme elements in every mode: all minimum, all maximum, alternating, and a lone one."""
    await _every_block(_corners, dut)


async def _corners(tb):
    width = tb.widths["a"]
    for pa, pb in _modes(tb):
        n = products(pa, pb, tb.maxb)
        cases = []
        for bits, other, side in ((precision_bits(pa), precision_bits(pb), "a"), (precision_bits(pb), precision_bits(pa), "b")):
            lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
            put = lambda elements: pack(elements, bits, other_bits=other, side=side, maxb=tb.maxb, layout=tb.layout)
            cases.append([put([v] * n) for v in (lo, hi, (1 << (bits - 1)) - 1, -1, 0, 1)]
                         + [put([lo, hi] * (n // 2) + [lo] * (n % 2)), put([hi] + [0] * (n - 1))])
        a, b = (np.array([x for x, _ in itertools.product(*cases)], dtype=object),
                np.array([y for _, y in itertools.product(*cases)], dtype=object))
        if width <= 64:
            a, b = a.astype(np.uint64), b.astype(np.uint64)
        for sa, sb in SIGNS:
            for lo in range(0, a.size, tb.lanes):
                await tb.check(a[lo:lo + tb.lanes], b[lo:lo + tb.lanes], pa, pb, sa, sb)


@cocotb.test()
async def invalid_code_gives_zero(dut):
    """A precision code wider than MAXB yields p = 0 whatever the buses hold."""
    await _every_block(_invalid_code_gives_zero, dut, fusion_only=True)


async def _invalid_code_gives_zero(tb):
    rng = np.random.default_rng(tb.seed + 3)
    width = tb.widths["a"]
    for pa, pb in ((3, 0), (0, 3), (3, 3), (3, 2), (2, 3)):
        a, b = _random_bus(rng, width, tb.lanes), _random_bus(rng, width, tb.lanes)
        await tb.check(a, b, pa, pb, rng.integers(0, 2, tb.lanes), rng.integers(0, 2, tb.lanes))
        assert not fusion_dot(int(a[0]), int(b[0]), pa, pb, 1, 1)


# ------------------------------------------------------------------------------ pytest side

DEFAULT_VARIANT = (DEFAULT_LAYOUT, DEFAULT_SUMMATION)
VARIANTS = [(layout, summation) for layout in LAYOUTS for summation in SUMMATIONS]
ALL_VARIANTS_SIM = "verilator"  # runs every variant; the other simulator the default (docstring)
EXHAUSTIVE_SIM = "verilator"    # runs the exhaustive 8x8 sweep (docstring)


def cocotb_tests(sim, maxb):
    """The cocotb tests of a build: at MAXB 16 every code is valid and the 8x8 sweep is not
    exhaustive there."""
    return (["exhaustive_8x8"] if maxb == 8 and sim == EXHAUSTIVE_SIM else []) + [
        "random_every_mode", "random_mixed_lanes", "corners"] + (["invalid_code_gives_zero"] if maxb == 8 else [])


def blocks(sim, maxb):
    """(prefix, unit, maxb, variant) of every unit in the (sim, maxb) build: the fusion variants
    (all on ALL_VARIANTS_SIM, else the default; the linear-layout bitwise summation at MAXB = 8
    only: its mode multiplexers make the 64-brick unit slow to elaborate, and the 16-bit recursion
    is covered by the other three) and, at MAXB = 8, fixed_mul."""
    variants = VARIANTS if sim == ALL_VARIANTS_SIM else [DEFAULT_VARIANT]
    out = [(f"fu_{layout}_{summation}", "fusion_unit", maxb, (layout, summation)) for layout, summation in variants
           if maxb == 8 or (layout, summation) != ("linear", "bitblade")]
    return out + ([("fixed", "fixed_mul", 8, None)] if maxb == 8 else [])


def _component(unit, maxb, variant):
    return FusionUnit(maxb, *variant) if unit == "fusion_unit" else FixedMul(maxb)


@pytest.mark.sim
@pytest.mark.parametrize("maxb", [8, 16])
@pytest.mark.parametrize("sim", SIMS)
def test_fusion(sim, maxb):
    build = BUILD / f"fusion_{sim}_maxb{maxb}"
    sources, top = [], []
    for prefix, unit, _, variant in blocks(sim, maxb):
        component = _component(unit, maxb, variant)
        if maxb == 8 and variant in (None, DEFAULT_VARIANT):  # the committed rtl/ file
            module = unit
            sources.append(RTL / f"{unit}.v")
        else:  # a module name per variant: one build holds several
            module = f"{unit}_maxb{maxb}_{'_'.join(variant)}"
            sources.append(write_verilog(component, module, build / f"{module}.v"))
        top.append((prefix, component, module, LANES[sim, maxb]))
    sources += write_lanes_top("fusion_top", top, build)
    run(sim, toplevel="fusion_top", sources=sources, test_module="verif.test_fusion", build_name=build.name,
        testcase=cocotb_tests(sim, maxb), env={"LPT_SIM": sim, "LPT_MAXB": maxb}, opt_fast="-O0")
