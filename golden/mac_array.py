"""Tile semantics of the mixed-precision MAC array `mac_array` (docs/spec.md, "MAC array").

FracTrain (Fu et al., NeurIPS 2020, Sec. 4) runs PFQ / DFQ on a Bit-Fusion array whose precision
may change at every tile. A stream of input beats k = 0, 1, ... carries one A lane per row, one B
lane per column and the mode (pa, pb, sa, sb) of that beat; `first` / `last` delimit tiles:

    C[r][c] = sum over the tile's beats k of fusion_dot(A[k][r], B[k][c], mode_k)  (mod 2^ACCW)

kept as ACCW-bit two's complement (wrapping). This module is the scoreboard of
verif/test_mac_array.py and the definition the RTL (hdl_gen/mac_array.py) is held to:

- A tile starts at a beat with `first`, or at any beat when no tile is open (after reset or
  after a `last`), so `first` may be tied low. `last` ends the tile and emits it.
- `first` while a tile is open abandons that tile: its partial sums are dropped (never emitted)
  and the sticky `error` is set.
- A beat whose precision code is invalid contributes 0 to every accumulator and sets `error`.
  Fusion PEs accept every code whose width is <= MAXB; fixed PEs (the `mac_array_fixed8`
  baseline: one plain MAXB x MAXB multiplier per PE, MAXB-bit lanes) accept only MAXB x MAXB.
- MACs performed per precision pair: ROWS * COLS * P(pa, pb) per beat of a valid mode.
"""

from collections import namedtuple

import numpy as np

from .fusion import DEFAULT_LAYOUT, PRECISION_BITS, bus_bits, check_maxb, fusion_dot, is_valid_mode, products

PE_KINDS = ("fusion", "fixed")
ACCW_MAX = 64  # accumulators are computed in int64
# The array's default widths (docs/spec.md, "`mac_array`, `mac_array_fixed8`"): the accumulator
# width ACCW (results modulo 2^ACCW) and the width CNTW of the saturating cycle and MAC counters.
# The one definition: the golden model's, the generators' and the drivers' defaults, the committed
# rtl/ configurations and the cost model read them from here.
ACCW_DEFAULT = 32
CNTW_DEFAULT = 48

MacArrayResult = namedtuple("MacArrayResult", "tiles error macs")
MacArrayResult.__doc__ = """Output of `mac_array`.

tiles: int64 array (T, ROWS, COLS), the completed tiles in order, as signed ACCW-bit values.
error: the sticky error flag after the stream.
macs:  {(bits_a, bits_b): MACs performed} for every valid precision pair of the PE kind.
"""


def check_pe(pe):
    if pe not in PE_KINDS:
        raise ValueError(f"pe must be one of {PE_KINDS}, got {pe!r}")


def lane_bits(maxb=8, pe="fusion"):
    """Width of one A or B lane: the fusion unit's bus (MAXB*MAXB/2), or MAXB for fixed PEs."""
    check_pe(pe)
    check_maxb(maxb)
    return bus_bits(maxb) if pe == "fusion" else maxb


def accw_range(maxb=8):
    """Allowed accumulator widths: at least the fusion unit's product width, at most 64."""
    check_maxb(maxb)
    return range(2 * maxb + 2, ACCW_MAX + 1)


def check_accw(accw, maxb=8):
    allowed = accw_range(maxb)
    if not isinstance(accw, int) or accw not in allowed:
        raise ValueError(f"accw must be an integer in [{allowed.start}, {allowed.stop - 1}], got {accw!r}")


def valid_modes(maxb=8, pe="fusion"):
    """The (pa, pb) code pairs a PE accepts, in code order."""
    check_pe(pe)
    codes = range(len(PRECISION_BITS))
    if pe == "fixed":
        top = PRECISION_BITS.index(maxb)
        return [(top, top)]
    return [(pa, pb) for pa in codes for pb in codes if is_valid_mode(pa, pb, maxb)]


def pe_products(pa, pb, maxb=8, pe="fusion"):
    """Products one PE computes per beat in mode (pa, pb): P of the fusion unit, 1 or 0 if fixed."""
    if (pa, pb) not in valid_modes(maxb, pe):
        return 0
    return products(pa, pb, maxb)


def wrap(x, accw):
    """Signed two's complement value of the low `accw` bits of int64 `x` (accw <= 64)."""
    shift = np.uint64(ACCW_MAX - accw)
    return (np.asarray(x, dtype=np.int64).astype(np.uint64) << shift).astype(np.int64) >> shift.astype(np.int64)


def _per_beat(values, n, name, hi):
    v = np.broadcast_to(np.asarray(values), (n,))
    if v.dtype.kind not in "uib" or (n and (v.min() < 0 or v.max() > hi)):
        raise ValueError(f"{name} must be integers in [0, {hi}], got {values!r}")
    return v.astype(np.int64)


def _lanes(x, name, width):
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (beats, lanes), got shape {x.shape}")
    if x.dtype == object:
        bad = any(not 0 <= int(v) < (1 << width) for v in x.ravel())
    elif x.dtype.kind in "ui":
        bad = x.size and (int(x.min()) < 0 or int(x.max()) >= (1 << width))
    else:
        raise ValueError(f"{name} must be integer or object dtype, got {x.dtype}")
    if bad:
        raise ValueError(f"{name} lanes must be in [0, 2**{width})")
    return x if x.dtype == object or width > 64 else x.astype(np.uint64)


def mac_array(a, b, pa, pb, sa, sb, first=None, last=None, *, maxb=8, accw=ACCW_DEFAULT,
              pe="fusion", layout=DEFAULT_LAYOUT):
    """Run a stream of beats through the MAC array's tile semantics (module docstring).

    a: (N, ROWS) A lanes; b: (N, COLS) B lanes (uint64, or object arrays of Python ints for
    MAXB = 16 fusion lanes). pa, pb (codes 0..3), sa, sb (0/1): scalars or per-beat arrays.
    first, last: per-beat flags; by default the N beats form one tile. `layout`: the fusion
    lanes' bus layout (golden.fusion; fixed PEs have plain MAXB-bit lanes). Returns MacArrayResult.
    """
    check_pe(pe)
    check_accw(accw, maxb)
    width = lane_bits(maxb, pe)
    a, b = _lanes(a, "a", width), _lanes(b, "b", width)
    n, rows, cols = a.shape[0], a.shape[1], b.shape[1]
    if b.shape[0] != n:
        raise ValueError(f"a and b must have the same number of beats, got {n} and {b.shape[0]}")
    pa, pb = _per_beat(pa, n, "pa", 3), _per_beat(pb, n, "pb", 3)
    sa, sb = _per_beat(sa, n, "sa", 1), _per_beat(sb, n, "sb", 1)
    first = np.zeros(n, bool) if first is None else _per_beat(first, n, "first", 1).astype(bool)
    last = (np.arange(n) == n - 1) if last is None else _per_beat(last, n, "last", 1).astype(bool)

    modes = valid_modes(maxb, pe)
    # A fixed PE's lane is one plain MAXB-bit element: the linear layout of its only mode.
    lane_layout = layout if pe == "fusion" else "linear"
    dots = np.zeros((n, rows, cols), dtype=np.int64)
    ok = np.zeros(n, bool)
    macs = {}
    for mode_pa, mode_pb in modes:
        in_mode = (pa == mode_pa) & (pb == mode_pb)
        ok |= in_mode
        macs[PRECISION_BITS[mode_pa], PRECISION_BITS[mode_pb]] = \
            int(in_mode.sum()) * rows * cols * products(mode_pa, mode_pb, maxb)
        for s_a, s_b in ((0, 0), (0, 1), (1, 0), (1, 1)):
            sel = np.flatnonzero(in_mode & (sa == s_a) & (sb == s_b))
            if sel.size:
                dots[sel] = fusion_dot(a[sel][:, :, None], b[sel][:, None, :], mode_pa, mode_pb,
                                       s_a, s_b, maxb, layout=lane_layout)

    was_open = np.concatenate([[False], ~last[:-1]]) if n else np.zeros(0, bool)
    error = bool((~ok).any() or (first & was_open).any())
    starts = np.flatnonzero(first | ~was_open)
    if not n:
        return MacArrayResult(np.zeros((0, rows, cols), np.int64), error, macs)
    sums = np.add.reduceat(dots, starts, axis=0)
    ends = np.append(starts[1:], n) - 1  # the last beat of each segment
    return MacArrayResult(wrap(sums[last[ends]], accw), error, macs)
