"""cost.md tables and PNG plots from the cost.json document (cost.model); `make report` renders the
same sections into docs/results.md."""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from synth.report import table  # noqa: E402

__all__ = ["write", "markdown", "summary", "sections", "plots", "comparison_table"]

BASELINE_LABEL = {"fusion": "FW8/BW8, fusion (FracTrain's)", "fixed_iso_pe": "FW8/BW8, fixed-8 iso-PE",
                  "fixed_iso_area": "FW8/BW8, fixed-8 iso-area",
                  "fixed_equal_area": "FW8/BW8, fixed-8 at equal area (latency x area)", "fp16": "FP16, fp16_mac"}


def _pct(v):
    return "n/a" if v is None else f"{100 * v:+.1f}%"


def comparison_table(doc):
    rows = []
    for c in doc["comparisons"]:
        pub = c.get("published") or {}
        pub_txt = (f"{100 * pub['latency']:.1f}% / {100 * pub['energy']:.1f}% ({pub['what']})" if pub else "")
        acc = "" if c.get("accuracy") is None else f"{100 * c['accuracy']:.2f}%"
        rows.append([c["workload"], c["recipe"], acc, BASELINE_LABEL.get(c["baseline_key"], c["baseline"]),
                     _pct(c["effective_macs"]), _pct(c["latency"]), _pct(c["latency_at_fmax"]),
                     _pct(c["compute_energy"]),
                     _pct(c["memory_energy"]), _pct(c["energy"]), pub_txt])
    return table(["workload", "recipe", "test acc.", "vs", "effective-MAC saving", "latency saving",
                   "latency saving, each unit at its Fmax", "compute-energy saving", "memory-energy saving", "energy saving (total)",
                   "FracTrain published latency / energy saving"], rows)


def cost_table(doc):
    rows = []
    for r in doc["costs"]:
        rows.append([r["workload"], r["recipe"], r["machine"]["name"], f"{r['macs']:.4g}", f"{r['effective_macs']:.4g}",
                     f"{r['cycles']:.4g}", f"{r['latency_s']:.4g}",
                     f"{r['latency_at_fmax_s']:.4g} @ " + ", ".join(f"{u} {f:.0f}" for u, f in r["fmax_mhz"].items()),
                     f"{r['compute_j']:.4g}", f"{r['sram_j']:.4g}", f"{r['dram_j']:.4g}", _optimizer(r),
                     f"{r['host_transform_j']:.4g} ({r['host_transform_macs']:.4g} MACs)" if "host_transform_j" in r else "",
                     f"{r['energy_j']:.4g}", f"{r['area_um2'] / 1e6:.3g}"])
    return table(["workload", "recipe", "machine", "MACs", "effective MACs", "cycles",
                   f"latency (s) @ {doc['clock']['frequency_mhz']:.0f} MHz", "latency (s) @ Fmax (MHz)",
                   "compute (J)", "SRAM (J)", "DRAM (J)", "of which optimizer (J)", "host transform (J)", "total (J)",
                   "area (mm^2)"], rows)


def _optimizer(row):
    """The optimizer's memory energy of a cost row (J)."""
    o = row.get("by_role", {}).get("optimizer")
    return f"{(o['sram_pj'] + o['dram_pj']) * 1e-12:.4g}" if o else ""


def summary(doc):
    """The savings against FW8/BW8 on the fixed-8 array at iso-area (memory included), one line per
    workload and recipe, for the terminal."""
    lines = ["saving vs FW8/BW8 on fixed-8 at iso-area, memory included:"]
    for c in doc["comparisons"]:
        if c["baseline_key"] == "fixed_iso_area":
            lines.append(f"  {c['workload']:22} {c['recipe']:10} latency {_pct(c['latency']):>8}  "
                         f"energy {_pct(c['energy']):>8}")
    return "\n".join(lines)


def preamble(doc):
    """Where the numbers come from: the ppa.json, the clock and array, cycles, memory energy."""
    m = doc["memory"]
    return "\n".join([
        f"ppa.json: `{doc['ppa']}` (generated {doc.get('ppa_date') or doc.get('ppa_generated')}, revision "
        f"{doc.get('ppa_revision') or 'not recorded'}, complete: {doc['ppa_complete']}); clock {doc['clock']['frequency_mhz']:.0f} MHz; array "
        f"{doc['array']['rows']}x{doc['array']['cols']}; machines: "
        + "; ".join(f"`{k}` = {v['name']}" for k, v in doc["machines"].items()) + ".", "",
        *_iso_area(doc.get("iso_area")),
        f"Cycles: {doc['cycle_source']}.", "",
        f"Memory energy: {m['citation']}; x{m['node_factor']:.1f} to this flow's node "
        f"({m['node_reference']} / Horowitz's 8-bit MAC). {m['writes']}.", "",
        "Host transform: BHQ's Householder part (the low-rank correction of its weight-gradient operand) runs "
        "on the host, priced as FP32 multiply-adds at Horowitz's "
        f"{m['fp32_mac_pj_45nm']:.1f} pJ x{m['node_factor']:.1f} and added to the row's total energy; its time is "
        "not in the latency.", "",
        "Also in the memory energy, on every machine alike: the operands' ranges (FP32, per tensor, per output "
        "channel of the weights, per sample of PSQ / BHQ gradients) and the FP32 optimizer's traffic per step "
        "(master weight, gradient and velocity read, velocity and weight written, the weights' codes written at the "
        "width the machine stores them).", "",
        f"PFQ turning points at {doc['turning_points']} of {doc['epochs']} epochs."])


def _iso_area(iso):
    """The iso-area line of the preamble: both areas and whether each was synthesized."""
    if not iso:
        return []
    how = lambda ok, names: f"synthesized: `{names[0]}`" if ok else "interpolated from " + ", ".join(f"`{n}`" for n in names)
    r, c = iso["shape"]
    fr, fc = iso["fusion"]
    return [f"Iso-area: the fixed-8 array {r}x{c} ({r * c} PEs), {iso['area_um2'] / 1e6:.3f} mm^2 "
            f"({how(iso['synthesized'], iso['area_from'])}), against the {fr}x{fc} fusion array's "
            f"{iso['fusion_area_um2'] / 1e6:.3f} mm^2 ({how(iso['fusion_synthesized'], iso['fusion_area_from'])}).", ""]


def lane_section(doc, h="##"):
    """ibm4 vs FP16 per training step at every lane count of the lane sweep (cost.json `lanes`)."""
    lanes = doc.get("lanes")
    if not lanes:
        return []
    rows = []
    for r in lanes["rows"]:
        if "skipped" in r:
            rows.append([r["lanes"], "", "not priced: " + r["skipped"]] + [""] * 6)
            continue
        rows.append([r["lanes"], r["workload"], r["fp8_unit"], f"{r['ibm4_compute_j']:.4g}", f"{r['ibm4_memory_j']:.4g}",
                     f"{r['fp16_compute_j']:.4g}", f"{r['fp16_memory_j']:.4g}", f"{r['compute_ratio']:.2f}x",
                     f"{r['energy_ratio']:.2f}x"])
    return [f"{h} ibm4 vs FP16 per training step by lane count (memory included)", "",
            f"The training MACs of `{lanes['ppa']}` at each lane count L, as grids of {doc['array']['rows']}x"
            f"{doc['array']['cols']} L-lane units on both machines (equal MACs per cycle); the INT4 forward GEMMs on "
            "the mac_array of the main ppa.json; FP8 layers on fp8_mac where the sweep measured it at that L, "
            "else on fp16_mac. Published anchor: IBM's ~7x (area and power of the MAC, not of a whole step).", "",
            table(["L", "workload", "FP8 layers on", "ibm4 compute (J)", "ibm4 memory (J)", "FP16 compute (J)",
                   "FP16 memory (J)", "FP16 / ibm4 compute", "FP16 / ibm4 total"], rows), ""]


def sections(doc, h="##"):
    """The tables of cost.json under headings of level `h`: savings beside FracTrain's published
    savings, turning-point sensitivity, every cost row and its sources."""
    parts = [
        f"{h} Savings (1 - new / baseline; positive = cheaper)", "", comparison_table(doc), "",
        *(["Not priced: " + "; ".join(f"{u['workload']} {u['recipe']} ({u['reason']})" for u in doc["unpriced"]) + ".", ""]
          if doc.get("unpriced") else []),
        f"{h} Turning-point sensitivity (the middle ResNet depth priced, CIFAR-100, FracTrain's schedule on the "
        "fusion array)", "",
        table(["turning points", "vs", "effective-MAC", "latency", "compute energy", "memory energy", "energy"],
               [[str(s["turning_points"]), BASELINE_LABEL[s["baseline_key"]], _pct(s["effective_macs"]),
                 _pct(s["latency"]), _pct(s["compute_energy"]), _pct(s["memory_energy"]), _pct(s["energy"])]
                for s in doc["sensitivity"]]), "",
        *lane_section(doc, h),
        f"{h} Every cost row", "", cost_table(doc), "",
        f"{h} Sources of every row", "",
        "Cycle source and memory citation: as above for every row (also in each row of cost.json).", "",
        table(["workload", "recipe", "machine", "ppa.json entries"],
               [[r["workload"], r["recipe"], r["machine"]["name"], r["sources"]["ppa"]] for r in doc["costs"]]), "",
    ]
    return "\n".join(parts)


def markdown(doc):
    return ("# Training cost on this hardware (`make cost`)\n\n" + preamble(doc) + "\n\n" + sections(doc)
            + "Plots: `savings.png`, `energy_breakdown.png`, `ibm_vs_fp16.png`.\n")


def _short(workload):
    return workload.replace("resnet", "R").replace("-cifar", "\nC").replace(" (seed ", "\n(seed ")


def _plot_savings(doc, path):
    keys = ("fusion", "fixed_iso_pe", "fixed_iso_area")
    metrics = (("effective_macs", "effective MACs"), ("latency", "latency"), ("energy", "energy (with memory)"))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
    for ax, key in zip(axes, keys):
        rows = [c for c in doc["comparisons"] if c["baseline_key"] == key and c["recipe"] == "pfq"
                and not c["workload"].endswith("cifar10")]  # CIFAR-10 differs from -100 only in the head
        x = range(len(rows))
        for i, (metric, label) in enumerate(metrics):
            ax.bar([j + (i - 1) * 0.27 for j in x], [100 * (r[metric] or 0) for r in rows], 0.27, label=label)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(list(x))
        ax.set_xticklabels([_short(r["workload"]) for r in rows], fontsize=8)
        ax.set_title(f"PFQ vs {BASELINE_LABEL[key]}", fontsize=9)
    axes[0].set_ylabel("saving (%)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Effective-MAC saving vs measured latency and energy saving (FracTrain's PFQ schedule)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_breakdown(doc, path):
    resnets = sorted({r["workload"] for r in doc["costs"] if r["workload"].endswith("cifar100")},
                     key=lambda w: int(w[6:w.index("-")]))
    workload = resnets[len(resnets) // 2] if resnets else doc["costs"][0]["workload"]
    rows = [r for r in doc["costs"] if r["workload"] == workload and "per step" not in r["recipe"]]
    labels = [f"{r['recipe']}\n{r['machine']['name'].split(' (')[0].replace('mac_array', 'ma')}" for r in rows]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    bottom = [0.0] * len(rows)
    for key, label in (("compute_j", "compute"), ("sram_j", "SRAM"), ("dram_j", "DRAM")):
        vals = [r[key] / 1e3 for r in rows]
        ax.bar(range(len(rows)), vals, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("energy of the whole run (kJ, this flow's 0.18 um node)")
    ax.set_title(f"{workload}: whole training run, energy by component")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_ibm(doc, path):
    rows = [c for c in doc["comparisons"] if c["baseline_key"] == "fp16"]
    fig, ax = plt.subplots(figsize=(10, 4))
    x = range(len(rows))
    for i, (metric, label) in enumerate((("latency", "latency"), ("compute_energy", "compute energy"),
                                         ("memory_energy", "memory energy"), ("energy", "total energy"))):
        ax.bar([j + (i - 1.5) * 0.2 for j in x], [100 * (r[metric] or 0) for r in rows], 0.2, label=label)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(list(x))
    ax.set_xticklabels([_short(r["workload"]) for r in rows], fontsize=8)
    ax.set_ylabel("saving vs FP16 on fp16_mac (%)")
    ax.set_title("IBM's ibm4 (INT4 on mac_array, INT4 x R4FP4 on hybrid_mac, FP8 layers) vs FP16, per training step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plots(doc, out, prefix=""):
    """Draw the three plots into `out` (file names `prefix` + name); returns {plot: file name}."""
    out = pathlib.Path(out)
    drawn = {}
    for key, draw in (("savings", _plot_savings), ("energy_breakdown", _plot_breakdown), ("ibm_vs_fp16", _plot_ibm)):
        drawn[key] = f"{prefix}{key}.png"
        draw(doc, out / drawn[key])
    return drawn


def write(doc, out):
    out = pathlib.Path(out)
    (out / "cost.md").write_text(markdown(doc))
    plots(doc, out)
