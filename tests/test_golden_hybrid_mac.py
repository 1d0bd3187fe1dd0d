"""golden.hybrid_mac: IBM's INT4 x R4FP4 dot products on the shared accumulator, from outside.

hybrid_mac's operands are exact in FP16, so it must agree with fp16_mac on the decoded operands
(per-beat phase and scale_exp) and with the independent reference (tests/mac_reference.py);
named cases for the overflow threshold and signed zeros (INT4 zero is +0, R4FP4 code 8 is -0),
and the argument checks.
"""

import numpy as np
import pytest

from golden import fp16_mac, hybrid_mac, r4fp4_decode
from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN
from tests.mac_reference import reference

F16 = np.float16
L = 4


def bits(a):
    return np.asarray(a, dtype=F16).view(np.uint16)


def _decoded(g, phase, scale):
    gv = np.empty(g.shape, F16)
    for i in np.ndindex(g.shape[:-1]):
        gv[i] = r4fp4_decode(g[i].astype(np.uint8), int(phase[i]), int(scale[i]))
    return gv


@pytest.mark.parametrize("chains", [1, 2, 3])
def test_agrees_with_fp16_mac_on_decoded_operands(chains):
    """INT4 x R4FP4 at random phase/scale/signedness per beat == FP16 x FP16 on the decoded
    values, for random dot products (leading axes: independent units)."""
    rng = np.random.default_rng(1)
    n, t = 4, 1200
    sx = rng.random((n, t)) < 0.5
    x = np.where(sx[..., None], rng.integers(-8, 8, (n, t, L)), rng.integers(0, 16, (n, t, L)))
    g = rng.integers(0, 16, (n, t, L))
    phase = rng.integers(0, 2, (n, t))
    scale = rng.integers(SCALE_EXP_MIN, SCALE_EXP_MAX + 1, (n, t))
    last = rng.random((n, t)) < 0.05
    got = hybrid_mac(x, g, phase, scale, sx, last=last, chains=chains)
    want = fp16_mac(x.astype(F16), _decoded(g, phase, scale), last=last, chains=chains)
    assert np.array_equal(bits(got), bits(want))
    # The run covered overflow, subnormal and zero results.
    assert np.isinf(got).any() and (got == 0).any()
    assert ((bits(got) & 0x7FFF) > 0).any() and ((bits(got) & 0x7FFF) < 0x400).any()


@pytest.mark.parametrize("chains", [1, 2])
def test_matches_the_reference(chains):
    rng = np.random.default_rng(3)
    t = 500
    x, g = rng.integers(-8, 8, (t, L)), rng.integers(0, 16, (t, L))
    last = rng.random(t) < 0.1
    for phase, scale in ((0, SCALE_EXP_MIN), (1, -3), (0, 0), (1, SCALE_EXP_MAX)):
        got = hybrid_mac(x, g, phase, scale, True, last=last, chains=chains)
        gv = r4fp4_decode(g.astype(np.uint8), phase, scale)
        assert np.array_equal(bits(got), reference(x.astype(F16), gv, last, chains))


def test_overflow_threshold():
    """14*2^12 + 7*2^10 + 14*2^6 + 6*2^4 = 65504 (unsigned x), then + 2^4 ties to Inf."""
    xs = np.array([[14, 7, 14, 6], [1, 0, 0, 0]])
    gs = np.array([[7, 6, 4, 3], [3, 0, 0, 0]])
    for chains in (1, 2):
        assert list(hybrid_mac(xs, gs, phase=0, scale_exp=6, sx=False, chains=chains)) == [65504, np.inf]
        assert list(hybrid_mac(xs, gs | 8, phase=0, scale_exp=6, sx=False, chains=chains)) == [-65504, -np.inf]


def test_signed_zeros():
    """INT4 zero is +0 and code 8 is -0; a product's sign is the XOR of the operands' signs."""
    z = [0, 0, 0, 0]
    x = np.array([z, [-1, -3, -8, -2], z, [-1] * 4, [3, -3, 0, 0]])
    g = np.array([[8, 9, 15, 12], z, z, [8] * 4, [5, 5, 8, 8]])
    got = hybrid_mac(x, g, last=[False, False, True, True, True], chains=1)
    assert list(bits(got)) == [0x8000, 0x8000, 0x0000, 0x0000, 0x0000]


@pytest.mark.parametrize("kwargs,match", [
    (dict(scale_exp=SCALE_EXP_MIN - 1), "scale_exp"),
    (dict(scale_exp=SCALE_EXP_MAX + 1), "scale_exp"),
    (dict(phase=2), "phase"),
    (dict(x=np.full((1, L), 8)), r"x must hold INT4"),
    (dict(x=np.full((1, L), -1), sx=False), r"x must hold INT4"),
    (dict(x=np.full((1, L), 16), sx=False), r"x must hold INT4"),
    (dict(g=np.full((1, L), 16)), "g must hold R4FP4"),
    (dict(x=np.zeros((1, L), float)), "integer arrays"),
    (dict(g=np.zeros((1, L + 1), int)), "same shape"),
    (dict(chains=0), r"chains must be an integer in \[1, 3\]"),
])
def test_rejects_bad_arguments(kwargs, match):
    args = dict(x=np.zeros((1, L), int), g=np.zeros((1, L), int)) | kwargs
    with pytest.raises(ValueError, match=match):
        hybrid_mac(**args)
