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

import os
import pathlib

import numpy as np
import pytest

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from golden.fusion import DEFAULT_LAYOUT, PRECISION_BITS, pack
from golden.mac_array import lane_bits, mac_array, valid_modes
from hdl_gen.mac_array import MacArray, counter_ports
from verif.harness import BUILD, RTL, run, unpack_rows, write_verilog

# Extreme lanes: all ones (every element -1 or the unsigned maximum), and per element width the
# signed minimum (10.., 1000.., 10000000..) and maximum (01.., 0111.., 01111111..).
CORNERS = [0xFFFFFFFF, 0xAAAAAAAA, 0x88888888, 0x80808080, 0x55555555, 0x77777777, 0x7F7F7F7F, 0]


class TB:
    """Clock, reset, input driver, output monitor and scoreboard of one MacArray configuration."""

    def __init__(self, dut):
        self.dut = dut
        env = os.environ
        self.rows, self.cols = int(env["LPT_ROWS"]), int(env["LPT_COLS"])
        self.maxb, self.accw = int(env["LPT_MAXB"]), int(env["LPT_ACCW"])
        self.pe, self.cntw = env["LPT_PE"], int(env["LPT_CNTW"])
        self.layout = env.get("LPT_LAYOUT", DEFAULT_LAYOUT)  # of the fusion lanes
        self.tiles = int(env.get("LPT_TILES", "64"))
        self.rng = np.random.default_rng(int(env.get("LPT_SEED", "2020")))
        self.lane = lane_bits(self.maxb, self.pe)
        self.modes = valid_modes(self.maxb, self.pe)
        self.invalid = [(pa, pb) for pa in range(4) for pb in range(4) if (pa, pb) not in self.modes]
        self.counters = counter_ports(self.maxb, self.pe)
        self.latency = self.rows + 2  # MacArray's pipeline: s1, s2, accumulate, then the drain
        self.cycle = 0
        self.expected_counts = None
        self.fe = FallingEdge(dut.clk)
        Clock(dut.clk, 10, unit="ns").start(start_high=False)
        dut._log.info("%s %dx%d MAXB=%d ACCW=%d CNTW=%d", self.pe, self.rows, self.cols, self.maxb,
                      self.accw, self.cntw)

    async def reset(self, cycles=2):
        dut = self.dut
        for name in ("in_valid", "out_ready", "clear", "in_first", "in_last"):
            getattr(dut, name).value = 0
        dut.rst.value = 1
        for _ in range(cycles):
            await self.fe
        dut.rst.value = 0
        self.expected_counts = dict.fromkeys(["busy_cycles", "stall_cycles", *self.counters.values()], 0)

    # ------------------------------------------------------------------ stimulus

    def stream(self, tiles, k_lo=1, k_hi=24, *, modes=None, mixed=0.15, corner=0.2, first=0.5,
               invalid=0.0):
        """Random tiles of K in [k_lo, k_hi] beats, as per-beat arrays.

        Each tile gets a mode from `modes` (default: every valid pair) and random signedness; a
        fraction `mixed` of tiles draws a new mode every beat; a fraction `corner` of tiles uses
        extreme lanes. `first` is the chance that a tile's first beat carries `first` (it is
        optional outside a tile). A fraction `invalid` of beats gets an invalid code.
        """
        rng, modes = self.rng, np.array(modes or self.modes)
        ks = rng.integers(k_lo, k_hi + 1, tiles)
        n, tile = int(ks.sum()), np.repeat(np.arange(tiles), ks)
        start = np.zeros(n, bool)
        start[np.cumsum(ks) - ks] = True
        mode = modes[rng.integers(0, len(modes), tiles)][tile]
        per_beat = rng.random(tiles)[tile] < mixed
        mode[per_beat] = modes[rng.integers(0, len(modes), int(per_beat.sum()))]
        bad = rng.random(n) < invalid
        if bad.any():
            mode[bad] = np.array(self.invalid)[rng.integers(0, len(self.invalid), int(bad.sum()))]
        signs = rng.integers(0, 2, (tiles, 2))[tile]
        lanes = []
        for count in (self.rows, self.cols):
            x = rng.integers(0, 1 << self.lane, (n, count), dtype=np.uint64)
            extreme = rng.random(tiles)[tile] < corner
            pick = np.array(CORNERS, dtype=np.uint64)[rng.integers(0, len(CORNERS), (n, count))]
            x[extreme] = pick[extreme] & np.uint64((1 << self.lane) - 1)
            lanes.append(x)
        return dict(a=lanes[0], b=lanes[1], pa=mode[:, 0], pb=mode[:, 1], sa=signs[:, 0], sb=signs[:, 1],
                    first=start & (rng.random(n) < first), last=np.append(start[1:], True))

    def golden(self, beats):
        return mac_array(**beats, maxb=self.maxb, accw=self.accw, pe=self.pe, layout=self.layout)

    # ------------------------------------------------------------------ driver and monitor

    async def run(self, beats, *, gap=0.0, backpressure=0.0, clear_at=None, max_cycles=None):
        """Drive `beats`, collect every output row, check them with the golden model.

        `gap`: chance of an idle cycle before presenting a beat; `backpressure`: chance that
        out_ready is low in a cycle; `clear_at`: cycle (from the start of the run) in which
        `clear` is pulsed. Returns a dict with the cycle of the first input and of the last output
        handshake (counted from the start of the run), the stall cycles and the golden result.
        """
        dut, rng = self.dut, self.rng
        gold = self.golden(beats)
        n, rows_expected = len(beats["a"]), len(gold.tiles) * self.rows
        a_ints, b_ints = pack(beats["a"], self.lane), pack(beats["b"], self.lane)
        ctrl = list(zip(*(beats[k].tolist() for k in ("pa", "pb", "sa", "sb", "first", "last"))))
        ctrl_sigs = [dut.in_pa, dut.in_pb, dut.in_sa, dut.in_sb, dut.in_first, dut.in_last]
        in_valid, in_ready, in_a, in_b = dut.in_valid, dut.in_ready, dut.in_a, dut.in_b
        out_valid, out_ready, out_data, out_row, out_last = (
            dut.out_valid, dut.out_ready, dut.out_data, dut.out_row, dut.out_last)
        max_cycles = max_cycles or 50 * (n + rows_expected) + 100
        draws = rng.random((max_cycles, 2))
        data, row_idx, last_flag, stalls = [], [], [], []
        accepted_at, first_in, last_out = np.zeros(n, np.int64), None, None
        i, driven_i, valid_now, ready_now, accepting, driven_ctrl = 0, -1, False, False, False, [None] * 6
        in_valid.value = out_ready.value = 0
        for cycle in range(max_cycles):
            # Here, between two rising edges, in_ready / out_valid / out_data are stable and what
            # is driven now is sampled by the coming edge.
            if accepting:  # the beat presented in the last cycle was taken
                i, accepting = i + 1, False
            if i == n and len(data) == rows_expected:
                break
            if clear_at is not None and cycle in (clear_at, clear_at + 1):
                dut.clear.value = int(cycle == clear_at)
            # Output side.
            ready = bool(draws[cycle, 1] >= backpressure)
            if ready != ready_now:
                out_ready.value, ready_now = int(ready), ready
            if ready and out_valid.value:
                data.append(out_data.value.to_unsigned())
                row_idx.append(int(out_row.value))
                last_flag.append(int(out_last.value))
                last_out = cycle
            # Input side: a presented beat stays until accepted (valid is never retracted).
            present = i < n and (driven_i == i or draws[cycle, 0] >= gap)
            if present != valid_now:
                in_valid.value, valid_now = int(present), present
            if present:
                if driven_i != i:
                    in_a.value, in_b.value, driven_i = a_ints[i], b_ints[i], i
                    for k, value in enumerate(ctrl[i]):
                        if value != driven_ctrl[k]:
                            ctrl_sigs[k].value = driven_ctrl[k] = value
                if in_ready.value:
                    accepting = True
                    accepted_at[i] = cycle
                    first_in = cycle if first_in is None else first_in
                else:
                    stalls.append(cycle)
            await self.fe
        else:
            raise AssertionError(f"timeout: {i}/{n} beats accepted, {len(data)}/{rows_expected} rows out")
        if clear_at is not None:
            dut.clear.value = 0
        out_ready.value = 1
        for _ in range(self.rows + 4):  # nothing more may come out
            await self.fe
            assert not out_valid.value, "an output row beyond the expected tiles"
        out_ready.value = 0
        self.cycle += cycle + self.rows + 4

        self.check_rows(gold, data, row_idx, last_flag)
        window = np.ones(n, bool) if clear_at is None else accepted_at >= clear_at
        self.count(beats, window, stalls if clear_at is None else [c for c in stalls if c >= clear_at],
                   reset=clear_at is not None)
        await self.check_counters()
        return dict(first_in=first_in, last_out=last_out, stalls=len(stalls), golden=gold)

    def check_rows(self, gold, data, row_idx, last_flag):
        want_rows = np.tile(np.arange(self.rows), len(gold.tiles))
        assert row_idx == want_rows.tolist(), f"row order {row_idx[:32]}... expected {want_rows[:32]}..."
        assert last_flag == (want_rows == self.rows - 1).tolist(), "out_last not on the last row"
        got = unpack_rows(data, self.accw, self.cols, signed=True) if data else np.zeros((0, self.cols), np.int64)
        want = gold.tiles.reshape(-1, self.cols)
        bad = np.argwhere(got != want)
        assert bad.size == 0, (f"{len(bad)} wrong results; first: tile {bad[0][0] // self.rows} row "
                               f"{bad[0][0] % self.rows} col {bad[0][1]}: got {got[tuple(bad[0])]}, "
                               f"expected {want[tuple(bad[0])]}")

    def count(self, beats, window, stalls, reset=False):
        """Add the events of the beats in `window` (and the stall cycles) to the expected counters."""
        if reset:
            self.expected_counts = dict.fromkeys(self.expected_counts, 0)
        sub = {k: v[window] for k, v in beats.items()}
        macs = self.golden(sub).macs if window.any() else {}
        self.expected_counts["busy_cycles"] += int(window.sum())
        self.expected_counts["stall_cycles"] += len(stalls)
        for (pa, pb), name in self.counters.items():
            self.expected_counts[name] += macs.get((PRECISION_BITS[pa], PRECISION_BITS[pb]), 0)

    async def check_counters(self):
        top = (1 << self.cntw) - 1
        got = {name: getattr(self.dut, name).value.to_unsigned() for name in self.expected_counts}
        want = {name: min(v, top) for name, v in self.expected_counts.items()}
        assert got == want, f"counters {got}, expected {want}"

    async def pulse_clear(self):
        self.dut.clear.value = 1
        await self.fe
        self.dut.clear.value = 0
        await self.fe
        self.expected_counts = dict.fromkeys(self.expected_counts, 0)
        assert not self.dut.error.value, "clear left error set"
        await self.check_counters()


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


@cocotb.test()
async def throughput(dut):
    """`make bench` (bench/bench_mac_array.py), not part of the regression: checked MACs per
    second of wall time, and array utilization (accepted beats / cycles from the first beat in
    to the last row out) for T back-to-back tiles of K beats, a random precision pair per tile.
    Every result is checked as in the regression, so the numbers are for verified MACs."""
    import json
    import time

    tb = TB(dut)
    await tb.reset()
    tiles = int(os.environ.get("LPT_BENCH_TILES", "64"))
    report = {"rows": tb.rows, "cols": tb.cols, "pe": tb.pe, "tiles": tiles, "runs": []}
    for k in (4, 16, 64):
        beats = tb.stream(tiles, k, k, mixed=0.0)
        t0 = time.perf_counter()
        result = await tb.run(beats)
        seconds = time.perf_counter() - t0
        macs = sum(result["golden"].macs.values())
        cycles = result["last_out"] - result["first_in"] + 1
        report["runs"].append(dict(k=k, beats=tiles * k, cycles=cycles, macs=macs, seconds=seconds,
                                   utilization=tiles * k / cycles, stalls=result["stalls"]))
    pathlib.Path(os.environ["LPT_BENCH_OUT"]).write_text(json.dumps(report, indent=1))


# ------------------------------------------------------------------------------ pytest side

def sources(pe, rows, cols, accw, cntw, maxb=8, variant=None):
    """Sources and build name of a configuration: the committed rtl/ file for the defaults.
    `variant`: (layout, summation) of the fusion PEs, None for the defaults."""
    module = "mac_array" if pe == "fusion" else f"mac_array_fixed{maxb}"
    if (rows, cols, maxb, accw, cntw, variant) == (4, 4, 8, 32, 48, None):
        return module, [RTL / f"{module}.v"]
    name = f"{module}_{rows}x{cols}_acc{accw}_cnt{cntw}" + ("_" + "_".join(variant) if variant else "")
    component = MacArray(rows, cols, maxb, accw, pe, cntw, **dict(zip(("layout", "summation"), variant or ())))
    return name, [write_verilog(component, module, BUILD / name / f"{module}.v")]


# (sim, pe, rows, cols, accw, cntw, tiles). ACCW = 18 makes 8x8 products wrap within a tile,
# CNTW = 10 makes counters saturate. Every shape runs on both simulators; Verilator (builds ~30 s,
# cycles cheap) gets the long runs, Icarus (builds cheap, cycles slow) short ones on large shapes.
BASE_CONFIGS = [
    ("verilator", "fusion", 4, 4, 32, 48, 96),
    ("verilator", "fusion", 8, 8, 32, 48, 32),
    ("verilator", "fixed", 4, 4, 32, 48, 96),
    ("verilator", "fusion", 2, 3, 18, 10, 48),
    ("verilator", "fusion", 1, 1, 20, 12, 48),
    ("icarus", "fusion", 1, 1, 20, 12, 48),
    ("icarus", "fusion", 2, 3, 18, 10, 48),
    ("icarus", "fusion", 4, 4, 32, 48, 16),
    ("icarus", "fixed", 2, 3, 18, 10, 48),
    ("icarus", "fusion", 8, 8, 32, 48, 8),
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
        build_name=build_name, testcase=TESTS, env=env)
