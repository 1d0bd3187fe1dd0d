"""Training runs as plain lists of GEMMs: what `cost.model` prices.

A workload is a list of `Gemm` records: shape (M, K, N), operand precisions, operand format, how
many times it runs, the unique tensor sizes behind it (what DRAM has to hold: an im2col
operand is streamed M x K but stored as the layer's input tensor) and the operands' ranges; and of
`Update` records, the optimizer's memory traffic per layer and step. Three sources:

- `resnet_step`: one training step of a CIFAR ResNet (He et al. 2016, "Deep residual learning",
  Sec. 4.2: 6n+2 layers of basic blocks, 16/32/64 channels; ResNet-164: 9n+2 bottleneck blocks,
  He et al. 2016 "Identity mappings", 64/128/256 outputs) at batch 128, every conv as im2col GEMMs;
  `pfq_run` strings steps together over FracTrain's 160 epochs with a PFQ schedule.
- `from_training_json`: a `python -m golden.training --json` run (its schema: bench,
  recipe, seed, epochs, test_accuracy, effective_macs, macs, precisions) with the bench's layer
  shapes from `BENCHES`.
- `training_tasks`: the golden.training runs `make cost` prices, as tasks of the project's
  executor (`train_run` each; the same JSON fields).

Each layer runs three GEMMs (golden.fractrain): forward a @ W (A = activations, B = weights),
input gradient g @ W^T (A = output gradient, B = weights) and weight gradient a^T @ g (A =
activations, B = output gradient). The first layer's input gradient is not run (its input is
data). Conv layers: forward (B*Ho*Wo, Cin*k*k) x (Cin*k*k, Cout); input gradient (B*Ho*Wo, Cout)
x (Cout, Cin*k*k) followed by col2im; weight gradient (Cin*k*k, B*Ho*Wo) x (B*Ho*Wo, Cout).
"""

import dataclasses

from golden.training.recipes import grad_quantizer

__all__ = ["Gemm", "Update", "Layer", "optimizer_update", "RESNETS", "layer_gemms", "resnet_layers", "resnet_step", "pfq_run",
           "bench_shapes", "from_training_json", "training_tasks", "train_run", "CIFAR_TRAIN", "FRACTRAIN_EPOCHS"]

FORMATS = ("int", "int4xr4fp4", "fp8", "fp16")
ROLES = ("fwd", "dgrad", "wgrad")
CIFAR_TRAIN = 50_000        # CIFAR-10/100 training images
FRACTRAIN_EPOCHS = 160      # FracTrain's CIFAR runs
GRAD_OUT_BITS = 32          # weight gradients leave the GEMM for the fp32 optimizer
SCALE_BITS = 32             # a quantizer's range end (zero, top) is an FP32 value
# SGD with momentum in FP32 (golden.training.loop): per weight and step it reads the master weight,
# its gradient and its velocity, writes the velocity and the weight (5 x 32 bits), and writes the
# weight's codes for the next forward pass (at the forward width, with its per-channel range).
OPTIMIZER_WORDS = 5


@dataclasses.dataclass(frozen=True)
class Gemm:
    """One GEMM (M, K) x (K, N) that runs `count` times.

    bits_a / bits_b: the operands' code widths as the recipe quantizes them (3 and 6 allowed:
    the hardware runs them in the next mode it has). bits_out: width of the result as the next
    consumer stores it (the next GEMM's operand precision, or 32 for weight gradients).
    fmt: "int" (integer codes on both sides), "int4xr4fp4" (IBM's INT4 x radix-4 FP4 gradient
    GEMMs), "fp8" (IBM's FP8 layers), "fp16". a_elems / b_elems / c_elems: unique elements of
    the stored A, B and result tensors (default M*K, K*N, M*N).
    """
    layer: str
    role: str
    m: int
    k: int
    n: int
    bits_a: int
    bits_b: int
    bits_out: int
    fmt: str = "int"
    count: float = 1.0
    a_elems: int = None
    b_elems: int = None
    c_elems: int = None
    side_bits: int = 0  # the operands' ranges (scales), stored and read with them

    def __post_init__(self):
        for name in ("m", "k", "n", "bits_a", "bits_b", "bits_out"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        if self.fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {self.fmt!r}")
        if not (isinstance(self.count, (int, float)) and self.count >= 0):
            raise ValueError(f"count must be a number >= 0, got {self.count!r}")
        for name, default in (("a_elems", self.m * self.k), ("b_elems", self.k * self.n),
                              ("c_elems", self.m * self.n)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)

    @property
    def macs(self):
        return self.m * self.k * self.n


@dataclasses.dataclass(frozen=True)
class Update:
    """The optimizer's step of one layer's weights, `count` times: memory traffic, no GEMM (the
    same on every machine). dram_bits = sram_bits: every word goes through the on-chip buffer."""
    layer: str
    weights: int
    bits_w: int     # the forward width of the weights' codes written for the next step
    count: float = 1.0
    role = "optimizer"  # where a GEMM names its kind (not a field)

    @property
    def bits(self):
        return self.weights * (OPTIMIZER_WORDS * 32 + self.bits_w)


def optimizer_update(layer, bits_w, count=1.0):
    """One optimizer step of `layer`'s weights (Update)."""
    return Update(layer.name, layer.cin * layer.taps * layer.cout, bits_w, count)


@dataclasses.dataclass(frozen=True)
class Layer:
    """A GEMM layer: Cin -> Cout channels, `taps` kernel positions (k*k for a 2-D conv, k for a
    1-D one, 1 for a linear layer), `pix_in` / `pix_out` spatial positions per sample (H*W, or
    the sequence length; 1 for a linear layer)."""
    name: str
    cin: int
    cout: int
    taps: int = 1
    pix_in: int = 1
    pix_out: int = 1


def layer_gemms(layer, batch, bits, *, first, fmt=("int", "int", "int"), count=1.0, per_sample=False):
    """The three GEMMs of one layer for a mini-batch of `batch`.

    bits = (activation, weight, gradient) bits; fmt = formats of (forward, input-gradient,
    weight-gradient) GEMMs. The forward result is stored at the activation precision (the next
    layer's input), the input gradient at the gradient precision, the weight gradient at 32 bits.
    Ranges (side_bits, two FP32 values each): activations and gradients per tensor, weights per
    output channel; the weight-gradient GEMM's gradient per sample when `per_sample` (PSQ, BHQ).
    """
    ba, bw, bg = bits
    rows = batch * layer.pix_out                 # output positions of the mini-batch
    red = layer.cin * layer.taps                 # im2col reduction length
    x_elems = batch * layer.pix_in * layer.cin   # the stored input activation tensor
    y_elems = rows * layer.cout
    w_elems = red * layer.cout
    ranges = lambda n: 2 * n * SCALE_BITS
    out = [Gemm(layer.name, "fwd", rows, red, layer.cout, ba, bw, ba, fmt[0], count,
                a_elems=x_elems, b_elems=w_elems, c_elems=y_elems, side_bits=ranges(1 + layer.cout))]
    if not first:
        out.append(Gemm(layer.name, "dgrad", rows, layer.cout, red, bg, bw, bg, fmt[1], count,
                        a_elems=y_elems, b_elems=w_elems, c_elems=x_elems, side_bits=ranges(1 + layer.cout)))
    out.append(Gemm(layer.name, "wgrad", red, rows, layer.cout, ba, bg, GRAD_OUT_BITS, fmt[2], count,
                    a_elems=x_elems, b_elems=y_elems, c_elems=w_elems,
                    side_bits=ranges(1 + (batch if per_sample else 1))))
    return out


# depth -> (block kind, blocks per stage)
RESNETS = {38: ("basic", 6), 74: ("basic", 12), 110: ("basic", 18), 164: ("bottleneck", 18)}


def resnet_layers(depth, classes):
    """GEMM layers of a CIFAR ResNet: 3x3 stem, three stages at 32/16/8 pixels (stride 2 in the
    first block of stages 2 and 3, 1x1 projection shortcuts where the shape changes), linear head.
    BatchNorm, ReLU, the shortcut additions and pooling are not GEMMs and are not priced."""
    if depth not in RESNETS:
        raise ValueError(f"depth must be one of {sorted(RESNETS)}, got {depth!r}")
    if classes not in (10, 100):
        raise ValueError(f"classes must be 10 or 100 (CIFAR-10/100), got {classes!r}")
    kind, blocks = RESNETS[depth]
    conv = lambda name, cin, cout, k, hw_in, hw_out: Layer(name, cin, cout, k * k, hw_in ** 2, hw_out ** 2)
    layers = [conv("conv1", 3, 16, 3, 32, 32)]
    cin, hw = 16, 32
    expansion = 4 if kind == "bottleneck" else 1
    for stage, planes in enumerate((16, 32, 64)):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            hw_out = hw // stride
            cout = planes * expansion
            tag = f"s{stage + 1}b{b + 1}"
            if kind == "basic":
                layers += [conv(f"{tag}c1", cin, planes, 3, hw, hw_out),
                           conv(f"{tag}c2", planes, planes, 3, hw_out, hw_out)]
            else:
                layers += [conv(f"{tag}c1", cin, planes, 1, hw, hw),
                           conv(f"{tag}c2", planes, planes, 3, hw, hw_out),
                           conv(f"{tag}c3", planes, cout, 1, hw_out, hw_out)]
            if stride != 1 or cin != cout:
                layers.append(conv(f"{tag}sc", cin, cout, 1, hw, hw_out))
            cin, hw = cout, hw_out
    layers.append(Layer("fc", cin, classes))
    return layers


def _recipe_layer(recipe, bits, index, n_layers):
    """(bits, per-GEMM formats) of layer `index` under a recipe: FracTrain's recipes are integer
    everywhere; ibm4 runs its first and last layers in FP8 (Sun et al. 2020, Sec. 4) and the rest
    with INT4 forward, INT4 x R4FP4 gradients; fp16 is FP16 everywhere."""
    if recipe == "ibm4":
        if index in (0, n_layers - 1):
            return (8, 8, 8), ("fp8",) * 3
        return (4, 4, 4), ("int", "int4xr4fp4", "int4xr4fp4")
    if recipe == "fp16":
        return (16, 16, 16), ("fp16",) * 3
    return tuple(bits), ("int",) * 3


def step_gemms(layers, batch, recipe, per_layer_bits, count=1.0):
    """One training step of `layers` (GEMMs and the optimizer's Updates): per_layer_bits[i] =
    (act, weight, grad) bits of layer i. A recipe with PSQ or BHQ gradients (psqB, bhqB, the
    combined +psq / +bhq) keeps one range per sample of the weight-gradient GEMM's gradient."""
    out = []
    per_sample = grad_quantizer(recipe) in ("psq", "bhq")
    for i, (layer, bits) in enumerate(zip(layers, per_layer_bits)):
        b, fmt = _recipe_layer(recipe, bits, i, len(layers))
        out += layer_gemms(layer, batch, b, first=i == 0, fmt=fmt, count=count, per_sample=per_sample)
        out.append(optimizer_update(layer, b[1], count))
    return out


def resnet_step(depth, classes, recipe="fw8bw8", fw=8, bw=8, batch=128, count=1.0):
    """One training step of a CIFAR ResNet at batch 128, every layer at (fw, fw, bw) bits."""
    layers = resnet_layers(depth, classes)
    return step_gemms(layers, batch, recipe, [(fw, fw, bw)] * len(layers), count)


def stage_epochs(fractions, epochs):
    """Epochs spent in each PFQ stage when the turning points fall at the given fractions of
    training: stage i runs from round(f_(i-1) * epochs) to round(f_i * epochs)."""
    f = list(fractions)
    if any(not 0 <= x <= 1 for x in f) or f != sorted(f):
        raise ValueError(f"turning-point fractions must be non-decreasing in [0, 1], got {fractions!r}")
    edges = [0] + [round(x * epochs) for x in f] + [epochs]
    return [b - a for a, b in zip(edges[:-1], edges[1:])]


def pfq_run(depth, classes, fw_schedule, bw_schedule, fractions, epochs=FRACTRAIN_EPOCHS,
            batch=128, train_size=CIFAR_TRAIN, recipe="pfq"):
    """A whole PFQ training run (static FW8/BW8 = the one-stage schedule (8,), (8,), fractions
    ()): per stage, one step's GEMMs with count = epochs in the stage x steps per epoch.
    `recipe` "pfq+psq" / "pfq+bhq": PSQ's per-sample gradient ranges (step_gemms)."""
    if len(fw_schedule) != len(bw_schedule) or len(fractions) != len(fw_schedule) - 1:
        raise ValueError(f"need equal-length schedules and one turning point fewer, got fw {fw_schedule}, "
                         f"bw {bw_schedule}, fractions {fractions}")
    steps = train_size / batch  # the last, partial batch counts by its share
    out = []
    for fw, bw, ep in zip(fw_schedule, bw_schedule, stage_epochs(fractions, epochs)):
        if ep:
            out += resnet_step(depth, classes, recipe, fw, bw, batch, count=ep * steps)
    return out


# Training-set sizes of the benchmarks (golden.training.datasets): sklearn's digits at a 30% test
# split, MNIST-1D's default 4,000 training sequences.
TRAIN_SIZE = {"digits": 1257, "mnist1d": 4000}


def bench_shapes(bench):
    """(layers, mini-batch size, training-set size) of a golden.training benchmark, from its own
    network definition (golden.training.networks) and default configuration."""
    from golden.training import loop, networks
    if bench not in TRAIN_SIZE:
        raise ValueError(f"bench must be one of {sorted(TRAIN_SIZE)}, got {bench!r}")
    cfg = loop.config(bench)
    net = networks.mlp(64, cfg.hidden) if bench == "digits" else networks.cnn1d()
    layers = tuple(Layer(f"{lay.kind}{i + 1}", lay.n_in, lay.n_out, lay.kernel, lay.length, lay.out_length)
                   for i, lay in enumerate(net))
    return layers, cfg.batch, TRAIN_SIZE[bench]


def _depth(x):
    d = 0
    while isinstance(x, (list, tuple)):
        d, x = d + 1, x[0] if x else None
    return d


def from_training_json(run):
    """GEMMs of a whole training run from `python -m golden.training --json` output.

    `precisions` is per epoch a per-layer list of (activation, weight, gradient) bits, or for DFQ
    per epoch a per-mini-batch list of those; each epoch has ceil(train_size / batch) steps, the
    last one on the remaining samples. Identical GEMMs are merged (their counts add up).
    """
    for key in ("bench", "recipe", "epochs", "precisions"):
        if key not in run:
            raise ValueError(f"training run JSON lacks {key!r} (needs bench, recipe, epochs, precisions)")
    layers, batch, train_size = bench_shapes(run["bench"])
    prec = run["precisions"]
    if len(prec) != run["epochs"]:
        raise ValueError(f"precisions has {len(prec)} epochs, the run says epochs = {run['epochs']}")
    full, rest = divmod(train_size, batch)
    sizes = [batch] * full + ([rest] if rest else [])
    merged = {}
    for epoch in prec:
        per_batch = epoch if _depth(epoch) == 3 else [epoch] * len(sizes)
        if len(per_batch) != len(sizes) or any(len(b) != len(layers) for b in per_batch):
            raise ValueError(f"{run['bench']}: each epoch needs {len(sizes)} mini-batches of {len(layers)} "
                             f"layers' (act, weight, grad) bits")
        for size, bits in zip(sizes, per_batch):
            for g in step_gemms(layers, size, run["recipe"], [tuple(map(int, b)) for b in bits]):
                key = dataclasses.replace(g, count=0.0)
                merged[key] = merged.get(key, 0.0) + g.count
    return [dataclasses.replace(g, count=c) for g, c in merged.items()]


# (label, recipe, golden.training config overrides) of the runs `make cost` prices.
PRICED_RUNS = (("fw8bw8", "fw8bw8", {}), ("pfq", "pfq", {}), ("ibm4", "ibm4", {}),
               ("dfq", "dfq", {}), ("fractrain", "fractrain", {}), ("dfq-hw", "dfq", {"dfq_options": "hw"}),
               ("bhq4", "bhq4", {}))


def train_run(bench, label, recipe, overrides, seed):
    """One priced golden.training run (an executor task): its JSON fields, with `label` telling
    DFQ's hardware option set ({2,4,8} x {4,8}) from FracTrain's."""
    from golden.training.cli import KEEP
    from golden.training.loop import config, train
    r = train(bench, recipe, config(bench, seed=seed, **overrides))
    return {**{k: r[k] for k in KEEP}, "label": label, "source": "golden.training"}


def training_tasks(benches=("digits",), seed=0, priced=PRICED_RUNS):
    """Every priced recipe on each bench, as executor tasks (lptrain.executor.Task)."""
    from lptrain.executor import Task
    return [Task(f"{bench}/{label}/seed{seed}", train_run,
                 {"bench": bench, "label": label, "recipe": recipe, "overrides": overrides, "seed": seed})
            for bench in benches for label, recipe, overrides in priced]
