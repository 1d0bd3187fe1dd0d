"""The FP16 accumulator the training MACs share (`hybrid_mac`, `fp16_mac`, `fp8_mac`): exact sums,
interleaved chains and their combination, and the units' cycle timing (docs/spec.md, "Hardware
units").

Sun et al., "Ultra-Low Precision 4-Bit Training of Deep Neural Networks" (NeurIPS 2020) and
"Hybrid 8-bit Floating Point (HFP8) Training and Inference for Deep Neural Networks" (NeurIPS
2019) accumulate their products in FP16. Every operand format of the three units decodes exactly
to FP16 (golden.r4fp4.r4fp4_decode, golden.fp8.fp8_decode), so each unit is `dot_products` on
FP16 operand bits.

A unit takes a stream of beats, each L lanes of operand pairs; a beat with `last` ends its dot
product, the next beat starts a new one. With C accumulator chains, beat b of a dot product
(b = 0, 1, ... within the dot product) does

    chain[b mod C] <- fp16(chain[b mod C] + sum_i x[b, i] * g[b, i])

every chain starting the dot product at -0, and the dot product yields ONE result:

    result = fp16(chain[0] + chain[1] + ... + chain[C-1])

`fp16(.)` is one round-to-nearest-even (IEEE 754 binary16) of the EXACT sum: neither the products
nor the sums are rounded before it. So a beat costs one rounding in its chain, and the dot product
one more rounding at the end, of the chains' exact sum.

Why this rounding sequence. The accumulate loop (add the products to the accumulator, normalize,
round, feed back) does not close a 10 ns clock in one cycle, so the RTL cuts it into C register
stages and keeps C accumulators in flight in the loop (the chains); beat b updates chain b mod C.
Each chain is the single-accumulator contract exactly (one RNE per beat). The chains are then
combined with the fewest roundings possible, one, of their exact sum; an exact sum does not depend
on the order of its terms, so the RTL may add the chains in any order. With C = 1 the combination
is the identity (an FP16 value is its own rounding and a NaN is already canonical): chains=1 is
the plain accumulator acc <- fp16(acc + sum_i x_i g_i) over the dot product's beats.
Starting at -0, IEEE's exact additive identity (-0 + y == y for every y, zeros included), a
chain's first beat stores exactly fp16(its products' sum), and a chain that a short dot product
(fewer than C beats) never reaches adds nothing to the combination.

Signed zeros (IEEE 754-2019 Sec. 6.3, applied to each exact multi-operand sum): a product's sign
is the XOR of its operands' signs; an exactly zero sum is -0 iff every addend (each product and
the chain, or each chain) is -0, else +0 (so cancellation gives +0); a nonzero sum that rounds to
zero keeps its sign. INT4 zero is +0; R4FP4 and FP8 zeros have the sign their decoders give them.

Overflow: a sum whose rounding reaches 65520 gives +-Inf (RNE overflow). Specials: Inf x 0, a NaN
operand or addend, and +Inf together with -Inf among the addends give NaN; otherwise any Inf gives
that Inf. Every NaN result is the canonical quiet NaN 0x7E00 (no payloads).

Exactness. Products and sums are Python integers in units of 2^-48 (FP16 subnormal squared), then
`round_fp16` rounds once. float64 is NOT exact in general (FP16 products span 2^-48..2^32: e.g.
32 + 2^-6 + 2^-48 rounds to the tie 32 + 2^-6 in float64, and then to 32, where the exact sum
rounds up to 32 + 2^-5).

Timing (`beat_cycles`, `latency`). The unit takes beats on a valid/ready handshake (`in_valid`,
`in_ready`) and shows each result on `out_data` for the one cycle `out_valid` is high. The
chains' loop turns every cycle, so after an idle input cycle inside a dot product its next beat
has to wait for its chain to come round: `in_ready` stays low until a whole number of turns (C
cycles) has passed since the dot product's previous beat. A dot product's first beat is never
held, so back-to-back beats and back-to-back dot products stream at one beat per cycle, and the
result never depends on the input timing. A result appears `latency(unit)` cycles after its
dot product's last beat was taken: the `front` register stages before the loop, C for the chain
update, and C more for the combination (the same cut of the same add-normalize-round; none for
C = 1).
"""

import numpy as np

from .grid import check_int, fp16_bits, fp16_units

__all__ = ["CANONICAL_NAN", "CHAINS_MAX", "FRONT_MAX", "TIMING", "round_fp16", "dot_products", "check_last", "check_shift",
           "operands", "fp16_operands", "latency", "beat_cycles"]

CANONICAL_NAN = 0x7E00
_INF, _NEG_ZERO = 0x7C00, 0x8000
CHAINS_MAX = 3  # register stages the add-normalize-round loop can be split into (hdl_gen.fp16_accumulator)
FRONT_MAX = {"hybrid_mac": 1, "fp16_mac": 3, "fp8_mac": 3}  # register stages before the loop
# The rtl/ defaults: unit -> (front register stages before the loop, chains). Each closes the
# 10 ns synthesis clock on OSU 0.18 um; the generators take both as parameters.
TIMING = {"hybrid_mac": (1, 2), "fp8_mac": (1, 2), "fp16_mac": (2, 2)}


def round_fp16(n, lsb):
    """FP16 bits of the exact value n * 2**lsb (n a nonzero Python int, lsb <= -24), one RNE rounding.

    The FP16 quantum at |n| is 2^-24 (subnormal) or 2^(msb-10); r is |n| rounded to that quantum
    (at most 11 bits, or 2048 after a carry), and (biased exponent - 1) << 10 plus r is the
    encoding, the carry moving into the exponent field by itself. Results at or above 0x7C00 are
    Inf.
    """
    mag = abs(n)
    q = max(-24 - lsb, mag.bit_length() - 11)  # quantum, in units of 2^lsb
    r, rem = mag >> q, mag & ((1 << q) - 1)
    if q and (rem > 1 << (q - 1) or (rem == 1 << (q - 1) and r & 1)):
        r += 1
    return (_NEG_ZERO if n < 0 else 0) | min(((q + lsb + 24) << 10) + r, _INF)


def _fp16_sum(n, nan, pos_inf, neg_inf, neg_zero, down=0):
    """FP16 bits of an exact sum of addends: n its finite part in units of 2^-(48 + down), nan/
    pos_inf/neg_inf whether an addend is NaN/+Inf/-Inf, neg_zero whether every addend is -0."""
    if nan or (pos_inf and neg_inf):
        return CANONICAL_NAN
    if pos_inf or neg_inf:
        return _INF | (_NEG_ZERO if neg_inf else 0)
    if n == 0:
        return _NEG_ZERO if neg_zero else 0
    return round_fp16(n, -48 - down)


def _addend(v, down=0):
    """(finite part in units of 2^-(48 + down), nan, +Inf, -Inf, is -0) of FP16 bits v (a Python int)."""
    mag, neg = v & 0x7FFF, v >> 15
    finite = mag < _INF
    return ((-1 if neg else 1) * int(fp16_units(v)) << (24 + down) if finite else 0, mag > _INF,
            mag == _INF and not neg, mag == _INF and bool(neg), v == _NEG_ZERO)


def _beats(xb, gb):
    """Per beat of FP16 operand bits xb, gb (..., T, L): the products' exact sum (units of 2^-48,
    Python ints) and the flags _fp16_sum takes: a NaN product (NaN operand, Inf x 0), an +Inf /
    -Inf product, every product -0."""
    xm, gm = xb & 0x7FFF, gb & 0x7FFF
    neg = (xb ^ gb) >> 15 == 1
    nan = (xm > _INF) | (gm > _INF) | ((xm == _INF) & (gm == 0)) | ((gm == _INF) & (xm == 0))
    inf = ((xm == _INF) | (gm == _INF)) & ~nan
    finite = ~(nan | inf)
    # Exact products in units of 2^-48 (up to 2^80: Python ints), summed over the lanes.
    prods = (fp16_units(xb).astype(object) * fp16_units(gb).astype(object)) * np.where(neg, -1, 1)
    return (np.where(finite, prods, 0).sum(axis=-1), nan.any(-1), (inf & ~neg).any(-1), (inf & neg).any(-1),
            (((xm == 0) | (gm == 0)) & finite & neg).all(-1))


def _combine(chains):
    """FP16 bits of the chains' exact sum, one RNE (module docstring)."""
    terms = [_addend(c) for c in chains]
    return _fp16_sum(sum(t[0] for t in terms), *(any(t[k] for t in terms) for k in (1, 2, 3)),
                     all(t[4] for t in terms))


def check_shift(shift, shape, shift_max):
    """`shift` (an integer or an integer array broadcastable to the beats' `shape` (..., T)) as
    int64 (..., T), each in [0, shift_max], else ValueError."""
    s = np.asarray(shift)
    if s.dtype.kind not in "iu" or (s.size and (s.min() < 0 or s.max() > shift_max)):
        raise ValueError(f"shift must hold integers in [0, {shift_max}]")
    try:
        return np.broadcast_to(s.astype(np.int64), shape)
    except ValueError:
        raise ValueError(f"shift must broadcast to the beats' shape {shape}, got shape {s.shape}") from None


def check_last(last, shape):
    """`last` (None: only the final beat) as bool (..., T) for beats of `shape` (..., T, L)."""
    if last is None:
        out = np.zeros(shape[:-1], dtype=bool)
        if shape[-2]:
            out[..., -1] = True
        return out
    return np.broadcast_to(np.asarray(last, dtype=bool), shape[:-1])


def dot_products(xb, gb, last, chains, shift=None):
    """The contract on FP16 operand bits xb, gb (..., T, L) with `last` (..., T) bool and `chains`
    accumulators: float16 (..., T), after every beat the result its dot product would give if
    that beat were its last (the unit outputs the entries where `last`). `shift` (None: 0; else
    int64 (..., T), checked by the unit, `check_shift`): beat t's products are scaled by
    2^-shift[t] before they join the chain (exact: a power of two on the exact sum)."""
    check_int("chains", chains, 1, CHAINS_MAX)
    psum, nan, pos_inf, neg_inf, neg_zero = _beats(xb, gb)
    # One common unit 2^-(48 + down) for the chains and every beat's scaled products.
    down = int(shift.max()) if shift is not None and shift.size else 0
    if down:
        psum = psum * (np.int64(1) << (down - shift)).astype(object)
    out = np.empty(xb.shape[:-1], dtype=np.uint16)
    for idx in np.ndindex(xb.shape[:-2]):
        acc, b = [_NEG_ZERO] * chains, 0
        for t in range(xb.shape[-2]):
            i = idx + (t,)
            a, c = _addend(acc[b % chains], down), b % chains
            acc[c] = _fp16_sum(a[0] + psum[i], a[1] or nan[i], a[2] or pos_inf[i], a[3] or neg_inf[i],
                               a[4] and neg_zero[i], down)
            out[i] = acc[c] if chains == 1 else _combine(acc)
            b += 1
            if last[i]:
                acc, b = [_NEG_ZERO] * chains, 0
    return out.view(np.float16)


def operands(x, g):
    """x, g as arrays of one shape (..., beats, lanes), else ValueError."""
    x, g = np.asarray(x), np.asarray(g)
    if x.ndim < 2 or x.shape != g.shape:
        raise ValueError(f"x and g must have the same shape (..., beats, lanes), got {x.shape} and {g.shape}")
    return x, g


def fp16_operands(x, g):
    """FP16 bit patterns (uint16) of FP16 operands x, g (golden.grid.fp16_bits: cast to float16)."""
    x, g = operands(x, g)
    return fp16_bits(x), fp16_bits(g)


def _pipeline(unit, front, chains):
    if unit not in TIMING:
        raise ValueError(f"unit must be one of {tuple(TIMING)}, got {unit!r}")
    default_front, default_chains = TIMING[unit]
    return (check_int("front", default_front if front is None else front, 0, FRONT_MAX[unit]),
            check_int("chains", default_chains if chains is None else chains, 1, CHAINS_MAX))


def latency(unit, front=None, chains=None):
    """Cycles from the cycle a dot product's last beat is taken to the cycle its result is on
    `out_data` with `out_valid` (module docstring): front + C + (C if C > 1 else 0); front and
    chains default to the rtl/ configuration, TIMING[unit]."""
    front, chains = _pipeline(unit, front, chains)
    return front + chains + (chains if chains > 1 else 0)


def beat_cycles(gaps, last, chains):
    """The cycle each beat is taken in when the upstream idles gaps[i] cycles before offering beat
    i (counted from the cycle after beat i-1 was taken; beat 0 from cycle 0) and then holds it
    until taken (module docstring: inside a dot product a beat waits for its chain, a whole
    number of C-cycle turns after the previous beat). Returns int64 (beats,)."""
    chains = check_int("chains", chains, 1, CHAINS_MAX)
    gaps = np.asarray(gaps, dtype=np.int64)
    last = np.broadcast_to(np.asarray(last, dtype=bool), gaps.shape)
    if gaps.ndim != 1 or (gaps.size and gaps.min() < 0):
        raise ValueError("gaps must be a 1-D array of idle cycle counts >= 0")
    first = np.concatenate([[True], last[:-1]])
    step = np.where(first, gaps, -(-gaps // chains) * chains) + 1  # cycles after the previous beat
    return np.cumsum(step) - 1
