"""golden.mx_dot: the mx_dot unit's stream timing (results: tests/test_golden_mx.py)."""

import numpy as np

from golden.mx import mx_dot, mx_quantize
from golden.mx_dot import ADD_STAGES, beat_cycles, dot_products, latency


def test_long_blocks_stream_one_beat_a_cycle():
    last = np.zeros(32, bool)
    last[[7, 23, 31]] = True  # dot products of 1, 2 and 1 blocks of 8 beats
    assert beat_cycles(np.zeros(32), 8, last).tolist() == list(range(32))


def test_a_block_closes_no_sooner_than_the_loop_allows():
    """One beat per block: within a dot product blocks close ADD_STAGES cycles apart; a new dot
    product's first block does not wait; idle cycles count towards the wait."""
    last = np.array([0, 0, 1, 0, 1], bool)
    assert ADD_STAGES == 4
    assert beat_cycles(np.zeros(5), 1, last).tolist() == [0, 4, 8, 9, 13]
    assert beat_cycles(np.array([0, 2, 5, 0, 0]), 1, last).tolist() == [0, 4, 10, 11, 15]
    # two beats per block: the second block's last beat waits one cycle
    assert beat_cycles(np.zeros(4), 2, np.array([0, 0, 0, 1], bool)).tolist() == [0, 1, 2, 5]


def test_results_are_the_golden_dot_products_as_bits():
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    a, b = mx_quantize(x, "fp8_e4m3"), mx_quantize(x[::-1].copy(), "fp8_e4m3")
    assert dot_products([(a, b)]) == [int(np.array(mx_dot(a, b)).view(np.uint32))]
    assert dot_products([(a, b)], "fp16") == [int(np.array(mx_dot(a, b, "fp16")).view(np.uint16))]
    assert latency() == 6
