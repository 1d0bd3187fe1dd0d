"""mac_array and its fixed baseline mac_array_fixed8 against golden.mac_array, beat for beat.

A `TB` drives the input stream with random gaps and takes the output stream with random
backpressure; golden.mac_array (one vectorized call per stream) is the scoreboard for every
result row, the row order and `out_last` markers, the sticky `error` and every counter. Random
GEMM tiles get a random precision pair and signedness each (some tiles switch mode every beat),
random lanes with junk in unused bits or extreme element patterns, and run back to back. Also:
invalid codes and `first` inside a tile raise `error` (sticky until `clear`), `clear` starts a new
counter window, reset in the middle of a tile leaves nothing behind, counters saturate, and
cycle counts of back-to-back tiles are exact.

Handshakes are sampled and driven at the falling clock edge: in_ready, out_valid and out_data come
from registers only (the design has no valid-to-ready path), so the outcome of the next rising
edge is known there, and one trigger per cycle drives both streams.
"""
import numpy as np
import pytest

import cocotb

from golden.fusion import pack
from golden.mac_array import ACCW_DEFAULT, CNTW_DEFAULT
from verif.harness import run
from verif.mac_array_tb import TB, sources

# ---------------------------------------------------------------------------------- cocotb tests

@cocotb.test()
async def random_tiles(dut):
    """Random tiles back to back, with and without gaps and backpressure; a clear mid-stream."""
    tb = TB(dut)
    await tb.reset()
    per_run = max(1, tb.tiles // 4)
    for gap, bp, clear in ((0.0, 0.0, False), (0.3, 0.0, False), (0.0, 0.5, True), (0.3, 0.3, False)):
        beats = tb.stream(per_run)
        clear_at = int(tb.rng.integers(0, len(beats["a"]))) if clear else None
        result = await tb.run(beats, gap=gap, backpressure=bp, clear_at=clear_at)
        assert not result["golden"].error and not dut.error.value, "error without a cause"


@cocotb.test()
async def invalid_codes_raise_error(dut):
    """Invalid precision codes give error (sticky until clear) and contribute nothing."""
    tb = TB(dut)
    await tb.reset()
    await tb.run(tb.stream(4))
    assert not dut.error.value
    beats = tb.stream(8, invalid=0.3)
    result = await tb.run(beats, gap=0.2, backpressure=0.2)
    assert result["golden"].error and dut.error.value, "invalid codes did not raise error"
    await tb.run(tb.stream(4))
    assert dut.error.value, "error is not sticky"
    await tb.pulse_clear()
    await tb.run(tb.stream(4))
    assert not dut.error.value


@cocotb.test()
async def first_inside_a_tile(dut):
    """`first` while a tile is open drops the partial tile and raises error; tiles without
    `first` start by themselves."""
    tb = TB(dut)
    await tb.reset()
    await tb.run(tb.stream(6, first=0.0))
    assert not dut.error.value, "a tile without `first` raised error"
    beats = tb.stream(8, k_lo=2)
    beats["first"] = beats["first"] | np.roll(beats["last"], 1)  # every tile starts with first
    abandon = np.flatnonzero(beats["last"])[[1, 4]]  # two tiles lose their `last`
    beats["last"][abandon] = False
    result = await tb.run(beats, gap=0.2, backpressure=0.2)
    assert result["golden"].error and len(result["golden"].tiles) == 6
    assert dut.error.value, "first inside a tile did not raise error"
    await tb.pulse_clear()


@cocotb.test()
async def reset_mid_tile(dut):
    """Reset with a tile half accumulated (beats still in the pipeline, or settled) and the
    previous tile draining or stuck in the shadow bank: nothing of them survives."""
    tb = TB(dut)
    await tb.reset()
    for stuck, idle in ((False, 0), (True, 3)):
        beats = tb.stream(2, k_lo=4, k_hi=8, corner=1.0)
        beats["last"][-1] = False  # the second tile stays open
        a, b = pack(beats["a"], tb.lane), pack(beats["b"], tb.lane)
        dut.out_ready.value = int(not stuck)
        dut.in_valid.value = 1
        for i in range(len(a)):
            dut.in_a.value, dut.in_b.value = a[i], b[i]
            for name in ("pa", "pb", "sa", "sb", "first", "last"):
                getattr(dut, f"in_{name}").value = int(beats[name][i])
            while not dut.in_ready.value:
                await tb.fe
            await tb.fe
        dut.in_valid.value = 0
        for _ in range(idle):
            await tb.fe
        assert dut.out_valid.value or not stuck
        await tb.reset()
        assert not dut.out_valid.value and not dut.error.value
        await tb.check_counters()
        # The next tiles start without `first`: stale partial sums would show up in them.
        await tb.run(tb.stream(6, first=0.0, corner=0.5), backpressure=0.3)
        assert not dut.error.value


@cocotb.test()
async def cycle_counts(dut):
    """T back-to-back tiles of K beats: T*K + latency cycles whatever the precision sequence
    (K > ROWS; shorter tiles are paced by the drain, ROWS + 1 cycles a tile)."""
    tb = TB(dut)
    await tb.reset()
    assert tb.latency <= tb.rows + tb.cols + 4
    for k in sorted({1, tb.rows, tb.rows + 1, 16}):
        tiles = 6
        beats = tb.stream(tiles, k, k, mixed=0.0)
        result = await tb.run(beats)
        period = max(k, tb.rows + 1)
        cycles = result["last_out"] - result["first_in"] + 1
        assert cycles == (tiles - 1) * period + k + tb.latency, f"K={k}: {cycles} cycles"
        assert result["stalls"] == 0 or k <= tb.rows, f"K={k}: {result['stalls']} stall cycles"


# ------------------------------------------------------------------------------ pytest side

# (sim, pe, rows, cols, accw, cntw, tiles). ACCW = 18 makes 8x8 products wrap within a tile,
# CNTW = 10 makes counters saturate. Every shape runs on both simulators; Verilator (builds ~30 s,
# cycles cheap) gets the long runs, Icarus (builds cheap, cycles slow) short ones on large shapes.
BASE_CONFIGS = [
    ("verilator", "fusion", 4, 4, ACCW_DEFAULT, CNTW_DEFAULT, 96),
    ("verilator", "fusion", 8, 8, ACCW_DEFAULT, CNTW_DEFAULT, 32),
    ("verilator", "fixed", 4, 4, ACCW_DEFAULT, CNTW_DEFAULT, 96),
    ("verilator", "fusion", 2, 3, 18, 10, 48),
    ("verilator", "fusion", 1, 1, 20, 12, 48),
    ("icarus", "fusion", 1, 1, 20, 12, 48),
    ("icarus", "fusion", 2, 3, 18, 10, 48),
    ("icarus", "fusion", 4, 4, ACCW_DEFAULT, CNTW_DEFAULT, 16),
    ("icarus", "fixed", 2, 3, 18, 10, 48),
    ("icarus", "fusion", 8, 8, ACCW_DEFAULT, CNTW_DEFAULT, 8),
]
# + (layout, summation) of the PEs: the defaults, and the bitwise-summation PE in the other layout
# than the default's (hdl_gen.fusion: both variants are parameters of the same generator).
CONFIGS = [(*c, None) for c in BASE_CONFIGS] + [
    ("icarus", "fusion", 2, 3, 18, 10, 48, ("linear", "bitblade")),
]
TESTS = ["random_tiles", "invalid_codes_raise_error", "first_inside_a_tile", "reset_mid_tile",
         "cycle_counts"]


@pytest.mark.sim
@pytest.mark.parametrize("sim,pe,rows,cols,accw,cntw,tiles,variant", CONFIGS)
def test_mac_array(sim, pe, rows, cols, accw, cntw, tiles, variant):
    build_name, srcs = sources(pe, rows, cols, accw, cntw, variant=variant)
    env = dict(LPT_ROWS=rows, LPT_COLS=cols, LPT_MAXB=8, LPT_ACCW=accw, LPT_PE=pe, LPT_CNTW=cntw, LPT_TILES=tiles)
    if variant:
        env.update(LPT_LAYOUT=variant[0])
    run(sim, toplevel=srcs[0].stem, sources=srcs, test_module="verif.test_mac_array",
        build_name=build_name, testcase=TESTS, env=env, opt_fast="-O0")
