"""golden.lfsr16: maximal period (checked exhaustively, not taken from the citation), seeding,
leap-forward words, and parameter validation."""

import numpy as np
import pytest

from golden.lfsr16 import PERIOD, TOGGLE_MASK, check_steps, lfsr16, lfsr16_step, seed_state

NONZERO = np.arange(1, 1 << 16, dtype=np.uint16)


def test_single_step_is_a_single_cycle_over_all_nonzero_states():
    nxt = lfsr16_step(NONZERO).astype(np.int64)
    assert np.unique(nxt).size == PERIOD and nxt.min() == 1  # a permutation of the nonzero states
    s, length = 1, 0
    perm = np.zeros(1 << 16, np.int64)
    perm[1:] = nxt
    perm = perm.tolist()
    while True:
        s, length = perm[s], length + 1
        if s == 1:
            break
    assert length == PERIOD  # one cycle through every nonzero state: the polynomial is primitive


def test_zero_state_locks():
    assert lfsr16_step(0, 5) == 0  # why seed 0 must not reach the state


def test_galois_step():
    # Shift right; a 1 shifted out toggles the mask bits.
    assert lfsr16_step(1) == TOGGLE_MASK and lfsr16_step(2) == 1 and lfsr16_step(3) == 1 ^ TOGGLE_MASK


@pytest.mark.parametrize("steps", [1, 2, 16, 64])
def test_words_follow_the_step_function(steps):
    for seed in (1, 0xACE1, 0xFFFF):
        words = lfsr16(seed, 300, steps)
        assert words[0] == seed
        assert np.array_equal(words[1:], lfsr16_step(words[:-1], steps))


@pytest.mark.parametrize("steps", [1, 16, 7])
def test_word_period_is_maximal(steps):
    words = lfsr16(0xBEEF, PERIOD + 5, steps)
    assert np.unique(words[:PERIOD]).size == PERIOD and words.min() >= 1
    assert np.array_equal(words[PERIOD:], words[:5])


def test_seed_zero_loads_one():
    assert seed_state(0) == 1 and seed_state(0x1234) == 0x1234
    assert np.array_equal(lfsr16(0, 100), lfsr16(1, 100))


def test_leap_forward_words_are_not_shifts():
    """Single-step words repeat the previous word's bits 1..10 in bits 0..9 (the mask leaves
    them alone); the default words, 16 steps apart, do so only by chance (1 in 1024)."""
    low = 0x3FF
    one = lfsr16(0xACE1, 4000, steps=1).astype(np.int64)
    assert np.all((one[1:] & low) == (one[:-1] >> 1) & low)
    words = lfsr16(0xACE1, 4000).astype(np.int64)
    assert np.mean((words[1:] & low) == (words[:-1] >> 1) & low) < 0.005


@pytest.mark.parametrize("bad", [0, 3, 5, 15, 17, 65, True, 2.0])
def test_bad_steps(bad):
    with pytest.raises(ValueError, match="steps must be"):
        check_steps(bad)


@pytest.mark.parametrize("bad", [-1, 1 << 16, 1.0, None])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be an integer in"):
        lfsr16(bad, 4)
