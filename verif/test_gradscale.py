"""gradscale_unit against golden.gradscale (scale_exp = golden.gradscale_exp, plus its flags).

A `TB` drives tensors as a valid/ready stream with random input gaps and takes results under
random backpressure; golden.gradscale_stream is the scoreboard, so a result lost, duplicated or
reordered, or a wrong scale_exp / invalid / overflow, fails. Tensors have random lengths and
value mixes (uniform bit patterns, values scaled below a chosen maximum, zeros, subnormals, NaN,
Inf); the maximum is often exactly at a GradScale boundary 64 * 2^s or one ulp above it, at
both clamp edges included. Also: every FP16 pattern as a one-value tensor, named corners,
back-to-back cycle counts (one tensor per cycle at full rate), results held stable under
backpressure, and reset in the middle of a tensor.

Handshakes: inputs are driven after the falling clock edge, and the handshake outcome of the
coming rising edge is read in the ReadOnly phase (in_ready depends combinationally on out_ready).
"""

import os

import numpy as np
import pytest

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from golden.fusion import pack
from golden.gradscale import gradscale_stream
from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN
from hdl_gen.gradscale import GradScaleUnit
from lptrain.paths import RTL
from verif.harness import BUILD, SIMS, run, write_verilog

# FP16 patterns of 64 * 2^s (exponent field s + 21) for every scale in range, one below the range
# (2^-13) and one above (2^15): the maxima where scale_exp steps.
BOUNDARIES = np.array([(s + 21) << 10 for s in range(SCALE_EXP_MIN - 1, SCALE_EXP_MAX + 2)], np.uint16)
CORNERS = np.array([0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00,
                    0x7C01, 0x7E00, 0xFFFF, 0xFE00, 0x5400, 0x5401, 0x73FF, 0x7400, 0x7401,
                    0x0BFF, 0x0C00, 0x0C01], np.uint16)
NAN_MIN, INF = 0x7C01, 0x7C00


class TB:
    """Clock, reset, stream driver, result monitor and scoreboard of one GradScaleUnit."""

    def __init__(self, dut):
        self.dut = dut
        self.lanes = int(os.environ["LPT_LANES"])
        self.rng = np.random.default_rng(int(os.environ.get("LPT_SEED", "2020")))
        self.fe = FallingEdge(dut.clk)
        Clock(dut.clk, 10, unit="ns").start(start_high=False)

    async def reset(self, cycles=2):
        dut = self.dut
        dut.in_valid.value = dut.out_ready.value = dut.in_last.value = 0
        dut.rst.value = 1
        for _ in range(cycles):
            await self.fe
        dut.rst.value = 0

    # ------------------------------------------------------------------ stimulus

    def tensor(self, n):
        """n FP16 patterns of one random style (see the module docstring)."""
        rng = self.rng
        sign = rng.integers(0, 2, n).astype(np.uint16) << 15
        style = rng.choice(["bits", "scaled", "scaled", "scaled_special", "zeros", "subnormal", "nan"],
                           p=[0.15, 0.35, 0.1, 0.15, 0.1, 0.1, 0.05])
        if style == "bits":
            return rng.integers(0, 1 << 16, n).astype(np.uint16)
        if style == "zeros":
            return sign
        if style == "subnormal":
            return sign | (rng.integers(0, 0x400, n) * (rng.random(n) < 0.7)).astype(np.uint16)
        if style == "nan":
            return sign | rng.integers(NAN_MIN, 0x8000, n).astype(np.uint16)
        # Magnitudes up to a maximum at (or one ulp off) a GradScale boundary, often present.
        top = int(rng.choice(BOUNDARIES)) + int(rng.integers(-1, 2))
        mag = rng.integers(0, top + 1, n).astype(np.uint16)
        if rng.random() < 0.7:
            mag[rng.integers(0, n)] = top
        if style == "scaled_special":
            special = rng.random(n) < 0.1
            mag[special] = rng.choice([INF, NAN_MIN, 0x7E00, 0x7FFF], int(special.sum()))
        return sign | mag

    def beats(self, tensors):
        """Pack tensors (lists of FP16 patterns) into beats of `lanes` values, zero-padded."""
        rows, last = [], []
        for t in tensors:
            nb = -(-len(t) // self.lanes)
            pad = (self.rng.integers(0, 2, nb * self.lanes - len(t)) << 15).astype(np.uint16)  # +-0
            rows.append(np.concatenate([np.asarray(t, np.uint16), pad]).reshape(nb, self.lanes))
            last.append(np.arange(nb) == nb - 1)
        return np.concatenate(rows), np.concatenate(last)

    def random_tensors(self, count):
        lengths = np.where(self.rng.random(count) < 0.75, self.rng.integers(1, 17, count),
                           self.rng.integers(17, 300, count))
        return [self.tensor(int(n)) for n in lengths]

    # ------------------------------------------------------------------ driver and monitor

    async def run(self, tensors, *, gap=0.0, backpressure=0.0):
        """Stream `tensors`, collect every result, check them with the golden model.

        Returns the cycles (from the run's first cycle) of the first accepted beat and of the last
        result, and the number of cycles in_valid waited for in_ready.
        """
        dut, rng = self.dut, self.rng
        data, last = self.beats(tensors)
        gold = gradscale_stream(data.view(np.float16), last)
        n = len(data)
        words = pack(data, 16).tolist()
        last_bits = last.astype(int).tolist()
        max_cycles = 20 * (n + len(gold)) + 100
        draws = rng.random((max_cycles, 2))
        got, held = [], None
        i, driven_i, valid_now, ready_now, first_in, last_out, stalls = 0, -1, False, False, None, None, 0
        dut.in_valid.value = dut.out_ready.value = 0
        for cycle in range(max_cycles):
            await self.fe
            if i == n and len(got) == len(gold):
                break
            ready = bool(draws[cycle, 1] >= backpressure)
            if ready != ready_now:
                dut.out_ready.value, ready_now = int(ready), ready
            # A presented beat stays until accepted (valid never depends on ready).
            present = i < n and (driven_i == i or draws[cycle, 0] >= gap)
            if present != valid_now:
                dut.in_valid.value, valid_now = int(present), present
            if present and driven_i != i:
                dut.in_data.value, dut.in_last.value, driven_i = words[i], last_bits[i], i
            await ReadOnly()
            if dut.out_valid.value:
                result = (dut.out_scale_exp.value.to_signed(), bool(dut.out_invalid.value),
                          bool(dut.out_overflow.value))
                assert held is None or result == held, f"result changed while stalled: {held} -> {result}"
                if ready:
                    got.append(result)
                    held, last_out = None, cycle
                else:
                    held = result
            else:
                assert held is None, "out_valid dropped before the result was taken"
            if present:
                if dut.in_ready.value:
                    i += 1
                    first_in = cycle if first_in is None else first_in
                else:
                    stalls += 1
        else:
            raise AssertionError(f"timeout: {i}/{n} beats accepted, {len(got)}/{len(gold)} results")
        dut.in_valid.value, dut.out_ready.value = 0, 1
        for _ in range(4):  # nothing more may come out
            await self.fe
            assert not dut.out_valid.value, "a result beyond the expected tensors"
        dut.out_ready.value = 0
        self.check(gold, got, tensors)
        return dict(first_in=first_in, last_out=last_out, stalls=stalls, beats=n)

    def check(self, gold, got, tensors):
        assert len(got) == len(gold), f"{len(got)} results for {len(gold)} tensors"
        want = [(g.scale_exp, g.invalid, g.overflow) for g in gold]
        bad = [k for k, (a, b) in enumerate(zip(got, want)) if a != b]
        assert not bad, (f"{len(bad)} wrong results; first: tensor {bad[0]} (max pattern "
                         f"{int(np.max(np.asarray(tensors[bad[0]]) & 0x7FFF)):#06x}): got "
                         f"(scale_exp, invalid, overflow) = {got[bad[0]]}, expected {want[bad[0]]}")


@cocotb.test()
async def random_streams(dut):
    """Random tensors under random input gaps and output backpressure, and at full rate."""
    tb = TB(dut)
    await tb.reset()
    count = int(os.environ.get("LPT_TENSORS", "200"))
    for gap, backpressure in ((0.3, 0.3), (0.0, 0.7), (0.7, 0.0), (0.0, 0.0)):
        await tb.run(tb.random_tensors(count), gap=gap, backpressure=backpressure)


@cocotb.test()
async def corners(dut):
    """Named patterns alone, as the maximum of small-valued tensors, and special mixes."""
    tb = TB(dut)
    await tb.reset()
    named = np.concatenate([CORNERS, BOUNDARIES, BOUNDARIES + 1, BOUNDARIES - 1])
    tensors = [[c] for c in named]
    tensors += [[0x0001, c, 0x8400] for c in named]  # tiny values around the maximum
    tensors += [[0x0000, 0x8000], [0x8000] * 40, [0x7E00, 0x0000], [0xFC00, 0x7E00, 0x3C00],
                [0x7C01] * 5, [0x03FF, 0x8001, 0x0200], [0x7400, 0xF400], [0x7401, 0x0000]]
    await tb.run(tensors, gap=0.2, backpressure=0.3)


@cocotb.test()
async def every_fp16(dut):
    """Every FP16 pattern in one-beat tensors: alone at lanes = 1, else in a random lane of a
    beat of random other patterns (the beat's maximum decides)."""
    tb = TB(dut)
    await tb.reset()
    patterns = tb.rng.permutation(1 << 16).astype(np.uint16)
    patterns = np.pad(patterns, (0, -len(patterns) % tb.lanes))
    await tb.run(list(patterns.reshape(-1, tb.lanes)))


@cocotb.test()
async def back_to_back(dut):
    """At full rate T tensors of K beats take T*K cycles plus one of latency, with no stall."""
    tb = TB(dut)
    await tb.reset()
    for k in (1, 2, 7):
        tensors = [tb.tensor(k * tb.lanes) for _ in range(16)]
        result = await tb.run(tensors)
        assert result["stalls"] == 0
        assert result["last_out"] - result["first_in"] == result["beats"], result


@cocotb.test()
async def reset_mid_tensor(dut):
    """Reset with a tensor half streamed (holding NaN and Inf), or with a result not yet taken:
    nothing survives, and the next tensors start clean."""
    tb = TB(dut)
    await tb.reset()
    for close, out_ready in ((False, 1), (True, 0)):
        data, last = tb.beats([[0x7E00, 0x7BFF, 0x7C00, 0x0001]])
        last[-1] = close
        dut.out_ready.value = out_ready
        for row, end in zip(data, last):
            dut.in_data.value = pack(row, 16)
            dut.in_last.value, dut.in_valid.value = int(end), 1
            await ReadOnly()
            assert dut.in_ready.value, "the unit stalled with its result register free"
            await tb.fe
        dut.in_valid.value = 0
        assert bool(dut.out_valid.value) == close
        await tb.reset()
        assert not dut.out_valid.value
        await tb.run([[0x0001], [0x3C00, 0x0000], [0x0000]], backpressure=0.5)


# ------------------------------------------------------------------------------ pytest side

def sources(lanes):
    """The committed rtl/ file for the default (lanes = 1), else a generated configuration."""
    if lanes == 1:
        return "gradscale_unit", [RTL / "gradscale_unit.v"]
    name = f"gradscale_unit_x{lanes}"
    return name, [write_verilog(GradScaleUnit(lanes), "gradscale_unit", BUILD / name / "gradscale_unit.v")]


TESTS = ["random_streams", "corners", "every_fp16", "back_to_back", "reset_mid_tensor"]


@pytest.mark.sim
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("lanes", [1, 3])
def test_gradscale(sim, lanes):
    build_name, srcs = sources(lanes)
    run(sim, toplevel="gradscale_unit", sources=srcs, test_module="verif.test_gradscale",
        build_name=build_name, testcase=TESTS, env=dict(LPT_LANES=lanes), opt_fast="-O0")
