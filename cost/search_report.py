"""Tables and plots of a `make search` document (cost.search): the front and the references over
their seeds, where their energy goes, the ResNet pricing next to FracTrain's published savings,
every trial; accuracy vs energy and vs latency, against the fixed-8 array at iso-area and against
fw8bw8 on the fusion array, side by side."""

import pathlib

from .model import FRACTRAIN_PUBLISHED

__all__ = ["markdown", "sections", "plots", "write"]

SIDES = (("fixed_iso_area", "fw8bw8 on the fixed-8 array at iso-area"), ("fusion", "fw8bw8 on the fusion array"))
METRICS = (("latency_at_fmax", "latency (each array at its Fmax)"), ("energy", "energy (memory included)"))


def _pm(s, digits=1):
    return f"{s['mean']:.{digits}f} +- {s['std']:.{digits}f}"


def _point_rows(rows, fw8_acc, ids=None):
    """One table row per point; `ids` (the plots' labels) prefix the names."""
    ids = ids or [None] * len(rows)
    rows = [{**r, "name": f"{i}: {r['name']}" if i else r["name"]} for i, r in zip(ids, rows)]
    out = ["| point | seeds | test accuracy % | vs fw8bw8 (points) | latency saving vs fixed iso-area % "
           "| energy saving vs fixed iso-area % | latency saving at equal area % | vs fusion fw8bw8: latency / energy % |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "savings" not in r:
            why = r.get("failed") or f"diverged on seed(s) {r.get('diverged')}"
            out.append(f"| {r['name']} | | not priced: {why} | | | | | |")
            continue
        s = r["savings"]
        out.append(f"| {r['name']} | {r['accuracy']['n']} | {_pm(r['accuracy'], 2)} | {r['accuracy']['mean'] - fw8_acc:+.2f} "
                   f"| {_pm(s['fixed_iso_area']['latency_at_fmax'])} | {_pm(s['fixed_iso_area']['energy'])} "
                   f"| {_pm(s['fixed_equal_area']['latency_at_fmax'])} "
                   f"| {s['fusion']['latency_at_fmax']['mean']:.1f} / {s['fusion']['energy']['mean']:.1f} |")
    return out


def _energy_rows(doc):
    """Seed 0's energy by component and GEMM kind (J): what is left to save."""
    out = ["| run (seed 0) | machine | compute | SRAM | DRAM | fwd | dgrad | wgrad | optimizer | total |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    base = next(r for r in doc["references"] if r["name"] == "fw8bw8")
    rows = [("fw8bw8", doc["machines"]["fixed_iso_area"], doc["baseline_cost"])] if "baseline_cost" in doc else []
    rows += [(r["name"], doc["machines"]["fusion"], r["cost"][0]) for r in [base] + doc["front"] if "cost" in r]
    for name, machine, c in rows:
        role = lambda k: sum(v for key, v in c["by_role"].get(k, {}).items() if key != "cycles")
        out.append(f"| {name} | {machine} | {c['compute_j']:.3f} | {c['sram_j']:.3f} | {c['dram_j']:.3f} "
                   f"| {role('fwd'):.3f} | {role('dgrad'):.3f} | {role('wgrad'):.3f} | {role('optimizer'):.3f} "
                   f"| {c['energy_j']:.3f} |")
    return out


def markdown(doc):
    return "\n".join(["# Hardware-aware schedule search", "", sections(doc, "##")])


def sections(doc, h="###"):
    """The search's tables under `h` headings (its results page section)."""
    st = doc["settings"]
    fw8 = next(r for r in doc["references"] if r["name"] == "fw8bw8")
    fw8_acc = fw8["accuracy"]["mean"]
    lines = [f"{doc['bench']}, {st['epochs']} epochs: {len(doc['trials'])} trials of {st['sampler']} on seed 0 "
             f"({sum('failed' in t for t in doc['trials'])} failed: diverged), objectives "
             f"{'; '.join(st['objectives'])}; the front re-trained on {st['seeds']} seeds. Machines: "
             f"{doc['machines']['fusion']} (the points) against fw8bw8 on {doc['machines']['fixed_iso_area']} "
             f"and on the fusion array, same seed. ppa.json of {doc.get('ppa_date')}. fw8bw8's accuracy: "
             f"{_pm(fw8['accuracy'], 2)} %.", "",
             f"{h} Front ({st['seeds']} seeds, mean +- std)", "", *_point_rows(doc["front"], fw8_acc, front_ids(doc)), "",
             f"{h} References", "", *_point_rows(doc["references"], fw8_acc), "",
             f"{h} Where the energy goes (J)", "", *_energy_rows(doc), ""]
    if doc["resnets"]:
        lines += [f"{h} Static-schedule points on the CIFAR ResNets (160 epochs, turning points at the seed-0 "
                  "run's fractions)", "",
                  "| workload | point | latency saving vs fixed iso-area % | energy saving % | vs fusion fw8bw8: latency / energy % "
                  "| FracTrain published (FPGA): latency / energy % |", "|---|---|---|---|---|---|"]
        for r in doc["resnets"]:
            p = r["published"]
            pub = f"{100 * p['latency']:.1f} / {100 * p['energy']:.1f}" if p.get("latency") is not None else "–"
            lines.append(f"| {r['workload']} | {r['name']} | {100 * r['fixed_iso_area']['latency_at_fmax']:.1f} "
                         f"| {100 * r['fixed_iso_area']['energy']:.1f} | {100 * r['fusion']['latency_at_fmax']:.1f} / "
                         f"{100 * r['fusion']['energy']:.1f} | {pub} |")
        lines.append("")
    lines += [f"{h} Every trial (seed 0)", "",
              "| trial | point | test accuracy % | latency saving vs fixed iso-area % | energy saving % |", "|---|---|---|---|---|"]
    for t in doc["trials"]:
        if "failed" in t:
            lines.append(f"| {t['trial']} | {t['name']} | {t['failed']} | | |")
        else:
            s = t["savings"]["fixed_iso_area"]
            lines.append(f"| {t['trial']} | {t['name']} | {t['accuracy']:.1f} | {100 * s['latency_at_fmax']:.1f} "
                         f"| {100 * s['energy']:.1f} |")
    return "\n".join(lines)


def front_ids(doc):
    """The front points' labels in the plots and tables: F1, F2, ..."""
    return [f"F{i + 1}" for i in range(len(doc["front"]))]


def _published(metric):
    """FracTrain's published savings vs FW8/BW8 (PFQ + DFQ, CIFAR-100, ZC706), percent."""
    key = "fpga_latency" if metric.startswith("latency") else "fpga_energy"
    return [(f"ResNet-{d}", 100 * v[key]) for (d, _), v in FRACTRAIN_PUBLISHED.items()]


def plots(doc, out, prefix=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fw8 = next(r for r in doc["references"] if r["name"] == "fw8bw8")["accuracy"]
    ids = dict(zip((r["name"] for r in doc["front"]), front_ids(doc)))
    shown = [r["accuracy"] for r in doc["front"] + doc["references"] if "savings" in r]
    # trials that collapsed (near chance) would squash the axis: counted in the title instead
    floor = min(a["mean"] - a["std"] for a in shown) - 3 if shown else 0
    drawn = {}
    for metric, what in METRICS:
        fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
        for ax, (side, title) in zip(axes, SIDES):
            trials = [t for t in doc["trials"] if "savings" in t and t["accuracy"] >= floor]
            below = sum("savings" in t and t["accuracy"] < floor for t in doc["trials"])
            ax.scatter([100 * t["savings"][side][metric] for t in trials], [t["accuracy"] for t in trials],
                       s=12, color="0.7", label="trials (seed 0)")
            for rows, marker, color in ((doc["front"], "o", "C0"), (doc["references"], "*", "C3")):
                for r in rows:
                    if "savings" not in r:
                        continue
                    s = r["savings"][side][metric]
                    ax.errorbar(s["mean"], r["accuracy"]["mean"], xerr=s["std"], yerr=r["accuracy"]["std"],
                                fmt=marker, color=color, capsize=3, markersize=9 if marker == "*" else 6)
                    ax.annotate(ids.get(r["name"], r["name"]) if rows is doc["front"] else r["name"],
                                (s["mean"], r["accuracy"]["mean"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
            ax.axhline(fw8["mean"], color="C3", lw=0.8, label=f"fw8bw8 accuracy, mean of {fw8['n']} seeds")
            ax.axhline(fw8["mean"] - 1, color="C3", lw=0.8, ls="--", label="fw8bw8 - 1 point")
            if side == "fixed_iso_area":
                for i, (name, v) in enumerate(_published(metric)):
                    ax.axvline(v, color="C2", lw=0.8, ls=":", label="FracTrain published (CIFAR-100, FPGA)" if i == 0 else None)
                    ax.annotate(name, (v, ax.get_ylim()[0]), fontsize=7, rotation=90, va="bottom")
            ax.set_xlabel(f"{what} saving (%)")
            ax.set_ylim(bottom=floor)
            ax.set_title(f"vs {title}\nfront F1.. ({doc['settings']['seeds']} seeds, circles), references (stars); "
                         f"{below} trial(s) below {floor:.0f} % not shown", fontsize=9)
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel(f"{doc['bench']} test accuracy (%)")
        axes[0].legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        name = f"{prefix}accuracy_vs_{metric.split('_')[0]}.png"
        fig.savefig(pathlib.Path(out) / name, dpi=110)
        plt.close(fig)
        drawn[metric] = name
    return drawn


def write(doc, out):
    (out / "search.md").write_text(markdown(doc) + "\n")
    return plots(doc, out)
