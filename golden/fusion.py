"""Bit-fusible dot product: the arithmetic of one `fusion_unit` (docs/spec.md, "Hardware units").

Bit Fusion (Sharma et al., ISCA 2018) fuses 2-bit BitBricks into one 8x8 multiplier or splits
them into many narrow ones; FracTrain (Fu et al., NeurIPS 2020, Sec. 4) runs its progressive and
dynamic precision on such an array. The unit's contract is a packed dot product:

    P = (MAXB / bits_a) * (MAXB / bits_b)
    A_i = a[i*bits_a +: bits_a],  B_i = b[i*bits_b +: bits_b]  (i < P)
    p   = sum_i A_i * B_i

with A_i, B_i two's complement when `sa` / `sb` is set, and p = 0 when a precision code is wider
than MAXB (the array raises `error` for it).

That is the *linear* bus layout. The *hierarchical* layout (Bit Fusion's own: Sharma et al.,
ISCA 2018, Sec. 4, and its released `signed_spatial_mult`, whose sub-multipliers read fixed
slices of the buses) gives every 2-bit BitBrick fixed bus bits in every mode: brick s reads
a[2s +: 2] and b[2s +: 2], s = sum over levels of k_l * 4^(L-1-l) where k_l = 2x + y is the
sub-unit index taken at level l of the recursion (`level_route`). Software places (and
replicates) each element's 2-bit digits where the recursion of the linear layout would route
them (`brick_sources`), so packing depends on both operands' widths; the unit then computes

    p = sum_s  dA_s * dB_s * 2^(offA_s + offB_s)

with dA_s = a[2s +: 2] (signed when `sa` and it is the top digit of its element) and offA_s the
digit's bit offset inside its element (likewise for B). With buses from `pack` that is again
sum_i A_i * B_i.
"""

import functools

import numpy as np

MINB = 2
PRECISION_BITS = (2, 4, 8, 16)  # precision code -> operand bits
MAXB_ALLOWED = (8, 16)
LAYOUTS = ("linear", "hierarchical")
DEFAULT_LAYOUT = "hierarchical"  # the committed rtl/fusion_unit.v and rtl/mac_array.v: the smallest variant (synth.fusion_variants)


def precision_bits(code):
    """Operand width of a 2-bit precision code (0 = 2, 1 = 4, 2 = 8, 3 = 16 bits)."""
    if code not in range(len(PRECISION_BITS)):
        raise ValueError(f"precision code must be one of 0..3, got {code!r}")
    return PRECISION_BITS[code]


def check_maxb(maxb):
    if maxb not in MAXB_ALLOWED:
        raise ValueError(f"maxb must be one of {MAXB_ALLOWED}, got {maxb!r}")


def check_layout(layout):
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def bus_bits(maxb):
    """Width of the a and b buses: MAXB*MAXB/2 (the 2-bit x 2-bit mode fills them)."""
    check_maxb(maxb)
    return maxb * maxb // 2


def is_valid_mode(pa, pb, maxb=8):
    """True when both precision codes fit the unit (bits <= MAXB)."""
    check_maxb(maxb)
    return precision_bits(pa) <= maxb and precision_bits(pb) <= maxb


def products(pa, pb, maxb=8):
    """P, the number of products one fusion unit computes per cycle in mode (pa, pb)."""
    if not is_valid_mode(pa, pb, maxb):
        return 0
    return (maxb // precision_bits(pa)) * (maxb // precision_bits(pb))


def _as_bus(x, width):
    """Buses as Python ints / object arrays (any width) or unsigned NumPy arrays (<= 64 bits)."""
    if isinstance(x, (int, np.integer)):
        x = int(x)
        if not 0 <= x < (1 << width):
            raise ValueError(f"bus value must be in [0, 2**{width}), got {x}")
        return x
    x = np.asarray(x)
    if x.dtype == object:
        return x
    if x.dtype.kind not in "ui":
        raise ValueError(f"bus arrays must be integer or object dtype, got {x.dtype}")
    if width > 64:
        return np.array([int(v) for v in x.ravel()], dtype=object).reshape(x.shape)
    return x.astype(np.uint64)


def _field(bus, lsb, bits, signed):
    """Element [lsb +: bits] of a bus, sign-extended when `signed`, as int or int64 array."""
    if isinstance(bus, int) or (isinstance(bus, np.ndarray) and bus.dtype == object):
        v = (bus >> lsb) & ((1 << bits) - 1)
        if isinstance(bus, np.ndarray):
            v = v.astype(np.int64)
    else:
        v = ((bus >> np.uint64(lsb)) & np.uint64((1 << bits) - 1)).astype(np.int64)
    if signed:
        v = v - ((v >> (bits - 1)) & 1) * (1 << bits)
    return v


def level_route(w, ba, bb):
    """Routing of one w-bit level of the recursion in a mode whose element widths (capped at w)
    are ba, bb (the linear layout's definition of which element pairs each sub-unit computes).

    Returns, for each sub-unit k = 2x + y, the level-bus bit feeding each bit of its a and b
    sub-buses (None: unused). x picks the A half (0 = high) when A fuses (ba == w), y the B half
    when B fuses; otherwise x and y pick groups of element pairs.
    """
    n = w // 2
    fuse_a, fuse_b = ba == w, bb == w
    sba, sbb = min(ba, n), min(bb, n)
    p_sub = (n // sba) * (n // sbb)
    sub_width = n * n // 2
    routes = []
    for x in range(2):
        for y in range(2):
            if fuse_a and fuse_b:
                group = 0
            elif fuse_a:
                group = y
            elif fuse_b:
                group = x
            else:
                group = 2 * x + y
            a_src, b_src = [None] * sub_width, [None] * sub_width
            for j in range(p_sub):
                i = group * p_sub + j
                a_off = i * ba + (n if fuse_a and x == 0 else 0)
                b_off = i * bb + (n if fuse_b and y == 0 else 0)
                for t in range(sba):
                    a_src[j * sba + t] = a_off + t
                for t in range(sbb):
                    b_src[j * sbb + t] = b_off + t
            routes.append((a_src, b_src))
    return routes


@functools.lru_cache(maxsize=None)
def brick_sources(pa, pb, maxb=8):
    """Linear-layout bus bits read by each BitBrick in mode (pa, pb): the hierarchical layout.

    Returns (src_a, src_b), tuples over bricks s (hierarchical order, module docstring) of the
    pair of linear-layout bit indices feeding brick bits 0 and 1.
    """
    if not is_valid_mode(pa, pb, maxb):
        raise ValueError(f"mode ({pa}, {pb}) is not valid at maxb={maxb}")
    ba, bb = precision_bits(pa), precision_bits(pb)

    def leaves(w):
        if w == MINB:
            return [((0, 1), (0, 1))]
        routes, sub = level_route(w, min(ba, w), min(bb, w)), leaves(w // 2)
        return [(tuple(routes[k][0][t] for t in sa_src), tuple(routes[k][1][t] for t in sb_src))
                for k in range(4) for sa_src, sb_src in sub]

    bricks = leaves(maxb)
    assert all(None not in a + b for a, b in bricks)  # every brick works in every mode
    return tuple(a for a, _ in bricks), tuple(b for _, b in bricks)


def brick_weights(pa, pb, maxb=8):
    """Per brick s in mode (pa, pb): (offA_s, offB_s, topA_s, topB_s): the digits' bit offsets
    inside their elements and whether each is its element's top (sign-carrying) digit."""
    ba, bb = precision_bits(pa), precision_bits(pb)
    src_a, src_b = brick_sources(pa, pb, maxb)
    return [(a[0] % ba, b[0] % bb, a[1] % ba == ba - 1, b[1] % bb == bb - 1) for a, b in zip(src_a, src_b)]


def fusion_dot(a_bus, b_bus, pa, pb, sa, sb, maxb=8, *, layout=DEFAULT_LAYOUT):
    """p = sum_i A_i * B_i over the P packed element pairs of mode (pa, pb) (docs/spec.md fusion_unit).

    `a_bus`, `b_bus`: Python ints or arrays (uint64 for MAXB = 8; object arrays of Python ints for
    the 128-bit MAXB = 16 buses). `pa`, `pb`, `sa`, `sb` are scalars. Returns an int for scalar
    buses, else an int64 array. An invalid precision code (wider than MAXB) gives 0. `layout`:
    "linear" or "hierarchical" (module docstring: the hierarchical sum runs over bricks, so it is
    defined for any bus, also one whose replicated digits disagree).
    """
    check_layout(layout)
    width = bus_bits(maxb)
    ba, bb = precision_bits(pa), precision_bits(pb)
    a_bus, b_bus = _as_bus(a_bus, width), _as_bus(b_bus, width)
    scalar = isinstance(a_bus, int) and isinstance(b_bus, int)
    if not is_valid_mode(pa, pb, maxb):
        return 0 if scalar else np.zeros(np.broadcast(a_bus, b_bus).shape, dtype=np.int64)
    acc = 0
    if layout == "linear":
        for i in range(products(pa, pb, maxb)):
            acc = acc + _field(a_bus, i * ba, ba, bool(sa)) * _field(b_bus, i * bb, bb, bool(sb))
    else:
        for s, (off_a, off_b, top_a, top_b) in enumerate(brick_weights(pa, pb, maxb)):
            acc = acc + ((_field(a_bus, 2 * s, MINB, bool(sa) and top_a)
                          * _field(b_bus, 2 * s, MINB, bool(sb) and top_b)) << (off_a + off_b))
    return int(acc) if scalar else np.asarray(acc, dtype=np.int64)


def pack(elements, bits, *, other_bits=None, side="a", maxb=8, layout=None):
    """Pack element values (last axis, element 0 first) into bus ints: the inverse of the layout.

    Negative values are stored as `bits`-bit two's complement. Returns Python ints in an object
    array (any bus width) or a Python int for a 1-D input. Without `other_bits` this is the plain
    field concatenation (element i at [i*bits +: bits]; lanes, stream words, and the linear
    layout). A fusion-unit operand is packed with its mode: `other_bits` (the other operand's
    element width), `side` ("a" or "b") and `maxb`, in `layout` (default DEFAULT_LAYOUT, the
    committed RTL's): callers that pass the mode stay correct whatever the default layout is.
    """
    e = np.asarray(elements, dtype=object) & ((1 << bits) - 1)
    bus = np.zeros(e.shape[:-1], dtype=object)
    for i in range(e.shape[-1]):
        bus = bus | (e[..., i] << (i * bits))
    if other_bits is not None:
        layout = DEFAULT_LAYOUT if layout is None else layout
        check_layout(layout)
        if side not in ("a", "b"):
            raise ValueError(f"side must be 'a' or 'b', got {side!r}")
        codes = {b: c for c, b in enumerate(PRECISION_BITS)}
        if bits not in codes or other_bits not in codes:
            raise ValueError(f"bits and other_bits must be in {PRECISION_BITS}, got {bits!r}, {other_bits!r}")
        pa, pb = (codes[bits], codes[other_bits]) if side == "a" else (codes[other_bits], codes[bits])
        if e.shape[-1] > products(pa, pb, maxb):
            raise ValueError(f"at most {products(pa, pb, maxb)} elements fit mode ({pa}, {pb}) at maxb={maxb}, "
                             f"got {e.shape[-1]}")
        if layout == "hierarchical":
            src = brick_sources(pa, pb, maxb)[0 if side == "a" else 1]
            linear, bus = bus, np.zeros(e.shape[:-1], dtype=object)
            for s, pair in enumerate(src):
                for t, lin in enumerate(pair):
                    bus = bus | (((linear >> lin) & 1) << (2 * s + t))
    elif layout not in (None, "linear"):
        raise ValueError(f"layout={layout!r} needs other_bits (the other operand's element width)")
    return int(bus) if np.ndim(bus) == 0 else bus
