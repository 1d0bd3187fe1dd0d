# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""fusion_unit (and its fixed 8x8 baseline, fixed_mul) against golden.fusion_dot, bit for bit.

MAXB = 8: all 65,536 operand pairs of the 8x8 mode for all four signedness combinations, every
other mode with seeded random buses (and lanes mixing modes in one call), named corners, and the
invalid 16-bit code. MAXB = 16: random buses in every mode. Unused bus bits carry random junk so
a unit that reads them fails. Every bus layout and summation variant (hdl_gen.fusion) runs the
same tests against golden.fusion_dot in its layout.
"""

import itertools
import os

import numpy as np
import pytest

import cocotb

from golden.fusion import DEFAULT_LAYOUT, fusion_dot, is_valid_mode, pack, precision_bits, products
from hdl_gen.fusion import DEFAULT_SUMMATION, FixedMul, FusionUnit
from verif.harness import BUILD, RTL, SIMS, LanesTB, port_list, run, write_lanes_wrapper, write_verilog

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
    def __init__(self, dut):
        self.unit = os.environ["LPT_UNIT"]
        self.maxb = int(os.environ["LPT_MAXB"])
        self.seed = int(os.environ.get("LPT_SEED", "2020"))
        # fixed_mul's operands are plain MAXB-bit numbers: the linear layout of its only mode.
        self.layout = os.environ.get("LPT_LAYOUT", DEFAULT_LAYOUT) if self.unit == "fusion_unit" else "linear"
        component = (FusionUnit(self.maxb, self.layout, os.environ.get("LPT_SUMMATION", DEFAULT_SUMMATION))
                     if self.unit == "fusion_unit" else FixedMul(self.maxb))
        super().__init__(dut, int(os.environ["LPT_LANES"]), {n: w for n, w, _ in port_list(component)})
        dut._log.info("unit %s MAXB=%d lanes=%d seed=%d", self.unit, self.maxb, self.lanes, self.seed)

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
            f"{bad.size} mismatches; first: a={a[bad[0]]:#x} b={b[bad[0]]:#x} pa={pa[bad[0]]} "
            f"pb={pb[bad[0]]} sa={sa[bad[0]]} sb={sb[bad[0]]}: got {got[bad[0]]}, expected {expected[bad[0]]}")
        return n


@cocotb.test()
async def exhaustive_8x8(dut):
    """Every 8-bit operand pair, every signedness; bus bits above the operands are random junk
    (linear layout; the hierarchical layout replicates the digits, every bus bit is used)."""
    tb = TB(dut)
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
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed + 1)
    width = tb.widths["a"]
    for pa, pb in itertools.product(range(4), repeat=2):
        if not is_valid_mode(pa, pb, tb.maxb):
            continue
        for sa, sb in SIGNS:
            for _ in range(4):
                await tb.check(_random_bus(rng, width, tb.lanes), _random_bus(rng, width, tb.lanes),
                               pa, pb, sa, sb)


@cocotb.test()
async def random_mixed_lanes(dut):
    """Every lane in its own random mode (invalid codes included) and signedness."""
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed + 2)
    width = tb.widths["a"]
    for _ in range(32):
        modes = rng.integers(0, 4, size=(4, tb.lanes))
        modes[2:] &= 1
        await tb.check(_random_bus(rng, width, tb.lanes), _random_bus(rng, width, tb.lanes), *modes)


@cocotb.test()
async def corners(dut):
    """Extreme elements in every mode: all minimum, all maximum, alternating, and a lone one."""
    tb = TB(dut)
    width = tb.widths["a"]
    for pa, pb in itertools.product(range(4), repeat=2):
        if not is_valid_mode(pa, pb, tb.maxb):
            continue
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
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed + 3)
    width = tb.widths["a"]
    for pa, pb in ((3, 0), (0, 3), (3, 3), (3, 2), (2, 3)):
        a, b = _random_bus(rng, width, tb.lanes), _random_bus(rng, width, tb.lanes)
        await tb.check(a, b, pa, pb, rng.integers(0, 2, tb.lanes), rng.integers(0, 2, tb.lanes))
        assert not fusion_dot(int(a[0]), int(b[0]), pa, pb, 1, 1)


# ------------------------------------------------------------------------------ pytest side

DEFAULT_VARIANT = (DEFAULT_LAYOUT, DEFAULT_SUMMATION)


def _build(unit, maxb, variant, lanes):
    """Sources for `unit` at `maxb`: the committed rtl/ file for the default, else generated."""
    component = FusionUnit(maxb, *variant) if unit == "fusion_unit" else FixedMul(maxb)
    tag = "" if unit != "fusion_unit" or variant == DEFAULT_VARIANT else "_" + "_".join(variant)
    build = BUILD / f"{unit}_maxb{maxb}{tag}_x{lanes}"
    default = maxb == 8 and (unit != "fusion_unit" or variant == DEFAULT_VARIANT)
    src = RTL / f"{unit}.v" if default else write_verilog(component, unit, build / f"{unit}.v")
    return build.name, [src, write_lanes_wrapper(component, unit, lanes, build / f"{unit}_lanes.v")]


RANDOM = ["random_every_mode", "random_mixed_lanes", "corners"]
FULL8 = ["exhaustive_8x8", *RANDOM, "invalid_code_gives_zero"]
OTHER = {"linear": "hierarchical", "hierarchical": "linear"}[DEFAULT_LAYOUT]
# (unit, maxb, (layout, summation)): every variant of the generator, MAXB = 8 and 16 (every
# code is valid at 16); the linear-layout bitwise summation at MAXB = 8 only (its mode
# multiplexers make the 64-brick unit slow to elaborate; the 16-bit recursion is covered by the
# other three).
CONFIGS = {
    ("fusion_unit", 8, DEFAULT_VARIANT): FULL8,
    ("fusion_unit", 16, DEFAULT_VARIANT): RANDOM,
    ("fusion_unit", 8, (OTHER, "tree")): FULL8,
    ("fusion_unit", 16, (OTHER, "tree")): RANDOM,
    ("fusion_unit", 8, ("hierarchical", "bitblade")): FULL8,
    ("fusion_unit", 16, ("hierarchical", "bitblade")): RANDOM,
    ("fusion_unit", 8, ("linear", "bitblade")): FULL8,
    ("fixed_mul", 8, None): ["exhaustive_8x8"],  # its only mode
}


@pytest.mark.sim
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("unit,maxb,variant", list(CONFIGS))
def test_fusion(sim, unit, maxb, variant):
    lanes = LANES[sim, maxb]
    build_name, sources = _build(unit, maxb, variant, lanes)
    env = {"LPT_UNIT": unit, "LPT_MAXB": maxb, "LPT_LANES": lanes}
    if variant:
        env.update(LPT_LAYOUT=variant[0], LPT_SUMMATION=variant[1])
    run(sim, toplevel=f"{unit}_lanes", sources=sources, test_module="verif.test_fusion",
        build_name=build_name, testcase=CONFIGS[unit, maxb, variant], env=env)
