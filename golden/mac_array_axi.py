"""AXI interface of `mac_array_axi`: the stream beat format and the AXI4-Lite register map.

This is the contract between the wrapper (hdl_gen/mac_array_axi.py), its testbench
(verif/test_mac_array_axi.py) and the host driver (fpga/zc706_driver.py): all three import the
constants and (un)packing functions below, so the bit positions are written down once. NumPy and
the standard library only, so the driver runs on the board's ARM cores.

Input stream (AXI4-Stream slave `s_axis`, TDATA `data_width` bits). One array beat is a record
of BEAT_BITS = 8 + (ROWS + COLS) * LANE bits, LSB first:

    [0:2) pa  [2:4) pb  [4] sa  [5] sb  [6] first  [7] last   (CTRL_BITS = 8)
    [8 + r*LANE +: LANE]               A lane of row r      (r < ROWS)
    [8 + (ROWS + c)*LANE +: LANE]      B lane of column c   (c < COLS)

sent as beat_words = ceil(BEAT_BITS / data_width) stream words, word 0 = record bits
[0, data_width), unused high bits zero. LANE is golden.mac_array.lane_bits (the fusion unit's
bus, MAXB*MAXB/2 bits, elements packed by golden.fusion.pack). The mode fields are per beat, so
every tile (or beat) carries its own precision; `first` / `last` delimit tiles exactly as in
golden.mac_array. TLAST is not part of the record: a DMA transfer may hold any whole number of
beats, and TLAST may only come on a beat's last word. TLAST anywhere else sets the sticky
`frame_error` and drops the partial beat, so the next transfer starts aligned.

Output stream (AXI4-Stream master `m_axis`). Each result row (COLS values of ACCW bits, column c
at [c*ACCW +: ACCW], two's complement) is row_words = ceil(COLS*ACCW / data_width) words, word 0
first; rows in order; TLAST on the last word of a tile's last row: one DMA receive per tile.

AXI4-Lite slave `s_axi` (32-bit registers, ADDR_BITS address bits): REGISTERS below. Counters are
CNTW bits (saturating, from mac_array) read as two words: reading LO also latches the counter's
upper half, which the next read of HI returns (read LO then HI for a consistent value).
"""

import numpy as np

from .fusion import PRECISION_BITS
from .mac_array import ACCW_DEFAULT, CNTW_DEFAULT, check_pe, lane_bits, valid_modes

CTRL_BITS = 8
DATA_WIDTHS = (32, 64, 128, 256, 512, 1024)  # the AXI DMA's stream widths that hold 32-bit words
ADDR_BITS = 12  # one 4 KiB page
ID = 0x4C505441  # "LPTA"
INTERFACE_VERSION = (1, 0)  # of this beat format and register map
COUNTER_BASE = 0x40

# Register name -> byte offset. RO: read only (writes ignored); control is write-only.
REGISTERS = {
    "id": 0x00,        # RO  ID
    "version": 0x04,   # RO  [31:24] interface major, [23:16] minor, [15:8] generator major, [7:0] minor
    "config0": 0x08,   # RO  [15:0] rows, [31:16] cols
    "config1": 0x0C,   # RO  [7:0] maxb, [15:8] accw, [23:16] cntw, [31:24] data_width / 8
    "config2": 0x10,   # RO  [15:0] beat_words, [30:16] row_words, [31] pe (0 fusion, 1 fixed)
    "control": 0x14,   # WO  bit 0 clear (counters, error, frame_error); bit 1 flush a partial input beat
    "status": 0x18,    # RO  bit 0 error (array), 1 frame_error, 2 partial input beat held, 3 output row pending
}
CONTROL_CLEAR, CONTROL_FLUSH = 1, 2
STATUS_ERROR, STATUS_FRAME_ERROR, STATUS_PARTIAL, STATUS_OUT_PENDING = 1, 2, 4, 8


def check_data_width(data_width):
    if data_width not in DATA_WIDTHS:
        raise ValueError(f"data_width must be one of {DATA_WIDTHS}, got {data_width!r}")


def beat_bits(rows, cols, maxb=8, pe="fusion"):
    return CTRL_BITS + (rows + cols) * lane_bits(maxb, pe)


def beat_words(rows, cols, maxb=8, pe="fusion", data_width=64):
    check_data_width(data_width)
    return -(-beat_bits(rows, cols, maxb, pe) // data_width)


def row_words(cols, accw=ACCW_DEFAULT, data_width=64):
    check_data_width(data_width)
    return -(-cols * accw // data_width)


def counter_names(maxb=8, pe="fusion"):
    """Counter names in register order: busy_cycles, stall_cycles, macs_<a>x<b> per valid pair."""
    return ["busy_cycles", "stall_cycles",
            *(f"macs_{PRECISION_BITS[pa]}x{PRECISION_BITS[pb]}" for pa, pb in valid_modes(maxb, pe))]


def counter_offsets(maxb=8, pe="fusion"):
    """{counter name: byte offset of its LO word}; HI is at LO + 4."""
    return {name: COUNTER_BASE + 8 * i for i, name in enumerate(counter_names(maxb, pe))}


def version_word(generator_version):
    """VERSION register value for a generator version string "major.minor[.patch]"."""
    major, minor = (int(x) for x in generator_version.split(".")[:2])
    return INTERFACE_VERSION[0] << 24 | INTERFACE_VERSION[1] << 16 | (major & 0xFF) << 8 | (minor & 0xFF)


def config_words(rows, cols, maxb=8, accw=ACCW_DEFAULT, cntw=CNTW_DEFAULT, pe="fusion", data_width=64):
    """(config0, config1, config2) register values of a configuration."""
    check_pe(pe)
    return (rows | cols << 16,
            maxb | accw << 8 | cntw << 16 | (data_width // 8) << 24,
            beat_words(rows, cols, maxb, pe, data_width) | row_words(cols, accw, data_width) << 16
            | (pe == "fixed") << 31)


def pack_beats(a, b, pa, pb, sa, sb, first, last, *, maxb=8, pe="fusion", data_width=64):
    """Stream bytes (little-endian words) of N array beats.

    a: (N, ROWS), b: (N, COLS) lane values (ints < 2^LANE: buses from golden.fusion.pack); pa, pb,
    sa, sb, first, last: per-beat integers (scalars broadcast). Arguments as golden.mac_array.
    """
    lane = lane_bits(maxb, pe)
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    n, rows, cols = a.shape[0], a.shape[1], b.shape[1]
    ctrl = [np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)) for v in (pa, pb, sa, sb, first, last)]
    nbytes = beat_words(rows, cols, maxb, pe, data_width) * data_width // 8
    out = bytearray()
    for k in range(n):
        record = (int(ctrl[0][k]) | int(ctrl[1][k]) << 2 | int(ctrl[2][k]) << 4 | int(ctrl[3][k]) << 5
                  | int(ctrl[4][k]) << 6 | int(ctrl[5][k]) << 7)
        for i, value in enumerate([*a[k], *b[k]]):
            record |= int(value) << (CTRL_BITS + i * lane)
        out += record.to_bytes(nbytes, "little")
    return bytes(out)


def unpack_rows(data, cols, accw=ACCW_DEFAULT, data_width=64):
    """Result rows from output-stream bytes: int64 array (rows, COLS), signed ACCW-bit values."""
    nbytes = row_words(cols, accw, data_width) * data_width // 8
    if len(data) % nbytes:
        raise ValueError(f"output data must be whole rows of {nbytes} bytes, got {len(data)} bytes")
    out = np.zeros((len(data) // nbytes, cols), dtype=np.int64)
    for r in range(out.shape[0]):
        row = int.from_bytes(data[r * nbytes:(r + 1) * nbytes], "little")
        for c in range(cols):
            v = (row >> (c * accw)) & ((1 << accw) - 1)
            out[r, c] = v - (v >> (accw - 1) << accw)
    return out
