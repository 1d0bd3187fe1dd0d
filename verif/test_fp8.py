# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""FP8 encoders and decoders against golden.fp8, bit for bit, flags included.

Configurations, all in one build per simulator (verif.harness.write_lanes_top): the committed
default-bias units of rtl/; the encoders with the optional stochastic rounding (generated into
the build dir); and per format one non-default bias, encoder (stochastic-capable) and decoder.
Every FP16 bit pattern goes through every encoder with nearest rounding (junk on `rand`, which
must be ignored) and through every stochastic encoder with seeded random u; at the default
biases also with u on both sides of the golden model's stochastic decision boundary. Every FP8
code goes through every decoder.
"""

import os

import numpy as np
import pytest

import cocotb

from golden.fp8 import FORMATS, fp8_decode, fp8_encode, fp8_encode_flags
from hdl_gen.fp8 import FP8ToFP16, FP16ToFP8
from lptrain.paths import RTL
from verif.harness import (BUILD, SIMS, LanesTB, port_list, prefixed, run, stochastic_boundary,
                           write_lanes_top, write_verilog)

# Lanes per call: Icarus's cost is per evaluated vector plus a per-call overhead, Verilator's
# build time grows with the instances (ten units here).
LANES = {"verilator": 16, "icarus": 256}
# Non-default biases: the largest exact ones, where FP8 normals reach below FP16's smallest
# normal (the encoder normalizes FP16 subnormals, the decoder emits FP16 subnormals).
OTHER_BIAS = {"e4m3": 22, "e5m2": 23}
ALL_X = np.arange(1 << 16, dtype=np.uint16)
FLAGS = ("invalid", "overflow", "underflow")


def blocks():
    """(prefix, component, module, fmt, bias, committed) of every unit in the build."""
    out = []
    for fmt in FORMATS:
        b = OTHER_BIAS[fmt]
        out += [(f"enc_{fmt}", FP16ToFP8(fmt), f"fp16_to_{fmt}", fmt, None, True),
                (f"dec_{fmt}", FP8ToFP16(fmt), f"{fmt}_to_fp16", fmt, None, True),
                (f"encs_{fmt}", FP16ToFP8(fmt, stochastic=True), f"fp16_to_{fmt}_sr", fmt, None, False),
                (f"encb_{fmt}", FP16ToFP8(fmt, b, stochastic=True), f"fp16_to_{fmt}_b{b}_sr", fmt, b, False),
                (f"decb_{fmt}", FP8ToFP16(fmt, b), f"{fmt}_to_fp16_b{b}", fmt, b, False)]
    return out


class TB:
    def __init__(self, dut):
        self.seed = int(os.environ.get("LPT_SEED", "2020"))
        self.lanes = int(os.environ["LPT_LANES"])
        self.units = {prefix: (LanesTB(prefixed(dut, prefix), self.lanes,
                                       {n: w for n, w, _ in port_list(component)}), fmt, bias)
                      for prefix, component, _, fmt, bias, _ in blocks()}
        dut._log.info("lanes %d, seed %d", self.lanes, self.seed)

    def encoders(self, stochastic=False):
        return [p for p, (tb, _, _) in self.units.items()
                if "x" in tb.widths and (not stochastic or "rand" in tb.widths)]

    async def check(self, prefix, inputs, expected):
        """Apply `inputs` (name -> array, one vector per entry) to block `prefix`, compare."""
        tb = self.units[prefix][0]
        n = len(next(iter(inputs.values())))
        for lo in range(0, n, tb.lanes):
            sl = slice(lo, lo + tb.lanes)
            got = await tb.apply(dict.fromkeys(expected, False),
                                 **{k: np.resize(v[sl], tb.lanes) for k, v in inputs.items()})
            for name, exp in expected.items():
                k = exp[sl].size
                bad = np.flatnonzero(got[name][:k] != exp[sl])
                assert bad.size == 0, (
                    f"{prefix}: {bad.size} {name} mismatches; first at "
                    f"{ {key: int(v[sl][bad[0]]) for key, v in inputs.items()} }: "
                    f"got {got[name][bad[0]]:#x}, expected {int(exp[sl][bad[0]]):#x}")

    async def check_encoder(self, prefix, x, stochastic, u):
        _, fmt, bias = self.units[prefix]
        rounding = "stochastic" if stochastic else "nearest"
        enc = fp8_encode_flags(x.view(np.float16), fmt, bias, rounding, u)
        expected = {"code": enc.codes, **{name: getattr(enc, name) for name in FLAGS}}
        inputs = {"x": x}
        if "rand" in self.units[prefix][0].widths:
            inputs.update(stochastic=np.full(x.size, int(stochastic)), rand=u)
        await self.check(prefix, inputs, expected)


@cocotb.test()
async def encode_exhaustive_nearest(dut):
    """Every FP16 through every encoder, round to nearest even; `rand` carries random junk."""
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed)
    for prefix in tb.encoders():
        await tb.check_encoder(prefix, ALL_X, False, rng.integers(0, 1 << 16, ALL_X.size, dtype=np.uint16))


@cocotb.test()
async def encode_exhaustive_stochastic(dut):
    """Every FP16 through every stochastic-capable encoder with seeded random u."""
    tb = TB(dut)
    rng = np.random.default_rng(tb.seed + 1)
    for prefix in tb.encoders(stochastic=True):
        await tb.check_encoder(prefix, ALL_X, True, rng.integers(0, 1 << 16, ALL_X.size, dtype=np.uint16))


@cocotb.test()
async def encode_stochastic_boundaries(dut):
    """Every FP16 at u just below and at the decision boundary (default biases).

    Random u almost never lands on the exact threshold, where an off-by-one comparison or a lost
    dropped bit would show; u = 0 and u = 65535 come in where the code never moves.
    """
    tb = TB(dut)
    for prefix in tb.encoders(stochastic=True):
        _, fmt, bias = tb.units[prefix]
        if bias is not None:
            continue
        b = stochastic_boundary(lambda xs, u: fp8_encode(xs, fmt, bias, "stochastic", u), ALL_X)
        for u in (b - 1, np.minimum(b, 0xFFFF)):
            await tb.check_encoder(prefix, ALL_X, True, np.clip(u, 0, 0xFFFF).astype(np.uint16))


@cocotb.test()
async def decode_every_code(dut):
    """Every FP8 code through every decoder: exact FP16 (e5m2 Inf/NaN codes included)."""
    tb = TB(dut)
    codes = np.arange(256)
    for prefix, (unit, fmt, bias) in tb.units.items():
        if "code" in unit.widths and "x" not in unit.widths:
            await tb.check(prefix, {"code": codes}, {"y": fp8_decode(codes, fmt, bias).view(np.uint16)})


# ------------------------------------------------------------------------------ pytest side

@pytest.mark.sim
@pytest.mark.parametrize("sim", SIMS)
def test_fp8(sim):
    lanes = LANES[sim]
    build = BUILD / f"fp8_x{lanes}"
    units = blocks()
    sources = [RTL / f"{module}.v" if committed else write_verilog(component, module, build / f"{module}.v")
               for _, component, module, _, _, committed in units]
    sources += write_lanes_top("fp8_top", [(p, c, m, lanes) for p, c, m, _, _, _ in units], build)
    run(sim, toplevel="fp8_top", sources=sources, test_module="verif.test_fp8",
        build_name=build.name, env={"LPT_LANES": lanes}, opt_fast="-O0")
