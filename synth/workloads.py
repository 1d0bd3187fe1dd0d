"""Per-cycle input-port values of each unit running real operands, and their activity.

A workload is what a testbench would drive into the unit's ports, cycle by cycle, while it does
useful work in one precision mode: every port as a bit matrix (cycles x width, bit 0 first).
The activity of an input bit is what OpenSTA's `set_power_activity -input_ports` wants:
transitions per cycle and duty (fraction of cycles at 1). Input-port activity depends only on
the stimulus, so it is measured on the stimulus itself; `synth.gatesim` drives the same stimulus
into a gate-level simulation for the cross-check.

`BUILDERS` maps a unit family to the function producing its workloads; a unit with no builder
gets only the vectorless power figure.
"""

import dataclasses

import numpy as np

from golden.fusion import DEFAULT_LAYOUT, PRECISION_BITS, brick_sources, products
from golden.fp8 import fp8_decode, fp8_encode
from golden.mx import mx_quantize, nvfp4_quantize
from golden.mx_dot import element_format
from golden.r4fp4 import gradscale_exp, tpr

from .operands import gemm_operands, quantize_signed, quantize_unsigned

__all__ = ["Workload", "activity", "BUILDERS", "pack_bits"]

BEATS_PER_GEMM = 1200  # per training GEMM; three GEMMs per mode
MAC_DOTS = 64  # dot products per backward GEMM for the hybrid / FP16 MACs


@dataclasses.dataclass
class Workload:
    mode: str           # precision mode label, e.g. "2x8" (A bits x B bits)
    streams: dict       # input port -> uint8 bit matrix (cycles x width); absent ports held at 0
    ops: float          # useful operations over the stream (MACs, conversions, ...)
    op: str             # what one operation is
    attrs: dict = dataclasses.field(default_factory=dict)

    @property
    def cycles(self):
        return len(next(iter(self.streams.values())))

    def sample(self, per_part, parts=3):
        """The first `per_part` cycles of each of `parts` equal slices (one per training GEMM)."""
        edges = np.linspace(0, self.cycles, parts + 1).astype(int)
        idx = np.concatenate([np.arange(lo, min(lo + per_part, hi)) for lo, hi in zip(edges[:-1], edges[1:])])
        return dataclasses.replace(self, streams={p: m[idx] for p, m in self.streams.items()},
                                   ops=self.ops * len(idx) / self.cycles)


def pack_bits(elements, bits):
    """(cycles x n) integers -> (cycles x n*bits) two's-complement bit matrix, element 0 at bit 0."""
    e = np.asarray(elements, dtype=np.int64)
    return ((e[..., None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(e.shape[0], -1)


def _pad(bits, width):
    out = np.zeros((bits.shape[0], width), dtype=np.uint8)
    out[:, :bits.shape[1]] = bits
    return out


def _const(value, width, cycles):
    return pack_bits(np.full((cycles, 1), value), width)


def activity(workload, port_widths):
    """{bit name: (transitions per cycle, duty)} for every input bit in `port_widths` but the clock.

    Bit names follow the split-port netlist: 'a[3]' for multi-bit ports, 'sa' for 1-bit ones.
    Ports the workload does not drive are constant 0.
    """
    out = {}
    for port, width in port_widths.items():
        if port == "clk":
            continue
        m = workload.streams.get(port)
        if m is None:
            m = np.zeros((workload.cycles, width), dtype=np.uint8)
        if m.shape[1] != width:
            raise ValueError(f"{workload.mode}: port {port} is {width} bits, stimulus has {m.shape[1]}")
        toggles = np.count_nonzero(m[1:] != m[:-1], axis=0) / (len(m) - 1)
        duty = m.mean(axis=0)
        for i in range(width):
            out[f"{port}[{i}]" if width > 1 else port] = (float(toggles[i]), float(duty[i]))
    return out


def gemm_beats(tensors, bits_a, bits_b, *, rows, cols, per_beat, seed=0):
    """Beats of an output-stationary rows x cols array (or one PE) running the three training GEMMs.

    Each tile is a random block of `rows` rows of A and `cols` columns of B; each beat carries the
    next `per_beat` K-elements of every row (A lanes) and column (B lanes). Returns (A lanes,
    B lanes) as (cycles x rows|cols x per_beat) integers, first/last flags, sa/sb per beat, and the
    MAC count.
    """
    rng = np.random.default_rng(seed)
    a_lanes, b_lanes, first, last, sa, sb = [], [], [], [], [], []
    for _, a, b, signed_a, signed_b in gemm_operands(tensors, bits_a, bits_b):
        steps = a.shape[1] // per_beat
        beats = 0
        while beats < BEATS_PER_GEMM:
            r = rng.choice(a.shape[0], rows, replace=False)
            c = rng.choice(b.shape[1], cols, replace=False)
            a_lanes.append(a[r].reshape(rows, steps, per_beat).transpose(1, 0, 2))
            b_lanes.append(b[:, c].T.reshape(cols, steps, per_beat).transpose(1, 0, 2))
            first.append(np.arange(steps) == 0)
            last.append(np.arange(steps) == steps - 1)
            sa.append(np.full(steps, int(signed_a)))
            sb.append(np.full(steps, int(signed_b)))
            beats += steps
    cat = np.concatenate
    a_lanes, b_lanes = cat(a_lanes), cat(b_lanes)
    macs = len(a_lanes) * rows * cols * per_beat
    return {"a": a_lanes, "b": b_lanes, "first": cat(first).astype(np.int64), "last": cat(last).astype(np.int64),
            "sa": cat(sa), "sb": cat(sb), "macs": macs}


def _lane_bits(lanes, elem, lane_width, order=None):
    """(cycles x lanes x per_beat) -> (cycles x lanes*lane_width) bit matrix, lane 0 at bit 0.

    `order`: lane bit j takes the linearly packed bit order[j] (a fusion bus layout's
    golden.fusion.brick_sources, flattened); None keeps the linear packing."""
    cycles, n, per_beat = lanes.shape
    bits = _pad(pack_bits(lanes.reshape(cycles * n, per_beat), elem), lane_width)
    if order is not None:
        bits = bits[:, order]
    return bits.reshape(cycles, n * lane_width)


def _hold_for_drain(streams, g, rows):
    """Repeat each tile's last beat until the tile spans `rows` cycles.

    The arrays drain one output row per cycle from a shadow bank, so a tile shorter than ROWS
    beats stalls the input (in_valid high, in_ready low, the beat held) until the previous tile
    has drained: about max(T, ROWS) cycles per tile of T beats. The held cycles do no MACs.
    """
    ends = np.flatnonzero(g["last"])
    starts = np.concatenate([[0], ends[:-1] + 1])
    reps = np.ones(len(g["last"]), dtype=np.int64)
    reps[ends] += np.maximum(rows - (ends - starts + 1), 0)
    return {port: np.repeat(m, reps, axis=0) for port, m in streams.items()}


MODES = [(pa, pb) for pa in range(3) for pb in range(3)]  # 2/4/8-bit x 2/4/8-bit


def _mode_label(pa, pb):
    return f"{PRECISION_BITS[pa]}x{PRECISION_BITS[pb]}"


def multiplier_workloads(tensors, widths, *, fused, rows=1, cols=1, prefix="", layout=DEFAULT_LAYOUT, **_):
    """Fusion units / fixed 8-bit multipliers (bare, PE or array) at every precision pair.

    `fused`: the unit packs P = (8/bits_a)(8/bits_b) products per beat in MAXB*MAXB/2-bit lanes;
    otherwise it is a fixed 8x8 multiplier fed one pair per beat, narrower operands sign/zero-
    extended (it has no faster mode: its energy per MAC is what it is at every precision pair).
    Ports: <prefix>a/b (lanes), pa/pb, sa/sb, first, last; in_valid and out_ready held at 1.
    `layout`: the fused lanes' bus layout (golden.fusion), so that the unit sees the bits (and the
    replicated digits) its software would send.
    """
    lane_a = widths[prefix + "a"] // rows
    lane_b = widths[prefix + "b"] // cols
    out = []
    for pa, pb in MODES:
        ba, bb = PRECISION_BITS[pa], PRECISION_BITS[pb]
        per_beat = products(pa, pb) if fused else 1
        ea, eb = (ba, bb) if fused else (8, 8)
        g = gemm_beats(tensors, ba, bb, rows=rows, cols=cols, per_beat=per_beat)
        n = len(g["a"])
        order = ([[bit for pair in src for bit in pair] for src in brick_sources(pa, pb)]
                 if fused and layout == "hierarchical" else [None, None])
        streams = {"a": _lane_bits(g["a"], ea, lane_a, order[0]), "b": _lane_bits(g["b"], eb, lane_b, order[1]),
                   "sa": pack_bits(g["sa"][:, None], 1), "sb": pack_bits(g["sb"][:, None], 1),
                   "pa": _const(pa if fused else 2, 2, n), "pb": _const(pb if fused else 2, 2, n),
                   "first": pack_bits(g["first"][:, None], 1), "last": pack_bits(g["last"][:, None], 1)}
        if rows > 1:
            streams = _hold_for_drain(streams, g, rows)
        n = len(streams["a"])
        streams = {prefix + port: m for port, m in streams.items() if prefix + port in widths}
        for port in ("in_valid", "out_ready"):
            if port in widths:
                streams[port] = _const(1, widths[port], n)
        out.append(Workload(_mode_label(pa, pb), streams, g["macs"], "MAC",
                            {"bits_a": ba, "bits_b": bb, "macs_per_cycle": g["macs"] / n}))
    return out


def _dot_beats(pairs, lanes):
    """(x, g, flag) per GEMM -> per-cycle lanes: every dot product of length K split in K/lanes
    beats back to back, `last` on its final beat (flag: per-GEMM constant such as phase or sx)."""
    xs, gs, last, flags = [], [], [], []
    for x, g, flag in pairs:  # x, g: (dots x K)
        dots, k = x.shape
        steps = k // lanes
        xs.append(x.reshape(dots * steps, lanes))
        gs.append(g.reshape(dots * steps, lanes))
        last.append(np.tile(np.arange(steps) == steps - 1, dots))
        flags.append(np.full(dots * steps, flag))
    cat = np.concatenate
    return cat(xs), cat(gs), cat(last).astype(np.int64), cat(flags)


def _ibm_backward_gemms(tensors, dots):
    """IBM's two backward GEMMs as dot products (rows of x-operand and g-operand, length K):
    input gradient g.W (K = layer outputs, W INT4 signed, g on the odd TPR grid) and weight
    gradient g^T.a (K = batch, a INT4 unsigned, g on the even grid). Float operands, `dots` random
    dot products of each GEMM."""
    rng = np.random.default_rng(0)
    x, w, g = tensors["x"], tensors["w"], tensors["g"]
    bi, ji = rng.integers(0, g.shape[0], dots), rng.integers(0, w.shape[1], dots)
    input_grad = (w[:, ji].T, g[bi])                    # dx[b, j] = sum_k g[b, k] W[k, j]
    ko, jo = rng.integers(0, g.shape[1], dots), rng.integers(0, x.shape[1], dots)
    weight_grad = (x[:, jo].T, g[:, ko].T)              # dW[k, j] = sum_b g[b, k] a[b, j]
    return input_grad, weight_grad


def hybrid_workloads(tensors, widths, dots=MAC_DOTS, **_):
    """`hybrid_mac`: INT4 x R4FP4 lanes of IBM's backward GEMMs (GradScale + TPR, golden encoders)."""
    lanes = widths["g"] // 4
    (wx, wg), (ax, ag) = _ibm_backward_gemms(tensors, dots)
    g16 = tensors["g"].astype(np.float16)
    s = gradscale_exp(g16)
    even = lambda t: tpr(t.astype(np.float16), s)[0]
    odd = lambda t: tpr(t.astype(np.float16), s)[1]
    x, g, last, phase = _dot_beats([(quantize_signed(wx, 4), odd(wg), 1),
                                    (quantize_unsigned(ax, 4), even(ag), 0)], lanes)
    sx = 1 - phase  # the signed operand (W) goes with the odd-grid input-gradient GEMM
    n = len(x)
    streams = {"x": pack_bits(x, 4), "g": pack_bits(g, 4), "phase": pack_bits(phase[:, None], 1),
               "sx": pack_bits(sx[:, None], 1), "scale_exp": _const(s, widths.get("scale_exp", 6), n),
               "in_valid": _const(1, 1, n), "in_last": pack_bits(last[:, None], 1)}
    return [Workload("int4xr4fp4", {p: m for p, m in streams.items() if p in widths}, n * lanes, "MAC",
                     {"lanes": lanes, "macs_per_cycle": lanes})]


def fp16_workloads(tensors, widths, dots=MAC_DOTS, **_):
    """`fp16_mac`: the same two GEMMs as FP16 training runs them (FP16 operands, no 4-bit step)."""
    lanes = widths["g"] // 16
    (wx, wg), (ax, ag) = _ibm_backward_gemms(tensors, dots)
    bits16 = lambda t: t.astype(np.float16).view(np.uint16).astype(np.int64)
    x, g, last, _ = _dot_beats([(bits16(wx), bits16(wg), 0), (bits16(ax), bits16(ag), 0)], lanes)
    n = len(x)
    streams = {"x": pack_bits(x, 16), "g": pack_bits(g, 16), "in_valid": _const(1, 1, n),
               "in_last": pack_bits(last[:, None], 1)}
    return [Workload("fp16xfp16", {p: m for p, m in streams.items() if p in widths}, n * lanes, "MAC",
                     {"lanes": lanes, "macs_per_cycle": lanes})]


def _fp8_codes(t, fmt):
    """FP8 codes of a tensor times the per-tensor power of two that puts max|t| in (max/2, max]
    of the format (HFP8 scales tensors so; the scale is a per-tensor constant outside the MAC)."""
    top = float(fp8_decode(np.array([0x7F if fmt == "e4m3" else 0x7B]), fmt)[0])  # largest finite
    peak = float(np.max(np.abs(t))) or 1.0
    scaled = (np.asarray(t, np.float64) * 2.0 ** np.floor(np.log2(top / peak))).astype(np.float16)
    return fp8_encode(scaled, fmt).astype(np.int64)


def fp8_workloads(tensors, widths, dots=MAC_DOTS, fmt_x="e4m3", fmt_g="e5m2", **_):
    """`fp8_mac`: the same two GEMMs in HFP8 (Sun et al. 2019): weights/activations in fmt_x,
    gradients in fmt_g, each tensor with its power-of-two scale."""
    lanes = widths["x"] // 8
    (wx, wg), (ax, ag) = _ibm_backward_gemms(tensors, dots)
    x, g, last, _ = _dot_beats([(_fp8_codes(wx, fmt_x), _fp8_codes(wg, fmt_g), 0),
                                (_fp8_codes(ax, fmt_x), _fp8_codes(ag, fmt_g), 0)], lanes)
    n = len(x)
    streams = {"x": pack_bits(x, 8), "g": pack_bits(g, 8), "in_valid": _const(1, 1, n),
               "in_last": pack_bits(last[:, None], 1)}
    return [Workload(f"{fmt_x}x{fmt_g}", {p: m for p, m in streams.items() if p in widths}, n * lanes, "MAC",
                     {"lanes": lanes, "macs_per_cycle": lanes})]


def mx_workloads(tensors, widths, dots=MAC_DOTS, fmt="fp4_e2m1", block=32, **_):
    """`mx_dot`: the same two GEMMs with both operands of each dot product quantized along K in
    the unit's block format (golden.mx, nearest), scales on sa / sb for each block's beats."""
    bits = element_format(fmt).bits
    lanes = widths["a"] // bits
    quant = (lambda v: nvfp4_quantize(v)) if fmt == "nvfp4" else (lambda v: mx_quantize(v, fmt, block))
    a_codes, b_codes, sa, sb, last = [], [], [], [], []
    for x, g in _ibm_backward_gemms(tensors, dots):
        pad = -x.shape[1] % block  # whole blocks: zero-padded like golden.mx's partial blocks
        x, g = (np.pad(t, ((0, 0), (0, pad))) for t in (x, g))
        for xr, gr in zip(x, g):  # one dot product per row
            qa, qb = quant(xr), quant(gr)
            beats = len(xr) // lanes
            a_codes.append(qa.codes.reshape(beats, lanes))
            b_codes.append(qb.codes.reshape(beats, lanes))
            blk = np.arange(beats) * lanes // block
            sa.append(qa.scales[blk])
            sb.append(qb.scales[blk])
            last.append(np.arange(beats) == beats - 1)
    cat = np.concatenate
    n = sum(len(v) for v in last)
    streams = {"a": pack_bits(cat(a_codes), bits), "b": pack_bits(cat(b_codes), bits),
               "sa": pack_bits(cat(sa)[:, None], 8), "sb": pack_bits(cat(sb)[:, None], 8),
               "in_valid": _const(1, 1, n), "in_last": pack_bits(cat(last).astype(np.int64)[:, None], 1)}
    return [Workload(fmt, {p: m for p, m in streams.items() if p in widths}, n * lanes, "MAC",
                     {"lanes": lanes, "macs_per_cycle": lanes})]


def _gradients16(tensors):
    g16 = tensors["g"].astype(np.float16).ravel()
    return g16, gradscale_exp(g16)


def tpr_workloads(tensors, widths, **_):
    """`tpr_quantizer`: every output gradient once, GradScale exponent, nearest and stochastic."""
    g16, s = _gradients16(tensors)
    n = len(g16)
    rand = np.random.default_rng(0).integers(0, 1 << 16, n)
    out = []
    for mode, stochastic in (("nearest", 0), ("stochastic", 1)):
        streams = {"x": pack_bits(g16.view(np.uint16).astype(np.int64)[:, None], 16),
                   "scale_exp": _const(s, widths.get("scale_exp", 6), n), "stochastic": _const(stochastic, 1, n),
                   "rand": pack_bits(rand[:, None], 16) if stochastic else _const(0, 16, n)}
        out.append(Workload(mode, {p: m for p, m in streams.items() if p in widths}, n, "conversion"))
    return out


def r4fp4_decode_workloads(tensors, widths, **_):
    """`r4fp4_to_fp16`: the TPR codes of every output gradient, even then odd grid."""
    g16, s = _gradients16(tensors)
    even, odd = tpr(g16, s)
    codes = np.concatenate([even, odd]).astype(np.int64)
    phase = np.repeat([0, 1], len(g16))
    n = len(codes)
    streams = {"code": pack_bits(codes[:, None], 4), "phase": pack_bits(phase[:, None], 1),
               "scale_exp": _const(s, widths.get("scale_exp", 6), n)}
    return [Workload("tpr_codes", {p: m for p, m in streams.items() if p in widths}, n, "conversion")]


def _array_workloads(fused):
    def build(t, w, rows=1, cols=1, layout=DEFAULT_LAYOUT, **_):
        return multiplier_workloads(t, w, fused=fused, rows=rows, cols=cols, prefix="in_", layout=layout)
    return build


# `layout` comes from the measured generator's parameters (synth.ppa Unit.params), so every
# fusion variant gets its lanes in its own bus layout.
BUILDERS = {
    "fusion_unit": lambda t, w, layout=DEFAULT_LAYOUT, **p: multiplier_workloads(t, w, fused=True, layout=layout),
    "pe_fusion": lambda t, w, layout=DEFAULT_LAYOUT, **p: multiplier_workloads(t, w, fused=True, layout=layout),
    "fixed_mul": lambda t, w, **p: multiplier_workloads(t, w, fused=False),
    "pe_fixed8": lambda t, w, **p: multiplier_workloads(t, w, fused=False),
    "mac_array": _array_workloads(fused=True),
    "mac_array_fixed8": _array_workloads(fused=False),
    "hybrid_mac": hybrid_workloads,
    "fp16_mac": fp16_workloads,
    "fp8_mac": fp8_workloads,
    "mx_dot": mx_workloads,
    "tpr_quantizer": tpr_workloads,
    "r4fp4_to_fp16": r4fp4_decode_workloads,
}
