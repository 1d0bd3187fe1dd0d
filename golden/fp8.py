"""FP8 for the precision-sensitive layers: e4m3 and e5m2 with a bias parameter (docs/spec.md "FP8").

Sun et al., "Ultra-Low Precision 4-bit Training of Deep Neural Networks" (NeurIPS 2020), keep the
layers that 4-bit training hurts most (first, last, and the ResNet 1x1 shortcut convolutions of
section "Two-Phase Rounding (TPR)") in FP8, following the HFP8 formats of Sun et al. (NeurIPS
2019): 1-4-3 for the forward pass and 1-5-2 for gradients.

- e4m3 (default bias 7): value (1 + m/8) * 2^(e - bias), subnormals m/8 * 2^(1 - bias). No Inf or
  NaN codes: every code is finite (max 480 at bias 7). NaN in gives +0 with `invalid`; +-Inf and
  anything above the largest magnitude saturate to it.
- e5m2 (default bias 15): IEEE-style, exponent 31 keeps Inf (m = 0) and NaN (m != 0), so at bias
  15 a code is exactly FP16's upper byte. NaN in gives a NaN: the upper byte with its quiet bit
  set. Finite values above the largest finite magnitude saturate to it; +-Inf stays +-Inf.
- Signed zeros and subnormals are kept; nearest is round-to-nearest-even on the dropped bits;
  stochastic rounds up iff (|x| - lo) * 2^16 > u * (hi - lo), u a 16-bit integer (`rand`).
- Decoding to FP16 is exact; a bias for which it is not is rejected: e4m3 needs bias in [0, 22]
  (max 1.875 * 2^(15-bias) <= 65504, min subnormal 2^(-2-bias) >= 2^-24), e5m2 bias in [15, 23].

Inputs `x` are FP16 values: float16 arrays are used bit for bit; any other real dtype (or Python
number) is first cast to float16 by NumPy (round to nearest even, overflow to +-Inf).
"""

import functools
from typing import NamedTuple

import numpy as np

from .grid import (
    NAN_ALL, SIGN_ALL, Encoded, apply_stochastic, check_codes, check_rounding, fp16_bits, frozen,
    pack_stochastic, round_to_grid, ALL_BITS,
)

__all__ = ["fp8_encode", "fp8_encode_flags", "fp8_decode", "FORMATS", "fp8_format"]


class Format(NamedTuple):
    name: str
    ebits: int
    mbits: int
    bias: int
    ieee_specials: bool  # top exponent holds Inf / NaN

    @property
    def max_code(self):
        """Magnitude code of the largest finite value."""
        return (((1 << self.ebits) - 1) << self.mbits) - 1 if self.ieee_specials else 0x7F

    def value_units(self, mag_codes):
        """Magnitudes of finite codes in units of 2^-24 (exact integers for valid biases)."""
        c = np.asarray(mag_codes, dtype=np.int64)
        e, m = c >> self.mbits, c & ((1 << self.mbits) - 1)
        sig = np.where(e == 0, m, m | (1 << self.mbits))
        return sig << (np.maximum(e, 1) - self.bias - self.mbits + 24)


# name -> (exponent bits, mantissa bits, default bias, IEEE Inf/NaN codes, allowed biases)
FORMATS = {
    "e4m3": (4, 3, 7, False, range(0, 23)),
    "e5m2": (5, 2, 15, True, range(15, 24)),
}


def fp8_format(fmt="e4m3", bias=None):
    """The validated Format for `fmt` and `bias` (None: the format's default bias)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {tuple(FORMATS)}, got {fmt!r}")
    ebits, mbits, default, specials, allowed = FORMATS[fmt]
    if bias is None:
        bias = default
    if isinstance(bias, (bool, np.bool_)) or not isinstance(bias, (int, np.integer)) or bias not in allowed:
        raise ValueError(f"bias for {fmt} must be an integer in [{allowed[0]}, {allowed[-1]}] "
                         f"(decode to FP16 must be exact), got {bias!r}")
    return Format(fmt, ebits, mbits, int(bias), specials)


def _f16_pattern(units):
    """FP16 bit pattern of a magnitude given in units of 2^-24 (exact by construction)."""
    return np.ldexp(np.asarray(units, dtype=np.float64), -24).astype(np.float16).view(np.uint16)


@functools.lru_cache(maxsize=None)
def _encode_tables(f):
    grid = f.value_units(np.arange(f.max_code + 1))
    lo, up, thr = round_to_grid(grid, ties="even")
    hi = np.minimum(lo + 1, f.max_code)
    inf = (ALL_BITS & 0x7FFF) == 0x7C00
    sign = SIGN_ALL << 7
    if f.ieee_specials:
        nan_code = (ALL_BITS >> 8) | 0x02  # upper byte, quietened
        special = NAN_ALL | inf
        inf_code = sign | (((1 << f.ebits) - 1) << f.mbits)
        fixed = np.where(NAN_ALL, nan_code, inf_code)
    else:
        special = NAN_ALL
        fixed = np.zeros_like(sign)
    nearest = np.where(special, fixed, sign | (lo + up)).astype(np.uint8)
    lo_code = np.where(special, fixed, sign | lo)
    hi_code = np.where(special, fixed, sign | hi)
    stochastic = pack_stochastic(lo_code, hi_code, np.where(special | (hi == lo), 0, thr))
    return frozen(nearest), frozen(stochastic)


def fp8_encode(x, fmt="e4m3", bias=None, rounding="nearest", rand=None):
    """FP16 -> FP8 codes (uint8) of format `fmt` ("e4m3" or "e5m2") and exponent `bias`.

    `nearest`: round to nearest, ties to even. `stochastic`: hi iff (|x|-lo)*2^16 > u*(hi-lo)
    with u = `rand` (16-bit integers, broadcast against x; ignored for nearest). Saturating to
    the largest finite magnitude; specials as in the module docstring. Flags: `fp8_encode_flags`.
    """
    check_rounding(rounding)
    nearest, stochastic = _encode_tables(fp8_format(fmt, bias))
    bits = fp16_bits(x)
    if rounding == "nearest":
        return nearest[bits]
    return apply_stochastic([stochastic], bits, rand)[0]


def fp8_encode_flags(x, fmt="e4m3", bias=None, rounding="nearest", rand=None):
    """`fp8_encode` plus its status flags: Encoded(codes, invalid, overflow, underflow).

    invalid: NaN in and the format has no NaN (e4m3: code +0). overflow: |x| above the largest
    finite magnitude (output clipped to it; +-Inf in e4m3; e5m2 keeps Inf, so Inf is no
    overflow there). underflow: x is a nonzero number and the code is a zero.
    """
    f = fp8_format(fmt, bias)
    codes = np.asarray(fp8_encode(x, fmt, bias, rounding, rand))
    mag = np.broadcast_to(fp16_bits(x), codes.shape) & 0x7FFF
    nan = mag > 0x7C00
    top = int(_f16_pattern(f.value_units(f.max_code)))
    invalid = nan & (not f.ieee_specials)
    overflow = ~nan & (mag > top) & ~((mag == 0x7C00) & f.ieee_specials)
    underflow = ~nan & (mag != 0) & ((codes & 0x7F) == 0)
    return Encoded(codes, invalid, overflow, underflow)


@functools.lru_cache(maxsize=None)
def _decode_table(f):
    codes = np.arange(256)
    mag = codes & 0x7F
    special = f.ieee_specials & (mag > f.max_code)
    finite = _f16_pattern(f.value_units(np.minimum(mag, f.max_code))).astype(np.int64)
    # Inf / NaN keep their mantissa bits at the top of FP16's mantissa.
    out = np.where(special, 0x7C00 | ((mag & ((1 << f.mbits) - 1)) << (10 - f.mbits)), finite)
    return frozen((out | ((codes >> 7) << 15)).astype(np.uint16))


def fp8_decode(codes, fmt="e4m3", bias=None):
    """FP8 codes -> float16, exact (Inf and NaN codes of e5m2 map to FP16 Inf / NaN)."""
    return _decode_table(fp8_format(fmt, bias))[check_codes(codes, 8)].view(np.float16)
