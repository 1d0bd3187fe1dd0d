"""16-bit maximal-length LFSR: the random source `lfsr16` for stochastic rounding.

Galois (internal-XOR) form, shifting right: out = state & 1; state >>= 1; if out: state ^= 0xB400.
The toggle mask 0xB400 is the feedback polynomial x^16 + x^14 + x^13 + x^11 + 1 (taps 16, 14, 13,
11: the 16-bit Galois example of Wikipedia, "Linear-feedback shift register"; Xilinx XAPP052's
table lists another maximal tap set for 16 bits, 16, 15, 13, 4; any primitive polynomial serves).
It is primitive over GF(2), so the state visits all 65,535 nonzero values before repeating;
tests/test_golden_lfsr16.py checks that exhaustively rather than trusting the citation.

Consecutive single-step states share 15 bits (each is the previous one shifted), which would
correlate the 16-bit words a stochastic rounder consumes. The unit therefore advances `steps`
single steps per enabled cycle (default 16, "leap-forward" LFSR: one 16x16 XOR network per
cycle), so no word is a shift of the previous one. The period stays 65,535 when `steps` is coprime
to 65535 = 3 * 5 * 17 * 257, as 16 is; other values are rejected.

A zero state would lock the LFSR: seed 0 is mapped to 1 (the hardware does the same on `load`).
The unit's word `rand_out` is the state: `lfsr16(seed, n)` lists it for n consecutive enabled
cycles after loading `seed`. It is the spec's stochastic-rounding `u` as is (docs/spec.md, R4FP4 /
FP8 `stochastic`: round up iff u < thr, thr = ceil((y - lo) * 2^16 / (hi - lo))). Over a period
u takes every value 1..65535 once and never 0, so a value rounds up with probability
(thr - 1) / 65535 instead of thr / 65536: low by at most 1/65535 (the price of a 16-bit LFSR).
"""

import functools
import math

import numpy as np

from .grid import check_int, frozen

__all__ = ["TOGGLE_MASK", "PERIOD", "check_steps", "lfsr16", "lfsr16_step", "seed_state"]

TOGGLE_MASK = 0xB400
PERIOD = (1 << 16) - 1


def check_steps(steps):
    """Single steps per cycle: 1..64 and coprime to 65535 (so the period stays maximal)."""
    steps = check_int("steps", steps, 1, 64)
    if math.gcd(steps, PERIOD) != 1:
        raise ValueError(f"steps must be coprime to 65535 = 3*5*17*257 (keeps the period), got {steps}")
    return steps


def seed_state(seed):
    """The state `load` sets for a 16-bit seed: the seed itself, except 0 -> 1."""
    seed = check_int("seed", seed, 0, 0xFFFF)
    return seed or 1


def lfsr16_step(state, steps=1):
    """State(s) after `steps` single Galois steps (vectorized over uint16 states)."""
    steps = check_int("steps", steps, 0, 1 << 20)
    s = np.asarray(state, dtype=np.uint32)
    for _ in range(steps):
        s = (s >> 1) ^ ((s & 1) * np.uint32(TOGGLE_MASK))
    return s.astype(np.uint16)


@functools.lru_cache(maxsize=None)
def _orbit():
    """The 65,535 states in single-step order from state 1, and each state's index in it.

    Built on first use (not at import) and kept: every later sequence is a gather from it.
    """
    orbit = np.empty(PERIOD, dtype=np.uint16)
    s = 1
    for i in range(PERIOD):
        orbit[i] = s
        s = (s >> 1) ^ (TOGGLE_MASK if s & 1 else 0)
    index = np.full(1 << 16, -1, dtype=np.int64)  # state 0 is on no orbit
    index[orbit] = np.arange(PERIOD)
    return frozen(orbit), frozen(index)


def lfsr16(seed, n, steps=16):
    """`rand` on n consecutive enabled cycles after loading `seed`: uint16 array of length n.

    Element k is the state after k * steps single steps from seed_state(seed).
    """
    steps = check_steps(steps)
    n = check_int("n", n, 0, 1 << 40)
    orbit, index = _orbit()
    k = np.arange(n, dtype=np.int64)
    return orbit[(index[seed_state(seed)] + k * steps) % PERIOD]
