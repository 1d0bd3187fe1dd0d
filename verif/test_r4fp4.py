# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""tpr_quantizer and r4fp4_to_fp16 against golden.r4fp4, bit for bit, flags included.

tpr_quantizer: every FP16 bit pattern at the extreme and middle scales, nearest (with junk on
`rand`, which must be ignored) and stochastic (seeded random u); every FP16 at u on both sides of
each phase's stochastic decision boundary (found from the golden model); seeded random vectors at
every scale; every value of the 6-bit scale_exp port, out-of-range ones included.
r4fp4_to_fp16: every code x phase x scale_exp port value. Out-of-range scale_exp is the
documented configuration error (hdl_gen/r4fp4.py): invalid with both codes 0, decode to
FP16_QNAN. One build per simulator holds both units (verif.harness.write_lanes_top).
"""

import os

import numpy as np
import pytest

import cocotb

from golden.r4fp4 import (FP16_QNAN, SCALE_EXP_MAX, SCALE_EXP_MIN, r4fp4_decode, r4fp4_encode,
                          r4fp4_encode_flags, tpr)
from hdl_gen.r4fp4 import SCALE_BITS, R4FP4ToFP16, TPRQuantizer
from lptrain.paths import RTL
from verif.harness import (BUILD, SIMS, LanesTB, port_list, prefixed, run, stochastic_boundary,
                           write_lanes_top)

# Lanes per call (tpr_quantizer, r4fp4_to_fp16): Icarus's cost is per call, Verilator's build
# time grows with the instances.
LANES = {"verilator": (32, 16), "icarus": (512, 64)}
SWEEP_SCALES = (SCALE_EXP_MIN, 0, SCALE_EXP_MAX)
ALL_X = np.arange(1 << 16, dtype=np.uint16)
PORT_SCALES = np.arange(-(1 << (SCALE_BITS - 1)), 1 << (SCALE_BITS - 1))
FLAGS = ("invalid", "overflow", "underflow")
OUTPUTS = ("even", "odd", *FLAGS)


def in_range(scale):
    return (scale >= SCALE_EXP_MIN) & (scale <= SCALE_EXP_MAX)


def expected_tpr(x, scale, stochastic, u):
    """Golden outputs per vector (arrays, one entry per vector) for tpr_quantizer."""
    out = {name: np.zeros(x.size, dtype=np.int64) for name in OUTPUTS}
    out["invalid"][:] = ~in_range(scale)  # codes 0, no other flag
    for s in np.unique(scale[in_range(scale)]):
        for mode in (0, 1):
            sel = (scale == s) & (stochastic == mode)
            if not sel.any():
                continue
            rounding = "stochastic" if mode else "nearest"
            xs = x[sel].view(np.float16)
            out["even"][sel], out["odd"][sel] = tpr(xs, int(s), rounding, u[sel])
            flags = r4fp4_encode_flags(xs, 0, int(s), rounding, u[sel])
            for name in FLAGS:
                out[name][sel] = getattr(flags, name)
    return out


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.seed = int(os.environ.get("LPT_SEED", "2020"))
        tpr_lanes, dec_lanes = int(os.environ["LPT_TPR_LANES"]), int(os.environ["LPT_DEC_LANES"])
        self.tpr = LanesTB(prefixed(dut, "tpr"), tpr_lanes,
                           {n: w for n, w, _ in port_list(TPRQuantizer())})
        self.dec = LanesTB(prefixed(dut, "dec"), dec_lanes,
                           {n: w for n, w, _ in port_list(R4FP4ToFP16())})
        dut._log.info("lanes: tpr %d, dec %d; seed %d", tpr_lanes, dec_lanes, self.seed)

    async def check_tpr(self, x, scale, stochastic, u, what):
        """Apply the vectors (arrays of one length; scalars broadcast), compare every output."""
        x, scale, stochastic, u = np.broadcast_arrays(*(np.asarray(v) for v in (x, scale, stochastic, u)))
        exp = expected_tpr(x, scale.astype(np.int64), stochastic, u.astype(np.uint16))
        lanes = self.tpr.lanes
        for lo in range(0, x.size, lanes):
            sl = slice(lo, lo + lanes)
            n = x[sl].size
            pad = lambda v: np.resize(v[sl], lanes)  # noqa: E731 (last call: repeat vectors)
            got = await self.tpr.apply(dict.fromkeys(OUTPUTS, False), x=pad(x), scale_exp=pad(scale),
                                       stochastic=pad(stochastic), rand=pad(u))
            for name in OUTPUTS:
                bad = np.flatnonzero(got[name][:n] != exp[name][sl])
                assert bad.size == 0, (
                    f"{what}: {bad.size} {name} mismatches; first x={x[sl][bad[0]]:#06x} "
                    f"scale_exp={scale[sl][bad[0]]} stochastic={stochastic[sl][bad[0]]} "
                    f"u={u[sl][bad[0]]}: got {got[name][bad[0]]}, expected {exp[name][sl][bad[0]]}")
        return x.size


@cocotb.test()
async def tpr_exhaustive_nearest(dut):
    """Every FP16 at the extreme and middle scales, nearest; `rand` carries random junk."""
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed)
    for s in SWEEP_SCALES:
        junk = rng.integers(0, 1 << 16, ALL_X.size, dtype=np.uint16)
        await tb.check_tpr(ALL_X, s, 0, junk, f"nearest scale_exp={s}")


@cocotb.test()
async def tpr_exhaustive_stochastic(dut):
    """Every FP16 at the extreme and middle scales, stochastic with seeded random u."""
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed + 1)
    for s in SWEEP_SCALES:
        u = rng.integers(0, 1 << 16, ALL_X.size, dtype=np.uint16)
        await tb.check_tpr(ALL_X, s, 1, u, f"stochastic scale_exp={s}")


@cocotb.test()
async def tpr_stochastic_boundaries(dut):
    """Every FP16 at the middle scale with u just below and at each phase's decision boundary.

    Random u almost never lands on the exact threshold, where an off-by-one comparison or a
    rounded-off sticky bit would show; u = 0 and u = 65535 come in where the code never moves.
    """
    tb = TB(dut)
    for phase in (0, 1):
        b = stochastic_boundary(lambda xs, u: r4fp4_encode(xs, phase, 0, "stochastic", u), ALL_X)
        for u in (b - 1, np.minimum(b, 0xFFFF)):
            await tb.check_tpr(ALL_X, 0, 1, np.clip(u, 0, 0xFFFF), f"boundary phase {phase}")


@cocotb.test()
async def tpr_random_every_scale(dut):
    """Seeded random x, u and mode with every lane at its own in-range scale_exp."""
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed + 2)
    n = 1 << 16
    await tb.check_tpr(rng.integers(0, 1 << 16, n, dtype=np.uint16),
                       rng.integers(SCALE_EXP_MIN, SCALE_EXP_MAX + 1, n), rng.integers(0, 2, n),
                       rng.integers(0, 1 << 16, n, dtype=np.uint16), "random scales")


@cocotb.test()
async def tpr_every_scale_port_value(dut):
    """All 64 scale_exp port values (out-of-range ones: invalid, codes 0) with random x."""
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed + 3)
    scale = np.repeat(PORT_SCALES, 512)
    checked = await tb.check_tpr(rng.integers(0, 1 << 16, scale.size, dtype=np.uint16), scale,
                                 rng.integers(0, 2, scale.size),
                                 rng.integers(0, 1 << 16, scale.size, dtype=np.uint16), "port scales")
    assert checked == scale.size and (~in_range(PORT_SCALES)).sum() == 64 - 27


@cocotb.test()
async def decode_every_code_phase_scale(dut):
    """r4fp4_to_fp16: every code x phase x scale_exp port value (out of range: FP16_QNAN)."""
    tb = TB(dut)
    code, phase, scale = (a.ravel() for a in np.meshgrid(np.arange(16), (0, 1), PORT_SCALES, indexing="ij"))
    expected = np.full(code.size, FP16_QNAN, dtype=np.int64)
    for p in (0, 1):
        for s in range(SCALE_EXP_MIN, SCALE_EXP_MAX + 1):
            sel = (phase == p) & (scale == s)
            expected[sel] = r4fp4_decode(code[sel], p, s).view(np.uint16)
    lanes = tb.dec.lanes
    assert code.size % lanes == 0
    for lo in range(0, code.size, lanes):
        sl = slice(lo, lo + lanes)
        got = (await tb.dec.apply({"y": False}, code=code[sl], phase=phase[sl], scale_exp=scale[sl]))["y"]
        bad = np.flatnonzero(got != expected[sl])
        assert bad.size == 0, (f"{bad.size} mismatches; first code={code[sl][bad[0]]} phase="
                               f"{phase[sl][bad[0]]} scale_exp={scale[sl][bad[0]]}: got "
                               f"{got[bad[0]]:#06x}, expected {expected[sl][bad[0]]:#06x}")


# ------------------------------------------------------------------------------ pytest side

@pytest.mark.sim
@pytest.mark.parametrize("sim", SIMS)
def test_r4fp4(sim):
    tpr_lanes, dec_lanes = LANES[sim]
    build = BUILD / f"r4fp4_x{tpr_lanes}_{dec_lanes}"
    blocks = [("tpr", TPRQuantizer(), "tpr_quantizer", tpr_lanes),
              ("dec", R4FP4ToFP16(), "r4fp4_to_fp16", dec_lanes)]
    sources = [RTL / "tpr_quantizer.v", RTL / "r4fp4_to_fp16.v", *write_lanes_top("r4fp4_top", blocks, build)]
    run(sim, toplevel="r4fp4_top", sources=sources, test_module="verif.test_r4fp4",
        build_name=build.name, env={"LPT_TPR_LANES": tpr_lanes, "LPT_DEC_LANES": dec_lanes}, opt_fast="-O0")
