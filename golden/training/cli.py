"""`python -m golden.training`: train recipes on a benchmark, print a table or JSON.

JSON (one object, a list for `--recipe all`): bench, recipe, seed, epochs, test_accuracy,
effective_macs, macs, precisions (per epoch, per layer [activation, weight, gradient] bits; for
DFQ per epoch, per mini-batch, per layer), eval_precisions (the test forward's bits), gate_macs
(DFQ's candidate forward GEMMs, not in effective_macs), turning_points. A bad argument: one line on stderr,
exit 2.
"""

import argparse
import json
import sys

from lptrain.cli import ArgumentParser, non_negative_int, positive

from .datasets import BENCHES
from .dfq import OPTION_SETS
from .loop import config, train
from .recipes import RECIPES, check_schedule

KEEP = ("bench", "recipe", "seed", "epochs", "test_accuracy", "effective_macs", "macs",
        "precisions", "eval_precisions", "gate_macs", "host_transform_macs", "turning_points", "diverged_epoch")


def widths(text):
    """An argparse `type`: comma-separated integers ("2,4,4,8")."""
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_schedule_arguments(ap):
    ap.add_argument("--fw-schedule", type=widths, default=None,
                    help="PFQ forward bits per stage (pfq, fractrain and their +psq/+bhq; default 3,4,6,8)")
    ap.add_argument("--bw-schedule", type=widths, default=None, help="PFQ gradient bits per stage (default 6,6,8,8)")
    ap.add_argument("--pfq-epsilon", type=positive(float), default=None,
                    help="PFQ's turning-point threshold (FracTrain's 0.15; larger: earlier turning points)")


def schedule_overrides(ap, args):
    """The Config overrides of add_schedule_arguments' options that were given; a schedule the hardware cannot run
    (a width outside golden.training.recipes.SCHEDULE_BITS, stages out of order, unequal lengths)
    is a one-line error, exit 2."""
    from .loop import Config
    fw = args.fw_schedule or Config.fw_schedule
    bw = args.bw_schedule or Config.bw_schedule
    try:
        check_schedule(fw, bw)
    except ValueError as err:
        ap.error(f"--fw-schedule/--bw-schedule: {err}")
    given = {"fw_schedule": args.fw_schedule, "bw_schedule": args.bw_schedule, "pfq_epsilon": args.pfq_epsilon}
    return {k: v for k, v in given.items() if v is not None}


def parser():
    ap = ArgumentParser(prog="python -m golden.training", description=__doc__.splitlines()[0])
    ap.add_argument("--bench", choices=BENCHES, default="digits")
    ap.add_argument("--recipe", choices=RECIPES + ("all",), required=True)
    ap.add_argument("--seed", type=non_negative_int, default=0)
    ap.add_argument("--epochs", type=positive(int), default=None, help="default: the benchmark's")
    ap.add_argument("--dfq-target", type=positive(float), default=None,
                    help="DFQ cost target, a fraction of fw8bw8's effective MACs (default 0.5)")
    ap.add_argument("--dfq-options", choices=tuple(OPTION_SETS), default=None,
                    help="DFQ option set: FracTrain's (fw 3,4,4,6,6 / bw 6,6,8,8,12) or hw ({2,4,8} x {4,8})")
    add_schedule_arguments(ap)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return ap


def table(results):
    ref = next((r for r in results if r["recipe"] == "fw8bw8"), None)
    lines = [f"{'recipe':10} {'test acc':>9} {'eff. MACs':>12} {'vs fw8bw8':>10}"]
    for r in results:
        rel = f"{r['effective_macs'] / ref['effective_macs']:10.3f}" if ref else f"{'':>10}"
        lines.append(f"{r['recipe']:10} {100 * r['test_accuracy']:8.2f}% {r['effective_macs']:12.4g} {rel}")
    return "\n".join(lines)


def main(argv=None):
    ap = parser()
    args = ap.parse_args(argv)
    cfg = config(args.bench, epochs=args.epochs, seed=args.seed, dfq_target=args.dfq_target,
                 dfq_options=args.dfq_options, **schedule_overrides(ap, args))
    names = RECIPES if args.recipe == "all" else (args.recipe,)
    results = [train(args.bench, n, cfg) for n in names]
    if args.json:
        out = [{k: r[k] for k in KEEP} for r in results]
        json.dump(out if args.recipe == "all" else out[0], sys.stdout)
        print()
    else:
        print(table(results))
    return 0
