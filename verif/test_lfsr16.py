"""lfsr16 against golden.lfsr16: the whole period for several seeds, and random control.

Reading `rand_out` from Python every cycle would make a 65,535-cycle period slow, so a generated
wrapper (`lfsr16_capture`) shifts every cycle's word into a HIST-word history register and the
test reads HIST words with one access every HIST cycles. The per-cycle test drives random
en / load / seed / reset and checks every word with golden.lfsr16_step (load wins over en,
reset over both, seed 0 loads 1).
"""

import os

import numpy as np
import pytest

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from golden.lfsr16 import PERIOD, lfsr16, lfsr16_step, seed_state
from hdl_gen.lfsr16 import Lfsr16
from lptrain.paths import RTL
from verif.harness import BUILD, SIMS, run, write_verilog

HIST = 128  # words per history read (wider shifts cost Icarus more than the extra reads)


def write_capture_wrapper(path):
    """`lfsr16_capture`: lfsr16 plus `hist`, the last HIST words of rand_out, newest in the LSBs."""
    text = "\n".join([
        "`timescale 1ns/1ps",
        "module lfsr16_capture (input wire clk, input wire rst, input wire en, input wire load,",
        "                       input wire [15:0] seed, output wire [15:0] rand_out,",
        f"                       output reg [{16 * HIST - 1}:0] hist);",
        "    lfsr16 dut (.clk(clk), .rst(rst), .en(en), .load(load), .seed(seed), .rand_out(rand_out));",
        f"    always @(posedge clk) hist <= {{hist[{16 * HIST - 17}:0], rand_out}};",
        "endmodule", ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.steps, self.init = int(os.environ["LPT_STEPS"]), int(os.environ["LPT_INIT"])
        self.rng = np.random.default_rng(int(os.environ.get("LPT_SEED", "2020")))
        self.fe = FallingEdge(dut.clk)
        Clock(dut.clk, 10, unit="ns").start(start_high=False)

    async def reset(self):
        dut = self.dut
        dut.en.value = dut.load.value = dut.seed.value = 0
        dut.rst.value = 1
        await self.fe
        dut.rst.value = 0

    def history(self):
        """The HIST words captured by the last HIST rising edges, oldest first (uint16)."""
        raw = self.dut.hist.value.to_unsigned().to_bytes(2 * HIST, "little")
        return np.frombuffer(raw, "<u2")[::-1].astype(np.uint16)


@cocotb.test()
async def full_period(dut):
    """After loading a seed and holding en, the words are golden.lfsr16 for over a period: all
    65,535 nonzero values once, then the sequence repeats."""
    tb = TB(dut)
    await tb.reset()
    assert dut.rand_out.value.to_unsigned() == lfsr16(tb.init, 1, tb.steps)[0], "reset state"
    for seed in (int(s, 0) for s in os.environ["LPT_SEEDS"].split(",")):
        dut.seed.value, dut.load.value = seed, 1
        await tb.fe
        dut.load.value, dut.en.value = 0, 1
        blocks = -(-(PERIOD + 1) // HIST)
        words = []
        for _ in range(blocks):
            await ClockCycles(dut.clk, HIST)
            await ReadOnly()  # hist after the edge's update
            words.append(tb.history())
        await tb.fe
        dut.en.value = 0
        words = np.concatenate(words)
        want = lfsr16(seed, len(words), tb.steps)
        bad = np.flatnonzero(words != want)
        assert bad.size == 0, (f"seed {seed:#06x}: {bad.size} wrong words; first at word {bad[0]}: "
                               f"{words[bad[0]]:#06x}, expected {want[bad[0]]:#06x}")
        period = words[:PERIOD]
        assert np.unique(period).size == PERIOD and period.min() > 0 and words[PERIOD] == words[0]


@cocotb.test()
async def random_control(dut):
    """Random en, load (seed 0 often), load with en, and reset, checked every cycle."""
    tb = TB(dut)
    await tb.reset()
    rng, state = tb.rng, seed_state(tb.init)
    cycles = int(os.environ.get("LPT_CYCLES", "4000"))
    en = rng.random(cycles) < 0.6
    load = rng.random(cycles) < 0.03
    rst = rng.random(cycles) < 0.005
    seeds = np.where(rng.random(cycles) < 0.2, 0, rng.integers(0, 1 << 16, cycles))
    for c in range(cycles):
        got = dut.rand_out.value.to_unsigned()
        assert got == state, f"cycle {c}: rand_out {got:#06x}, expected {state:#06x}"
        dut.en.value, dut.load.value, dut.seed.value, dut.rst.value = (
            int(en[c]), int(load[c]), int(seeds[c]), int(rst[c]))
        if rst[c]:
            state = seed_state(tb.init)
        elif load[c]:
            state = seed_state(int(seeds[c]))
        elif en[c]:
            state = int(lfsr16_step(state, tb.steps))
        await tb.fe
    assert load.any() and rst.any() and (load & en).any()


# ------------------------------------------------------------------------------ pytest side

def sources(steps, init):
    """The committed rtl/ file for the default (steps 16, init 1), else generated; plus the wrapper."""
    name = "lfsr16" if (steps, init) == (16, 1) else f"lfsr16_s{steps}_i{init:04x}"
    rtl = RTL / "lfsr16.v" if name == "lfsr16" else write_verilog(Lfsr16(steps, init), "lfsr16",
                                                                    BUILD / name / "lfsr16.v")
    return name, [rtl, write_capture_wrapper(BUILD / name / "lfsr16_capture.v")]


@pytest.mark.sim
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("steps,init,seeds", [(16, 1, "0,0xACE1"), (1, 0, "0xFFFF")])
def test_lfsr16(sim, steps, init, seeds):
    build_name, srcs = sources(steps, init)
    run(sim, toplevel="lfsr16_capture", sources=srcs, test_module="verif.test_lfsr16",
        build_name=build_name, testcase=["full_period", "random_control"],
        env=dict(LPT_STEPS=steps, LPT_INIT=init, LPT_SEEDS=seeds), opt_fast="-O0")
