"""An independent reference of the training MACs' contract (golden.fp16_accumulator), shared by
the golden MAC tests: exact rational sums (fractions.Fraction), round-to-nearest-even by comparing
a value's FP16 neighbours, and the IEEE rules for zeros and infinities written out case by case.
Finite operands only (Inf/NaN operands are named cases in the tests); a chain or the combination
may still overflow to +-Inf."""

from fractions import Fraction

import numpy as np

F16 = np.float16
NEG_ZERO, INF, NAN = 0x8000, 0x7C00, 0x7E00


def value(bits):
    """The FP16 bit pattern's value as a Fraction (finite patterns only)."""
    return Fraction(float(np.uint16(bits).view(F16)))


def fp16_nearest(s):
    """FP16 bits of the rational s rounded to nearest, ties to an even significand; +-Inf at or
    beyond 65520 (IEEE overflow); a nonzero s that rounds to zero keeps its sign."""
    if abs(s) >= 65520:
        return INF | (NEG_ZERO if s < 0 else 0)
    with np.errstate(over="ignore"):  # 65504's neighbour above is Inf, left out
        c = F16(float(s))  # within an ulp of the answer (float64 itself may round)
        near = (np.nextafter(c, F16(-np.inf)), c, np.nextafter(c, F16(np.inf)))
    candidates = [v for v in near if np.isfinite(v)]
    best = min(candidates, key=lambda v: (abs(Fraction(float(v)) - s), int(v.view(np.uint16)) & 1))
    bits = int(best.view(np.uint16))
    return (NEG_ZERO if s < 0 else 0) if bits & 0x7FFF == 0 else bits


def add(chain, xs, gs, shift=0):
    """The chain (FP16 bits) plus the products xs[i] * gs[i] (finite float16) times 2^-shift, one
    rounding."""
    if chain & 0x7FFF == INF:
        return chain
    prods = [(Fraction(float(a)) * Fraction(float(b)) / 2 ** int(shift), bool(np.signbit(a)) != bool(np.signbit(b)))
             for a, b in zip(xs, gs)]
    s = value(chain) + sum(p for p, _ in prods)
    if s == 0:  # -0 only when every addend is -0
        return NEG_ZERO if chain == NEG_ZERO and all(p == 0 and neg for p, neg in prods) else 0
    return fp16_nearest(s)


def combine(chains):
    """The chains' exact sum, one rounding; +Inf with -Inf is NaN."""
    infs = {c for c in chains if c & 0x7FFF == INF}
    if infs:
        return NAN if len(infs) == 2 else infs.pop()
    s = sum(value(c) for c in chains)
    if s == 0:
        return NEG_ZERO if all(c == NEG_ZERO for c in chains) else 0
    return fp16_nearest(s)


def reference(x, g, last, chains, shift=None):
    """FP16 bits (T,) of float16 operands x, g (T, L): after every beat, its dot product's result
    (beat b of a dot product on chain b mod chains, every chain starting at -0); `shift` (T,)
    scales each beat's products by 2^-shift (None: no scaling)."""
    out = np.empty(len(x), np.uint16)
    acc, b = [NEG_ZERO] * chains, 0
    for t in range(len(x)):
        acc[b % chains] = add(acc[b % chains], x[t], g[t], 0 if shift is None else shift[t])
        out[t] = combine(acc)
        b += 1
        if last[t]:
            acc, b = [NEG_ZERO] * chains, 0
    return out
