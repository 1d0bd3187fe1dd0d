"""mx_dot against golden.mx.mx_dot (results) and golden.mx_dot (handshake and timing), bit for bit.

A `TB` streams dot products of whole blocks, L elements a beat, with random idle cycles before
beats (and random garbage on the inputs while in_valid is low). Every beat must be taken in the
cycle golden.mx_dot.beat_cycles gives (a block's last beat waits for the accumulator only when
blocks are shorter than its loop), `out_valid` must be high exactly `latency` cycles after each
dot product's last beat and at no other cycle, and `out_data` must equal golden.mx.mx_dot: so a
result lost, duplicated, reordered or wrong fails.

Stimulus: quantized dot products (golden.mx.mx_quantize / nvfp4_quantize of FP32 vectors whose
blocks have spread magnitudes, some cancelling the previous block, so rounding, cancellation,
subnormal and overflowing results occur) and raw ones (uniform element and scale codes, NaN and
Inf codes and NaN scales included). Named corners: an all-zero block, the largest scales
(overflow to Inf), a NaN scale, saturating elements, -0 from all -0 products, a subnormal result,
and a tiny block after a large one (only one rounding per block gets it right).

Configurations (CONFIGS): the rtl/ unit (MXFP4, 32-element blocks, 4 lanes, FP32) on both
simulators; on Icarus every other element format once, FP16 accumulation, and lane counts 1, 2,
8 and 16 (NVFP4 at 16 lanes: one beat a block, every block waits for the loop); on Verilator
E5M2 (the widest window) with FP16 at 16 lanes (two beats a block).
"""

import os

import numpy as np
import pytest

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from golden.mx import E8M0_NAN, MXTensor, NVFP4Tensor, mx_quantize, nvfp4_quantize
from golden.mx_dot import beat_cycles, dot_products, element_format
from hdl_gen.mx_dot import MxDot
from lptrain.paths import RTL
from verif.harness import BUILD, run, write_verilog

# (simulator, fmt, block, lanes, acc); the first two are rtl/mx_dot.v.
DEFAULT = ("fp4_e2m1", 32, 4, "fp32")
CONFIGS = [("verilator", *DEFAULT), ("icarus", *DEFAULT),
           ("icarus", "fp8_e4m3", 32, 4, "fp32"), ("icarus", "fp8_e5m2", 32, 1, "fp32"),
           ("icarus", "fp6_e2m3", 32, 4, "fp16"), ("icarus", "fp6_e3m2", 32, 2, "fp32"),
           ("icarus", "int8", 32, 8, "fp32"), ("icarus", "nvfp4", 16, 16, "fp32"),
           ("verilator", "fp8_e5m2", 32, 16, "fp16")]
DOTS = int(os.environ.get("LPT_MX_DOTS", "40"))  # random dot products per kind (quantized, raw)


def configuration():
    fmt, block, lanes, acc = (os.environ[f"LPT_MX_{k}"] for k in ("FMT", "BLOCK", "LANES", "ACC"))
    return fmt, int(block), int(lanes), acc


class TB:
    """Clock, reset, driver and monitor of one mx_dot; golden.mx_dot.dot_products is the scoreboard."""

    def __init__(self, dut):
        self.dut = dut
        self.fmt, self.block, self.lanes, self.acc = configuration()
        self.comp = MxDot(self.fmt, self.block, self.lanes, self.acc)
        self.width = element_format(self.fmt).bits
        self.rng = np.random.default_rng(int(os.environ.get("LPT_SEED", "2020")))
        self.fe = FallingEdge(dut.clk)
        Clock(dut.clk, 10, unit="ns").start(start_high=False)

    async def reset(self):
        self.dut.in_valid.value = 0
        self.dut.rst.value = 1
        for _ in range(2):
            await self.fe
        self.dut.rst.value = 0

    def beats(self, pairs):
        """Per beat: (a word, b word, sa, sb, last) of dot products (a, b) of whole blocks."""
        out, w, n = [], self.width, self.lanes
        for a, b in pairs:
            count = len(a.codes) // n
            for i in range(count):
                blk = i * n // self.block
                word = lambda t: sum(int(c) << (w * j) for j, c in enumerate(t.codes[i * n:(i + 1) * n]))
                out.append((word(a), word(b), int(a.scales[blk]), int(b.scales[blk]), i == count - 1))
        return out

    def garbage(self):
        r = self.rng
        bits = self.width * self.lanes
        return (int.from_bytes(r.bytes(bits // 8 + 1), "little") & ((1 << bits) - 1),
                int.from_bytes(r.bytes(bits // 8 + 1), "little") & ((1 << bits) - 1),
                int(r.integers(256)), int(r.integers(256)), bool(r.integers(2)))

    async def run(self, pairs, p_gap=0.0):
        """Stream `pairs` with random gaps and check results, handshake and timing; returns the results."""
        dut = self.dut
        beats = self.beats(pairs)
        gaps = np.where(self.rng.random(len(beats)) < p_gap, self.rng.integers(1, 5, len(beats)), 0)
        last = np.array([b[4] for b in beats])
        want_taken = beat_cycles(gaps, self.block // self.lanes, last)
        want_out = want_taken[last] + self.comp.latency
        expected = dot_products(pairs, self.acc)
        taken, outs, i, wait = [], [], 0, int(gaps[0])
        for cycle in range(int(want_out[-1]) + 4):
            if dut.out_valid.value:
                outs.append((cycle, dut.out_data.value.to_unsigned()))
            offer = i < len(beats) and wait == 0
            a, b, sa, sb, end = beats[i] if offer else self.garbage()
            dut.a.value, dut.b.value, dut.sa.value, dut.sb.value = a, b, sa, sb
            dut.in_last.value, dut.in_valid.value = int(end), int(offer)
            if offer:
                if dut.in_ready.value:
                    taken.append(cycle)
                    i += 1
                    wait = int(gaps[i]) if i < len(beats) else 0
            elif i < len(beats):
                wait -= 1
            await self.fe
        dut.in_valid.value = 0
        assert taken == want_taken.tolist(), f"beats taken in cycles {taken[:12]}..., expected {want_taken[:12].tolist()}..."
        assert [c for c, _ in outs] == want_out.tolist(), f"out_valid in cycles {[c for c, _ in outs][:8]}..., expected {want_out[:8].tolist()}..."
        got = [v for _, v in outs]
        bad = [k for k, (g, e) in enumerate(zip(got, expected)) if g != e]
        assert not bad, f"{len(bad)} wrong results; first: dot product {bad[0]} got {got[bad[0]]:#x}, expected {expected[bad[0]]:#x}"
        return expected

    # ------------------------------------------------------------------ stimulus

    def quantize(self, x):
        return nvfp4_quantize(x) if self.fmt == "nvfp4" else mx_quantize(x, self.fmt, self.block)

    def quantized(self, count):
        """Dot products of 1..4 blocks of quantized FP32 vectors: block magnitudes spread (FP16:
        closer, most results finite), some blocks the negation of the previous one plus noise."""
        r, pairs = self.rng, []
        spread = 24 if self.acc == "fp32" else 5
        for _ in range(count):
            nb = int(r.integers(1, 5))
            x = r.standard_normal((2, nb, self.block)) * np.exp2(r.integers(-spread, spread, (2, nb, 1)))
            if nb > 1 and r.random() < 0.3:  # cancel the previous block (exposes the accumulator's error)
                x[0, 1] = -x[0, 0] + x[0, 1] * 2.0 ** -20
                x[1, 1] = x[1, 0]
            x = x.reshape(2, -1).astype(np.float32)
            pairs.append((self.quantize(x[0]), self.quantize(x[1])))
        return pairs

    def raw(self, count):
        """Dot products of uniform codes: every element code (NaN/Inf ones included) and scales
        around the middle of their range, now and then any scale code (NaN included)."""
        r, pairs = self.rng, []
        for _ in range(count):
            nb = int(r.integers(1, 4))
            codes = r.integers(0, 1 << self.width, (2, nb * self.block)).astype(np.uint8)
            if self.fmt == "nvfp4":
                scales = r.integers(0, 256, (2, nb)).astype(np.uint8) & np.where(r.random((2, nb)) < 0.9, 0x3F, 0xFF)
                pairs.append(tuple(NVFP4Tensor(c, s, np.float32(1), 0) for c, s in zip(codes, scales)))
                continue
            center = 127 - (8 if self.acc == "fp16" else 0)
            scales = np.where(r.random((2, nb)) < 0.95, r.integers(center - 6, center + 4, (2, nb)),
                              r.integers(0, 256, (2, nb))).astype(np.uint8)
            pairs.append(tuple(MXTensor(c, s, self.fmt, self.block, 0) for c, s in zip(codes, scales)))
        return pairs

    def corners(self):
        """Named corners (module docstring): (name, dot product, the class its golden result must
        have, or None: any)."""
        blk, q, fp32 = self.block, self.quantize, self.acc == "fp32"
        ones = np.ones(blk, np.float32)
        nv = self.fmt == "nvfp4"  # the tensor scale normalizes: no overflow, no tiny values
        out = [("all-zero blocks", (q(np.zeros(2 * blk, np.float32)), q(np.ones(2 * blk, np.float32))), "+0"),
               ("largest scales", (q(np.r_[ones * 3e38, ones]), q(np.r_[ones * 3e38, ones])), None if nv else "Inf"),
               ("subnormal result", (q(ones * 1e-30 if fp32 else ones * 2e-4), q(ones * 1e-15 if fp32 else ones * 1e-4)),
                None if nv else "subnormal"),
               ("tiny block after a large one", (q(np.r_[ones * 2.0 ** 20, ones * 2.0 ** -20]), q(np.r_[ones, ones])), None),
               ("saturating elements", (q(np.r_[ones * 7.9, ones * -100]), q(np.r_[ones * 1.0, ones * 9.0])), None),
               ("all products -0", (q(-np.zeros(blk, np.float32)), q(ones)), "+0" if self.fmt == "int8" else "-0")]
        if not nv:
            a, b = out[0][1]
            out.append(("NaN scale", (a._replace(scales=np.array([E8M0_NAN, 127], np.uint8)), b), "NaN"))
        return out


def result_class(bits, acc):
    """"NaN", "Inf", "+0", "-0", "subnormal" or "normal" of a result's bits."""
    v = np.array([bits], np.uint32 if acc == "fp32" else np.uint16).view(np.float32 if acc == "fp32" else np.float16)[0]
    if np.isnan(v):
        return "NaN"
    if np.isinf(v):
        return "Inf"
    if v == 0:
        return "-0" if np.signbit(v) else "+0"
    return "subnormal" if abs(v) < np.finfo(v.dtype).tiny else "normal"


@cocotb.test()
async def named_corners(dut):
    """Every corner, without and with input gaps; its golden result has the class it names."""
    tb = TB(dut)
    await tb.reset()
    corners = tb.corners()
    for p_gap in (0.0, 0.5):
        got = await tb.run([pair for _, pair, _ in corners], p_gap)
    for (name, _, want), bits in zip(corners, got):
        assert want is None or result_class(bits, tb.acc) == want, (name, hex(bits))


@cocotb.test()
async def random_dots(dut):
    """Quantized and raw dot products, without and with input gaps."""
    tb = TB(dut)
    await tb.reset()
    for p_gap in (0.0, 0.2):
        await tb.run(tb.quantized(DOTS // 2) + tb.raw(DOTS // 2), p_gap)


# ------------------------------------------------------------------------------ pytest side

def sources(fmt, block, lanes, acc):
    if (fmt, block, lanes, acc) == DEFAULT:
        return "mx_dot", [RTL / "mx_dot.v"]
    name = f"mx_dot_{fmt}_b{block}_l{lanes}_{acc}"
    return name, [write_verilog(MxDot(fmt, block, lanes, acc), "mx_dot", BUILD / name / "mx_dot.v")]


@pytest.mark.sim
@pytest.mark.parametrize("sim,fmt,block,lanes,acc", CONFIGS)
def test_mx_dot(sim, fmt, block, lanes, acc):
    build_name, srcs = sources(fmt, block, lanes, acc)
    run(sim, toplevel="mx_dot", sources=srcs, test_module="verif.test_mx_dot", build_name=build_name,
        env=dict(LPT_MX_FMT=fmt, LPT_MX_BLOCK=block, LPT_MX_LANES=lanes, LPT_MX_ACC=acc))
