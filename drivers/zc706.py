"""PYNQ-style driver of `mac_array_axi` in the ZC706 system (`make bitstream BOARD=zc706 TOP=axi`).

    from pynq import Overlay
    from drivers.zc706 import MacArrayDevice, PynqTransport
    dev = MacArrayDevice(PynqTransport(Overlay("build/zc706_axi/mac_array_system.bit")))
    c = dev.gemm(a, b, bits_a=4, bits_b=4)          # int64 (M, N) = a @ b, wrapped to ACCW bits

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

from golden.fusion import PRECISION_BITS, pack
from golden.mac_array import wrap
from golden.mac_array_axi import (
    CONTROL_CLEAR, ID, REGISTERS, STATUS_ERROR, STATUS_FRAME_ERROR, STATUS_OUT_PENDING, STATUS_PARTIAL,
    counter_names, pack_beats, unpack_rows)

__all__ = ["MacArrayDevice", "PynqTransport", "expected_gemm", "gemm_beats"]


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


def _check_operand(x, name, bits, signed):
    x = np.asarray(x)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if x.ndim != 2 or x.dtype.kind not in "iu" or (x.size and (x.min() < lo or x.max() > hi)):
        raise ValueError(f"{name} must be a 2-D integer array with values in [{lo}, {hi}] "
                         f"({'signed' if signed else 'unsigned'} {bits}-bit)")
    return x.astype(np.int64)


def gemm_beats(a, b, bits_a, bits_b, signed_a, signed_b, *, rows, cols, maxb=8):
    """Array beats computing C = A @ B: output tiles of rows x cols, row-major over (M, N) blocks.

    A PE multiplies P = (maxb/bits_a)(maxb/bits_b) element pairs per beat (golden.fusion), so a
    tile takes ceil(K / P) beats; each beat's A lane for row r holds A[r, kP:(k+1)P] and its B lane
    for column c holds B[kP:(k+1)P, c], packed by golden.fusion.pack; padding is zero.
    Returns (beats dict for golden.mac_array / pack_beats, number of tiles (row blocks, col blocks)).
    """
    if bits_a not in PRECISION_BITS or bits_b not in PRECISION_BITS or max(bits_a, bits_b) > maxb:
        raise ValueError(f"bits_a and bits_b must be one of {[p for p in PRECISION_BITS if p <= maxb]}, "
                         f"got {bits_a}, {bits_b}")
    a = _check_operand(a, "a", bits_a, signed_a)
    b = _check_operand(b, "b", bits_b, signed_b)
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2 or k == 0:
        raise ValueError(f"a (M, K) and b (K, N) must share K >= 1, got {a.shape} and {b.shape}")
    p = (maxb // bits_a) * (maxb // bits_b)
    kb, mb, nb = -(-k // p), -(-m // rows), -(-n // cols)
    ap = np.zeros((mb * rows, kb * p), np.int64)
    ap[:m, :k] = a
    bp = np.zeros((kb * p, nb * cols), np.int64)
    bp[:k, :n] = b
    # (row block, col block, beat, lane, element)
    a_el = np.broadcast_to(ap.reshape(mb, 1, rows, kb, p).transpose(0, 1, 3, 2, 4), (mb, nb, kb, rows, p))
    b_el = np.broadcast_to(bp.reshape(kb, p, nb, cols).transpose(2, 0, 3, 1)[None], (mb, nb, kb, cols, p))
    beats = mb * nb * kb
    pos = np.arange(beats) % kb
    return dict(a=pack(a_el, bits_a).reshape(beats, rows), b=pack(b_el, bits_b).reshape(beats, cols),
                pa=PRECISION_BITS.index(bits_a), pb=PRECISION_BITS.index(bits_b),
                sa=int(signed_a), sb=int(signed_b),
                first=(pos == 0).astype(np.int64), last=(pos == kb - 1).astype(np.int64)), (mb, nb)


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
        """C = A @ B for integer A (M, K) and B (K, N) of the given widths, computed by the array:
        int64 (M, N), exact modulo 2^ACCW (two's complement, as the accumulators)."""
        beats, (mb, nb) = gemm_beats(a, b, bits_a, bits_b, signed_a, signed_b,
                                     rows=self.rows, cols=self.cols, maxb=self.maxb)
        tiles = self.run(beats)
        c = tiles.reshape(mb, nb, self.rows, self.cols).transpose(0, 2, 1, 3).reshape(mb * self.rows, nb * self.cols)
        return c[:np.shape(a)[0], :np.shape(b)[1]]


def expected_gemm(a, b, accw=32):
    """What `MacArrayDevice.gemm` returns: the exact integer product wrapped to ACCW bits."""
    return wrap(np.asarray(a, np.int64) @ np.asarray(b, np.int64), accw)
