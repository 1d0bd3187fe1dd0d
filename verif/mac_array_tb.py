"""The testbench of `mac_array` / `mac_array_fixed8`: one `TB` per configuration, shared by the
regression (verif/test_mac_array.py), the AXI wrapper's testbench and `make bench`.

A `TB` drives the input stream with random gaps and takes the output stream with random
backpressure; golden.mac_array (one vectorized call per stream) is the scoreboard for every
result row, the row order and `out_last` markers, the sticky `error` and every counter.

Handshakes are sampled and driven at the falling clock edge: in_ready, out_valid and out_data come
from registers only (the design has no valid-to-ready path), so the outcome of the next rising
edge is known there, and one trigger per cycle drives both streams.
"""

import os

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from golden.fusion import DEFAULT_LAYOUT, PRECISION_BITS, pack
from golden.mac_array import ACCW_DEFAULT, CNTW_DEFAULT, lane_bits, mac_array, valid_modes
from hdl_gen.mac_array import MacArray, counter_ports
from lptrain.paths import RTL
from verif.harness import BUILD, unpack_rows, write_verilog

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


def sources(pe, rows, cols, accw, cntw, maxb=8, variant=None):
    """Sources and build name of a configuration: the committed rtl/ file for the defaults.
    `variant`: (layout, summation) of the fusion PEs, None for the defaults."""
    module = "mac_array" if pe == "fusion" else f"mac_array_fixed{maxb}"
    if (rows, cols, maxb, accw, cntw, variant) == (4, 4, 8, ACCW_DEFAULT, CNTW_DEFAULT, None):
        return module, [RTL / f"{module}.v"]
    name = f"{module}_{rows}x{cols}_acc{accw}_cnt{cntw}" + ("_" + "_".join(variant) if variant else "")
    component = MacArray(rows, cols, maxb, accw, pe, cntw, **dict(zip(("layout", "summation"), variant or ())))
    return name, [write_verilog(component, module, BUILD / name / f"{module}.v")]
