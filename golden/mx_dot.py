"""The `mx_dot` unit's contract: block dot products of MX (or NVFP4) vectors streamed L elements
per beat, and its timing (docs/spec.md "`mx_dot`"; the arithmetic: golden.mx.mx_dot).

A beat carries L element codes of each vector (`a`, `b`) and the two block scale codes (`sa`,
`sb`: E8M0 for the MX formats, E4M3 for "nvfp4"), which the unit reads on a block's last beat.
block / L beats make a block (counted from the dot product's first beat); a beat with `last`
ends the dot product and must be a block's last beat (a dot product is whole blocks: a shorter
vector is zero-padded, as golden.mx does). A dot
product yields one result, golden.mx.mx_dot of its blocks: per block the exact sum of the
element products times both scales, one round-to-nearest-even into the accumulator (FP32 or
FP16), starting at -0.

Timing. The unit takes beats on valid/ready. Two register stages before the accumulator (the
lanes' products and beat sum; the block's running sum) and ADD_STAGES in the accumulator's
add-normalize-round, whose result the next block of the same dot product adds to: so a block's
last beat is held (in_ready low) until ADD_STAGES cycles have passed since the previous block
of its dot product closed. With block / L >= ADD_STAGES that never happens and the unit takes a
beat every cycle; a dot product's first block never waits. The result shows on `out_data` for
the one cycle `out_valid` is high, `latency()` cycles after the dot product's last beat was taken.
"""

import numpy as np

from .grid import check_int
from .mx import ACCUMULATORS, ELEMENTS, NVFP4_BLOCK, check_block, mx_dot

__all__ = ["FORMATS", "ADD_STAGES", "FRONT_STAGES", "LANES_MAX", "check_config", "element_format", "latency",
           "beat_cycles", "dot_products"]

FORMATS = tuple(ELEMENTS) + ("nvfp4",)
ADD_STAGES = 4    # accumulator: compare, align + add, normalize, round
FRONT_STAGES = 2  # products and beat sum; block running sum
LANES_MAX = 64


def check_config(fmt, block, lanes, acc):
    """(fmt, block, lanes, acc) validated: fmt in FORMATS, lanes in [1, LANES_MAX], block a positive
    multiple of lanes (NVFP4: 16), acc in ACCUMULATORS; else ValueError naming the allowed values."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    lanes = check_int("lanes", lanes, 1, LANES_MAX)
    if fmt == "nvfp4" and block != NVFP4_BLOCK:
        raise ValueError(f"block must be {NVFP4_BLOCK} for nvfp4, got {block!r}")
    block = check_block(block, lanes)
    if acc not in ACCUMULATORS:
        raise ValueError(f"acc must be one of {ACCUMULATORS}, got {acc!r}")
    return fmt, block, lanes, acc


def element_format(fmt):
    """The golden.mx.Element of a unit format: NVFP4's elements are FP4 E2M1."""
    return ELEMENTS["fp4_e2m1" if fmt == "nvfp4" else fmt]


def latency():
    """Cycles from taking a dot product's last beat to its result on `out_data`."""
    return FRONT_STAGES + ADD_STAGES


def beat_cycles(gaps, beats_per_block, last):
    """Cycle (from 0) in which each beat is taken: beat i is offered `gaps[i]` idle cycles after
    the previous beat was taken (beat 0 at cycle gaps[0]) and held until taken; a block's last
    beat is taken no earlier than ADD_STAGES cycles after the previous block of its dot product
    closed. `last` (bools, one per beat) ends dot products."""
    out, t, pos, prev_close = [], -1, 0, None
    for gap, end in zip(gaps, last):
        t += 1 + int(gap)
        closes = pos == beats_per_block - 1
        if closes and prev_close is not None:
            t = max(t, prev_close + ADD_STAGES)
        out.append(t)
        pos = 0 if closes else pos + 1
        if closes:
            prev_close = None if end else t
    return np.array(out, np.int64)


def dot_products(pairs, acc="fp32"):
    """golden.mx.mx_dot of each (a, b) pair of 1-D block tensors: the unit's results, in order,
    as unsigned bit patterns of the accumulator format."""
    view = np.uint32 if acc == "fp32" else np.uint16
    return [int(np.array(mx_dot(a, b, acc)).view(view)) for a, b in pairs]

