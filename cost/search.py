"""`make search`: a hardware-aware search over training schedules for the Pareto front of test
accuracy, energy and latency, priced on this project's hardware.

    python -m cost.search [--bench mnist1d] [--trials 36] [--population 12] [--seeds 3]
                          [--epochs N] [--ppa build/synth/ppa.json] [--out build/search]
                          [--workers N | --scheduler tcp://HOST:PORT]

A point is a FracTrain-scheduled recipe (golden.training.recipes): the forward policy (PFQ's
schedule, DFQ's gate, or both: pfq / dfq / fractrain), the gradient quantizer (FracTrain's per-
tensor range quantizer, or PSQ / BHQ: the combined recipes), PFQ's forward and gradient widths per
stage (four stages, each of the fusion array's full-rate widths: forward 2/4/8, gradients 4/8,
non-decreasing), PFQ's turning-point threshold epsilon, and DFQ's cost target (DFQ on the array's
option set {2,4,8} x {4,8}). Objectives: test accuracy (maximized) and the run's energy and
latency at the array's Fmax (minimized), from `cost.model.run_cost` on the fusion array, memory
and the optimizer's traffic included, priced from the run's own per-epoch (DFQ: per mini-batch)
precisions. Optuna's NSGA-II (seeded) proposes a generation of `population` points; each is a
training task of the project's executor (`lptrain.executor`, cached like `make cost`'s); their
results are told back; `trials` points in all, on seed 0. A diverged run is a failed trial.

Then every point of the front (Optuna's non-dominated trials) is trained again on the other seeds,
with the references: fw8bw8 (the baseline, on every seed), FracTrain's own PFQ and PFQ + DFQ.
Every run is priced on the fusion array and compared with fw8bw8 of the same seed on the fixed-8
array of the same area (`cost.model.machines`: fixed_iso_area, also fixed_equal_area) and on the
fusion array itself. Front points with a static schedule (pfq, pfq+psq, pfq+bhq) are also priced
on the CIFAR ResNets over FracTrain's 160 epochs, with their turning points at the same fractions
of training as in the seed-0 run, next to FracTrain's published savings.

Writes OUT/search.json, OUT/search.md and the plots OUT/accuracy_vs_energy.png and
OUT/accuracy_vs_latency.png; `make report` renders the same from the JSON.
"""

import json
import pathlib
import sys
import time

import numpy as np

from golden.training.loop import Config
from golden.training.recipes import forward_policy
from lptrain import executor
from lptrain.cli import ArgumentParser, positive
from lptrain.paths import ROOT
from lptrain.provenance import provenance

from .model import (FRACTRAIN_PUBLISHED, Hardware, equal_area_savings, machines, run_cost, savings)
from .workloads import FRACTRAIN_EPOCHS, from_training_json, pfq_run, train_run

__all__ = ["FORWARD", "QUANTIZERS", "point", "suggest", "pareto", "search", "main"]

SCHEMA = "lptrain-search/1"
FORWARD = ("pfq", "dfq", "fractrain")
QUANTIZERS = ("range", "psq", "bhq")
FW_BITS, BW_BITS, STAGES = (2, 4, 8), (4, 8), 4
EPSILON = (0.05, 0.6)        # PFQ's threshold (FracTrain: 0.15), log-uniform
DFQ_TARGET = (0.1, 0.6)      # DFQ's cost target (FracTrain's default here: 0.5)
# The references: the baseline and FracTrain's own schedules (golden.training defaults).
REFERENCES = {"fw8bw8": ("fw8bw8", {}), "FracTrain PFQ": ("pfq", {}), "FracTrain PFQ+DFQ": ("fractrain", {})}
COMPARE = ("fixed_iso_area", "fixed_equal_area", "fusion")
RESNETS = ((38, 100), (74, 100))  # FracTrain's Table 4 rows


def point(forward, quantizer, fw, bw, epsilon, dfq_target):
    """(recipe, golden.training Config overrides) of a search point."""
    if forward not in FORWARD:
        raise ValueError(f"forward must be one of {FORWARD}, got {forward!r}")
    if quantizer not in QUANTIZERS:
        raise ValueError(f"quantizer must be one of {QUANTIZERS}, got {quantizer!r}")
    recipe = forward if quantizer == "range" else f"{forward}+{quantizer}"
    overrides = {"fw_schedule": list(fw), "bw_schedule": list(bw), "pfq_epsilon": round(float(epsilon), 4)}
    if forward != "pfq":
        overrides.update(dfq_options="hw", dfq_target=round(float(dfq_target), 4))
    return recipe, overrides


def suggest(trial):
    """A point from an Optuna trial (the search space of the module docstring): widths drawn per
    stage and sorted, so every schedule is non-decreasing."""
    fw = sorted(trial.suggest_categorical(f"fw{i}", FW_BITS) for i in range(STAGES))
    bw = sorted(trial.suggest_categorical(f"bw{i}", BW_BITS) for i in range(STAGES))
    return point(trial.suggest_categorical("forward", FORWARD), trial.suggest_categorical("grad_quantizer", QUANTIZERS),
                 fw, bw, trial.suggest_float("pfq_epsilon", *EPSILON, log=True),
                 trial.suggest_float("dfq_target", *DFQ_TARGET))


def label(recipe, overrides):
    """A point's name: the recipe and what it sets."""
    o = overrides
    if not o:
        return recipe
    text = f"{recipe} FW {','.join(map(str, o['fw_schedule']))} BW {','.join(map(str, o['bw_schedule']))} eps {o['pfq_epsilon']:g}"
    return text + (f" target {o['dfq_target']:g}" if "dfq_target" in o else "")


def task(bench, recipe, overrides, seed, epochs=None):
    ov = {**overrides, **({"epochs": epochs} if epochs else {})}
    name = label(recipe, overrides)
    return executor.Task(f"{bench}/{name}/seed{seed}", train_run,
                         {"bench": bench, "label": name, "recipe": recipe, "overrides": ov, "seed": seed})


def pareto(values):
    """Indices of the non-dominated rows of `values` (every column minimized)."""
    v = np.asarray(values, float)
    return [i for i in range(len(v)) if not any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i])
                                                 for j in range(len(v)) if j != i)]


class Pricing:
    """Prices runs on the machines of `cost.model.machines` against fw8bw8 of the same seed."""

    def __init__(self, hw, rows=8, cols=8):
        self.hw, self.ms = hw, machines(hw, rows, cols)
        self.base, self.resnet_base = {}, {}

    def cost(self, run, key="fusion"):
        return run_cost(from_training_json(run), self.ms[key], self.hw)

    def baseline(self, run):
        """fw8bw8 `run` on the fusion array and on the iso-area fixed array (per seed)."""
        self.base[run["seed"]] = {k: self.cost(run, k) for k in ("fusion", "fixed_iso_area")}

    def compare(self, run):
        """{cost on the fusion array, savings against fw8bw8 (same seed) per COMPARE key}."""
        new = self.cost(run)
        base = self.base[run["seed"]]
        out = {"fixed_iso_area": savings(new, base["fixed_iso_area"]),
               "fixed_equal_area": equal_area_savings(new, base["fixed_iso_area"]),
               "fusion": savings(new, base["fusion"])}
        return _brief(new), out

    def resnet_fw8(self, depth, classes):
        """FW8/BW8 over FracTrain's epochs on a ResNet, on the fusion and the iso-area fixed array
        (priced once per ResNet)."""
        if (depth, classes) not in self.resnet_base:
            fw8 = pfq_run(depth, classes, (8,), (8,), ())
            self.resnet_base[depth, classes] = {k: run_cost(fw8, self.ms[k], self.hw) for k in ("fusion", "fixed_iso_area")}
        return self.resnet_base[depth, classes]


def _brief(c):
    """The parts of a run_cost row the search keeps."""
    return {**{k: c[k] for k in ("energy_j", "compute_j", "sram_j", "dram_j", "memory_j", "latency_s",
                                 "latency_at_fmax_s", "cycles", "effective_macs")},
            "by_role": {r: {k: v * 1e-12 if k.endswith("_pj") else v for k, v in d.items()}
                        for r, d in c["by_role"].items()}}


def _stats(values):
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}


def summarize(name, recipe, overrides, runs, pricing):
    """One point over its seeds: accuracy and savings (mean, std), per-seed costs."""
    ok = [r for r in runs if not r.get("diverged_epoch")]
    row = {"name": name, "recipe": recipe, "overrides": overrides, "seeds": [r["seed"] for r in runs],
           "diverged": [r["seed"] for r in runs if r.get("diverged_epoch")],
           "accuracy": _stats([100 * r["test_accuracy"] for r in runs])}
    if len(ok) != len(runs):
        return row
    priced = [pricing.compare(r) for r in ok]
    row["cost"] = [c for c, _ in priced]
    row["turning_points"] = [r["turning_points"] for r in ok]
    row["savings"] = {key: {m: _stats([100 * s[key][m] for _, s in priced])
                            for m in ("latency", "latency_at_fmax", "energy", "compute_energy", "memory_energy")}
                      for key in COMPARE}
    return row


def resnet_rows(row, pricing, epochs):
    """A static-schedule point on FracTrain's ResNet rows: its schedule with the seed-0 run's
    turning points at the same fractions of FracTrain's 160 epochs, against FW8/BW8."""
    o = row["overrides"]
    fw, bw = tuple(o.get("fw_schedule", Config.fw_schedule)), tuple(o.get("bw_schedule", Config.bw_schedule))
    tps = list(row["turning_points"][0]) + [epochs] * (len(fw) - 1 - len(row["turning_points"][0]))
    fractions = tuple(t / epochs for t in tps)
    out = []
    for depth, classes in RESNETS:
        new = run_cost(pfq_run(depth, classes, fw, bw, fractions, recipe=row["recipe"]), pricing.ms["fusion"], pricing.hw)
        base = pricing.resnet_fw8(depth, classes)
        pub = FRACTRAIN_PUBLISHED.get((depth, classes), {})
        out.append({"workload": f"resnet{depth}-cifar{classes}", "name": row["name"], "fractions": list(fractions),
                    "fixed_iso_area": savings(new, base["fixed_iso_area"]),
                    "fixed_equal_area": equal_area_savings(new, base["fixed_iso_area"]),
                    "fusion": savings(new, base["fusion"]),
                    "published": {"latency": pub.get("fpga_latency"), "energy": pub.get("fpga_energy"),
                                  "what": "FracTrain PFQ+DFQ vs FW8/BW8, ZC706 FPGA (Fu et al. 2020, Table 4)"}})
    return out


def search(ex, cache, bench, trials, population, seeds, epochs, pricing, seed=0, log=print):
    """The search and the re-training of its front; the search.json body."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(population_size=population, seed=seed))
    # the baseline first: every trial is compared with it
    ref_out = ex.run([task(bench, r, o, s, epochs) for r, o in REFERENCES.values() for s in range(seeds)],
                     cache=cache, label="references")
    refs = {name: ref_out[i * seeds:(i + 1) * seeds] for i, name in enumerate(REFERENCES)}
    for o in refs["fw8bw8"]:
        if not o.ok:
            raise RuntimeError(f"fw8bw8 baseline failed: {o.error}")
        pricing.baseline(o.value)
    rows = []
    while len(rows) < trials:
        asked = [study.ask() for _ in range(min(population, trials - len(rows)))]
        points = [suggest(t) for t in asked]
        outcomes = ex.run([task(bench, r, o, seed, epochs) for r, o in points], cache=cache,
                          label=f"generation {len(rows) // population + 1}")
        for t, (recipe, ov), o in zip(asked, points, outcomes):
            row = {"trial": t.number, "name": label(recipe, ov), "recipe": recipe, "overrides": ov, "params": t.params}
            run = o.value if o.ok else None
            if run is None or run.get("diverged_epoch"):
                row["failed"] = o.error.splitlines()[0] if run is None else f"diverged in epoch {run['diverged_epoch']}"
                study.tell(t, state=optuna.trial.TrialState.FAIL)
            else:
                c, s = pricing.compare(run)
                row.update(accuracy=100 * run["test_accuracy"], cost=c, savings=s,
                           turning_points=run["turning_points"])
                study.tell(t, [row["accuracy"], c["energy_j"], c["latency_at_fmax_s"]])
            rows.append(row)
        log(f"search: {len(rows)}/{trials} trials")
    done = [r for r in rows if "failed" not in r]
    front = [done[i] for i in pareto([(-r["accuracy"], r["cost"]["energy_j"], r["cost"]["latency_at_fmax_s"])
                                      for r in done])]
    # the front on every seed (seed 0's runs come from the cache)
    retrain = ex.run([task(bench, r["recipe"], r["overrides"], s, epochs) for r in front for s in range(seeds)],
                     cache=cache, label="front")
    front_rows = []
    for i, r in enumerate(front):
        outs = retrain[i * seeds:(i + 1) * seeds]
        runs = [o.value for o in outs if o.ok]
        if len(runs) != seeds:
            front_rows.append({"name": r["name"], "failed": "a seed's training failed"})
            continue
        row = summarize(r["name"], r["recipe"], r["overrides"], runs, pricing)
        row["trial"] = r["trial"]
        front_rows.append(row)
    reference_rows = [summarize(name, recipe, ov, [o.value for o in refs[name] if o.ok], pricing)
                      for name, (recipe, ov) in REFERENCES.items()]
    epochs_run = next(o.value["epochs"] for o in refs["fw8bw8"])
    resnets = [x for row in front_rows + reference_rows
               if "savings" in row and forward_policy(row["recipe"]) == "pfq"
               for x in resnet_rows(row, pricing, epochs_run)]
    return {"bench": bench, "baseline_cost": _brief(pricing.base[0]["fixed_iso_area"]), "trials": rows, "front": front_rows, "references": reference_rows, "resnets": resnets,
            "settings": {"trials": trials, "population": population, "seeds": seeds, "epochs": epochs_run,
                         "sampler": f"optuna {optuna.__version__} NSGAIISampler(population_size={population}, seed={seed})",
                         "objectives": ["test accuracy (max)", "energy_j on the fusion array (min)",
                                        "latency_at_fmax_s on the fusion array (min)"],
                         "search_space": {"forward": FORWARD, "grad_quantizer": QUANTIZERS, "fw_bits": FW_BITS,
                                          "bw_bits": BW_BITS, "stages": STAGES, "pfq_epsilon": EPSILON,
                                          "dfq_target": DFQ_TARGET, "dfq_options": "hw"},
                         "train_epochs": epochs}}


def main(argv=None):
    ap = ArgumentParser(prog="python -m cost.search", description=__doc__.splitlines()[0])
    ap.add_argument("--bench", choices=("digits", "mnist1d"), default="mnist1d")
    ap.add_argument("--trials", type=positive(), default=36, help="search trials (seed 0)")
    ap.add_argument("--population", type=positive(), default=12, help="NSGA-II generation size")
    ap.add_argument("--seeds", type=positive(), default=3, help="seeds of the front and the references")
    ap.add_argument("--epochs", type=positive(), default=None, help="training epochs (default: the benchmark's)")
    ap.add_argument("--ppa", default=str(ROOT / "build" / "synth" / "ppa.json"), help="make synth's ppa.json")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "search")
    executor.add_arguments(ap)
    args = ap.parse_args(argv)
    if args.population < 2:
        ap.error(f"--population must be >= 2 (NSGA-II), got {args.population}")
    try:
        hw = Hardware.load(args.ppa)
    except (FileNotFoundError, ValueError, KeyError) as e:
        ap.error(f"--ppa: {e}")
    try:
        import optuna  # noqa: F401  (checked before any training starts)
    except ImportError:
        ap.exit(2, "python -m cost.search: optuna is missing (pip package optuna; `make venv` installs it)\n")
    from golden.training.datasets import mnist1d
    from golden.training.demo import cache
    mnist1d()  # generate the dataset once, before the workers read it
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pricing = Pricing(hw)
    with executor.from_args(ap, args) as ex:
        body = search(ex, cache(args.out), args.bench, args.trials, args.population, args.seeds, args.epochs,
                      pricing)
        where = ex.description
    from . import search_report
    import optuna
    doc = {"schema": SCHEMA, **provenance("cost.search", argv, {"optuna": optuna.__version__}),
           "wall_s": time.time() - t0, "executor": where,
           "ppa": str(args.ppa), "ppa_date": hw.doc.get("date") or hw.doc.get("generated"),
           "ppa_revision": hw.doc.get("revision"), "machines": {k: m.name for k, m in pricing.ms.items()},
           "fractrain_epochs": FRACTRAIN_EPOCHS, **body}
    (args.out / "search.json").write_text(json.dumps(doc, indent=1) + "\n")
    search_report.write(doc, args.out)
    print(search_report.markdown(doc))
    print(f"wrote {args.out / 'search.json'}, {args.out / 'search.md'} and plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
