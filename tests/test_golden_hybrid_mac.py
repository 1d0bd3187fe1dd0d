"""golden.hybrid_mac / golden.fp16_mac: the MAC contract (SPEC.md "Hardware units") from outside.

Checks use reasoning independent of the models' internals: float64 where it is provably exact,
exact rational sums (fractions.Fraction) against the definition of round-to-nearest-even, the
IEEE 754 rules for signed zeros and specials, and the two models against each other (hybrid_mac
sums in float64, fp16_mac in integers: they must agree on INT4 x R4FP4 operands).
"""

from fractions import Fraction

import numpy as np
import pytest

from golden import fp8_decode, fp8_encode, fp8_mac, fp16_mac, hybrid_mac, r4fp4_decode
from golden.hybrid_mac import CANONICAL_NAN, TIMING, latency
from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN

F16 = np.float16
L = 4


def bits(a):
    return np.asarray(a, dtype=F16).view(np.uint16)


def f16(*values):
    return np.array(values, dtype=F16)


def controls(rng, n, t):
    return rng.random((n, t)) < 0.85, rng.random((n, t)) < 0.05


def contract_reference(x, g, en, clear, acc=0.0):
    """The contract with float64 arithmetic, valid only where every lane sum is exact in float64:
    acc <- fp16(base + x0*g0 + x1*g1 + ...), base = -0 if clear else acc; clear alone -> +0."""
    out = np.empty(en.shape, np.uint16)
    for idx in np.ndindex(en.shape[:-1]):
        a = np.float64(acc)
        for t in range(en.shape[-1]):
            i = idx + (t,)
            if en[i]:
                s = -0.0 if clear[i] else a
                for xi, gi in zip(np.float64(x[i]), np.float64(g[i])):
                    s = s + xi * gi
                with np.errstate(over="ignore"):  # overflow to Inf is the contract
                    a = np.float64(F16(s))
            elif clear[i]:
                a = 0.0
            out[i] = bits(a)
    return out


# ------------------------------------------------------------------------------ agreement

def test_hybrid_agrees_with_fp16_mac_on_decoded_operands():
    """INT4 x R4FP4 at random phase/scale per cycle == FP16 x FP16 on the decoded values."""
    rng = np.random.default_rng(1)
    n, t = 6, 1500
    sx = rng.random((n, t)) < 0.5
    x = np.where(sx[..., None], rng.integers(-8, 8, (n, t, L)), rng.integers(0, 16, (n, t, L)))
    g = rng.integers(0, 16, (n, t, L))
    phase = rng.integers(0, 2, (n, t))
    scale = rng.integers(SCALE_EXP_MIN, SCALE_EXP_MAX + 1, (n, t))
    en, clear = controls(rng, n, t)
    got = hybrid_mac(x, g, phase, scale, sx, en, clear)
    gv = np.empty(g.shape, F16)
    for i in np.ndindex(n, t):
        gv[i] = r4fp4_decode(g[i], int(phase[i]), int(scale[i]))
    want = fp16_mac(x.astype(F16), gv, en, clear)
    assert np.array_equal(bits(got), bits(want))
    # The run covered overflow, subnormal and zero results.
    assert np.isinf(got).any() and (got == 0).any()
    assert ((bits(got) & 0x7FFF) > 0).any() and ((bits(got) & 0x7FFF) < 0x400).any()


def test_fp16_mac_agrees_with_float64_where_float64_is_exact():
    """|x|, |g| in [2^-3, 2^3] or zero: products are 22-bit significands at 2^-26 and above, and
    accumulators are multiples of 2^-24 below 2^17: every float64 sum is exact."""
    rng = np.random.default_rng(2)
    n, t = 4, 1000
    mag = np.ldexp(rng.integers(1024, 2048, (2, n, t, L)), rng.integers(-13, -7, (2, n, t, L)))
    sign = rng.choice([-1.0, 1.0], (2, n, t, L))
    mag[:, 0] = np.ldexp(mag[:, 0], -np.frexp(mag[:, 0])[1] + 3)  # MAC 0: in [4, 8), positive,
    sign[:, 0] = 1.0  # and never clears: it overflows
    vals = np.where(rng.random((2, n, t, L)) < 0.1, 0.0, mag) * sign  # signed zeros too
    x, g = vals.astype(F16)
    assert np.array_equal(x.astype(np.float64), vals[0])  # the operands are exactly these
    en, clear = controls(rng, n, t)
    clear[0] = False
    got = fp16_mac(x, g, en, clear)
    assert np.array_equal(bits(got), contract_reference(x, g, en, clear))
    assert np.isinf(got[0, -1]) and np.isfinite(got[1:]).all()


def test_hybrid_agrees_with_float64_contract():
    """hybrid_mac's operands are always exact in float64 (|x| <= 15, |g| a power of two)."""
    rng = np.random.default_rng(3)
    n, t = 3, 400
    x = rng.integers(-8, 8, (n, t, L))
    g = rng.integers(0, 16, (n, t, L))
    en, clear = controls(rng, n, t)
    for phase, scale in ((0, SCALE_EXP_MIN), (1, -3), (0, 0), (1, SCALE_EXP_MAX)):
        got = hybrid_mac(x, g, phase, scale, True, en, clear)
        gv = r4fp4_decode(g, phase, scale)
        assert np.array_equal(bits(got), contract_reference(x, gv, en, clear))


def test_fp16_mac_is_exact_where_float64_is_not():
    """32 + 2^-6 + 2^-48: FP16's ulp at 32 is 2^-5, so the exact sum lies just above the tie
    32 + 2^-6 and rounds up to 32 + 2^-5. float64 drops 2^-48 first and ties to even: 32."""
    x = f16(32, 2.0 ** -6, 2.0 ** -24, 0).reshape(1, L)
    g = f16(1, 1, 2.0 ** -24, 0).reshape(1, L)
    assert F16(np.float64(32) + 2.0 ** -6 + 2.0 ** -48) == 32  # the double-rounding trap
    assert fp16_mac(x, g)[0] == 32 + 2.0 ** -5
    # The mirror below the tie (minus 2^-48) rounds down.
    g_neg = f16(1, 1, -(2.0 ** -24), 0).reshape(1, L)
    assert fp16_mac(x, g_neg)[0] == 32


def _neighbors(r):
    r = F16(r)
    return np.nextafter(r, F16(-np.inf)), np.nextafter(r, F16(np.inf))


def test_fp16_mac_rounds_exact_sum_to_nearest_even():
    """One cycle from -0 over wide-range operands: the result is the FP16 nearest to the exact
    rational sum (ties to an even significand), or +-Inf iff |sum| >= 65520 (IEEE overflow)."""
    rng = np.random.default_rng(4)
    n = 3000
    raw = (rng.integers(0, 2, (2, n, L)) << 15 | rng.integers(0, 31, (2, n, L)) << 10
           | rng.integers(0, 1024, (2, n, L))).astype(np.uint16)
    x, g = raw.view(F16)
    # A third of the rows are exact ties: a normal v plus or minus half its ulp.
    k = n // 3
    e = rng.integers(-10, 16, k)
    x[:k] = 0
    x[:k, 0] = np.ldexp(rng.integers(1024, 2048, k), e - 10)
    x[:k, 1] = np.ldexp(rng.choice([-1.0, 1.0], k), e - 11)
    g[:k] = rng.choice([-1.0, 1.0], (k, L))
    got = fp16_mac(x[:, None], g[:, None], clear=True)[:, 0]
    ties = 0
    for i in range(n):
        s = sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x[i], g[i]))
        r = got[i]
        if abs(s) >= 65520:
            assert np.isinf(r) and (r > 0) == (s > 0), (i, s)
            continue
        assert np.isfinite(r)
        err = abs(Fraction(float(r)) - s)
        for nb in _neighbors(r):
            if np.isfinite(nb):
                other = abs(Fraction(float(nb)) - s)
                assert err <= other, (i, s, r)
                if err == other:
                    ties += 1
                    assert bits(r) & 1 == 0, (i, s, r)
        if s != 0:
            assert np.signbit(r) == (s < 0), (i, s, r)
    assert ties > 0  # the draw exercised exact ties


# ------------------------------------------------------------------------------ overflow

def test_overflow_threshold():
    """65504 is FP16's largest finite; 65504 + 16 is the tie to 65536 (even): Inf; + 8 stays."""
    one = f16(1, 0, 0, 0)
    x = f16([65504, 0, 0, 0], [16, 0, 0, 0], [8, 0, 0, 0], [-32752, 0, 0, 0])
    g = np.stack([one, one, one, f16(2, 0, 0, 0)])
    got = fp16_mac(x[None], g[None], en=True, clear=[True, False, True, True])[0]
    # cycle 2 restarts (clear) and gives 8; cycle 3 restarts at -65504.
    assert list(got[:2]) == [65504, np.inf]
    assert got[2] == 8 and got[3] == -65504
    got = fp16_mac(x[None, [0, 2]], g[None, [0, 2]])[0]
    assert list(got) == [65504, 65504]
    # hybrid_mac: 14*2^12 + 7*2^10 + 14*2^6 + 6*2^4 = 65504 (unsigned x), then + 2^4.
    xs = np.array([[[14, 7, 14, 6], [1, 0, 0, 0]]])
    gs = np.array([[[7, 6, 4, 3], [3, 0, 0, 0]]])
    got = hybrid_mac(xs, gs, phase=0, scale_exp=6, sx=False)[0]
    assert list(got) == [65504, np.inf]
    got = hybrid_mac(xs, gs | 8, phase=0, scale_exp=6, sx=False)[0]
    assert list(got) == [-65504, -np.inf]


# ------------------------------------------------------------------------------ signed zeros

@pytest.mark.parametrize("clear,acc,xs,gs,want", [
    # (clear, acc before, x lanes, g lanes, expected FP16 bits)
    (True, 0.0, [0, -0.0, 1, -2], [-1, 2, -0.0, 0], 0x8000),   # every product -0, base -0: -0
    (True, 0.0, [0, 0, 0, 0], [1, 1, -0.0, 1], 0x0000),        # +0 products: +0
    (False, -0.0, [-0.0, -0.0, 0, 0], [1, 3, -1, -2], 0x8000),  # -0 acc, -0 products: -0
    (False, 0.0, [-0.0] * 4, [1] * 4, 0x0000),                 # +0 acc: +0
    (True, 0.0, [3, -3, 0, 0], [5, 5, -1, -1], 0x0000),        # exact cancellation: +0
    (True, 0.0, [-(2.0 ** -24), 0, 0, 0], [2.0 ** -24, 0, 0, 0], 0x8000),  # -2^-48 rounds to -0
    (False, 0.0, [-(2.0 ** -24), 0, 0, 0], [2.0 ** -24, 0, 0, 0], 0x8000),
    (False, 2.0 ** -24, [-(2.0 ** -24), 0, 0, 0], [1, 0, 0, 0], 0x0000),  # x - x: +0
])
def test_fp16_signed_zeros(clear, acc, xs, gs, want):
    got = fp16_mac(f16(*xs)[None], f16(*gs)[None], clear=clear, acc=acc)
    assert bits(got)[0] == want


def test_hybrid_signed_zeros():
    """INT4 zero is +0 and code 8 is -0; a product's sign is the XOR of the operands' signs."""
    z = [0, 0, 0, 0]
    x = np.array([z, [-1, -3, -8, -2], z, [-1] * 4, [3, -3, 0, 0]])
    g = np.array([[8, 9, 15, 12], z, z, [8] * 4, [5, 5, 8, 8]])
    clear = [True, False, False, True, True]
    got = hybrid_mac(x[None], g[None], clear=clear)[0]
    assert list(bits(got)) == [0x8000, 0x8000, 0x0000, 0x0000, 0x0000]


# ------------------------------------------------------------------------------ specials

NANS = [0x7C01, 0x7E00, 0x7FFF, 0xFC01, 0xFE00, 0xFFFF]


@pytest.mark.parametrize("nan", NANS)
def test_nan_operand_gives_canonical_nan_until_clear(nan):
    n = np.uint16(nan).view(F16)
    x = np.array([[n, 1, 1, 1], [1, 1, 1, 1], [2, 0, 0, 0], [1, 1, 1, 1]], F16)
    g = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [3, 0, 0, 0], [1, 1, 1, 1]], F16)
    got = fp16_mac(x[None], g[None], clear=[False, False, True, False])[0]
    assert list(bits(got)) == [CANONICAL_NAN, CANONICAL_NAN, bits(F16(6)), bits(F16(10))]
    # g side, and a NaN accumulator in both units
    assert bits(fp16_mac(g[None, :1], x[None, :1]))[0, 0] == CANONICAL_NAN
    assert bits(fp16_mac(g[None, 1:2], g[None, 1:2], acc=n))[0, 0] == CANONICAL_NAN
    z = np.zeros((1, 1, L), int)
    assert bits(hybrid_mac(z, z, acc=n))[0, 0] == CANONICAL_NAN


@pytest.mark.parametrize("xs,gs,acc,want", [
    ([np.inf, 0, 0, 0], [0, 0, 0, 0], 0.0, "nan"),           # Inf x 0
    ([0, 0, 0, -np.inf], [0, 0, 0, -0.0], 0.0, "nan"),
    ([np.inf, -np.inf, 0, 0], [1, 1, 0, 0], 0.0, "nan"),     # Inf - Inf among products
    ([np.inf, 1, 0, 0], [-1, 65504, 0, 0], 0.0, -np.inf),    # Inf + finite
    ([np.inf, 0, 0, 0], [2, 0, 0, 0], -np.inf, "nan"),       # acc -Inf + Inf
    ([np.inf, 0, 0, 0], [2, 0, 0, 0], np.inf, np.inf),
    ([65504, 65504, 0, 0], [-65504, -65504, 0, 0], np.inf, np.inf),  # finite overflow into Inf acc
    ([1, 0, 0, 0], [1, 0, 0, 0], -np.inf, -np.inf),
])
def test_fp16_specials(xs, gs, acc, want):
    got = fp16_mac(f16(*xs)[None], f16(*gs)[None], acc=acc)[0]
    if want == "nan":
        assert bits(got) == CANONICAL_NAN
    else:
        assert got == want


# ------------------------------------------------------------------------------ controls

def test_en_clear_and_independent_macs():
    """en=0 holds, clear alone stores +0, clear+en equals starting that cycle from -0, and the
    leading axes are independent MACs (a batch equals its members run one by one)."""
    rng = np.random.default_rng(5)
    n, t = 5, 200
    x = rng.integers(-8, 8, (n, t, L))
    g = rng.integers(0, 16, (n, t, L))
    phase = rng.integers(0, 2, (n, t))
    scale = rng.integers(-12, 2, (n, t))
    en, clear = controls(rng, n, t)
    got = bits(hybrid_mac(x, g, phase, scale, True, en, clear))
    for i in range(n):
        one = bits(hybrid_mac(x[i], g[i], phase[i], scale[i], True, en[i], clear[i]))
        assert np.array_equal(one, got[i])
    prev = np.concatenate([np.zeros((n, 1), np.uint16), got[:, :-1]], axis=1)
    assert np.array_equal(got[~en & ~clear], prev[~en & ~clear])
    assert np.all(got[~en & clear] == 0)
    for i, k in zip(*np.nonzero(en & clear)):
        fresh = hybrid_mac(x[i, k:k + 1], g[i, k:k + 1], phase[i, k], scale[i, k], True, acc=-0.0)
        assert bits(fresh)[0] == got[i, k]
    assert (en & clear).any() and (~en & clear).any() and (~en & ~clear).any()


# ------------------------------------------------------------------------------ validation

@pytest.mark.parametrize("kwargs,match", [
    (dict(scale_exp=SCALE_EXP_MIN - 1), "scale_exp"),
    (dict(scale_exp=SCALE_EXP_MAX + 1), "scale_exp"),
    (dict(phase=2), "phase"),
    (dict(x=np.full((1, 1, L), 8)), r"x must hold INT4"),
    (dict(x=np.full((1, 1, L), -1), sx=False), r"x must hold INT4"),
    (dict(x=np.full((1, 1, L), 16), sx=False), r"x must hold INT4"),
    (dict(g=np.full((1, 1, L), 16)), "g must hold R4FP4"),
    (dict(x=np.zeros((1, 1, L), float)), "integer arrays"),
    (dict(g=np.zeros((1, 1, L + 1), int)), "same shape"),
])
def test_hybrid_rejects_bad_arguments(kwargs, match):
    args = dict(x=np.zeros((1, 1, L), int), g=np.zeros((1, 1, L), int)) | kwargs
    with pytest.raises(ValueError, match=match):
        hybrid_mac(**args)


def test_fp16_mac_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        fp16_mac(np.zeros((2, L), F16), np.zeros((2, L + 1), F16))
    with pytest.raises(ValueError, match="same shape"):
        fp16_mac(np.zeros(L, F16), np.zeros(L, F16))


# ------------------------------------------------------------------------------ fp8_mac (HFP8)

def _fp8_finite_codes(rng, shape, fmt):
    """Random codes of every finite class (e5m2: exponent 31 is Inf/NaN, left out here)."""
    codes = rng.integers(0, 256, shape)
    if fmt == "e5m2":
        codes = np.where((codes & 0x7C) == 0x7C, codes & 0x83, codes)
    return codes


@pytest.mark.parametrize("fmt_x,fmt_g", [("e4m3", "e5m2"), ("e5m2", "e4m3"), ("e4m3", "e4m3"), ("e5m2", "e5m2")])
def test_fp8_mac_agrees_with_float64_contract(fmt_x, fmt_g):
    """FP8 x FP8 products have <= 8 significant bits and span 2^-32..2^32 at most, so float64
    sums of 4 lanes plus an FP16 base are exact here: the float64 contract is the reference."""
    rng = np.random.default_rng(11)
    n, t = 4, 400
    x, g = _fp8_finite_codes(rng, (n, t, L), fmt_x), _fp8_finite_codes(rng, (n, t, L), fmt_g)
    en, clear = controls(rng, n, t)
    xv, gv = fp8_decode(x, fmt_x).astype(np.float64), fp8_decode(g, fmt_g).astype(np.float64)
    got = bits(fp8_mac(x, g, en, clear, fmt_x=fmt_x, fmt_g=fmt_g))
    assert np.array_equal(got, contract_reference(xv, gv, en, clear))
    assert np.isinf(got.view(F16)).any()  # overflow reached


def test_fp8_mac_specials():
    """e5m2 Inf/NaN codes: Inf x 0 and Inf - Inf are invalid (canonical NaN), NaN propagates as
    0x7E00, Inf times a finite nonzero is that Inf; e4m3 has no specials (0x7F is 480)."""
    e4 = lambda *v: fp8_encode(f16(*v), "e4m3")
    inf, ninf, nan = 0x7C, 0xFC, 0x7F
    cases = [([0, 0, 0, 0], [inf, 0, 0, 0], "nan"), ([1, 1, 0, 0], [inf, ninf, 0, 0], "nan"),
             ([1, 1, 1, 1], [nan, 1, 1, 1], "nan"), ([-1, 0, 0, 0], [inf, 0, 0, 0], -np.inf)]
    for xs, gs, want in cases:
        got = fp8_mac(e4(*xs)[None, None], np.array(gs)[None, None])[0, 0]
        assert bits(got) == CANONICAL_NAN if want == "nan" else got == want
    assert fp8_mac(np.array([[[0x7F]]]), np.array([[[0x3C]]]))[0, 0] == 480  # 480 * 1


def test_fp8_mac_rejects_bad_arguments():
    with pytest.raises(ValueError, match="FP8 codes"):
        fp8_mac(np.full((1, L), 256), np.zeros((1, L), int))
    with pytest.raises(ValueError, match="fmt must be one of"):
        fp8_mac(np.zeros((1, L), int), np.zeros((1, L), int), fmt_g="e3m4")


# ------------------------------------------------------------------------------ chains, latency

@pytest.mark.parametrize("chains", [2, 3])
def test_chains_are_independent_accumulators(chains):
    """chains=C: cycle t updates chain t mod C, each exactly the one-accumulator contract on its
    own cycles, starting from acc[..., j] (the chain of cycle j)."""
    rng = np.random.default_rng(13)
    n, t = 3, 240
    x, g = rng.integers(-8, 8, (n, t, L)), rng.integers(0, 16, (n, t, L))
    en, clear = controls(rng, n, t)
    start = rng.normal(0, 4, (n, chains)).astype(F16)
    got = bits(hybrid_mac(x, g, 0, -4, True, en, clear, acc=start, chains=chains))
    xf = x.astype(F16)
    gf = np.stack([r4fp4_decode(g[i].astype(np.uint8), 0, -4) for i in range(n)])
    for c in range(chains):
        one = bits(fp16_mac(xf[:, c::chains], gf[:, c::chains], en[:, c::chains], clear[:, c::chains],
                            acc=start[:, c]))
        assert np.array_equal(got[:, c::chains], one)


def test_latency_and_bad_chains():
    for unit, (front, chains) in TIMING.items():
        assert latency(unit) == front + chains
        assert latency(unit, chains=1) == front + 1
    with pytest.raises(ValueError, match="unit must be one of"):
        latency("mac_array")
    with pytest.raises(ValueError, match=r"chains must be an integer in \[1, 3\]"):
        fp16_mac(np.zeros((1, L), F16), np.zeros((1, L), F16), chains=4)
