"""QTensor: one quantized GEMM operand as a hardware unit receives it, and the float backend.

Every quantized GEMM of a training step (golden.training.train) is `backend(layer, role, qa, qb)`
with `qa` (M, K) and `qb` (K, N) QTensors; quantization and its random bits happen before the
call, so every backend sees the same codes. Formats (`fmt`) and how `dequant()` reads `codes`:

  "int"    unsigned int64 codes q in [0, 2^bits - 1] (`signed` False) on the uniform grid from
           `zero` (the value of code 0) to `top` (the value of code 2^bits - 1):
           x = zero * (1 - t) + top * t,  t = q / (2^bits - 1): `golden.quantizers.GridCodes`'
           evaluation (both ends exact), so the float backend reproduces the quantizers bit for
           bit; in the affine form  x ~ scale * q + zero  with `scale` = (top - zero) / (2^bits - 1)
           (equal up to float64 rounding). `zero`, `top` (and so `scale`) are Python floats (per
           tensor) or float64 arrays broadcastable to `codes.shape`: shape (M, 1) for one value
           per row, (1, N) per column. Per-sample quantizers (PSQ) of the output gradient give a
           per-row vector on the input-gradient GEMM's `qa` (rows = samples, or for a
           convolution samples x output positions) and a per-column vector on the weight-gradient
           GEMM's `qa` (its K axis runs over samples): a hardware unit applies those scales to
           partial sums, not to the final result. `low_rank` (left, right), when set, is a
           correction: x = (the grid values) - left @ right. BHQ's operand T^-1 PSQ(T g) is
           such an operand (golden.quantizers.BHQParts): PSQ's codes with per-row scales, an
           integer unit's GEMM, and the Householder part as a correction of rank = blocks,
           which the host applies (golden.gemm.low_rank_correction).
  "e4m3"/"e5m2"  uint8 FP8 codes (golden.fp8, default biases): x = fp8_decode(codes) * 2^scale_exp.
  "r4fp4"  uint8 R4FP4 codes (golden.r4fp4) on grid `phase` (0 even, 1 odd: TPR) with GradScale
           exponent `scale_exp`: x = r4fp4_decode(codes, phase, scale_exp).
  "float"  float64 values in `codes` (fp32 recipe): x = codes. Hardware backends run these
           GEMMs on the host and report them as such.
  "mx"     block-scaled codes (golden.mx): `block` is the MXTensor or NVFP4Tensor whose element
           codes are `codes`, x = its dequantization. A block format is quantized along the GEMM's
           contraction axis, and an operand that two GEMMs contract along different axes (A in
           the forward and weight-gradient GEMMs, W in the forward and input-gradient GEMMs) is
           quantized twice: `alt` is the same tensor blocked along the other axis (possibly of
           other, zero-padded, length: a rotated operand). `along(axis)` picks the one a GEMM
           contracts along `axis`: every backend multiplies qa.along(1) by qb.along(0).

`bits` is the width a hardware unit multiplies (32 for "float", 8 for FP8, 4 for R4FP4).
"""

import dataclasses
import math
from typing import Any

import numpy as np

from ..fp8 import fp8_decode, fp8_encode
from ..mx import MX_BLOCK, dequantize, mx_quantize, nvfp4_quantize
from ..quantizers import GridCodes
from ..r4fp4 import gradscale_exp, r4fp4_decode, tpr

__all__ = ["QTensor", "FORMATS", "ROLES", "float_backend", "from_float", "from_codes", "fp8",
           "r4fp4_pair", "FP8_MAX", "BLOCK_FORMATS", "block_quantize", "block_operand"]

FORMATS = ("int", "r4fp4", "e4m3", "e5m2", "float", "mx")
ROLES = ("fwd", "dgrad", "wgrad")
FP8_MAX = {"e4m3": 480.0, "e5m2": 57344.0}  # largest finite magnitudes at the default biases


@dataclasses.dataclass(frozen=True, eq=False)
class QTensor:
    """A quantized (M, K) or (K, N) GEMM operand; see the module docstring for each format."""
    fmt: str
    codes: np.ndarray
    bits: int
    signed: bool = False
    zero: Any = 0.0
    top: Any = 0.0
    phase: int = 0
    scale_exp: int = 0
    block: Any = None   # "mx": the golden.mx block tensor of `codes`
    alt: Any = None     # "mx": the QTensor of the same values blocked along the other axis
    low_rank: Any = None  # "int": (left, right), x = grid values - left @ right

    def __post_init__(self):
        if self.fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {self.fmt!r}")
        if self.low_rank is not None and self.fmt != "int":
            raise ValueError(f"low_rank is a correction of an \"int\" operand, got fmt {self.fmt!r}")

    @property
    def shape(self):
        return self.codes.shape

    @property
    def scale(self):
        """Step between adjacent codes ("int"); 2^scale_exp for FP8/R4FP4; 1.0 for "float"."""
        if self.fmt == "int":
            return (np.asarray(self.top) - np.asarray(self.zero)) / (2 ** self.bits - 1)
        return 1.0 if self.fmt == "float" else math.ldexp(1.0, self.scale_exp)

    @property
    def T(self):
        """The transposed operand (codes and per-row/column vectors transposed together)."""
        flip = lambda v: v.T if isinstance(v, np.ndarray) else v
        low_rank = None if self.low_rank is None else (self.low_rank[1].T, self.low_rank[0].T)
        out = dataclasses.replace(self, codes=self.codes.T, zero=flip(self.zero), top=flip(self.top),
                                  low_rank=low_rank)
        if self.fmt == "mx":
            b = self.block
            out = dataclasses.replace(out, block=b._replace(codes=b.codes.T, scales=b.scales.T, axis=1 - b.axis),
                                      alt=None if self.alt is None else self.alt.T)
        object.__setattr__(out, "_source", self)  # an operand used twice (A, W) is decoded once
        return out

    def along(self, axis):
        """The operand as a GEMM contracting its `axis` needs it: itself, except for a block format
        blocked along the other axis (then its `alt`)."""
        if self.fmt != "mx" or self.block.axis == axis:
            return self
        if self.alt is None or self.alt.block.axis != axis:
            raise ValueError(f"this {self.fmt} operand is blocked along axis {self.block.axis} only; "
                             f"a GEMM contracting axis {axis} needs it blocked along that axis")
        return self.alt

    def dequant(self):
        """The float64 values this operand stands for (module docstring); computed once."""
        if "_values" not in self.__dict__:
            source = self.__dict__.get("_source")
            object.__setattr__(self, "_values", self._decode() if source is None else source.dequant().T)
        return self._values

    def _decode(self):
        if self.fmt == "float":
            return self.codes
        if self.fmt == "int":
            values = GridCodes(self.codes, self.zero, self.top, 2 ** self.bits).values()
            return values if self.low_rank is None else values - self.low_rank[0] @ self.low_rank[1]
        if self.fmt == "mx":
            return dequantize(self.block)
        if self.fmt == "r4fp4":
            return r4fp4_decode(self.codes, self.phase, self.scale_exp).astype(np.float64)
        return np.ldexp(fp8_decode(self.codes, self.fmt).astype(np.float64), self.scale_exp)


def float_backend(layer, role, qa, qb):
    """The default GEMM backend: dequantize both operands and multiply in float64."""
    return qa.dequant() @ qb.dequant()


def from_float(x):
    """An unquantized operand (fmt "float", charged as 32 bits)."""
    return QTensor("float", np.asarray(x, dtype=np.float64), 32)


def from_codes(grid):
    """The "int" QTensor of a golden quantizer's GridCodes (golden.quantizers `*_codes`)."""
    scalar = lambda v: float(v) if np.ndim(v) == 0 else v
    bits = int(grid.levels).bit_length() - 1
    return QTensor("int", grid.codes, bits, False, scalar(grid.lo), scalar(grid.hi))


def fp8(x, fmt):
    """FP8 with a per-tensor power-of-two scale 2^s, s = ceil(log2(max|x| / max_fmt)), nearest
    rounding (Sun et al. 2019/2020: e4m3 forward, e5m2 gradients). An all-zero tensor: s = 0."""
    top = np.abs(x).max()
    s = 0 if top == 0 else math.ceil(math.log2(top / FP8_MAX[fmt]))
    return QTensor(fmt, fp8_encode(np.ldexp(x, -s).astype(np.float16), fmt), 8, True, scale_exp=s)


def r4fp4_pair(g):
    """GradScale + TPR (Sun et al. 2020): the (even-grid, odd-grid) R4FP4 operands of gradient g,
    nearest rounding; the even one feeds the weight-gradient GEMM, the odd one the input gradient."""
    g16 = g.astype(np.float16)
    s = gradscale_exp(g16)
    even, odd = tpr(g16, s)
    return (QTensor("r4fp4", even, 4, True, phase=0, scale_exp=s),
            QTensor("r4fp4", odd, 4, True, phase=1, scale_exp=s))


BLOCK_FORMATS = ("mxfp4", "nvfp4")


def block_quantize(x, fmt, axis, rounding="nearest", rand=None):
    """The "mx" QTensor of x in block format `fmt`: "mxfp4" (OCP MX FP4 E2M1, 32-element blocks,
    E8M0 scales) or "nvfp4" (E2M1, 16-element blocks, E4M3 scales, FP32 tensor scale), blocked
    along `axis`; `rand` 16-bit integers per element for stochastic rounding."""
    if fmt not in BLOCK_FORMATS:
        raise ValueError(f"fmt must be one of {BLOCK_FORMATS}, got {fmt!r}")
    t = (nvfp4_quantize(x, axis, rounding, rand) if fmt == "nvfp4" else
         mx_quantize(x, "fp4_e2m1", MX_BLOCK, axis, rounding, rand))
    return QTensor("mx", t.codes, 4, True, block=t)


def block_operand(x, fmt, rotate=None):
    """A forward operand (A: rows x K, or W: out x K) in block format `fmt`, nearest rounding:
    blocked along K for the forward GEMM, and along axis 0 (`alt`) for the other GEMM that
    contracts it (weight gradient for A, input gradient for W); `rotate` transforms that copy
    along axis 0 first (the random Hadamard transform of the weight-gradient GEMM)."""
    other = x if rotate is None else rotate(x)
    return dataclasses.replace(block_quantize(x, fmt, 1), alt=block_quantize(other, fmt, 0))
