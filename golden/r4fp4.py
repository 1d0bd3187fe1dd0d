"""Radix-4 FP4 gradients, Two-Phase Rounding (TPR) and GradScale (docs/spec.md "Number formats").

Sun et al., "Ultra-Low Precision 4-bit Training of Deep Neural Networks", NeurIPS 2020:
- section "Radix-4 FP4 format": a [sign, exponent, mantissa] = [1, 3, 0] format whose exponent
  steps by a factor of 4, so 3 exponent bits span 4^-3 .. 4^3 (the range of a radix-2 format with
  a 4-bit exponent) at the cost of resolution;
- section "GradScale": a per-tensor (per-layer) power-of-two loss scale that aligns max|g| with
  the top of the FP4 range;
- section "Two-Phase Rounding (TPR)": one FP16 gradient is quantized twice, on the even grid
  {4^k} (phase 0) and on the odd grid {2 * 4^k} (phase 1), one result per backward GEMM
  (weight gradient and input gradient), so the two GEMMs see quantization errors of opposite
  sign over most of the range instead of the same bias twice.

Code [3] = s, [2:0] = e. e = 0 is zero (encoders emit +0, code 0; code 8 decodes to -0 and is
never produced). e = 1..7: (-1)^s * 4^(e-4) * 2^phase * 2^scale_exp. scale_exp is limited to
[-18, 8] so that every value is an FP16 (2^-24 .. 2^15).

Inputs `x` are FP16 values: float16 arrays are used bit for bit; any other real dtype (or Python
number) is first cast to float16 by NumPy (round to nearest even, overflow to +-Inf).
"""

import functools

import numpy as np

from .grid import (
    NAN_ALL, SIGN_ALL, Encoded, apply_stochastic, check_codes, check_int, check_rounding,
    fp16_bits, frozen, pack_stochastic, round_to_grid,
)

__all__ = ["r4fp4_encode", "r4fp4_encode_flags", "r4fp4_decode", "tpr", "gradscale_exp",
           "SCALE_EXP_MIN", "SCALE_EXP_MAX", "PHASES", "E_MAX", "FP16_QNAN"]

SCALE_EXP_MIN, SCALE_EXP_MAX = -18, 8
PHASES = (0, 1)
E_MAX = 7
# What the RTL emits for a scale_exp code outside [-18, 8] on its 6-bit port (hdl_gen/r4fp4.py):
# r4fp4_to_fp16 gives this quiet NaN, tpr_quantizer raises `invalid` with both codes 0.
FP16_QNAN = 0x7E00


def check_scale_exp(scale_exp):
    return check_int("scale_exp", scale_exp, SCALE_EXP_MIN, SCALE_EXP_MAX)


def check_phase(phase):
    return check_int("phase", phase, 0, 1)


def grid_exponent(e, phase, scale_exp):
    """log2 of the magnitude of code e >= 1: 2(e-4) + phase + scale_exp (radix 4 -> radix 2)."""
    return 2 * (e - 4) + phase + scale_exp


@functools.lru_cache(maxsize=None)
def _encode_tables(phase, scale_exp):
    """Per FP16 pattern: the nearest code, and the packed stochastic rule (see golden.grid)."""
    # Grid points in units of 2^-24: 2^(2(e-4) + phase + scale_exp + 24), >= 1 for valid scales.
    grid = [0] + [1 << (grid_exponent(e, phase, scale_exp) + 24) for e in range(1, E_MAX + 1)]
    lo, up, thr = round_to_grid(grid, ties="up")
    lo = np.where(NAN_ALL, 0, lo)  # NaN: code 0 (flagged invalid)

    def code(e):
        return np.where(e == 0, 0, (SIGN_ALL << 3) | e)  # zero is always +0

    nearest = code(lo + (up & ~NAN_ALL)).astype(np.uint8)
    hi = np.where(NAN_ALL, 0, np.minimum(lo + 1, E_MAX))
    stochastic = pack_stochastic(code(lo), code(hi), np.where(NAN_ALL | (hi == lo), 0, thr))
    return frozen(nearest), frozen(stochastic)


@functools.lru_cache(maxsize=None)
def _tpr_table(scale_exp):
    """even | odd << 4 per FP16 pattern, nearest rounding: one gather gives both phases."""
    even, _ = _encode_tables(0, scale_exp)
    odd, _ = _encode_tables(1, scale_exp)
    return frozen(even | (odd << 4))


def r4fp4_encode(x, phase=0, scale_exp=0, rounding="nearest", rand=None):
    """FP16 -> R4FP4 codes (uint8) on grid `phase` with GradScale exponent `scale_exp`.

    y = |x| / 2^(scale_exp + phase) is rounded onto G = {0, 4^-3, ..., 4^3} (docs/spec.md):
    `nearest`: y >= 64 saturates to 64; between grid points lo < hi, hi iff y >= (lo+hi)/2 (the
    linear midpoint, ties to the larger magnitude). `stochastic`: hi iff (y-lo)*2^16 > u*(hi-lo),
    u = `rand` (16-bit integers, broadcast against x; ignored for nearest). NaN gives code 0.
    Zero results are +0 (code 0) whatever the sign of x. Flags: `r4fp4_encode_flags`.
    """
    check_rounding(rounding)
    nearest, stochastic = _encode_tables(check_phase(phase), check_scale_exp(scale_exp))
    bits = fp16_bits(x)
    if rounding == "nearest":
        return nearest[bits]
    return apply_stochastic([stochastic], bits, rand)[0]


def r4fp4_encode_flags(x, phase=0, scale_exp=0, rounding="nearest", rand=None):
    """`r4fp4_encode` plus its status flags: Encoded(codes, invalid, overflow, underflow).

    invalid: x is NaN (code 0). overflow: y > 64, |x| clipped to the top grid point (+-Inf
    included; y == 64 is exact, not overflow). underflow: x is a nonzero number and the code is
    0 (with stochastic rounding this depends on u). The flags are mutually exclusive. These are
    the flags `tpr_quantizer` raises for its even result (phase 0).
    """
    codes = np.asarray(r4fp4_encode(x, phase, scale_exp, rounding, rand))
    mag = np.broadcast_to(fp16_bits(x), codes.shape) & 0x7FFF
    invalid = mag > 0x7C00
    top = (grid_exponent(E_MAX, phase, scale_exp) + 15) << 10  # FP16 pattern of 64*2^(scale+phase)
    overflow = ~invalid & (mag > top)
    underflow = ~invalid & (mag != 0) & ((codes & 7) == 0)
    return Encoded(codes, invalid, overflow, underflow)


@functools.lru_cache(maxsize=None)
def _decode_table(phase, scale_exp):
    e = np.arange(16) & 7
    mag = np.ldexp(1.0, grid_exponent(e, phase, scale_exp)).astype(np.float16).view(np.uint16)
    return frozen(np.where(e == 0, 0, mag).astype(np.uint16) | ((np.arange(16) >> 3) << 15).astype(np.uint16))


def r4fp4_decode(codes, phase=0, scale_exp=0):
    """R4FP4 codes -> float16: (-1)^s * 4^(e-4) * 2^phase * 2^scale_exp, e = 0 is (signed) zero.

    Exact: every value is an FP16 for scale_exp in [-18, 8]. Code 8 (s = 1, e = 0) gives -0.
    """
    table = _decode_table(check_phase(phase), check_scale_exp(scale_exp))
    return table[check_codes(codes, 4)].view(np.float16)


def tpr(x, scale_exp=0, rounding="nearest", rand=None):
    """Two-Phase Rounding: (even codes, odd codes) of the same x, scale_exp, rounding and u.

    Equal to (r4fp4_encode(x, 0, ...), r4fp4_encode(x, 1, ...)) with the same `rand`. Sun et al.
    use the even result for one backward GEMM and the odd one for the other. With nearest
    rounding the grids interleave ({4^k} and {2*4^k} are together every power of two): in each
    octave [2^j, 2^(j+1)) the phase whose grid holds 2^j rounds down to it, the other phase
    (points 2^(j-1), 2^(j+1), midpoint 1.25 * 2^j) rounds up from 1.25 * 2^j on, so on the upper
    three quarters of every octave the two errors have opposite signs.
    """
    check_rounding(rounding)
    scale_exp = check_scale_exp(scale_exp)
    if rounding == "stochastic":
        tables = [_encode_tables(phase, scale_exp)[1] for phase in PHASES]
        return tuple(apply_stochastic(tables, fp16_bits(x), rand))
    pair = _tpr_table(scale_exp)[fp16_bits(x)]
    return pair & 0xF, pair >> 4


def gradscale_exp(g):
    """GradScale exponent of a tensor: the smallest s with max|g| <= 64 * 2^s, clamped to [-18, 8].

    64 = 4^3 is the largest R4FP4 magnitude, so x / 2^s of every element fits the grid without
    saturating (Sun et al., "GradScale"). g is taken as FP16 values (other dtypes are cast to
    float16 first). NaNs are ignored (they encode to 0 and are flagged invalid there); an Inf
    gives 8; an empty or all-zero tensor gives -18.
    """
    mag = fp16_bits(g).ravel() & 0x7FFF
    mag = mag[mag <= 0x7C00]
    top = int(mag.max()) if mag.size else 0
    if top == 0:
        return SCALE_EXP_MIN
    if top == 0x7C00:
        return SCALE_EXP_MAX
    mant, exp = np.frexp(np.uint16(top).view(np.float16).astype(np.float64))  # top = mant * 2^exp
    s = int(exp) - 7 if mant == 0.5 else int(exp) - 6  # ceil(log2(top / 64))
    return min(max(s, SCALE_EXP_MIN), SCALE_EXP_MAX)
