# amaranth: UnusedElaboratable=no
"""bist_top (the self-checking FPGA top) in simulation: it passes, and it can fail.

The design is the board-independent `BistTop` with a plain clock: a small `mac_array` runs
golden-generated tiles at mixed precisions back to back from a stimulus ROM and compares every
output row with the golden results ROM. The intact design must report pass (done, passed, not
failed) after a plain run, after a restart, and after a run with stall mode on (pseudo-random
input gaps and output backpressure). The same generator with one expected word corrupted
(`corrupt=`) must report fail, raised when that row is checked rather than by the watchdog.
The heartbeat toggles every 2^(heartbeat_bits-1) cycles whatever the run does.
"""

import json
import os

import pytest

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl_gen.bist_top import BistTop
from verif.harness import BUILD, SIMS, run, write_verilog

# Small and fast, but every kind of tile boundary: precision pairs 2x2, 4x4, 8x8, 8x2, 2x8,
# 4x8 with changing signedness, a one-beat tile, a non-square array (rows != cols).
ROWS, COLS = 2, 3
TILES = [(0, 0, 1, 1, 3), (1, 1, 0, 0, 2), (2, 2, 1, 1, 4), (2, 0, 1, 0, 2), (0, 2, 0, 1, 3),
         (1, 2, 1, 0, 1)]
HEARTBEAT_BITS = 4


def design(corrupt=None):
    return BistTop(ROWS, COLS, tiles=TILES, corrupt=corrupt, heartbeat_bits=HEARTBEAT_BITS)


class TB:
    """Clock, reset, restart and the status outputs of one BistTop build."""

    def __init__(self, dut):
        self.dut = dut
        self.corrupt = json.loads(os.environ["LPT_CORRUPT"])
        bist = design(self.corrupt)
        self.watchdog, self.n_rows = bist.watchdog, len(bist.expected)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self):
        self.dut.rst.value = 1
        self.dut.restart.value = 0
        self.dut.stall.value = 0
        await ClockCycles(self.dut.clk, 2)
        self.dut.rst.value = 0

    async def finish(self):
        """Wait for done; return the cycle (from now) at which `failed` first rose, or None."""
        failed_at = None
        for cycle in range(self.watchdog + 8):
            await RisingEdge(self.dut.clk)
            if failed_at is None and self.dut.failed.value:
                failed_at = cycle
            if self.dut.done.value:
                return failed_at
        raise AssertionError(f"done never rose within {self.watchdog + 8} cycles")

    async def check_run(self):
        failed_at = await self.finish()
        dut = self.dut
        assert int(dut.cycles.value) < self.watchdog, "the watchdog ended the run"
        if self.corrupt is None:
            assert dut.passed.value == 1 and failed_at is None, "the intact design did not pass"
        else:
            assert dut.passed.value == 0 and dut.failed.value == 1, "the corrupted design passed"
            assert failed_at is not None


@cocotb.test()
async def plain_run(dut):
    tb = TB(dut)
    await tb.reset()
    await tb.check_run()


@cocotb.test()
async def restart_and_stall(dut):
    """The button restarts the run: held, the run waits; released, it runs again, here stalled."""
    tb = TB(dut)
    await tb.reset()
    await tb.check_run()
    dut.restart.value = 1
    await ClockCycles(dut.clk, 3)
    assert dut.done.value == 0 and dut.failed.value == 0 and dut.passed.value == 0
    dut.stall.value = 1
    dut.restart.value = 0
    await tb.check_run()
    stalled = int(dut.cycles.value)
    # A run without stalls is shorter: stall mode really gated the streams.
    dut.restart.value = 1
    dut.stall.value = 0
    await RisingEdge(dut.clk)
    dut.restart.value = 0
    await tb.check_run()
    assert int(dut.cycles.value) < stalled


@cocotb.test()
async def heartbeat(dut):
    tb = TB(dut)
    await tb.reset()
    half = 1 << (HEARTBEAT_BITS - 1)
    edges = []
    previous = None
    for cycle in range(8 * half):
        await RisingEdge(dut.clk)
        value = int(dut.heartbeat.value)
        if previous is not None and value != previous:
            edges.append(cycle)
        previous = value
    assert len(edges) >= 6 and all(b - a == half for a, b in zip(edges, edges[1:])), edges


# ------------------------------------------------------------------------------ pytest side

CORRUPT_ROW = 7  # of the 12 expected rows: a row in the middle of the run


@pytest.mark.sim
@pytest.mark.parametrize("corrupt", [None, CORRUPT_ROW])
@pytest.mark.parametrize("sim", SIMS)
def test_bist_top(sim, corrupt):
    name = f"bist_top_{ROWS}x{COLS}" + ("" if corrupt is None else f"_corrupt{corrupt}")
    source = write_verilog(design(corrupt), "bist_top", BUILD / name / "bist_top.v")
    run(sim, toplevel="bist_top", sources=[source], test_module="verif.test_bist_top",
        build_name=name, env=dict(LPT_CORRUPT=json.dumps(corrupt)), opt_fast="-O0")
