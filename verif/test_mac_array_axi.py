# amaranth: UnusedElaboratable=no
"""mac_array_axi through cocotbext-axi: AXI4-Stream in/out and AXI4-Lite, against golden.mac_array.

Random tiles (random precision pair and signedness per tile, some switching mode every beat,
corner lanes; golden.mac_array is the scoreboard) are packed by golden.mac_array_axi.pack_beats
and sent by an AxiStreamSource as several DMA-like transfers split at random beat boundaries,
with random pauses; an AxiStreamSink with random backpressure collects the results. One received
frame per tile (TLAST exactly on the tile's last row), every row checked, nothing extra. The
AXI4-Lite registers (AxiLiteMaster): ID, version, configuration, status, counters against the
golden MAC counts, `clear`, the sticky `error` on invalid codes, `frame_error` on a transfer that
ends inside a beat (and the next transfer still correct), `flush` of a partial beat. The host
driver (fpga/zc706_driver.py) runs GEMMs on the simulation through a transport made of the same
cocotbext-axi master, source and sink.
"""

import itertools
import os

import numpy as np
import pytest

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout
from cocotb.task import bridge, resume
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from fpga.zc706_driver import MacArrayDevice, expected_gemm
from golden.mac_array_axi import (
    CONTROL_CLEAR, CONTROL_FLUSH, ID, REGISTERS, STATUS_ERROR, STATUS_FRAME_ERROR, STATUS_PARTIAL,
    config_words, counter_offsets, pack_beats, row_words, unpack_rows, version_word)
from hdl_gen import __version__
from hdl_gen.rtl import generator_parameters
from verif.axi_sim import simulate
from verif.mac_array_tb import TB as ArrayTB


class TB(ArrayTB):
    """The mac_array TB's stimulus and golden model, with cocotbext-axi on the three interfaces."""

    def __init__(self, dut):
        super().__init__(dut)  # clock, configuration from LPT_*, random tiles (`stream`)
        self.dw = int(os.environ["LPT_DW"])
        self.row_bytes = row_words(self.cols, self.accw, self.dw) * self.dw // 8
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.clk, dut.rst)
        for log in (self.source.log, self.sink.log, self.axil.write_if.log, self.axil.read_if.log):
            log.setLevel("WARNING")

    async def reset(self, cycles=2):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        self.expected_counts = {name: 0 for name in counter_offsets(self.maxb, self.pe)}

    def pauses(self, gap, backpressure):
        """Random pauses on the source (gaps) and the sink (backpressure), each cycle."""
        rng = np.random.default_rng(int(self.rng.integers(1 << 32)))
        self.source.set_pause_generator(iter(lambda: bool(rng.random() < gap), None))
        self.sink.set_pause_generator(iter(lambda: bool(rng.random() < backpressure), None))

    async def read(self, name_or_offset):
        offset = REGISTERS.get(name_or_offset, name_or_offset)
        return int.from_bytes((await self.axil.read(offset, 4)).data, "little")

    async def write(self, name, value):
        await self.axil.write(REGISTERS[name], int(value).to_bytes(4, "little"))

    async def send(self, beats, transfers=1):
        """Send `beats` as `transfers` stream frames split at random beat boundaries."""
        data = pack_beats(**beats, maxb=self.maxb, pe=self.pe, data_width=self.dw)
        n = len(beats["a"])
        cuts = sorted(self.rng.choice(np.arange(1, n), min(transfers, n) - 1, replace=False)) if n > 1 else []
        per_beat = len(data) // n
        for lo, hi in itertools.pairwise([0, *cuts, n]):
            await self.source.send(AxiStreamFrame(data[lo * per_beat:hi * per_beat]))

    async def check_tiles(self, gold):
        """One frame per golden tile, equal to it; then nothing more."""
        for t, tile in enumerate(gold.tiles):
            frame = await with_timeout(self.sink.recv(), 2_000_000, "ns")
            assert len(frame.tdata) == self.rows * self.row_bytes, \
                f"tile {t}: frame of {len(frame.tdata)} bytes, expected {self.rows} rows (TLAST misplaced)"
            got = unpack_rows(bytes(frame.tdata), self.cols, self.accw, self.dw)
            assert np.array_equal(got, tile), f"tile {t}: got\n{got}\nexpected\n{tile}"
        await self.source.wait()
        await ClockCycles(self.dut.clk, 4 * self.rows * self.row_bytes + 10)
        assert self.sink.empty(), "output beyond the expected tiles"

    async def run(self, beats, *, gap=0.0, backpressure=0.0, transfers=1):
        gold = self.golden(beats)
        self.pauses(gap, backpressure)
        await self.send(beats, transfers)
        await self.check_tiles(gold)
        self.expected_counts["busy_cycles"] += len(beats["a"])
        for (bits_a, bits_b), macs in gold.macs.items():
            self.expected_counts[f"macs_{bits_a}x{bits_b}"] += macs
        return gold

    async def check_counters(self, stall=None):
        """Every counter read over AXI4-Lite (LO, then HI) against the expected counts; the stall
        counter depends on the pauses, so it is checked only when `stall` is given."""
        got = {}
        for name, offset in counter_offsets(self.maxb, self.pe).items():
            lo = await self.read(offset)
            got[name] = lo | await self.read(offset + 4) << 32
        want = {**self.expected_counts, "stall_cycles": got["stall_cycles"] if stall is None else stall}
        top = (1 << self.cntw) - 1
        assert got == {k: min(v, top) for k, v in want.items()}, f"counters {got}, expected {want}"


@cocotb.test()
async def registers(dut):
    """ID, version, configuration words; status idle; unmapped reads 0; read-only writes ignored."""
    tb = TB(dut)
    await tb.reset()
    assert await tb.read("id") == ID
    assert await tb.read("version") == version_word(__version__)
    want = config_words(tb.rows, tb.cols, tb.maxb, tb.accw, tb.cntw, tb.pe, tb.dw)
    assert [await tb.read(f"config{i}") for i in range(3)] == list(want)
    assert await tb.read("status") == 0
    await tb.write("id", 0)
    assert await tb.read("id") == ID
    for offset in (0x1C, 0x3C, 0xFFC):
        assert await tb.read(offset) == 0
    await tb.check_counters(stall=0)


@cocotb.test()
async def random_tiles(dut):
    """Random tiles as several transfers, with gaps and backpressure; counters; clear."""
    tb = TB(dut)
    await tb.reset()
    per_run = max(1, tb.tiles // 3)
    await tb.run(tb.stream(per_run, first=0.5), transfers=1)
    await tb.check_counters(stall=0)  # a free-running stream never stalls at the array
    for gap, bp in ((0.3, 0.5), (0.5, 0.2)):
        gold = await tb.run(tb.stream(per_run), gap=gap, backpressure=bp, transfers=4)
        assert not gold.error and not await tb.read("status") & STATUS_ERROR
        await tb.check_counters()
    await tb.write("control", CONTROL_CLEAR)
    tb.expected_counts = dict.fromkeys(tb.expected_counts, 0)
    await tb.check_counters(stall=0)


@cocotb.test()
async def errors_and_recovery(dut):
    """Invalid codes raise the sticky `error`; a transfer ending inside a beat raises
    `frame_error` and is dropped, and the next transfer is correct; a partial beat without TLAST
    is dropped by `flush`; `clear` clears both flags."""
    tb = TB(dut)
    await tb.reset()
    gold = await tb.run(tb.stream(6, invalid=0.3), gap=0.2, backpressure=0.2, transfers=2)
    assert gold.error and await tb.read("status") == STATUS_ERROR
    # A transfer of one beat and part of the next (TLAST mid-beat, when a beat has several words).
    beats = tb.stream(3)
    data = pack_beats(**beats, maxb=tb.maxb, pe=tb.pe, data_width=tb.dw)
    per_beat, word = len(data) // len(beats["a"]), tb.dw // 8
    if per_beat > word:
        await tb.source.send(AxiStreamFrame(data[:per_beat + word]))
        await tb.source.wait()
        await ClockCycles(dut.clk, 4)
        assert await tb.read("status") == STATUS_ERROR | STATUS_FRAME_ERROR
        # The beat before the cut went in: finish its tile with the remaining beats of this stream.
        rest = {k: (np.asarray(v)[1:] if np.ndim(v) else v) for k, v in beats.items()}
        rest["first"] = np.asarray(rest["first"]).copy()
        rest["first"][0] = 0  # continue the tile opened by beat 0
        done = tb.golden(beats)
        await tb.send(rest, transfers=2)
        await tb.check_tiles(done)
        tb.expected_counts["busy_cycles"] += len(beats["a"])
        for (bits_a, bits_b), macs in done.macs.items():
            tb.expected_counts[f"macs_{bits_a}x{bits_b}"] += macs
        await tb.check_counters()
        # Two words without TLAST (a DMA stopped mid-beat), driven by hand: held until `flush`.
        await FallingEdge(dut.clk)
        dut.s_axis_tvalid.value, dut.s_axis_tlast.value = 1, 0
        for _ in range(2):
            dut.s_axis_tdata.value = int(tb.rng.integers(1 << 32))
            await FallingEdge(dut.clk)
        dut.s_axis_tvalid.value = 0
        assert await tb.read("status") & STATUS_PARTIAL
        await tb.write("control", CONTROL_FLUSH)
        assert not await tb.read("status") & STATUS_PARTIAL
        await tb.run(tb.stream(2))  # aligned again
    await tb.write("control", CONTROL_CLEAR)
    assert await tb.read("status") == 0
    await tb.run(tb.stream(2), backpressure=0.3)
    assert await tb.read("status") == 0


class SimTransport:
    """fpga.zc706_driver's transport on this simulation: register reads/writes by the AxiLiteMaster,
    MM2S by the AxiStreamSource, S2MM by the AxiStreamSink (blocking calls, via cocotb's bridge)."""

    def __init__(self, tb):
        self.tb = tb

    def read(self, offset):
        return resume(self.tb.read)(offset)

    def write(self, offset, value):
        resume(self.tb.axil.write)(offset, int(value).to_bytes(4, "little"))

    def start_send(self, data):
        resume(self.tb.source.send)(AxiStreamFrame(data))

    def recv(self, nbytes):
        frame = resume(with_timeout)(self.tb.sink.recv(), 2_000_000, "ns")
        assert len(frame.tdata) == nbytes, f"S2MM frame of {len(frame.tdata)} bytes, expected {nbytes}"
        return bytes(frame.tdata)

    def wait_send(self):
        resume(self.tb.source.wait)()


@cocotb.test()
async def driver_gemm(dut):
    """fpga.zc706_driver.MacArrayDevice runs GEMMs (ragged M, K, N; every precision pair class) on
    the simulation with stream pauses; results equal the exact integer product."""
    tb = TB(dut)
    await tb.reset()
    tb.pauses(0.2, 0.3)
    dev = await bridge(MacArrayDevice)(SimTransport(tb))
    assert (dev.rows, dev.cols, dev.maxb, dev.accw, dev.data_width) == (tb.rows, tb.cols, tb.maxb, tb.accw, tb.dw)
    modes = [(2, 2, 1, 1), (4, 8, 0, 1), (8, 8, 1, 1), (8, 2, 1, 0)] if tb.pe == "fusion" else [(8, 8, 1, 0)]
    for bits_a, bits_b, sa, sb in modes:
        m, k, n = (int(x) for x in tb.rng.integers(1, 2 * np.array([tb.rows, 20, tb.cols]) + 1))
        lo_a, lo_b = (-(1 << (bits_a - 1)) if sa else 0), (-(1 << (bits_b - 1)) if sb else 0)
        a = tb.rng.integers(lo_a, lo_a + (1 << bits_a), (m, k))
        b = tb.rng.integers(lo_b, lo_b + (1 << bits_b), (k, n))
        c = await bridge(dev.gemm)(a, b, bits_a, bits_b, bool(sa), bool(sb))
        assert np.array_equal(c, expected_gemm(a, b)), f"GEMM {m}x{k}x{n} at {bits_a}x{bits_b}"
    status = await bridge(dev.status)()
    assert not any(status.values()), status


# ------------------------------------------------------------------------------ pytest side

# (sim, generator parameters, tiles). Every configuration is also cheap on the other simulator,
# but builds are what cost (a Verilator build of the 4x4 wrapper is ~1 CPU-minute): the default on
# Icarus; on Verilator a non-square array with 20-bit accumulators (8x8 products wrap) and 32-bit
# words, with more tiles; on Icarus the fixed-precision baseline with a 256-bit stream holding a
# whole beat per word.
DEFAULT = generator_parameters("mac_array_axi")[1]
CONFIGS = [
    ("icarus", DEFAULT, 9),
    ("verilator", {**DEFAULT, "rows": 2, "cols": 3, "accw": 20, "data_width": 32}, 24),
    ("icarus", {**DEFAULT, "rows": 1, "cols": 2, "accw": 24, "cntw": 40, "data_width": 256, "pe": "fixed"}, 9),
]


@pytest.mark.sim
@pytest.mark.parametrize("sim,params,tiles", CONFIGS, ids=lambda v: "-".join(map(str, v.values())) if isinstance(v, dict) else str(v))
def test_mac_array_axi(sim, params, tiles):
    simulate(sim, params, tiles)
