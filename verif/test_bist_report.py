"""bist_report against golden.bist_report: the serial line, cycle by cycle, for a passed and a
failed run at several bit lengths; once per run, re-armed by the next run; idle high otherwise."""

import json
import os

import numpy as np
import pytest

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from golden.bist_report import decode, line, waveform
from hdl_gen.bist_report import BistReport
from verif.harness import BUILD, SIMS, run, write_verilog

ROWS, COLS = 3, 2


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.divisor = int(os.environ["LPT_DIVISOR"])
        self.fe = FallingEdge(dut.clk)
        Clock(dut.clk, 10, unit="ns").start(start_high=False)

    async def reset(self):
        dut = self.dut
        dut.done.value = dut.passed.value = dut.cycles.value = 0
        dut.rst.value = 1
        await self.fe
        dut.rst.value = 0

    async def samples(self, n):
        """tx after each of the next n rising edges."""
        out = []
        for _ in range(n):
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            out.append(int(self.dut.tx.value))
        return np.array(out, dtype=np.uint8)

    async def end_run(self, passed, cycles):
        """Raise done with the run's verdict; the line must follow from the next edge on."""
        dut = self.dut
        await self.fe
        dut.passed.value, dut.cycles.value, dut.done.value = int(passed), cycles, 1
        want = waveform(line(ROWS, COLS, passed, cycles), self.divisor)
        got = await self.samples(len(want) + 3 * self.divisor)
        assert np.array_equal(got[:len(want)], want), f"first difference at cycle {np.flatnonzero(got[:len(want)] != want)[0]}"
        assert got[len(want):].all(), "tx must idle high after the line"
        assert decode(np.concatenate([[1], got]), self.divisor) == line(ROWS, COLS, passed, cycles)


@cocotb.test()
async def report_lines(dut):
    """Idle high after reset; a passed run's line; done held: nothing more; done low (restart)
    then high again: a failed run's line; the verdict and count latched at done's edge."""
    tb = TB(dut)
    await tb.reset()
    assert (await tb.samples(5)).all()
    await tb.end_run(True, 0x248)
    assert (await tb.samples(12 * tb.divisor)).all(), "one line per run"
    await tb.fe
    dut.done.value = 0
    await tb.samples(2)
    for passed, cycles in ((False, 0xDEADBEEF), (True, 0)):
        await tb.end_run(passed, cycles)
        await tb.fe
        dut.done.value = 0


# ------------------------------------------------------------------------------ pytest side

@pytest.mark.sim
@pytest.mark.parametrize("divisor", [1, 4])
@pytest.mark.parametrize("sim", SIMS)
def test_bist_report(sim, divisor):
    name = f"bist_report_d{divisor}"
    source = write_verilog(BistReport(ROWS, COLS, divisor), "bist_report", BUILD / name / "bist_report.v")
    run(sim, toplevel="bist_report", sources=[source], test_module="verif.test_bist_report",
        build_name=name, env=dict(LPT_DIVISOR=json.dumps(divisor)))
