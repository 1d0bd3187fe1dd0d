"""fp8_mac (HFP8's e4m3 x e5m2) against golden.fp8_mac, cycle for cycle (the testbench:
verif/mac_tb.py).

Configurations (mac_tb.CONFIGS), each compiled once per simulator (one copy of the unit; corners
and random beats run through it in sequence):

- L = 4, the rtl/ configuration (rtl/fp8_mac.v: front 1, chains 2), on Verilator and Icarus.
- L = 1, front 0, one chain, on Icarus: the smallest sum (one product, no compressor) and the
  unpipelined single accumulator, whose ChainCombiner is a wire.
- L = 16, chains 3, on Verilator: a five-level compressor tree, a wider window, and the three-stage
  loop with the combiner's two-chain history (the only configuration with 3 chains).
- L = 16, front 3, on Verilator: the compressor trees' outputs registered before their final
  adds (the stage the 32- and 64-lane units of the lane sweep need; FloatMac shares it with
  fp16_mac).

Other lane counts add nothing the generator treats differently (the tree depth and the window
width grow with ceil(log2 L); L = 4 and 16 bracket the synthesized sweep); the L = 1 configuration
runs a quarter of the random beats (Icarus is slow and its per-lane logic is the default's). A
named corner runs wherever its beats fit in the configuration's lanes (extra lanes carry -0
products, the exact identity).

Random runs (LPT_MAC_CYCLES beats per configuration: MAKE_TEST_MAC_CYCLES in `make
test`, 100,000 in `make mac-sweep`) draw dot products of every length class, codes of every class
(e5m2 Inf/NaN rarely) with clustered exponents and exact lane cancellations, tiny dot products
and zero dot products, with and without random input gaps, and product shifts (none, one per
dot product as a GEMM maps them, or a new one every beat, over the whole range); they assert
that the results covered Inf, NaN, signed zeros and subnormals. Named corners: the exact overflow threshold (65504 + 16
ties to Inf, 65504 + 8 stays), product overflow, NaN in and invalid operations (across beats and
chains too), Inf holding under finite adds, signed zeros (stale chains of the previous dot
product must not leak into a short one), subnormal sums, and cancellation that exposes the
accumulator's rounding error (only an exact sum gets it right); the product shift bringing an
overflowing product back, changing from beat to beat, taking a product to a subnormal and to a
signed zero, and leaving NaN and Inf as they are.
"""

import numpy as np
import pytest

import cocotb

from golden.fp8 import fp8_decode, fp8_encode
from golden.fp8_mac import SHIFT_MAX, fp8_mac
from hdl_gen.fp16_accumulator import float_format
from verif.mac_tb import (CONFIGS, F16, UNITS, Dots, MacTB, build_and_run, configuration, coverage,
                          random_beats_count, random_float, random_gaps, random_stream, run_corners)

UNIT = "fp8_mac"
FORMATS = ("e4m3", "e5m2")  # (x, g), the rtl/ configuration
PAD = {"x": 0x80, "g": 0x00}  # a lane beyond a corner's: e4m3 -0 x e5m2 +0, a -0 product


def golden(dots, chains):
    return fp8_mac(dots.beats["x"], dots.beats["g"], last=dots.last, fmt_x=FORMATS[0], fmt_g=FORMATS[1],
                   chains=chains, shift=dots.beats["shift"])


def new_tb(dut):
    lanes, front, chains = configuration()
    return MacTB(dut, UNITS[UNIT](lanes, front=front, chains=chains), golden)


def random_dots(tb, beats):
    """About `beats` beats of random dot products (module docstring)."""
    rng, lanes = tb.rng, tb.comp.lanes
    last, kind = random_stream(rng, beats, tb.chains)  # a class per dot product
    n = len(last)
    fx, fg = (float_format(name, f) for name, f in zip(("fmt_x", "fmt_g"), FORMATS))
    x, g = random_float(rng, (n, lanes), fx, kind < 0.1), random_float(rng, (n, lanes), fg, kind < 0.1)
    if lanes > 1:  # lane 1's product is minus lane 0's in some beats
        cancel = rng.random(n) < 0.1
        x[:, 1] = np.where(cancel, x[:, 0] ^ 0x80, x[:, 1])
        g[:, 1] = np.where(cancel, g[:, 0], g[:, 1])
    # Zero dot products: finite g, and x a zero of the opposite sign (every product -0: a -0
    # result) or of a random sign (+0).
    zero = (kind > 0.9)[:, None]
    g = np.where(zero & ((g & 0x7C) == 0x7C), g & 0x83, g)
    x = np.where(zero, (g & 0x80) ^ np.where(kind[:, None] > 0.95, 0x80, rng.integers(0, 2, (n, lanes)) << 7), x)
    # Product shifts: none in a third of the dot products, one per dot product (as a GEMM maps
    # them) in a third, a new one every beat in the rest; any value in [0, SHIFT_MAX].
    dot = np.concatenate([[0], np.cumsum(last[:-1])])
    per_dot = rng.integers(0, SHIFT_MAX + 1, dot[-1] + 1)[dot]
    shift = np.where(kind < 0.33, 0, np.where(kind < 0.66, per_dot, rng.integers(0, SHIFT_MAX + 1, n)))
    return Dots({"x": x, "g": g, "shift": shift}, last)


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


def _code(v, fmt):
    """The FP8 code of a value exactly representable in fmt (asserted); an np.uint8 is a raw code."""
    if isinstance(v, np.uint8):
        return int(v)
    code = int(fp8_encode(np.array([v], F16), fmt)[0])
    assert np.array_equal(fp8_decode(np.array([code]), fmt).astype(np.float64), [v]), (v, fmt)
    return code


def b(x, g, shift=0):
    """A beat of e4m3 x e5m2 lanes (values), its products scaled by 2^-shift."""
    return {"x": [_code(v, FORMATS[0]) for v in x], "g": [_code(v, FORMATS[1]) for v in g], "shift": shift}


def corners():
    """Named corners: (name, dot products, expected results; mac_tb.holds)."""
    inf, ninf, nan, nan_neg = np.uint8(0x7C), np.uint8(0xFC), np.uint8(0x7F), np.uint8(0xFE)  # e5m2 codes
    # 448*128 + 240*32 + 480*1 = 65504 (e4m3 x e5m2 products), FP16's largest finite.
    top, ntop = b([448, 240, 480], [128, 32, 1]), b([-448, -240, -480], [128, 32, 1])
    neg0 = b([0, -0.0, 1, -2], [-1, 2, -0.0, 0])  # every product -0
    big = b([240, 3.25, 0.0078125, 2.0 ** -9], [1.5, 7, 3, 1])
    zeros = b([0] * 4, [0] * 4)
    # Beats 0 and 6 are on one chain for 1, 2 and 3 chains.
    cancel = [big, *[zeros] * 5, b([-240, -3.25, -0.0078125, -(2.0 ** -9)], [1.5, 7, 3, 1])]
    return [
        ("65504 + 16 ties to +Inf", [[top], [top, b([16], [1])]], [65504, np.inf]),
        ("65504 + 8 stays, -65504 - 16 ties to -Inf", [[top, b([8], [1])], [ntop], [ntop, b([-16], [1])]],
         [65504, -65504, -np.inf]),
        ("product overflow", [[b([480], [57344])]], [np.inf]),
        ("NaN in", [[b([1], [nan])], [b([1, 1, 1, 1], [nan, 1, 1, 1]), b([1] * 4, [1] * 4)],
                    [b([1], [nan_neg])], [b([2], [3])]],  # a new dot product restarts
         ["NaN", "NaN", "NaN", 6.0]),
        ("invalid operations", [[b([0], [inf])], [b([1, 1], [inf, ninf])], [b([-1, 1], [inf, 1])],
                                [b([-1, 1], [inf, 1]), b([2], [inf])]],  # -Inf, then +Inf in the next beat
         ["NaN", "NaN", -np.inf, "NaN"]),
        ("Inf holds under finite adds", [[b([1], [inf]), b([-448], [128]), b([1], [1])]], [np.inf]),
        ("signed zeros", [[neg0], [neg0, b([-0.0] * 4, [1] * 4)], [neg0, zeros],
                          [b([5], [3]), b([7], [1])],  # leaves nonzero chains behind
                          [b([-(2.0 ** -9)], [2.0 ** -16])]],  # -2^-25 ties to -0
         ["-0", "-0", "+0", 22.0, "-0"]),
        ("subnormal sums", [[b([2.0 ** -9 * (k % 7 + 1), 2.0 ** -6, 2.0 ** -8, 1.0],
                               [2.0 ** -16, 2.0 ** -14, -(2.0 ** -15), 2.0 ** -16]) for k in range(n)]
                            for n in (1, 2, 3, 5, 8, 13, 24)], "subnormal->normal"),
        ("cancellation exposes the rounding error", [[big], cancel], "residual"),
        # The product shift: 480 x 57344 overflows unshifted, 2^-9 of it is 53760 (exact); each
        # beat takes its own shift (53760 + 0.0128 - 16384 = 37376.0128 -> 37376); the largest
        # shift takes a product to FP16's subnormals (2^-31 of 2^8 is 2^-23), and half the
        # smallest subnormal ties to a signed zero (2^-25 of -1: -0).
        ("shift brings an overflowing product back", [[b([480], [57344], 9)], [b([480], [57344], 8)]],
         [53760.0, np.inf]),
        ("shift per beat", [[b([480], [57344], 9), b([480], [57344], 31), b([-256], [128], 1)]], [37376.0]),
        ("largest shift to a subnormal", [[b([256], [1], SHIFT_MAX)]], [2.0 ** -23]),
        ("shift to a signed zero", [[b([-1], [1], 25)], [b([1], [1], 24)]], ["-0", 2.0 ** -24]),
        ("shifted beats keep the specials", [[b([1], [nan], 20)], [b([1], [inf], 31), b([480], [57344], 9)]],
         ["NaN", np.inf]),
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
def test_fp8_mac(sim, lanes, front, chains):
    build_and_run(sim, UNIT, lanes, front, chains, "verif.test_fp8_mac")
