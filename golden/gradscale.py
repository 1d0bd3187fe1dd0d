"""GradScale over a stream of tensors: what `gradscale_unit` emits per tensor.

The exponent itself is `golden.r4fp4.gradscale_exp` (docs/spec.md "GradScale", Sun et al. 2020): the
smallest s with max|g| <= 64 * 2^s, clamped to [-18, 8]; NaNs are ignored, an Inf gives 8, an
all-zero (or all-NaN) tensor gives -18. This module adds the two status flags the unit reports
with it, each defined through the R4FP4 encoder so there is one definition of every number:
- `invalid`: the tensor holds a NaN (the encoder will flag those values invalid);
- `overflow`: some value saturates when the tensor is encoded at this scale (phase 0): max|g| >
  64 * 2^8 = 16384, Inf included. Only the clamp at 8 can cause it.
"""

from typing import NamedTuple

import numpy as np

from .grid import fp16_bits
from .r4fp4 import gradscale_exp, r4fp4_encode_flags

__all__ = ["GradScale", "gradscale", "gradscale_stream"]


class GradScale(NamedTuple):
    scale_exp: int
    invalid: bool
    overflow: bool


def gradscale(g):
    """GradScale(scale_exp, invalid, overflow) of one tensor of FP16 values (see module doc)."""
    bits = fp16_bits(g).ravel()
    s = gradscale_exp(bits.view(np.float16))
    flags = r4fp4_encode_flags(bits.view(np.float16), phase=0, scale_exp=s)
    return GradScale(s, bool(flags.invalid.any()), bool(flags.overflow.any()))


def gradscale_stream(g, last):
    """One GradScale per tensor of a beat stream: g[i] is beat i (one value or a row of lanes).

    A tensor ends on each beat with last[i] true; beats after the final `last` form no tensor
    (the unit emits nothing for them yet). A lane row counts whole: pad a short final beat with
    zeros, which leave max|g| unchanged.
    """
    bits = fp16_bits(g)
    last = np.asarray(last, dtype=bool)
    if bits.shape[:1] != last.shape:
        raise ValueError(f"g needs one beat per entry of last ({last.size}), got shape {bits.shape}")
    ends = np.flatnonzero(last) + 1
    starts = np.concatenate([[0], ends[:-1]])
    return [gradscale(bits[a:b].view(np.float16)) for a, b in zip(starts, ends)]
