"""golden.mx: MX and NVFP4 elements, scales, quantization and block dot products.

The references are ml_dtypes' types (float4_e2m1fn, float6_e2m3fn, float6_e3m2fn, float8_e4m3fn,
float8_e5m2, float8_e8m0fnu: their decode of every code and their round-to-nearest-even cast of
every representable value, every midpoint and its neighbours), the OCP MX v1.0 scale rule
written out per block in plain Python floats, and exact rational arithmetic (fractions) for the
block dot product.
"""

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from golden.mx import (
    ELEMENTS, E8M0_NAN, NVFP4_BLOCK, check_block, e8m0_decode, element, element_decode, element_encode,
    mx_dequantize, mx_dot, mx_quantize, nvfp4_dequantize, nvfp4_quantize,
)
from golden.quantizers import NonFiniteInput
from tests.rounding import assert_unbiased_over_all_u

ML = {"fp8_e4m3": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2,
      "fp6_e2m3": ml_dtypes.float6_e2m3fn, "fp6_e3m2": ml_dtypes.float6_e3m2fn,
      "fp4_e2m1": ml_dtypes.float4_e2m1fn}
FLOATS = tuple(ML)


def codes(e):
    return np.arange(1 << e.bits, dtype=np.uint8)


def grid(e):
    """Non-negative finite grid magnitudes of an element format, ascending (from its decoder)."""
    v = element_decode(codes(e), e)
    g = np.unique(np.abs(v[np.isfinite(v)]))
    return g[g <= e.max_normal]  # INT8's -2 (code -128) is never produced


def ml_round(y, name):
    """ml_dtypes' RNE cast, after the MX saturation to the largest normal (ml_dtypes' own
    overflow gives NaN or Inf)."""
    top = ELEMENTS[name].max_normal
    return np.clip(y, -top, top).astype(np.float32).astype(ML[name]).astype(np.float64)


# ------------------------------------------------------------------------------ elements

@pytest.mark.parametrize("name", FLOATS)
def test_every_code_decodes_as_ml_dtypes(name):
    e = element(name)
    ours, ref = element_decode(codes(e), e), codes(e).view(ML[name]).astype(np.float64)
    assert np.array_equal(ours, ref, equal_nan=True)
    finite = ~np.isnan(ref)
    assert np.array_equal(np.signbit(ours[finite]), np.signbit(ref[finite]))
    assert ours[np.isfinite(ours)].max() == e.max_normal


def test_int8_codes_are_twos_complement_times_2_to_minus_6():
    e = element("int8")
    assert np.array_equal(element_decode(codes(e), e), codes(e).view(np.int8) / 64.0)


@pytest.mark.parametrize("name", FLOATS)
def test_nearest_rounding_of_every_value_midpoint_and_neighbour_is_ml_dtypes(name):
    e = element(name)
    g = grid(e)
    mids = (g[:-1] + g[1:]) / 2
    beyond = np.array([e.max_normal * 1.5, e.max_normal * 4, 1e30])
    y32 = np.concatenate([g, mids, beyond]).astype(np.float32)
    y32 = np.concatenate([y32, np.nextafter(y32, np.float32(0)), np.nextafter(y32, np.float32(np.inf))])
    y = np.concatenate([y32, -y32]).astype(np.float64)
    ours = element_decode(element_encode(y, e), e)
    assert np.array_equal(ours, ml_round(y, name))
    assert np.array_equal(np.signbit(ours), np.signbit(y))  # zeros keep their sign


def test_int8_rounds_to_nearest_even_and_clamps_symmetrically():
    e = element("int8")
    k = np.arange(-140, 141)
    y = np.concatenate([k / 64, (k + 0.5) / 64])
    ref = np.clip(np.where(np.abs(np.round(y * 64) - y * 64) == 0.5,
                           2 * np.round(y * 32), np.round(y * 64)), -127, 127) / 64
    assert np.array_equal(element_decode(element_encode(y, e), e), ref)
    assert element_encode(np.array([-5.0]), e)[0] == 0x81  # -127, never -128


@pytest.mark.parametrize("name", FLOATS + ("int8",))
def test_stochastic_rounding_picks_a_neighbour_with_the_exact_probability(name):
    e = element(name)
    g = grid(e)
    # every interval of the small formats; for the 8-bit ones every 5th (each binade is hit
    # several times, subnormals and the top included), which keeps 65,536 u per value affordable
    step = 1 if e.bits < 8 else 5
    lo_i = np.unique(np.r_[np.arange(0, len(g) - 1, step), len(g) - 2])
    lo_g, hi_g = g[lo_i], g[lo_i + 1]
    y = np.concatenate([(lo_g * 3 + hi_g) / 4, lo_g + (hi_g - lo_g) * 0.999, lo_g, [g[-1], e.max_normal * 2]])
    lo = g[np.searchsorted(g, np.minimum(y, g[-1]), side="right") - 1]
    hi = np.where(lo == g[-1], lo, g[np.minimum(np.searchsorted(g, lo, side="right"), len(g) - 1)])
    x = np.concatenate([y, -y])
    roundtrip = lambda col, u: element_decode(element_encode(np.broadcast_to(col, (col.shape[0], u.size)), e,
                                                             "stochastic", u[None, :]), e)
    assert_unbiased_over_all_u(roundtrip, x, np.concatenate([lo, lo]), np.concatenate([hi, hi]))


def test_stochastic_threshold_is_the_fraction_times_2_to_16():
    e = element("fp4_e2m1")  # 1.0 .. 1.5: y = 1 + 0.5 * k / 2^16 rounds up iff u < k
    k = 12345
    y = np.array([1 + 0.5 * k / 65536])
    up = lambda u: element_decode(element_encode(y, e, "stochastic", np.array([u])), e)[0] == 1.5
    assert up(k - 1) and not up(k)


# ------------------------------------------------------------------------------ MX scales

def spec_scale(block, emax):
    """OCP MX v1.0 section 6.3 with the released reference's corners, per block in Python floats."""
    vals = [abs(float(v)) for v in block]
    if any(math.isnan(v) or math.isinf(v) for v in vals):
        return E8M0_NAN
    top = max(vals)
    floor_log2 = math.frexp(top)[1] - 1 if top > 0 else -126
    return max(floor_log2 - emax, -127) + 127


@pytest.mark.parametrize("name", tuple(ELEMENTS))
@pytest.mark.parametrize("block", [32, 16, 8])
def test_mx_quantize_matches_the_spec_scale_and_ml_dtypes_elements(name, block):
    e = element(name)
    rng = np.random.default_rng(block)
    x = (rng.standard_normal((5, 3 * block + 7)) * np.exp2(rng.integers(-40, 40, (5, 1)))).astype(np.float32)
    x[0, :block] = 0.0          # all-zero block
    x[1, 3] = np.float32(3.4e38)  # the largest scales
    x[2, :block] = np.float32(1e-45)  # FP32 subnormals: scale clamped at 2^-127
    t = mx_quantize(x, name, block)
    for r in range(x.shape[0]):
        for b in range(t.scales.shape[1]):
            chunk = x[r, b * block:(b + 1) * block]
            s = spec_scale(chunk, e.emax)
            assert t.scales[r, b] == s
            y = chunk.astype(np.float64) / 2.0 ** (s - 127)
            ref = (np.clip(np.round(y * 64), -127, 127) / 64 if name == "int8" else ml_round(y, name))
            got = element_decode(t.codes[r, b * block:(b + 1) * block], e)
            assert np.array_equal(got, ref)
    assert np.array_equal(mx_dequantize(t).shape, x.shape)


def test_mx_quantize_along_axis_0_is_the_transpose():
    x = np.random.default_rng(1).standard_normal((70, 5)).astype(np.float32)
    a, b = mx_quantize(x, "fp6_e3m2", 32, axis=0), mx_quantize(x.T, "fp6_e3m2", 32, axis=1)
    assert np.array_equal(a.codes, b.codes.T) and np.array_equal(a.scales, b.scales.T)
    assert np.array_equal(mx_dequantize(a), mx_dequantize(b).T)


def test_mx_named_corners():
    x = np.zeros(64, np.float32)
    x[0], x[32], x[33] = np.nan, 7.9, -100.0
    t = mx_quantize(x, "fp4_e2m1")
    assert list(t.scales) == [E8M0_NAN, 127 + 6 - 2]   # NaN block; floor(log2 100) = 6, emax 2
    assert not t.codes[:32].any()                     # a NaN-scale block's elements are zero codes
    assert np.isnan(mx_dequantize(t)[:32]).all()
    assert mx_dequantize(t)[33] == -96.0              # 100 / 16 = 6.25 saturates to 6
    inf = mx_quantize(np.array([np.inf] + [1.0] * 31, np.float32), "fp8_e5m2")
    assert inf.scales[0] == E8M0_NAN
    assert np.array_equal(e8m0_decode(np.arange(256))[:255], 2.0 ** (np.arange(255) - 127))
    assert np.isnan(e8m0_decode(255))


def test_e8m0_decode_is_ml_dtypes():
    c = np.arange(256, dtype=np.uint8)
    assert np.array_equal(e8m0_decode(c), c.view(ml_dtypes.float8_e8m0fnu).astype(np.float64), equal_nan=True)


def test_mx_stochastic_rounding_uses_one_u_per_element():
    x = np.random.default_rng(2).standard_normal((4, 64)).astype(np.float32)
    u = np.random.default_rng(3).integers(0, 1 << 16, x.shape)
    t = mx_quantize(x, "fp4_e2m1", rounding="stochastic", rand=u)
    for r in range(4):
        for b in range(2):
            chunk = slice(32 * b, 32 * (b + 1))
            y = x[r, chunk].astype(np.float64) / 2.0 ** (int(t.scales[r, b]) - 127)
            ref = element_encode(y, element("fp4_e2m1"), "stochastic", u[r, chunk])
            assert np.array_equal(t.codes[r, chunk], ref)


# ------------------------------------------------------------------------------ NVFP4

def nvfp4_reference(x):
    """The NVFP4 recipe step by step in FP32 with ml_dtypes' casts, one block at a time."""
    f32 = np.float32
    s_enc = f32(2688) / np.abs(x).max()
    out = np.empty(x.shape)
    for start in range(0, x.size, 16):
        v = x[start:start + 16]
        sb = f32(min(np.abs(v).max() / f32(6) * s_enc, f32(448))).astype(ml_dtypes.float8_e4m3fn).astype(f32)
        q = ml_round((v * (s_enc / sb)).astype(np.float64), "fp4_e2m1") if sb > 0 else np.zeros(v.shape)
        out[start:start + 16] = q * (np.float64(sb) / np.float64(s_enc))
    return out


def test_nvfp4_matches_the_recipe_step_by_step():
    rng = np.random.default_rng(4)
    for scale in (1e-3, 1.0, 1e6):
        x = (rng.standard_normal(16 * 9) * scale * np.repeat(np.exp2(rng.integers(-12, 3, 9)), 16)).astype(np.float32)
        x[:16] = 0.0
        assert np.array_equal(nvfp4_dequantize(nvfp4_quantize(x)), nvfp4_reference(x))


def test_nvfp4_corners():
    assert not nvfp4_dequantize(nvfp4_quantize(np.zeros(20, np.float32))).any()
    with pytest.raises(NonFiniteInput):
        nvfp4_quantize(np.array([1.0, np.inf], np.float32))
    t = nvfp4_quantize(np.array([6.0 * 448] + [1.0] * 15, np.float32))
    assert t.s_enc == 1.0 and element_decode(t.scales, element("fp8_e4m3"))[0] == 448.0


# ------------------------------------------------------------------------------ block dot products

def exact(v):
    return Fraction(float(v))


def round_exact(value, acc):
    """RNE of a Fraction to FP32/FP16 by exact comparison with the float neighbours (overflow: Inf)."""
    dtype = np.float32 if acc == "fp32" else np.float16
    big = np.finfo(dtype).max
    top = exact(big) + (exact(big) - exact(np.nextafter(big, dtype(0)))) / 2  # halfway to 2^(emax+1)
    if abs(value) >= top:
        return dtype(math.copysign(np.inf, value))
    c = dtype(float(value))
    cands = {c, np.nextafter(c, dtype(np.inf)), np.nextafter(c, dtype(-np.inf))}
    best = min(cands, key=lambda f: (abs(exact(f) - value), int(np.array(f).view(np.uint32 if acc == "fp32" else np.uint16)) & 1))
    return best


def reference_dot(a, b, acc):
    """acc <- round(acc + exact block value), per block, in exact rationals."""
    dtype = np.float32 if acc == "fp32" else np.float16
    total = dtype(-0.0)
    pa = element_decode(a.codes, element(a.elem))
    pb = element_decode(b.codes, element(b.elem))
    if hasattr(a, "s_enc"):
        sa = element_decode(a.scales, element("fp8_e4m3"))
        sb = element_decode(b.scales, element("fp8_e4m3"))
    else:
        sa, sb = e8m0_decode(a.scales), e8m0_decode(b.scales)
    for i in range(len(sa)):
        blk = slice(i * a.block, (i + 1) * a.block)
        if np.isinf(total):  # finite blocks leave an overflowed accumulator at Inf
            continue
        value = sum((exact(x) * exact(y) for x, y in zip(pa[blk], pb[blk])), Fraction(0)) * exact(sa[i]) * exact(sb[i])
        s = exact(total) + value
        prods = pa[blk] * pb[blk]
        neg_zero = value == 0 and np.signbit(total) and all((prods == 0) & np.signbit(prods))
        total = round_exact(s, acc) if s != 0 else (dtype(-0.0) if neg_zero else dtype(0.0))
    return total


@pytest.mark.parametrize("name", tuple(ELEMENTS))
@pytest.mark.parametrize("acc", ["fp32", "fp16"])
def test_mx_dot_rounds_once_per_block(name, acc):
    rng = np.random.default_rng(5)
    for trial in range(8):
        spread = np.exp2(rng.integers(-20, 20, (2, 4, 1)) if acc == "fp32" else rng.integers(-12, 4, (2, 4, 1)))
        x = (rng.standard_normal((2, 4, 32)) * spread).reshape(2, 128).astype(np.float32)
        a, b = mx_quantize(x[0], name), mx_quantize(x[1], name)
        got, ref = mx_dot(a, b, acc), reference_dot(a, b, acc)
        assert got.tobytes() == ref.tobytes(), (trial, got, ref)


def test_nvfp4_dot_rounds_once_per_block():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 96)).astype(np.float32)
    a, b = nvfp4_quantize(x[0]), nvfp4_quantize(x[1])
    assert mx_dot(a, b).tobytes() == reference_dot(a, b, "fp32").tobytes()


def test_mx_dot_specials():
    e5 = element("fp8_e5m2")
    one = mx_quantize(np.ones(32, np.float32), "fp8_e5m2")
    assert element_decode(np.array([0x7C, 0xFC]), e5).tolist() == [np.inf, -np.inf]
    inf = one._replace(codes=np.where(np.arange(32) == 0, 0x7C, one.codes).astype(np.uint8))
    ninf = one._replace(codes=np.where(np.arange(32) == 1, 0xFC, one.codes).astype(np.uint8))
    zero = one._replace(codes=np.zeros(32, np.uint8))
    nan_scale = one._replace(scales=np.array([E8M0_NAN], np.uint8))
    assert mx_dot(inf, one) == np.inf
    assert np.isnan(mx_dot(inf, zero)) and np.isnan(mx_dot(inf, ninf)) and np.isnan(mx_dot(one, nan_scale))
    assert np.array(mx_dot(inf, zero)).view(np.uint32) == 0x7FC00000  # canonical quiet NaN
    big = mx_quantize(np.full(32, 3e38, np.float32), "fp8_e4m3")
    assert mx_dot(big, big) == np.inf and mx_dot(big, big, "fp16") == np.inf
    neg_zero = one._replace(codes=np.full(32, 0x80, np.uint8))
    assert np.signbit(mx_dot(neg_zero, one)) and not np.signbit(mx_dot(zero, one))


# ------------------------------------------------------------------------------ bad input

def test_bad_input_names_the_allowed_values():
    x = np.ones(32, np.float32)
    with pytest.raises(ValueError, match="element format must be one of"):
        mx_quantize(x, "fp4_e3m0")
    with pytest.raises(ValueError, match="block must be a positive multiple of lanes"):
        mx_quantize(x, block=0)
    with pytest.raises(ValueError, match=r"multiple of lanes \(8\)"):
        check_block(12, lanes=8)
    assert check_block(32, lanes=8) == 32
    with pytest.raises(ValueError, match="rounding must be one of"):
        mx_quantize(x, rounding="up")
    with pytest.raises(ValueError, match="axis must be an integer"):
        mx_quantize(x, axis=1)
    with pytest.raises(ValueError, match="acc must be one of"):
        mx_dot(mx_quantize(x), mx_quantize(x), "bf16")
    with pytest.raises(ValueError, match="rand"):
        mx_quantize(x, rounding="stochastic")
    assert NVFP4_BLOCK == 16
