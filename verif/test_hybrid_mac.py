"""hybrid_mac (IBM's INT4 x R4FP4) against golden.hybrid_mac, cycle for cycle (the testbench:
verif/mac_tb.py).

Configurations (mac_tb.CONFIGS), each compiled once per simulator (one copy of the unit; corners
and random beats run through it in sequence):

- L = 4, the rtl/ configuration (rtl/hybrid_mac.v: front 1, chains 2), on Verilator and Icarus.
- L = 1, front 0, one chain, on Icarus: the narrowest lane sum (17 bits, one lane) and the
  unpipelined single accumulator, whose ChainCombiner is a wire.
- L = 16, chains 3, on Verilator: a 21-bit lane sum and a wider window, and the three-stage loop
  with the combiner's two-chain history (the only configuration with 3 chains).

Other lane counts add nothing the generator treats differently (the lane sum and the window
widen with ceil(log2 L); L = 4 and 16 bracket the synthesized sweep); the L = 1 configuration
runs a quarter of the random beats (Icarus is slow and its per-lane logic is the default's). A
named corner runs wherever its beats fit in the configuration's lanes (extra lanes carry -0
products: INT4 0 x R4FP4 -0, the exact identity).

Random runs (LPT_MAC_CYCLES beats per configuration: MAKE_TEST_MAC_CYCLES in `make
test`, 100,000 in `make mac-sweep`) draw dot products of every length class, both signednesses,
both phases and per-tensor scale_exp values that change now and then plus per-beat outliers, exact
lane cancellations, tiny dot products (scale_exp -18) and zero dot products, with and without
random input gaps; they assert that the results covered Inf, signed zeros and subnormals (INT4
and R4FP4 have no Inf/NaN, so NaN comes only from scale_exp_out_of_range). Named corners: the
exact overflow threshold (65504 + 16 ties to Inf, 65504 + 8 stays), overflow within one beat and
by accumulation, Inf holding under finite adds and chains that overflow with opposite signs,
signed zeros (stale chains of the previous dot product must not leak into a short one),
subnormal sums, and cancellation that exposes the accumulator's rounding error (only an exact
sum gets it right).
"""

import numpy as np
import pytest

import cocotb

from golden.fp16_accumulator import CANONICAL_NAN
from golden.hybrid_mac import hybrid_mac
from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN
from verif.mac_tb import (CONFIGS, UNITS, Dots, MacTB, build_and_run, configuration, coverage, held,
                          random_beats_count, random_gaps, random_stream, run_corners, stream_lasts)

UNIT = "hybrid_mac"
PAD = {"x": 0, "g": 8}  # a lane beyond a corner's: INT4 0 x R4FP4 -0, a -0 product


def golden(dots, chains):
    b = dots.beats
    return hybrid_mac(b["x"], b["g"], phase=b["phase"], scale_exp=b["scale_exp"], sx=b["sx"], last=dots.last,
                      chains=chains)


def new_tb(dut):
    lanes, front, chains = configuration()
    return MacTB(dut, UNITS[UNIT](lanes, front=front, chains=chains), golden)


def random_dots(tb, beats):
    """About `beats` beats of random dot products (module docstring)."""
    rng, lanes = tb.rng, tb.comp.lanes
    last, kind = random_stream(rng, beats, tb.chains)  # a class per dot product
    n = len(last)
    sx = rng.random(n) < 0.5
    x = np.where(sx[:, None], rng.integers(-8, 8, (n, lanes)), rng.integers(0, 16, (n, lanes)))
    g = rng.integers(0, 16, (n, lanes))
    # Per-tensor scales that change now and then, with per-beat outliers; tiny dot products at
    # the smallest scale with small codes (subnormal results).
    scale = held(rng, rng.integers(SCALE_EXP_MIN, SCALE_EXP_MAX + 1, n), 0.05)
    scale = np.where(rng.random(n) < 0.2, rng.integers(SCALE_EXP_MIN, SCALE_EXP_MAX + 1, n), scale)
    tiny = kind < 0.1
    scale = np.where(tiny, SCALE_EXP_MIN, scale)
    g = np.where(tiny[:, None], g & 0b1001, g)  # e <= 1: +-4^-3 at most
    phase = np.where(rng.random(n) < 0.2, rng.integers(0, 2, n), held(rng, rng.integers(0, 2, n), 0.05))
    if lanes > 1:  # exact cancellation between lanes 0 and 1 in some beats
        cancel = (rng.random(n) < 0.1) & (x[:, 0] != -8) & sx
        x[:, 1] = np.where(cancel, -x[:, 0], x[:, 1])
        g[:, 1] = np.where(cancel, g[:, 0], g[:, 1])
    # Zero dot products: x >= 0 times R4FP4 -0 (code 8) in every lane (every product -0: a -0
    # result), or times +0 (code 0: +0).
    zero = (kind > 0.9)[:, None]
    x = np.where(zero, rng.integers(0, 8, x.shape), x)
    g = np.where(zero, np.where(kind[:, None] > 0.95, 8, 0), g)
    return Dots({"x": x, "sx": sx.astype(int), "g": g, "phase": phase, "scale_exp": scale}, last)


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
    coverage(np.concatenate(results), nan=False)


def b(x, g, scale_exp=0, phase=0, sx=1):
    return {"x": list(x), "g": list(g), "scale_exp": scale_exp, "phase": phase, "sx": sx}


def neg(beat):
    """The same beat with every g negated (the code's sign bit)."""
    return {**beat, "g": [v | 8 for v in beat["g"]]}


def corners(chains):
    """Named corners: (name, dot products, expected results; mac_tb.holds)."""
    # 14*2^12 + 7*2^10 + 14*2^6 + 6*2^4 = 65504, FP16's largest finite (sx=0: x up to 15;
    # codes e = 7, 6, 4, 3 at scale_exp 6 are 2^12, 2^10, 2^6, 2^4).
    top = b([14, 7, 14, 6], [7, 6, 4, 3], scale_exp=6, sx=0)
    sixteen = b([1], [3], scale_exp=6)  # 2^4
    eight = b([1], [2], scale_exp=6, phase=1)  # 2^3
    huge = b([15], [7], scale_exp=8, phase=1, sx=0)  # 15 * 2^15: Inf in one beat
    step = b([7] * 4, [7] * 4, scale_exp=2, phase=1)  # 4 x 7 x 2^9 = 14336, exact in FP16 up to 4 of them
    z = [0] * 4
    neg0 = b(z, [8, 9, 15, 12])  # 0 * -g: every product -0
    big = b([7] * 4, [7, 5, 3, 1])
    # Beats 0 and 6 are on one chain for 1, 2 and 3 chains.
    cancel = [big, *[b(z, z)] * 5, neg(big)]
    return [
        ("65504 + 16 ties to +Inf", [[top], [top, sixteen]], [65504, np.inf]),
        ("-65504 - 16 ties to -Inf", [[neg(top)], [neg(top), neg(sixteen)]], [-65504, -np.inf]),
        ("65504 + 8 stays", [[top, eight]], [65504]),
        ("Inf holds under finite adds, a new dot product restarts",
         [[huge, neg(top), sixteen], [b([7] * 4, [9] * 4)]], [np.inf, -7 / 16]),
        # One accumulator: Inf + a finite beat is Inf; chains: +Inf and an overflowing -Inf chain.
        ("chains overflowing with opposite signs", [[huge, neg(huge)]], [np.inf if chains == 1 else "NaN"]),
        ("accumulation overflows", [[step] * k for k in (1, 2, 3, 4, 5, 6, 20)],
         [14336 * k if k <= 4 else np.inf for k in (1, 2, 3, 4, 5, 6, 20)]),
        ("signed zeros", [[neg0], [neg0, b([-1, -3, -8, -2], z)],  # -x * +0: -0 + -0
                          [neg0, b(z, z)],  # + +0: +0
                          [b([-1] * 4, [8] * 4)],  # -1 * -0 = +0
                          [b([3, -3], [5, 5])],  # cancels: +0
                          [b([5], [4]), b([1], [4])],  # leaves nonzero chains behind
                          [neg0]],
         ["-0", "-0", "+0", "+0", "+0", 6.0, "-0"]),
        ("subnormal sums", [[b([1, 2, 3, 7], [1, 2, 1, 3], scale_exp=-18, phase=k % 2) for k in range(n)]
                            for n in (1, 2, 3, 5, 8, 13, 40)], "subnormal->normal"),
        ("cancellation exposes the rounding error", [[big], cancel], "residual"),
    ]


@cocotb.test()
async def named_corners(dut):
    """Every named corner that fits the lanes (mac_tb.run_corners)."""
    tb = new_tb(dut)
    await tb.reset()
    await run_corners(tb, corners(tb.chains), PAD)


@cocotb.test()
async def scale_exp_out_of_range(dut):
    """A beat whose scale_exp lies outside [-18, 8] makes its dot product the quiet NaN 0x7E00 (as
    r4fp4_to_fp16 decodes such codes), wherever it is in the dot product; the next dot product
    starts clean. Bad dot products alternate with good ones (scored by the golden model alone)."""
    tb = new_tb(dut)
    await tb.reset()
    rng, lanes = tb.rng, tb.comp.lanes
    bad_values = np.array([v for v in range(-32, 32) if not SCALE_EXP_MIN <= v <= SCALE_EXP_MAX])
    lengths = rng.integers(1, 2 * tb.chains + 3, 40)
    last, n = stream_lasts(lengths), int(lengths.sum())
    dot = np.repeat(np.arange(len(lengths)), lengths)
    scale = rng.integers(SCALE_EXP_MIN, SCALE_EXP_MAX + 1, n)
    bad_dot = np.arange(len(lengths)) % 2 == 0
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    at = first[bad_dot] + rng.integers(0, lengths[bad_dot])  # one bad beat in each bad dot product
    scale[at] = bad_values[rng.integers(0, len(bad_values), len(at))]
    dots = Dots({"x": rng.integers(-8, 8, (n, lanes)), "sx": np.ones(n, int), "g": rng.integers(0, 16, (n, lanes)),
                 "phase": rng.integers(0, 2, n), "scale_exp": scale}, last)
    good = ~bad_dot[dot]
    expected = np.full(len(lengths), CANONICAL_NAN, np.uint16)
    expected[~bad_dot] = np.asarray(golden(Dots({k: v[good] for k, v in dots.beats.items()}, last[good]),
                                           tb.chains)).view(np.uint16)[last[good]]
    await tb.run(dots, random_gaps(rng, n, 0.3), expected)


# ------------------------------------------------------------------------------ pytest side

@pytest.mark.sim
@pytest.mark.parametrize("sim,lanes,front,chains", CONFIGS[UNIT])
def test_hybrid_mac(sim, lanes, front, chains):
    build_and_run(sim, UNIT, lanes, front, chains, "verif.test_hybrid_mac")
