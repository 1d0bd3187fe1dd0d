# amaranth: UnusedElaboratable=no
"""golden.mac_array_axi (beat format, row format, register map) and the driver's GEMM mapping.

Bit positions are checked one field at a time against the documented layout; the driver's GEMM
(fpga.zc706_driver.MacArrayDevice.gemm: golden.gemm's mapper, the chunk sums added on the host) run
on golden.mac_array must equal the exact integer product for every precision pair and signedness,
with M, K, N that do not fill the tiles and K cut into several chunks.
"""

import numpy as np
import pytest

from fpga.zc706_driver import MacArrayDevice, expected_gemm
from golden.fusion import PRECISION_BITS
from golden.mac_array import ACCW_DEFAULT, mac_array, valid_modes
from golden.mac_array_axi import (
    ID, beat_bits, beat_words, config_words, counter_names, counter_offsets, pack_beats, row_words,
    unpack_rows)
from hdl_gen.mac_array import counter_ports
from hdl_gen.mac_array_axi import MacArrayAxi


def _beat(rows=2, cols=3, **fields):
    base = dict(a=np.zeros((1, rows), np.uint64), b=np.zeros((1, cols), np.uint64),
                pa=0, pb=0, sa=0, sb=0, first=0, last=0)
    return {**base, **fields}


@pytest.mark.parametrize("dw", [32, 64, 256])
def test_beat_layout(dw):
    rows, cols, lane = 2, 3, 32
    nbytes = beat_words(rows, cols, data_width=dw) * dw // 8
    assert nbytes * 8 >= beat_bits(rows, cols) == 8 + 5 * 32 and nbytes * 8 - beat_bits(rows, cols) < dw
    as_int = lambda **f: int.from_bytes(pack_beats(**_beat(rows, cols, **f), data_width=dw), "little")  # noqa: E731
    assert as_int(pa=3) == 3 and as_int(pb=2) == 2 << 2
    assert [as_int(**{k: 1}) for k in ("sa", "sb", "first", "last")] == [16, 32, 64, 128]
    for r in range(rows):
        a = np.zeros((1, rows), np.uint64)
        a[0, r] = 0x80000001
        assert as_int(a=a) == 0x80000001 << (8 + r * lane)
    for c in range(cols):
        b = np.zeros((1, cols), np.uint64)
        b[0, c] = 0xFFFFFFFF
        assert as_int(b=b) == 0xFFFFFFFF << (8 + (rows + c) * lane)
    two = pack_beats(**{k: (np.concatenate([v, v + 1]) if k in "ab" else v) for k, v in _beat(rows, cols).items()},
                     data_width=dw)
    assert len(two) == 2 * nbytes and int.from_bytes(two[nbytes:], "little") == \
        sum(1 << (8 + i * lane) for i in range(rows + cols))


def test_row_format():
    accw, cols = 20, 3
    values = np.array([[-1, -(1 << 19), (1 << 19) - 1], [0, 1, -2]])
    words = row_words(cols, accw, 32)
    assert words == 2
    data = b"".join(sum((int(v) & 0xFFFFF) << (20 * c) for c, v in enumerate(row)).to_bytes(8, "little")
                    for row in values)
    assert np.array_equal(unpack_rows(data, cols, accw, 32), values)
    with pytest.raises(ValueError, match="whole rows of 8 bytes"):
        unpack_rows(data[:-1], cols, accw, 32)


@pytest.mark.parametrize("pe", ["fusion", "fixed"])
def test_register_map(pe):
    assert counter_names(8, pe) == ["busy_cycles", "stall_cycles", *counter_ports(8, pe).values()]
    offsets = counter_offsets(8, pe)
    assert list(offsets.values()) == [0x40 + 8 * i for i in range(len(offsets))]
    # beats: 8 + 9 lanes of 32 (fusion) or 8 (fixed) bits in 64-bit words; rows: 5 x 24 bits
    assert config_words(4, 5, 8, 24, 40, pe, 64) == (4 | 5 << 16, 8 | 24 << 8 | 40 << 16 | 8 << 24,
                                                     (5 if pe == "fusion" else 2) | 2 << 16 | (pe == "fixed") << 31)
    assert ID.to_bytes(4, "big") == b"LPTA"


def test_generator_validates():
    with pytest.raises(ValueError, match=r"data_width must be one of \(32, 64, 128, 256, 512, 1024\), got 48"):
        MacArrayAxi(data_width=48)
    with pytest.raises(ValueError, match="rows must be an integer >= 1"):
        MacArrayAxi(rows=0)
    with pytest.raises(ValueError, match="accw"):
        MacArrayAxi(accw=16)


class GoldenArray(MacArrayDevice):
    """The driver with golden.mac_array in place of the device: gemm's mapping and assembly."""

    def __init__(self, rows, cols, accw=ACCW_DEFAULT, pe="fusion"):  # not super().__init__: it reads registers
        self.rows, self.cols, self.maxb, self.accw, self.pe = rows, cols, 8, accw, pe

    def run(self, beats):
        return mac_array(**beats, maxb=self.maxb, accw=self.accw, pe=self.pe).tiles


@pytest.mark.parametrize("pa,pb", valid_modes(8))
@pytest.mark.parametrize("accw", [ACCW_DEFAULT, 18])
def test_gemm_mapping(pa, pb, accw):
    """Every mode and signedness, ragged M, K, N; ACCW = 18 cuts K into several chunks."""
    rng = np.random.default_rng(17 + 4 * pa + pb)
    bits_a, bits_b = PRECISION_BITS[pa], PRECISION_BITS[pb]
    for pe, sa, sb in (("fusion", 0, 0), ("fusion", 1, 0), ("fusion", 0, 1), ("fusion", 1, 1), ("fixed", 1, 0)):
        m, k, n = rng.integers(1, 12, 3)
        lo_a, lo_b = -(1 << (bits_a - 1)) * sa, -(1 << (bits_b - 1)) * sb
        a = rng.integers(lo_a, lo_a + (1 << bits_a), (m, k))
        b = rng.integers(lo_b, lo_b + (1 << bits_b), (k, n))
        a[0, 0], b[0, 0] = lo_a, lo_b  # the most negative (or zero) corner
        c = GoldenArray(4, 3, accw, pe).gemm(a, b, bits_a, bits_b, sa, sb)
        assert np.array_equal(c, expected_gemm(a, b)), (pe, sa, sb, m, k, n)


def test_gemm_checks_operands():
    dev = GoldenArray(2, 2)
    with pytest.raises(ValueError, match=r"codes must lie in \[-8, 7\]"):
        dev.gemm(np.array([[8]]), np.array([[1]]), 4, 4, True, True)
    with pytest.raises(ValueError, match=r"bits must be an integer in \[1, 8\]"):
        dev.gemm(np.array([[1]]), np.array([[1]]), 16, 4, True, True)
    with pytest.raises(ValueError, match=r"\(M, K\) and \(K, N\)"):
        dev.gemm(np.ones((2, 3), int), np.ones((2, 3), int), 8, 8, True, True)
    with pytest.raises(ValueError, match="2-D integer array"):
        dev.gemm(np.ones(3), np.ones((3, 1), int))


def test_driver_rejects_a_wrong_device():
    class Empty:
        def read(self, offset):
            return 0

    with pytest.raises(RuntimeError, match="ID register 0x00000000"):
        MacArrayDevice(Empty())
