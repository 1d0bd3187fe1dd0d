"""Microscaling (MX) and NVFP4 block formats: elements, shared scales, quantization, block dot products
(docs/spec.md "Microscaling formats").

OCP Microscaling Formats (MX) Specification v1.0 (2023):
- section 5 (Table 1): an MX block is k elements sharing one scale X; element i stands for X * P_i.
  MX-compliant formats use k = 32 and an E8M0 scale: X = 2^(code - 127), code 255 is NaN, no zero.
- section 5.3: element formats FP8 E4M3 (OCP FP8: bias 7, no Inf, S.1111.111 is NaN, max 448),
  FP8 E5M2 (bias 15, IEEE Inf/NaN, max 57344), FP6 E2M3 (bias 1, max 7.5), FP6 E3M2 (bias 3,
  max 28), FP4 E2M1 (bias 1, max 6), all with subnormals and no Inf/NaN for FP6/FP4; INT8: two's
  complement with an implicit scale 2^-6.
- section 6.3 (conversion from FP32): shared_exp = floor(log2(max_i |V_i|)) - emax_elem, where
  emax_elem is the exponent of the element format's largest normal number; X = 2^shared_exp;
  P_i = V_i / X quantized to the element format with round-to-nearest-even, values beyond the
  largest normal clamped to it (saturation).
The corner cases the spec leaves to implementations follow Microsoft's released reference,
microxcaling (`mx/mx_ops.py` `_shared_exponents`, `mx/elemwise_ops.py`): an all-zero block gets
the smallest scale 2^-127 (the log2 of 0 is taken of FP32's smallest normal instead); a shared
exponent below -127 is clamped to -127; a block holding Inf or NaN gets the NaN scale (code 255)
and all-zero element codes; INT8 elements are clamped symmetrically to +-127 (code -128 is never
produced). Here a tensor whose length along the block axis is not a multiple of k ends in a
partial block, which behaves as if zero-padded.

NVFP4 (NVIDIA, "Pretraining Large Language Models with NVFP4", arXiv 2509.25149, 2025,
Appendix "NVFP4 quantization"): FP4 E2M1 elements in blocks of 16, an FP8 E4M3 scale per block
and one FP32 scale per tensor, all arithmetic in FP32:
    s_enc   = (6 * 448) / amax(x)                    per tensor (amax 0: s_enc = 1)
    sb      = e4m3(amax(block) / 6 * s_enc)          per block, round to nearest even
    P_i     = e2m1(V_i * (s_enc / sb))               (a block whose scale sb is 0 has P_i = 0)
    V_i    ~= P_i * sb / s_enc
A tensor holding Inf or NaN is rejected (`NonFiniteInput`): NVFP4 has no NaN scale to carry it.

Stochastic rounding (both families): between adjacent grid points lo < y < hi the element rounds
to hi iff (y - lo) * 2^16 > u * (hi - lo), u a 16-bit integer per element (`rand`), the rule of
golden.grid. Inputs are FP32: any array is first cast to float32 (round to nearest even).

Block dot product (`mx_dot`): the contract of the hardware unit. For two MX (or NVFP4) vectors
the products of a block's elements are summed exactly, the sum is scaled by both blocks' scales
(added exponents for E8M0), and the accumulator takes one round-to-nearest-even per block:
acc <- fmt(acc + exact block value), starting at -0, fmt FP32 or FP16. NaN in (a NaN element, a
NaN scale, Inf x 0, +Inf + -Inf) gives the canonical quiet NaN; overflow gives +-Inf.
"""

import functools
import math
from typing import NamedTuple

import numpy as np

from .grid import check_int, check_rounding, rand16
from .quantizers import NonFiniteInput

__all__ = ["ELEMENTS", "ACCUMULATORS", "Element", "element", "element_encode", "element_decode",
           "e8m0_decode", "MXTensor", "mx_quantize", "mx_dequantize", "NVFP4Tensor", "nvfp4_quantize",
           "nvfp4_dequantize", "dequantize", "check_block", "mx_dot", "round_float", "E8M0_NAN", "MX_BLOCK",
           "NVFP4_BLOCK", "CANONICAL_NAN"]

MX_BLOCK, NVFP4_BLOCK = 32, 16
E8M0_NAN, E8M0_BIAS = 255, 127


class Element(NamedTuple):
    """An element format: `ebits` exponent and `mbits` mantissa bits (INT8: ebits 0, two's
    complement), exponent `bias`, largest normal magnitude `max_normal`, its exponent `emax`,
    and its special codes."""
    name: str
    bits: int
    ebits: int
    mbits: int
    bias: int
    max_normal: float
    emax: int
    inf: bool   # IEEE Inf at the top exponent (E5M2)
    nan: bool   # a NaN code exists (E4M3: S.1111.111; E5M2: top exponent, m != 0)

    @property
    def is_int(self):
        return self.ebits == 0

    @property
    def quantum_min(self):
        """Spacing of the subnormals (INT8: its implicit scale 2^-6)."""
        return math.ldexp(1.0, 1 - self.bias - self.mbits) if not self.is_int else 2.0 ** -6


ELEMENTS = {e.name: e for e in (
    Element("fp8_e4m3", 8, 4, 3, 7, 448.0, 8, False, True),
    Element("fp8_e5m2", 8, 5, 2, 15, 57344.0, 15, True, True),
    Element("fp6_e2m3", 6, 2, 3, 1, 7.5, 2, False, False),
    Element("fp6_e3m2", 6, 3, 2, 3, 28.0, 4, False, False),
    Element("fp4_e2m1", 4, 2, 1, 1, 6.0, 2, False, False),
    Element("int8", 8, 0, 8, 0, 127 / 64, 0, False, False),
)}
ACCUMULATORS = ("fp32", "fp16")


def element(name):
    """The Element called `name`, else ValueError naming the allowed formats."""
    if name not in ELEMENTS:
        raise ValueError(f"element format must be one of {tuple(ELEMENTS)}, got {name!r}")
    return ELEMENTS[name]


def fp32(x, name="x"):
    """`x` as float32 (RNE cast from any real dtype)."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers (cast to float32), got dtype {x.dtype}")
    with np.errstate(over="ignore"):
        return x.astype(np.float32)


def _decode(codes, elem):
    """float64 values of element codes (int64) by the format's definition: the tables' source."""
    c = codes
    if elem.is_int:
        return np.where(c >= 128, c - 256, c) * elem.quantum_min
    sign = np.where(c >> (elem.bits - 1) & 1, -1.0, 1.0)
    mag = c & ((1 << (elem.bits - 1)) - 1)
    exp, man = mag >> elem.mbits, mag & ((1 << elem.mbits) - 1)
    value = np.where(exp == 0, man * elem.quantum_min,
                     np.ldexp(1.0 + man / (1 << elem.mbits), exp - elem.bias))
    top = (1 << elem.ebits) - 1
    if elem.inf:
        value = np.where(exp == top, np.where(man == 0, np.inf, np.nan), value)
    elif elem.nan:
        value = np.where(mag == (1 << (elem.bits - 1)) - 1, np.nan, value)
    return sign * value


class _Table(NamedTuple):
    values: np.ndarray  # every code's value, indexed by code
    grid: np.ndarray    # the magnitudes 0 .. max_normal ascending: the index is the magnitude code
    mid: np.ndarray     # midpoints of adjacent grid magnitudes (exact in float64)


@functools.cache
def _table(elem):
    """Lookup tables of an element format (at most 256 codes): quantizing a tensor is a binary
    search of its magnitudes in the grid, decoding an indexing, both exact."""
    values = _decode(np.arange(1 << elem.bits), elem)
    mags = values[:1 << (elem.bits - 1)]  # sign bit clear: magnitudes in code order, ascending
    grid = mags[:int(np.flatnonzero(mags == elem.max_normal)[0]) + 1]
    return _Table(values, grid, (grid[:-1] + grid[1:]) / 2)


def _magnitude_code(y, elem, rounding="nearest", rand=None):
    """Codes (without sign, int64) of magnitudes y >= 0 (float64, finite) rounded onto the element
    grid, saturating at max_normal.

    nearest: to the nearer grid point, a tie to the even code (= even mantissa, round half to
    even); stochastic: from lo <= y < hi to hi iff (y - lo) / (hi - lo) * 2^16 > u (module
    docstring); y - lo and the division by the power-of-two spacing are exact in float64.
    """
    t = _table(elem)
    if rounding == "nearest":
        k = np.searchsorted(t.mid, y, side="left")  # t.mid[k - 1] < y <= t.mid[k]
        tie = t.mid[np.minimum(k, t.mid.size - 1)] == y
        return k + (tie & (k & 1 == 1))
    lo = np.searchsorted(t.grid, y, side="right") - 1
    top = t.grid.size - 1
    nxt = np.minimum(lo + 1, top)
    with np.errstate(invalid="ignore", divide="ignore"):  # lo = top: saturated, frac unused
        frac = (y - t.grid[lo]) / (t.grid[nxt] - t.grid[lo])
    up = (lo < top) & (frac * 65536.0 > rand16(rand).astype(np.float64))
    return lo + up


def element_encode(y, elem, rounding="nearest", rand=None):
    """Element codes (uint8) of finite float64 values y (already divided by the scale): sign and
    magnitude for FP (a zero keeps its sign), two's complement for INT8 (zero is +0)."""
    code = _magnitude_code(np.abs(y), elem, rounding, rand)
    neg = np.signbit(y)
    if elem.is_int:
        code = np.where(neg, -code, code) & 0xFF
    else:
        code = code | (neg.astype(np.int64) << (elem.bits - 1))
    return code.astype(np.uint8)


def element_decode(codes, elem):
    """float64 values of element codes (Inf/NaN codes of E5M2 and E4M3 decode to Inf/NaN)."""
    return _table(elem).values[np.asarray(codes).astype(np.int64) & ((1 << elem.bits) - 1)]


def e8m0_decode(codes):
    """2^(code - 127) as float64; code 255 is NaN."""
    c = np.asarray(codes).astype(np.int64)
    return np.where(c == E8M0_NAN, np.nan, np.ldexp(1.0, c - E8M0_BIAS))


def check_block(block, lanes=1):
    """A block size that is a positive multiple of `lanes`, else ValueError."""
    lanes = check_int("lanes", lanes, 1, 1 << 16)
    if isinstance(block, (bool, np.bool_)) or not isinstance(block, (int, np.integer)) \
            or block < 1 or block % lanes:
        raise ValueError(f"block must be a positive multiple of lanes ({lanes}), got {block!r}")
    return int(block)


def _blocks(x, block, axis):
    """x (float, axis moved last, zero-padded) as (..., n_blocks, block), and the original length."""
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    pad = -n % block
    if pad:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,), x.dtype)], axis=-1)
    return x.reshape(x.shape[:-1] + (-1, block)), n


def _unblock(b, n, axis):
    """Inverse of `_blocks`: (..., n_blocks, block) -> the original layout with `axis` restored."""
    flat = b.reshape(b.shape[:-2] + (-1,))[..., :n]
    return np.moveaxis(flat, -1, axis)


class MXTensor(NamedTuple):
    """An MX-quantized tensor: element `codes` (uint8, the input's shape), E8M0 `scales` (uint8,
    one per block: the input's shape with the block axis shortened to ceil(n / block))."""
    codes: np.ndarray
    scales: np.ndarray
    elem: str
    block: int
    axis: int


def _check_axis(x, axis):
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) \
            or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be an integer in [{-x.ndim}, {x.ndim - 1}], got {axis!r}")
    return int(axis) % x.ndim


def mx_quantize(x, elem="fp4_e2m1", block=MX_BLOCK, axis=-1, rounding="nearest", rand=None):
    """MX quantization (OCP MX v1.0 section 6.3, module docstring) of FP32 `x` in blocks of `block`
    elements along `axis`. `rand`: 16-bit integers broadcast against x (stochastic only)."""
    e = element(elem)
    check_rounding(rounding)
    block = check_block(block)
    x = fp32(x)
    axis = _check_axis(x, axis)
    if rounding == "stochastic":
        rand = np.broadcast_to(rand16(rand), x.shape)
    v, n = _blocks(x.astype(np.float64), block, axis)
    amax = np.max(np.abs(v), axis=-1)  # NaN propagates
    finite = np.isfinite(amax)
    floor_log2 = np.frexp(np.where(finite & (amax > 0), amax, 2.0 ** -126))[1] - 1
    shared = np.maximum(floor_log2 - e.emax, -E8M0_BIAS)
    scales = np.where(finite, shared + E8M0_BIAS, E8M0_NAN).astype(np.uint8)
    y = np.where(finite[..., None], np.ldexp(v, -shared[..., None]), 0.0)
    r = None if rounding == "nearest" else _blocks(rand.astype(np.int64), block, axis)[0]
    codes = element_encode(y, e, rounding, r)
    return MXTensor(_unblock(codes, n, axis), np.moveaxis(scales, -1, axis), elem, block, axis)


def mx_dequantize(t):
    """float64 values an MXTensor stands for: P_i * X (NaN for a NaN scale)."""
    e = ELEMENTS[t.elem]
    p, n = _blocks(element_decode(t.codes, e), t.block, t.axis)
    x = p * e8m0_decode(np.moveaxis(t.scales, t.axis, -1))[..., None]
    return _unblock(x, n, t.axis)


class NVFP4Tensor(NamedTuple):
    """An NVFP4 tensor: E2M1 `codes`, E4M3 block `scales` (uint8, OCP FP8 E4M3 codes), and the
    per-tensor FP32 encode scale `s_enc` (module docstring)."""
    codes: np.ndarray
    scales: np.ndarray
    s_enc: np.float32
    axis: int

    block = NVFP4_BLOCK
    elem = "fp4_e2m1"


def nvfp4_quantize(x, axis=-1, rounding="nearest", rand=None):
    """NVFP4 quantization (module docstring) along `axis`; every step an FP32 operation."""
    check_rounding(rounding)
    x = fp32(x)
    axis = _check_axis(x, axis)
    if not np.all(np.isfinite(x)):
        raise NonFiniteInput("x")
    if rounding == "stochastic":
        rand = np.broadcast_to(rand16(rand), x.shape)
    f32 = np.float32
    e2m1, e4m3 = ELEMENTS["fp4_e2m1"], ELEMENTS["fp8_e4m3"]
    amax = np.max(np.abs(x)) if x.size else f32(0)
    s_enc = f32(1) if amax == 0 else f32(f32(e2m1.max_normal * e4m3.max_normal) / amax)
    v, n = _blocks(x, NVFP4_BLOCK, axis)
    with np.errstate(over="ignore"):  # s_enc of a tiny amax is Inf: the scales saturate below
        want = np.max(np.abs(v), axis=-1) / f32(e2m1.max_normal) * s_enc
    scales = element_encode(np.minimum(want.astype(np.float64), e4m3.max_normal), e4m3)
    sb = element_decode(scales, e4m3).astype(f32)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        y = np.where(sb[..., None] > 0, v * (s_enc / sb)[..., None], f32(0))
    y = np.minimum(np.abs(y), f32(e2m1.max_normal)) * np.where(np.signbit(v), -1, 1)
    r = None if rounding == "nearest" else _blocks(rand.astype(np.int64), NVFP4_BLOCK, axis)[0]
    codes = element_encode(y.astype(np.float64), e2m1, rounding, r)
    return NVFP4Tensor(_unblock(codes, n, axis), np.moveaxis(scales, -1, axis), s_enc, axis)


def nvfp4_dequantize(t):
    """float64 values an NVFP4Tensor stands for: P_i * sb / s_enc (the FP32 ops in float64)."""
    p, n = _blocks(element_decode(t.codes, ELEMENTS["fp4_e2m1"]), NVFP4_BLOCK, t.axis)
    sb = element_decode(np.moveaxis(t.scales, t.axis, -1), ELEMENTS["fp8_e4m3"])
    return _unblock(p * (sb / np.float64(t.s_enc))[..., None], n, t.axis)


def dequantize(t):
    """float64 values of an MXTensor or NVFP4Tensor."""
    return nvfp4_dequantize(t) if isinstance(t, NVFP4Tensor) else mx_dequantize(t)


# --- block dot products (the mx_dot unit's contract) -----------------------------------------

_FLOAT = {"fp32": (8, 23), "fp16": (5, 10)}  # accumulator: exponent bits, mantissa bits
CANONICAL_NAN = {"fp32": np.uint32(0x7FC00000).view(np.float32), "fp16": np.uint16(0x7E00).view(np.float16)}


def round_float(n, lsb, acc):
    """The value n * 2^lsb (Python ints, n != 0) rounded once to nearest-even in format `acc`
    ("fp32" or "fp16"), as a NumPy scalar of that format; overflow gives +-Inf."""
    ebits, mbits = _FLOAT[acc]
    bias = (1 << (ebits - 1)) - 1
    sign, n = (-1 if n < 0 else 1), abs(n)
    top = n.bit_length() - 1 + lsb              # binade of the exact value
    q = max(top, 1 - bias) - mbits              # exponent of the result's LSB
    if q > lsb:
        shift = q - lsb
        rem, n = n & ((1 << shift) - 1), n >> shift
        half = 1 << (shift - 1)
        n += rem > half or (rem == half and n & 1)
    else:
        n <<= lsb - q
    dtype = np.float32 if acc == "fp32" else np.float16
    with np.errstate(over="ignore"):
        return dtype(sign * math.ldexp(n, q)) if n.bit_length() + q <= (1 << (ebits - 1)) \
            else dtype(sign * np.inf)


def _exact(v):
    """(n, lsb) with v == n * 2^lsb exactly, for a finite float (ints, no rounding)."""
    m, e = math.frexp(float(v))
    return int(m * (1 << 53)), e - 53


def _block_value(pa, pb, sa, sb):
    """Exact sum of one block's products times both scales, as (n, lsb); None if it is zero."""
    terms = [_exact(a) for a in pa * pb if a != 0]  # each product exact: <= 2 x 11 significant bits
    if not terms:
        return None
    lsb = min(t[1] for t in terms)
    n = sum(m << (e - lsb) for m, e in terms)
    sa_n, sa_l = _exact(sa)
    sb_n, sb_l = _exact(sb)
    n *= sa_n * sb_n
    return (n, lsb + sa_l + sb_l) if n else None


def _decoded(t):
    """Per block along the last axis: (element values (n_blocks, block), scale values)."""
    if isinstance(t, NVFP4Tensor):
        elems = element_decode(t.codes, ELEMENTS["fp4_e2m1"])
        scales = element_decode(t.scales, ELEMENTS["fp8_e4m3"])
    else:
        elems, scales = element_decode(t.codes, ELEMENTS[t.elem]), e8m0_decode(t.scales)
    p, _ = _blocks(elems, t.block, -1)
    return p, scales


def mx_dot(a, b, acc="fp32"):
    """Dot product of two 1-D block vectors (both MXTensor or both NVFP4Tensor, same block size and
    length) as the hardware unit computes it (module docstring): one RNE per block into `acc`.
    NVFP4's per-tensor scales are not applied (the unit leaves them to the caller)."""
    if acc not in ACCUMULATORS:
        raise ValueError(f"acc must be one of {ACCUMULATORS}, got {acc!r}")
    if type(a) is not type(b) or a.codes.ndim != 1 or a.codes.shape != b.codes.shape or a.block != b.block:
        raise ValueError("a and b must be 1-D block vectors of one kind, length and block size")
    pa, xa = _decoded(a)
    pb, xb = _decoded(b)
    dtype = np.float32 if acc == "fp32" else np.float16
    total = dtype(-0.0)
    for i in range(len(xa)):
        with np.errstate(invalid="ignore"):  # Inf x 0 is NaN, handled next
            prods = pa[i] * pb[i]
        if np.isnan(xa[i]) or np.isnan(xb[i]) or np.any(np.isnan(prods)):
            return CANONICAL_NAN[acc]
        inf = prods[np.isinf(prods)]
        if inf.size or np.isinf(total):
            signs = set(np.sign(inf)) | ({np.sign(total)} if np.isinf(total) else set())
            if len(signs) > 1:
                return CANONICAL_NAN[acc]
            total = dtype(signs.pop() * np.inf)
            continue
        block = _block_value(pa[i], pb[i], xa[i], xb[i])
        if block is None:  # an exactly zero block: -0 only if the accumulator and every product are
            neg = np.signbit(total) and all(p == 0 and np.signbit(p) for p in prods)
            total = dtype(-0.0) if neg else (total if total != 0 else dtype(0.0))
            continue
        n, lsb = block
        if total != 0:
            tn, tl = _exact(total)
            low = min(lsb, tl)
            n, lsb = (n << (lsb - low)) + (tn << (tl - low)), low
        total = round_float(n, lsb, acc) if n else dtype(0.0)
    return total
