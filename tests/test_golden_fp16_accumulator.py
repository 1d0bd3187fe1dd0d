"""golden.fp16_accumulator: the contract the training MACs share, from outside.

The exact core (`dot_products`, `round_fp16`) against an independent reference (tests/
mac_reference.py: rational sums, rounding by comparing FP16 neighbours) over random finite
operands with random dot product framing and 1, 2 and 3 chains; hand-checked examples of the
chains' rounding sequence and of the combination's IEEE rules; the framing (`last`); and the
cycle timing (`beat_cycles` against a cycle-by-cycle model of the handshake, `latency`).
"""

from fractions import Fraction

import numpy as np
import pytest

from golden.fp16_accumulator import (CANONICAL_NAN, CHAINS_MAX, TIMING, beat_cycles, check_last, dot_products,
                                     latency, round_fp16)
from tests.mac_reference import NEG_ZERO, fp16_nearest, reference

F16 = np.float16
L = 4


def bits(a):
    return np.asarray(a, dtype=F16).view(np.uint16)


def random_operands(rng, n, lanes, top=30):
    """Finite FP16 bit patterns: exponent fields clustered around top/2 and spread over [0, top],
    subnormals, +-0."""
    exp = np.clip(rng.integers(top // 2 - 5, top // 2 + 5, (n, 1)) + rng.integers(-6, 7, (n, lanes)), 0, top)
    exp = np.where(rng.random((n, lanes)) < 0.3, rng.integers(0, top + 1, (n, lanes)), exp)
    man = np.where(rng.random((n, lanes)) < 0.1, 0, rng.integers(0, 1024, (n, lanes)))
    raw = rng.integers(0, 2, (n, lanes)) << 15 | exp << 10 | man
    return raw.astype(np.uint16).view(F16)


def random_last(rng, n, chains):
    """Dot products of 1..chains+1 beats (short: chains they never reach) and longer ones."""
    lengths = np.where(rng.random(n) < 0.5, rng.integers(1, chains + 2, n), rng.integers(2, 40, n))
    ends = np.cumsum(lengths)
    last = np.zeros(n, bool)
    last[ends[ends <= n] - 1] = True
    return last


@pytest.mark.parametrize("chains", [1, 2, 3])
@pytest.mark.parametrize("top", [30, 9])
def test_dot_products_match_the_reference(chains, top):
    """Random finite operands (exponent fields up to 30: overflow reached; up to 9: tiny sums,
    subnormals and zeros) and framing: every beat's result equals the reference's."""
    rng = np.random.default_rng(chains * 100 + top)
    n = 1500
    x, g = random_operands(rng, n, L, top), random_operands(rng, n, L, top)
    last = random_last(rng, n, chains)
    got = dot_products(bits(x), bits(g), last, chains).view(np.uint16)
    want = reference(x, g, last, chains)
    assert np.array_equal(got, want), np.flatnonzero(got != want)[:5]
    if top == 30:
        assert np.isinf(got.view(F16)[last]).any()
    else:
        assert ((got & 0x7FFF) < 0x400).any() and ((got & 0x7FFF) == 0).any()


def test_round_fp16_is_nearest_even():
    rng = np.random.default_rng(1)
    for _ in range(3000):
        lsb = int(rng.integers(-60, -23))
        n = ((int.from_bytes(rng.bytes(10), "little") >> int(rng.integers(0, 80))) or 1) * int(rng.choice([-1, 1]))
        assert round_fp16(n, lsb) == fp16_nearest(Fraction(n, 1 << -lsb)), (n, lsb)


def _one(x_values, chains, last=None):
    """FP16 bits after each beat of one lane x g = 1 (the beat's value is x)."""
    x = np.array(x_values, F16)[:, None]
    return dot_products(bits(x), bits(np.ones_like(x)), check_last(last, x.shape), chains).view(np.uint16)


def test_rounding_sequence_by_hand():
    """2048 + 1 + 1 + 1: FP16's ulp at 2048 is 2, so one accumulator ties to even at every beat
    and stays 2048; with 2 or 3 chains the ones add up on other chains (exact) and the one
    rounding of the combination gives 2050. The order of chains does not matter."""
    assert _one([2048, 1, 1, 1], 1)[-1] == bits(F16(2048))
    for chains in (2, 3):
        assert _one([2048, 1, 1, 1], chains)[-1] == bits(F16(2050))
    # Chains 65504 and 16: the combination's exact sum 65520 ties to Inf; 65504 + 8 stays.
    assert _one([65504, 16], 2)[-1] == 0x7C00 and _one([65504, 8], 2)[-1] == bits(F16(65504))


def test_combination_specials_and_zeros():
    """+Inf and -Inf chains give NaN (one accumulator: Inf + finite stays Inf); a chain a short dot
    product never reaches is -0, the identity: a one-beat dot product is its beat's rounding;
    every chain -0 gives -0, a +0 chain +0."""
    big = [60000, -60000, 60000, -60000]  # chain 0: 120000 -> +Inf, chain 1: -Inf
    assert _one(big, 2)[-1] == CANONICAL_NAN and _one(big, 1)[-1] == 0
    assert _one([60000, 60000, -1], 1)[-1] == 0x7C00  # Inf holds in one accumulator
    assert _one([-0.0], 3)[-1] == NEG_ZERO and _one([-0.0, 0.0], 2)[-1] == 0
    assert _one([-0.0, -0.0, -0.0], 2)[-1] == NEG_ZERO
    assert _one([2.0 ** -24 * 3], 3)[-1] == bits(F16(2.0 ** -24 * 3))


def test_framing_and_independent_units():
    """`last` ends a dot product: each result equals its dot product run alone (and the beat
    after `last` starts from -0); leading axes are independent units; default `last`: only the
    final beat."""
    rng = np.random.default_rng(5)
    x, g = random_operands(rng, 200, L), random_operands(rng, 200, L)
    for chains in (1, 2, 3):
        last = random_last(rng, 200, chains)
        got = dot_products(bits(x), bits(g), last, chains)
        starts = np.concatenate([[0], np.flatnonzero(last)[:-1] + 1])
        for s, e in zip(starts, np.flatnonzero(last)):
            alone = dot_products(bits(x[s:e + 1]), bits(g[s:e + 1]), check_last(None, x[s:e + 1].shape), chains)
            assert np.array_equal(bits(alone), bits(got[s:e + 1]))
        both = dot_products(bits(np.stack([x, x[::-1]])), bits(np.stack([g, g[::-1]])),
                            np.stack([last, last[::-1]]), chains)
        assert np.array_equal(bits(both[0]), bits(got))
        assert np.array_equal(bits(both[1]), bits(dot_products(bits(x[::-1]), bits(g[::-1]), last[::-1], chains)))
    assert check_last(None, (2, 3, L)).tolist() == [[False, False, True]] * 2


def _handshake(gaps, last, chains):
    """Cycle by cycle: the upstream offers beat i after gaps[i] idle cycles and holds it; in_ready
    is low inside a dot product unless a whole number of C-cycle turns has passed since its
    previous beat (golden.fp16_accumulator's docstring)."""
    taken, cycle, prev, busy = [], 0, None, False
    for i, gap in enumerate(gaps):
        cycle = (0 if prev is None else prev + 1) + gap
        while busy and (cycle - prev - 1) % chains != 0:
            cycle += 1
        taken.append(cycle)
        prev, busy = cycle, not last[i]
    return taken


@pytest.mark.parametrize("chains", [1, 2, 3])
def test_beat_cycles(chains):
    rng = np.random.default_rng(chains)
    gaps = np.where(rng.random(300) < 0.3, rng.integers(1, 7, 300), 0)
    last = random_last(rng, 300, chains)
    assert beat_cycles(gaps, last, chains).tolist() == _handshake(gaps, last, chains)
    # No gaps: one beat per cycle, dot products back to back.
    assert beat_cycles(np.zeros(300, int), last, chains).tolist() == list(range(300))
    # A gap inside a dot product costs whole turns; before a dot product's first beat, only itself.
    assert beat_cycles([0, 1, 0], [False, False, True], chains).tolist() == [0, 1 + chains, 2 + chains]
    assert beat_cycles([0, 1, 0], [True, False, True], chains).tolist() == [0, 2, 3]


def test_latency():
    """front + C (the chain update) + C (the combination; none for one chain)."""
    for unit, (front, chains) in TIMING.items():
        assert latency(unit) == front + 2 * chains
        assert latency(unit, chains=1) == front + 1
        assert latency(unit, front=0, chains=3) == 6
    assert latency("fp16_mac", front=2, chains=1) == 3


@pytest.mark.parametrize("call,match", [
    (lambda: latency("mac_array"), "unit must be one of"),
    (lambda: latency("hybrid_mac", front=2), r"front must be an integer in \[0, 1\]"),
    (lambda: latency("fp8_mac", chains=CHAINS_MAX + 1), r"chains must be an integer in \[1, 3\]"),
    (lambda: dot_products(np.zeros((1, L), np.uint16), np.zeros((1, L), np.uint16), [True], 0), "chains"),
    (lambda: beat_cycles([0, -1], [False, True], 2), "gaps must be"),
    (lambda: beat_cycles([0], [True], 4), "chains"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
