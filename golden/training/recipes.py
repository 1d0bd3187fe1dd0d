"""The recipes: how each layer quantizes its three GEMMs' operands, and the bits it is charged.

A recipe gives, per layer and per mini-batch, a `LayerQ`: quantizers for the forward GEMM's A
operand (im2col rows of the layer input), for the weights W (out, K), and for the output gradient
G (rows, out); the gradient quantizer returns two operands, one for the weight-gradient GEMM
(G^T @ A) and one for the input-gradient GEMM (G @ W). Gradients pass the quantizers straight
through (STE), PACT's clip excepted. Biases stay in the accumulator's precision.

  fp32     no quantization, ReLU.
  fw8bw8   FracTrain's static baseline (Fu et al. 2020, released `modules/quantize.py`): 8-bit
           range_quantize for activations (per tensor, nearest), weights (per output channel,
           nearest) and gradients (per tensor, stochastic; one quantized gradient feeds both
           backward GEMMs). ReLU.
  pfq      as fw8bw8 with (FW, BW) bits from PFQScheduler: FW 3,4,6,8 / BW 6,6,8,8.
  ibm4     Sun et al. 2020: middle layers INT4 PACT activations (learned clip alpha), INT4 SAWB
           weights, R4FP4 output gradient with GradScale and TPR (even grid for the weight-gradient
           GEMM, odd grid for the input-gradient GEMM, nearest rounding). First and last layers in
           FP8 (e4m3 activations/weights, e5m2 gradients, power-of-two per-tensor scale). PACT
           clip on every hidden activation.
  dfq, fractrain   see golden.training.dfq.
  ptqB, psqB, bhqB (B = 4, 5)   Chen et al. 2020 ("A Statistical Framework for Low-bitwidth
           Training of Deep Neural Networks"): 8-bit forward as fw8bw8, B-bit output gradient
           with stochastic rounding. Chen et al. (Sec. 3, their Q_b1 / Q_b2) quantize the
           gradient twice: Q_b1 for the weight-gradient GEMM and Q_b2 for the input-gradient
           GEMM. Here the recipe's quantizer (PTQ, PSQ or BHQ, golden.quantizers) is Q_b1, on the
           gradient viewed as (samples, everything else), so "per sample" is per sample also for a
           convolution (all its positions and channels share a range); Q_b2 is PTQ at the same B
           bits (per tensor, independent rounding noise), the quantizer whose variance Chen et
           al. show is not the bottleneck. So ptqB quantizes both GEMMs' gradients by PTQ with
           independent noise. BHQ's operand T^-1 PSQ(T G) reaches the backend as PSQ(T G)'s
           integer codes (each sample's range divided by its block scale) with the rest of
           T^-1, the Householder reflections, as a low-rank correction (qtensor's `low_rank`):
           the integer GEMM runs on the array, the correction on the host.
  mxfp4, mxfp4_rht, nvfp4   every GEMM of every layer in a 4-bit block format (golden.mx), the
           operands blocked along each GEMM's contraction axis (A and W are quantized once per
           axis): mxfp4 in OCP MX FP4 (E2M1 elements, 32-element blocks, E8M0 scales; OCP MX
           v1.0 section 6.3), nvfp4 in NVFP4 (16-element blocks, E4M3 scales, an FP32 tensor
           scale; NVIDIA 2025). Forward operands round to nearest (the MX conversion); the output
           gradient rounds stochastically, once per backward GEMM with independent bits (both
           Tseng et al. 2025, "Training LLMs with MXFP4", and NVIDIA's NVFP4 recipe need
           unbiased gradients). mxfp4_rht adds Tseng et al.'s random Hadamard transform on the
           weight-gradient GEMM: both of its operands (G and A, contracted over rows) are
           rotated along the rows by T = blockdiag(H_32 diag(s)) / sqrt(32) before quantization,
           so (T G)^T (T A) = G^T A before rounding and the GEMM runs on MX codes as is. s is
           one fixed random sign vector (NVIDIA's recipe also keeps one fixed vector; here from
           numpy's default_rng(RHT_SEED)). ReLU activations, ranges from the data alone.
  pfq+psq, pfq+bhq, dfq+psq, dfq+bhq, fractrain+psq, fractrain+bhq   the combined recipes:
           FracTrain's forward precision (PFQ's schedule, DFQ's gate, or both) with Chen et al.'s
           gradient quantizer at the schedule's (or the gate option's) gradient bits: the layer
           is chen_layer's, forward at FW bits, Q_b1 = PSQ or BHQ and Q_b2 = PTQ at BW bits,
           instead of FracTrain's one per-tensor gradient. No published work combines the two;
           they are here so that a schedule narrows the backward GEMMs (and the gradients that
           move) as well as the forward ones, on the same integer array.

Schedules (pfq, fractrain and their combinations): Config.fw_schedule / bw_schedule, one width
per PFQ stage, non-decreasing, FracTrain's (3, 4, 6, 8) / (6, 6, 8, 8) by default; `check_schedule`
holds them to widths the fusion array runs (SCHEDULE_BITS).
"""

import dataclasses
from typing import Callable

import numpy as np
from scipy.linalg import hadamard

from ..fractrain import PFQScheduler
from ..quantizers import bhq_parts, pact_codes, range_codes, sawb_codes
from .qtensor import block_operand, block_quantize, fp8, from_codes, from_float, r4fp4_pair

__all__ = ["LayerQ", "STATIC", "DYNAMIC", "CHEN", "BLOCK", "COMBINED", "PUBLISHED", "RECIPES", "GRAD_QUANTIZERS",
           "SCHEDULE_BITS", "rht", "block_layer", "fp32_layer", "range_layer", "ibm4_layers", "chen_layer",
           "scheduled_layer", "check_schedule", "forward_policy", "grad_quantizer", "q_range"]

CHEN = tuple(f"{q}{b}" for b in (4, 5) for q in ("ptq", "psq", "bhq"))
STATIC = ("fp32", "ibm4", "fw8bw8", "pfq")
DYNAMIC = ("dfq", "fractrain")
BLOCK = ("mxfp4", "mxfp4_rht", "nvfp4")
GRAD_QUANTIZERS = ("psq", "bhq")
COMBINED = tuple(f"{f}+{g}" for f in ("pfq",) + DYNAMIC for g in GRAD_QUANTIZERS)
PUBLISHED = STATIC + DYNAMIC + CHEN + BLOCK  # the recipes of the papers (make demo trains these)
RECIPES = PUBLISHED + COMBINED
# Code widths a schedule may name: the fusion array runs 2..8-bit codes in its 2/4/8-bit modes (3,
# 5, 6, 7 in the next one up); gradients of 9..16 bits run as two 8-bit passes.
SCHEDULE_BITS = {"fw_schedule": (2, 8), "bw_schedule": (2, 16)}
RHT_SEED, RHT_SIZE = 0, 32


@dataclasses.dataclass(frozen=True)
class LayerQ:
    """One layer's quantizers for one mini-batch and the (activation, weight, gradient) bits it
    is charged for."""
    act: Callable        # A (rows, K) -> QTensor
    weight: Callable     # W (out, K) -> QTensor
    grad: Callable       # (G (rows, out), rng) -> (QTensor for G^T @ A, QTensor for G @ W)
    bits: tuple
    pact: bool = False   # the activation feeding this layer is PACT-clipped (else ReLU)


def q_range(x, bits, noise=None, axis=None):
    """range_quantize (FracTrain's min/max quantizer) as an "int" QTensor; axis 0 keeps one range
    per row (per output channel for W (out, K), per sample for a gradient)."""
    return from_codes(range_codes(x, bits, noise, axis))


def fp32_layer():
    return LayerQ(from_float, from_float, lambda g, rng: (from_float(g),) * 2, (32, 32, 32))


def range_layer(fw, bw):
    def grad(g, rng):
        q = q_range(g, bw, rng.random(g.shape))
        return q, q
    return LayerQ(lambda a: q_range(a, fw), lambda w: q_range(w, fw, axis=0), grad, (fw, fw, bw))


def _pact4(a, alpha):
    return from_codes(pact_codes(a, alpha, 4))


def _sawb4(w):
    return from_codes(sawb_codes(w, 4))


def ibm4_layers(n_layers, alphas):
    """Sun et al. 2020 with FP8 first and last layers; alphas[i] is layer i's PACT clip."""
    layers = []
    for i in range(n_layers):
        if i in (0, n_layers - 1):
            layers.append(LayerQ(lambda a: fp8(a, "e4m3"), lambda w: fp8(w, "e4m3"),
                                 lambda g, rng: (fp8(g, "e5m2"),) * 2, (8, 8, 8), pact=i > 0))
        else:
            layers.append(LayerQ(lambda a, i=i: _pact4(a, alphas[i]), _sawb4,
                                 lambda g, rng: r4fp4_pair(g), (4, 4, 4), pact=True))
    return layers


def _per_sample(quantizer, bits, g, per, noise):
    """Chen et al.'s Q_b1 on G (rows, out) viewed as (samples, per * out), `per` rows a sample:
    PSQ's codes with one range per sample, repeated over its rows (a per-row vector on the
    (rows, out) operand); BHQ's are those of PSQ(T G) with its Householder part as the operand's
    low-rank correction (golden.quantizers.BHQParts), rewritten for the (rows, out) view: a
    sample's correction row spans its `per` rows, so each block becomes `per` rank-1 terms."""
    flat, noise = g.reshape(g.shape[0] // per, -1), noise.reshape(g.shape[0] // per, -1)
    if quantizer == "bhq":
        parts = bhq_parts(flat, bits, noise)
        grid, left, right = parts.codes, parts.left, parts.right
    else:
        grid = range_codes(flat, bits, noise, axis=0)  # = golden.quantizers.psq
    rows = lambda v: np.repeat(v, per, axis=0)
    q = from_codes(grid._replace(codes=grid.codes.reshape(g.shape), lo=rows(grid.lo), hi=rows(grid.hi)))
    if quantizer == "bhq" and right.size:
        q = dataclasses.replace(q, low_rank=(np.kron(left, np.eye(per)), right.reshape(-1, g.shape[1])))
    return q


def chen_layer(name, per, fw=8):
    """ptqB / psqB / bhqB: `fw`-bit forward (8 in Chen et al.'s recipes), B-bit gradients
    (module docstring for the routing)."""
    quantizer, bits = name[:3], int(name[3:])

    def grad(g, rng):
        to_wgrad = (q_range(g, bits, rng.random(g.shape)) if quantizer == "ptq" else
                    _per_sample(quantizer, bits, g, per, rng.random(g.shape)))
        return to_wgrad, q_range(g, bits, rng.random(g.shape))
    return dataclasses.replace(range_layer(fw, fw), grad=grad, bits=(fw, fw, bits))


def scheduled_layer(quantizer, fw, bw, per):
    """A layer of a FracTrain-scheduled recipe at (fw, bw) bits: FracTrain's range_layer
    (quantizer "range") or a combined recipe's chen_layer (quantizer "psq" / "bhq")."""
    return range_layer(fw, bw) if quantizer == "range" else chen_layer(f"{quantizer}{bw}", per, fw)


def forward_policy(recipe):
    """"pfq", "dfq" or "fractrain" for a FracTrain-scheduled recipe (combined or not), else None."""
    base = recipe.split("+")[0]
    return base if base in ("pfq",) + DYNAMIC else None


def grad_quantizer(recipe):
    """The quantizer of a recipe's weight-gradient operand (Chen et al.'s Q_b1): "ptq", "psq" or
    "bhq" for the Chen and combined recipes, else "range" (FracTrain's; for the recipes outside
    FracTrain's and Chen et al.'s, only a name)."""
    if "+" in recipe:
        return recipe.split("+")[1]
    return recipe[:3] if recipe in CHEN else "range"


def check_schedule(fw_schedule, bw_schedule):
    """ValueError unless the two PFQ schedules have one integer width per stage, equal lengths,
    non-decreasing, within SCHEDULE_BITS (what the fusion array runs)."""
    fw, bw = tuple(fw_schedule), tuple(bw_schedule)
    for name, sched in (("fw_schedule", fw), ("bw_schedule", bw)):
        lo, hi = SCHEDULE_BITS[name]
        bad = [b for b in sched if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not lo <= b <= hi]
        if bad:
            raise ValueError(f"{name} widths must be integers in {lo}..{hi} (the fusion array has no mode for "
                             f"{bad[0]!r}), got {sched}")
    PFQScheduler(fw, bw)  # its own checks: non-empty, equal lengths, non-decreasing
    return fw, bw


def rht(x, signs):
    """T x along axis 0 with T = blockdiag(H diag(signs)) / sqrt(n), n = len(signs) (a power of
    two): an orthogonal transform; rows are zero-padded to a multiple of n."""
    n = len(signs)
    x = np.concatenate([x, np.zeros((-len(x) % n,) + x.shape[1:])])
    t = hadamard(n) * signs[None, :] / np.sqrt(n)
    return np.einsum("ij,bj...->bi...", t, x.reshape((-1, n) + x.shape[1:])).reshape(x.shape)


def block_layer(recipe):
    """mxfp4 / mxfp4_rht / nvfp4 (module docstring)."""
    fmt = "nvfp4" if recipe == "nvfp4" else "mxfp4"
    rotate = None
    if recipe == "mxfp4_rht":
        signs = np.random.default_rng(RHT_SEED).choice([-1.0, 1.0], RHT_SIZE)
        rotate = lambda x: rht(x, signs)

    def grad(g, rng):
        gw = g if rotate is None else rotate(g)
        to_wgrad = block_quantize(gw, fmt, 0, "stochastic", rng.integers(0, 1 << 16, gw.shape))
        return to_wgrad, block_quantize(g, fmt, 1, "stochastic", rng.integers(0, 1 << 16, g.shape))
    return LayerQ(lambda a: block_operand(a, fmt, rotate), lambda w: block_operand(w, fmt), grad, (4, 4, 4))


def static_layers(recipe, net, alphas, sched):
    """The per-layer quantizers of a recipe whose precision is fixed for an epoch."""
    n_layers = len(net)
    if recipe == "fp32":
        return [fp32_layer() for _ in range(n_layers)]
    if recipe == "fw8bw8":
        return [range_layer(8, 8) for _ in range(n_layers)]
    if forward_policy(recipe) == "pfq":
        return [scheduled_layer(grad_quantizer(recipe), sched.fw_bits, sched.bw_bits, lay.rows) for lay in net]
    if recipe == "ibm4":
        return ibm4_layers(n_layers, alphas)
    if recipe in BLOCK:
        return [block_layer(recipe) for _ in range(n_layers)]
    return [chen_layer(recipe, lay.rows) for lay in net]


def pfq_scheduler(cfg):
    """PFQ's scheduler on the configuration's schedules (FracTrain's by default)."""
    fw, bw = check_schedule(cfg.fw_schedule, cfg.bw_schedule)
    return PFQScheduler(fw, bw, epsilon=cfg.pfq_epsilon, alpha=cfg.pfq_alpha)
