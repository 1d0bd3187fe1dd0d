"""PYNQ-style driver of `mac_array_axi` in the ZC706 system (`make bitstream BOARD=zc706 TOP=axi`).

    from pynq import Overlay
    from fpga.zc706_driver import MacArrayDevice, PynqTransport
    dev = MacArrayDevice(PynqTransport(Overlay("build/zc706_axi/mac_array_system.bit")))
    c = dev.gemm(a, b, bits_a=4, bits_b=4)          # int64 (M, N) = a @ b, exact

The device talks to the hardware through a *transport* with five methods:

    read(offset) -> int            AXI4-Lite read of the register at byte `offset`
    write(offset, value)           AXI4-Lite write
    start_send(data: bytes)        start one MM2S DMA transfer (returns at once)
    recv(nbytes) -> bytes          one S2MM DMA transfer: blocks until TLAST, returns the bytes
    wait_send()                    block until the MM2S transfer has finished

`PynqTransport` implements them with PYNQ's MMIO and AXI DMA (simple mode) on the board;
verif/test_mac_array_axi.py implements them on the cocotb simulation of the wrapper (AxiLiteMaster,
AxiStreamSource/Sink), so the same driver code runs against the RTL in CI. Beat format and
register map: golden/mac_array_axi.py.
"""

import numpy as np

from golden.gemm import Digit, gather_tiles, map_mac_array
from golden.mac_array_axi import (
    CONTROL_CLEAR, ID, REGISTERS, STATUS_ERROR, STATUS_FRAME_ERROR, STATUS_OUT_PENDING, STATUS_PARTIAL,
    counter_names, pack_beats, unpack_rows)

__all__ = ["MacArrayDevice", "PynqTransport", "expected_gemm"]


class PynqTransport:
    """Transport over PYNQ (imported only here: tests never need it). `overlay` is a
    pynq.Overlay of the system bitstream; `ip` and `dma` the block design's instance names."""

    def __init__(self, overlay, ip="mac_array_axi_0", dma="axi_dma_0"):
        import pynq  # noqa: F401 (fails with a clear ImportError off the board)

        self._pynq = pynq
        self.ip, self.dma = getattr(overlay, ip), getattr(overlay, dma)
        self._send_buffer = None

    def read(self, offset):
        return int(self.ip.read(offset))

    def write(self, offset, value):
        self.ip.write(offset, int(value))

    def start_send(self, data):
        buf = self._pynq.allocate(shape=(len(data),), dtype=np.uint8)
        buf[:] = np.frombuffer(data, np.uint8)
        buf.flush()
        self._send_buffer = buf  # alive until the transfer is done
        self.dma.sendchannel.transfer(buf)

    def recv(self, nbytes):
        buf = self._pynq.allocate(shape=(nbytes,), dtype=np.uint8)
        self.dma.recvchannel.transfer(buf)
        self.dma.recvchannel.wait()
        buf.invalidate()
        return bytes(buf)

    def wait_send(self):
        self.dma.sendchannel.wait()
        self._send_buffer.freebuffer()
        self._send_buffer = None


def _operand(x, name, bits, signed):
    """An integer matrix as golden.gemm's mapper takes it (scale 1, zero 0: the plain codes)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 2-D integer array, got shape {x.shape} dtype {x.dtype}")
    return Digit(x.astype(np.int64), bits, bool(signed), 0, 1.0, 0.0)


class MacArrayDevice:
    """One `mac_array_axi` reached through `transport` (module docstring). The configuration is
    read from the CONFIG registers, so one driver serves every generated size."""

    def __init__(self, transport):
        self.t = transport
        ident = self.t.read(REGISTERS["id"])
        if ident != ID:
            raise RuntimeError(f"no mac_array_axi at this address: ID register {ident:#010x}, expected {ID:#010x}")
        c0, c1, c2 = (self.t.read(REGISTERS[f"config{i}"]) for i in range(3))
        self.rows, self.cols = c0 & 0xFFFF, c0 >> 16
        self.maxb, self.accw, self.cntw = c1 & 0xFF, (c1 >> 8) & 0xFF, (c1 >> 16) & 0xFF
        self.data_width = (c1 >> 24) * 8
        self.beat_words, self.row_words = c2 & 0xFFFF, (c2 >> 16) & 0x7FFF
        self.pe = "fixed" if c2 >> 31 else "fusion"
        self.version = self.t.read(REGISTERS["version"])

    def status(self):
        s = self.t.read(REGISTERS["status"])
        return dict(error=bool(s & STATUS_ERROR), frame_error=bool(s & STATUS_FRAME_ERROR),
                    partial=bool(s & STATUS_PARTIAL), out_pending=bool(s & STATUS_OUT_PENDING))

    def clear(self):
        """Zero the counters and the sticky error flags."""
        self.t.write(REGISTERS["control"], CONTROL_CLEAR)

    def counters(self):
        """{name: value}: LO then HI of each counter (the LO read latches HI)."""
        out = {}
        for i, name in enumerate(counter_names(self.maxb, self.pe)):
            lo = self.t.read(0x40 + 8 * i)
            out[name] = lo | self.t.read(0x44 + 8 * i) << 32
        return out

    def run(self, beats):
        """Send array beats (dict as golden.mac_array's arguments) in one DMA transfer and
        receive every tile they complete (one S2MM transfer each). Returns int64 (T, rows, cols)."""
        data = pack_beats(**beats, maxb=self.maxb, pe=self.pe, data_width=self.data_width)
        tiles = int(np.count_nonzero(beats["last"]))
        tile_bytes = self.rows * self.row_words * self.data_width // 8
        self.t.start_send(data)
        out = [unpack_rows(self.t.recv(tile_bytes), self.cols, self.accw, self.data_width) for _ in range(tiles)]
        self.t.wait_send()
        return np.array(out, dtype=np.int64).reshape(tiles, self.rows, self.cols)

    def gemm(self, a, b, bits_a=8, bits_b=8, signed_a=True, signed_b=True):
        """C = A @ B for integer A (M, K) and B (K, N) of the given widths (1..MAXB bits; codes
        checked against them), computed by the array: exact int64 (M, N). The beats come from
        golden.gemm's mapper (the one HIL uses): operands packed in the array's mode and bus
        layout, K cut into chunks no accumulator can wrap in, the chunks' sums added here."""
        plan, beats = map_mac_array(_operand(a, "a", bits_a, signed_a), _operand(b, "b", bits_b, signed_b),
                                    rows=self.rows, cols=self.cols, maxb=self.maxb, pe=self.pe, accw=self.accw)
        return gather_tiles(plan, self.run(beats)).sum(axis=0)


def expected_gemm(a, b):
    """What `MacArrayDevice.gemm` returns: the exact integer product."""
    return np.asarray(a, np.int64) @ np.asarray(b, np.int64)
