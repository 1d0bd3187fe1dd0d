"""fp16_mac against golden.fp16_mac, cycle for cycle (the testbench: verif/mac_tb.py).

Configurations (mac_tb.CONFIGS), each compiled once per simulator (one copy of the unit; corners
and random beats run through it in sequence): L = 4, the rtl/ configuration (rtl/fp16_mac.v:
front 2, chains 2), on Verilator and Icarus. fp16_mac is FloatMac("fp16", "fp16"), the generator
fp8_mac is made by too: its other lane counts and pipelines (L = 1 with one chain, L = 16 with 3
chains) are the same code with wider operands, and run in verif/test_fp8_mac.py, where they are
cheaper to simulate.

Random runs (LPT_MAC_CYCLES beats per configuration: MAKE_TEST_MAC_CYCLES in `make
test`, 100,000 in `make mac-sweep`) draw dot products of every length class, operands from
subnormal to near-overflow with clustered exponents and exact lane cancellations, tiny dot
products, zero dot products and rare Inf/NaN, with and without random input gaps; they assert
that the results covered Inf, NaN, signed zeros and subnormals. Named corners: the exact
overflow threshold (65504 + 16 ties to Inf, 65504 + 8 stays), products that overflow and cancel,
NaN in and invalid operations (across beats and chains too), Inf holding under finite adds,
signed zeros (stale chains of the previous dot product must not leak into a short one),
subnormal sums, and cancellation that exposes the accumulator's rounding error (only an exact
sum gets it right).
"""

import numpy as np
import pytest

import cocotb

from golden.fp16_mac import fp16_mac
from hdl_gen.fp16_accumulator import float_format
from verif.mac_tb import (CONFIGS, F16, UNITS, Dots, MacTB, build_and_run, configuration, coverage,
                          random_beats_count, random_float, random_gaps, random_stream, run_corners)

UNIT = "fp16_mac"
SIGN = 0x8000
PAD = {"x": 0x8000, "g": 0x0000}  # a lane beyond a corner's: -0 x +0, a -0 product


def golden(dots, chains):
    b = dots.beats
    return fp16_mac(b["x"].astype(np.uint16).view(F16), b["g"].astype(np.uint16).view(F16), last=dots.last,
                    chains=chains)


def new_tb(dut):
    lanes, front, chains = configuration()
    return MacTB(dut, UNITS[UNIT](lanes, front=front, chains=chains), golden)


def random_dots(tb, beats):
    """About `beats` beats of random dot products (module docstring)."""
    rng, lanes = tb.rng, tb.comp.lanes
    last, kind = random_stream(rng, beats, tb.chains)  # a class per dot product
    n = len(last)
    f = float_format("fp16", "fp16")
    x, g = random_float(rng, (n, lanes), f, kind < 0.1), random_float(rng, (n, lanes), f, kind < 0.1)
    if lanes > 1:  # lane 1's product is minus lane 0's in some beats
        cancel = rng.random(n) < 0.1
        x[:, 1] = np.where(cancel, x[:, 0] ^ SIGN, x[:, 1])
        g[:, 1] = np.where(cancel, g[:, 0], g[:, 1])
    # Zero dot products: finite g, and x a zero of the opposite sign (every product -0: a -0
    # result) or of a random sign (+0).
    zero = (kind > 0.9)[:, None]
    g = np.where(zero & ((g & 0x7C00) == 0x7C00), g & 0x83FF, g)
    x = np.where(zero, (g & SIGN) ^ np.where(kind[:, None] > 0.95, SIGN, rng.integers(0, 2, (n, lanes)) << 15), x)
    return Dots({"x": x, "g": g}, last)


@cocotb.test()
async def random_beats(dut):
    """Random beats (mac_tb.random_beats_count) against the golden model, half of them with random
    input gaps; the results must cover every class."""
    tb = new_tb(dut)
    await tb.reset()
    results = []
    for p_gap in (0.0, 0.1):
        dots = random_dots(tb, random_beats_count() // 2)
        results.append(await tb.run(dots, random_gaps(tb.rng, len(dots), p_gap)))
    coverage(np.concatenate(results))


def b(x, g):
    """A beat of FP16 lanes (values; an np.uint16 is a raw bit pattern)."""
    bits = lambda v: int(v) if isinstance(v, np.uint16) else int(np.float16(v).view(np.uint16))
    return {"x": [bits(v) for v in x], "g": [bits(v) for v in g]}


def corners():
    """Named corners: (name, dot products, expected results; mac_tb.holds)."""
    nan_pos, nan_neg, inf, ninf = np.uint16(0x7C01), np.uint16(0xFFFF), np.inf, -np.inf
    top = b([65504], [1])
    neg0 = b([0, -0.0, 1, -2], [-1, 2, -0.0, 0])  # every product -0
    big = b([1000.5, 3.25, 0.0078125, 2.0 ** -20], [1.5, 7, 3, 1])
    zeros = b([0] * 4, [0] * 4)
    # Beats 0 and 6 are on one chain for 1, 2 and 3 chains.
    cancel = [big, *[zeros] * 5, b([-1000.5, -3.25, -0.0078125, -(2.0 ** -20)], [1.5, 7, 3, 1])]
    return [
        ("65504 + 16 ties to +Inf", [[top], [top, b([16], [1])]], [65504, inf]),
        ("65504 + 8 stays, -65504 - 16 ties to -Inf",
         [[top, b([8], [1])], [b([-65504], [1])], [b([-65504], [1]), b([-16], [1])]], [65504, -65504, ninf]),
        ("overflowing products cancel exactly",
         [[b([65504, -65504, 2.0 ** -24], [65504, 65504, 2.0 ** -24])]], ["+0"]),  # 2^-48 rounds to +0
        ("product overflow", [[b([256], [256])]], [inf]),
        ("NaN in", [[b([nan_pos], [1])], [b([nan_pos, 1, 1, 1], [1] * 4), b([1] * 4, [1] * 4)],
                    [b([1], [nan_neg])], [b([2], [3])]],  # a new dot product restarts
         ["NaN", "NaN", "NaN", 6.0]),
        ("invalid operations", [[b([inf], [0])], [b([inf, ninf], [1, 1])], [b([inf, 1], [-1, 1])],
                                [b([inf, 1], [-1, 1]), b([inf], [2])]],  # -Inf, then +Inf in the next beat
         ["NaN", "NaN", ninf, "NaN"]),
        ("Inf holds under finite adds", [[b([inf], [1]), b([65504], [-1]), b([1], [1])]], [inf]),
        ("signed zeros", [[neg0], [neg0, b([-0.0] * 4, [1] * 4)], [neg0, zeros],
                          [b([5], [3]), b([7], [1])],  # leaves nonzero chains behind
                          [b([-(2.0 ** -24)], [2.0 ** -24])]],  # -2^-48 rounds to -0
         ["-0", "-0", "+0", 22.0, "-0"]),
        ("subnormal sums", [[b([2.0 ** -24 * (k + 1), 2.0 ** -20, -(2.0 ** -23), 2.0 ** -17], [1, 0.75, 1.5, 0.5])
                             for k in range(n)] for n in (1, 2, 3, 5, 8, 13, 24)], "subnormal->normal"),
        ("cancellation exposes the rounding error", [[big], cancel], "residual"),
    ]


@cocotb.test()
async def named_corners(dut):
    """Every named corner that fits the lanes (mac_tb.run_corners)."""
    tb = new_tb(dut)
    await tb.reset()
    await run_corners(tb, corners(), PAD)


# ------------------------------------------------------------------------------ pytest side

@pytest.mark.sim
@pytest.mark.parametrize("sim,lanes,front,chains", CONFIGS[UNIT])
def test_fp16_mac(sim, lanes, front, chains):
    build_and_run(sim, UNIT, lanes, front, chains, "verif.test_fp16_mac")
