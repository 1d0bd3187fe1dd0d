"""The line `bist_top`'s board wrappers send when a run ends: one ASCII line on an 8N1 serial
port (what a host reads with any terminal at the board's baud rate).

Line: "bist_top RxC PASS cycles=xxxxxxxx\\r\\n" (FAIL for a failed run; cycles in lowercase hex,
eight digits: `BistTop.cycles`, the run's length). Framing, per byte: the line idles high, a start
bit 0, eight data bits least significant first, a stop bit 1 (8N1, as in TIA-232 / every PC
UART); each bit lasts `divisor` clock cycles (divisor = clock / baud). `waveform` is the line's
level cycle by cycle from the first start bit; `decode` recovers bytes from such samples the way
a receiver does (falling edge, then the middle of each bit).
"""

import numpy as np

from .grid import check_int

__all__ = ["line", "waveform", "decode"]


def line(rows, cols, passed, cycles):
    """The report line (bytes) of a rows x cols run."""
    check_int("cycles", cycles, 0, (1 << 32) - 1)
    return f"bist_top {rows}x{cols} {'PASS' if passed else 'FAIL'} cycles={cycles:08x}\r\n".encode()


def waveform(data, divisor):
    """The serial line's level (uint8, one entry per clock cycle) while `data` is sent back to
    back: for each byte, start bit, 8 data bits LSB first, stop bit, each `divisor` cycles."""
    divisor = check_int("divisor", divisor, 1, 1 << 24)
    bits = [[0, *((b >> i) & 1 for i in range(8)), 1] for b in bytes(data)]
    return np.repeat(np.array(bits, dtype=np.uint8).reshape(-1), divisor)


def decode(samples, divisor):
    """Bytes of an 8N1 line sampled once per clock cycle: a falling edge starts a frame, each bit
    is read in its middle; ValueError for a frame whose stop bit is 0 (a framing error)."""
    divisor = check_int("divisor", divisor, 1, 1 << 24)
    s = np.asarray(samples, dtype=np.uint8)
    out, t = bytearray(), 1
    while t < len(s):
        if not (s[t - 1] == 1 and s[t] == 0):
            t += 1
            continue
        mid = t + divisor // 2 + divisor * np.arange(10)
        if mid[-1] >= len(s):
            break
        bits = s[mid]
        if bits[9] != 1:
            raise ValueError(f"framing error: the stop bit of the frame starting at cycle {t} is 0")
        out.append(int(sum(int(b) << i for i, b in enumerate(bits[1:9]))))
        t = t + 10 * divisor
    return bytes(out)
