"""Rounding FP16 magnitudes onto a grid: the arithmetic shared by R4FP4 and FP8 (docs/spec.md formats).

Every encoder in this package maps an FP16 value to a code by rounding |x| onto a sorted grid of
magnitudes. All grids here are dyadic and lie on or above FP16's smallest subnormal (the callers
validate scale and bias so), so every magnitude is an exact integer in units of 2^-24, and the
SPEC's rounding rules are evaluated exactly in int64 over all 65,536 FP16 bit patterns once.
Encoding an array is then a gather from that per-pattern table: a NumPy bit manipulation with no
per-element Python, and the table itself is the readable definition.

Rounding rules, for lo <= y < hi adjacent grid points (docs/spec.md "Number formats"):
- nearest: hi iff y > (lo+hi)/2, ties to the larger magnitude (R4FP4) or to the even code (FP8);
- stochastic with a 16-bit integer u: hi iff (y - lo) * 2^16 > u * (hi - lo);
- y at or above the top grid point stays there (saturation).
"""

from typing import NamedTuple

import numpy as np

ROUNDINGS = ("nearest", "stochastic")
FP16_NAN_MIN = 0x7C01  # magnitude bit patterns above Inf (0x7C00) are NaN
ALL_BITS = np.arange(1 << 16, dtype=np.uint32)


def fp16_units(bits):
    """|x| in units of 2^-24 (int64) for FP16 bit patterns; Inf/NaN give 2^40 and above."""
    mag = np.asarray(bits, dtype=np.int64) & 0x7FFF
    exp, man = mag >> 10, mag & 0x3FF
    return np.where(exp == 0, man, (man | 0x400) << np.maximum(exp - 1, 0))


X_ALL = fp16_units(ALL_BITS)
SIGN_ALL = (ALL_BITS >> 15).astype(np.int64)
NAN_ALL = (ALL_BITS & 0x7FFF) >= FP16_NAN_MIN


def fp16_bits(x):
    """FP16 bit patterns (uint16 view) of `x`; non-float16 input is first cast to float16 (RNE)."""
    x = np.asarray(x)
    if x.dtype != np.float16:
        if x.dtype.kind not in "biuf":
            raise ValueError(f"x must hold real numbers (cast to float16), got dtype {x.dtype}")
        with np.errstate(over="ignore"):  # overflow to +-Inf is the documented cast
            x = x.astype(np.float16)
    return x.view(np.uint16)


def check_rounding(rounding):
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")


def check_int(name, value, lo, hi):
    """An integer in [lo, hi] (bool rejected), else ValueError naming the allowed range."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def rand16(rand):
    """The 16-bit random integers u as uint16 (validated when given in another integer dtype)."""
    if rand is None:
        raise ValueError("rounding='stochastic' needs rand: integers in [0, 65535] (one u per value)")
    r = np.asarray(rand)
    if r.dtype != np.uint16:
        if r.dtype.kind not in "iu" or (r.size and (r.min() < 0 or r.max() > 0xFFFF)):
            raise ValueError("rand must hold integers in [0, 65535]")
        r = r.astype(np.uint16)
    return r


def round_to_grid(grid, ties):
    """Round every FP16 magnitude onto `grid` (sorted int64, 2^-24 units, grid[0] == 0).

    Returns, per FP16 bit pattern, `lo` (index of the largest grid point <= |x|), `up` (nearest
    rounding picks lo + 1) and `thr` (stochastic rounding picks lo + 1 iff u < thr): thr is
    ceil((y - lo) * 2^16 / (hi - lo)), because for an integer u, u * (hi-lo) < (y-lo) * 2^16
    iff u < that ceiling. `ties` is "up" (larger magnitude) or "even" (even index = even code).
    At the top grid point both stay put (saturation).
    """
    grid = np.asarray(grid, dtype=np.int64)
    top = len(grid) - 1
    lo = np.searchsorted(grid, X_ALL, side="right") - 1
    sat = lo == top
    hi = np.minimum(lo + 1, top)
    glo, ghi = grid[lo], grid[hi]
    twice, mid = 2 * X_ALL, glo + ghi
    if ties == "up":
        up = twice >= mid
    else:
        up = (twice > mid) | ((twice == mid) & (lo % 2 == 1))
    span = np.where(sat, 1, ghi - glo)
    thr = -((-(X_ALL - glo) << 16) // span)  # exact ceiling division in int64
    return lo, up & ~sat, np.where(sat, 0, thr)


def pack_stochastic(lo_code, hi_code, thr):
    """One uint32 per FP16 pattern: thr << 15 | (hi_code - lo_code) << 8 | lo_code.

    With R = u << 15 | 0x7FFF, `entry > R` iff u < thr: one compare decides the rounding.
    """
    step = hi_code - lo_code
    assert np.all((thr >= 0) & (thr <= 1 << 16) & (step >= 0) & (step < 128) & (lo_code < 256))
    return (thr << 15 | step << 8 | lo_code).astype(np.uint32)


def apply_stochastic(tables, bits, rand, chunk=1 << 16):
    """Codes (uint8) of FP16 `bits` with random integers `rand`, one array per packed table.

    The shifted u is shared by all tables (TPR passes two). Work goes in chunks of `chunk` values
    so the temporaries stay in cache: that, not the arithmetic, bounds the throughput.
    """
    bits, r = np.broadcast_arrays(np.asarray(bits), rand16(rand))
    shape = bits.shape
    bits, r = bits.ravel(), r.ravel()
    out = [np.empty(bits.size, np.uint8) for _ in tables]
    for i in range(0, bits.size, chunk):
        idx = bits[i:i + chunk]
        ur = r[i:i + chunk].astype(np.uint32)
        ur <<= 15
        ur |= 0x7FFF
        for table, o in zip(tables, out):
            entry = table.take(idx)
            code = (entry >> 8).astype(np.uint8)
            code &= 0x7F
            code *= (entry > ur).view(np.uint8)
            code += entry.astype(np.uint8)
            o[i:i + chunk] = code
    return [o.reshape(shape) for o in out]


def check_codes(codes, bits):
    """Integer codes of a `bits`-bit format, validated, as an integer array."""
    c = np.asarray(codes)
    if c.dtype.kind not in "iu" or (c.size and (c.min() < 0 or c.max() >= 1 << bits)):
        raise ValueError(f"codes must be integers in [0, {(1 << bits) - 1}]")
    return c


class Encoded(NamedTuple):
    """Codes plus the status flags an encoder raises for each value (bool arrays)."""
    codes: np.ndarray
    invalid: np.ndarray
    overflow: np.ndarray
    underflow: np.ndarray


def frozen(a):
    a.setflags(write=False)
    return a
