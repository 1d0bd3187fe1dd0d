"""ppa.md tables and PNG plots from the ppa.json document (synth.ppa); `make report` renders the
same sections into docs/results.md."""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import lanes  # noqa: E402

__all__ = ["write", "markdown", "summary", "sections", "plots", "table", "anchor", "ANCHORS"]

# ratio -> published anchor. Bit Fusion (Sharma et al., ISCA 2018, 45 nm): fusion unit 2.52x the
# area and 2.0x the power of a fixed 8-bit MAC, 43 fJ per 2x2 MAC vs 344 fJ per 8x8 MAC; IBM
# (Sun et al., NeurIPS 2020): ~7x area and power savings of 4-bit training over FP16; RaPiD
# (Venkataramani et al., ISCA 2021, 7 nm): INT4 4.7x HFP8's performance per watt.
# A key also anchors every ratio ending in "_" + key (the fusion variants' PE ratios).
ANCHORS = {
    "fusion_area_vs_fixed8": "Bit Fusion 2.52",
    "pe_area_vs_fixed8": "Bit Fusion 2.52",
    "8b_energy_per_mac_vs_fixed8": "Bit Fusion 2.0 (power at one 8x8 MAC per cycle)",
    "2b_energy_per_mac_vs_fixed8": "Bit Fusion 0.125 (43 fJ / 344 fJ)",
    "array16_area_vs_fixed8_array16": "Bit Fusion 2.52 (per PE)",
    "hybrid_mac_area_vs_fp16_mac": "IBM ~1/7",
    "hybrid_mac_power_vs_fp16_mac": "IBM ~1/7",
    "fp8_mac_power_vs_fp16_mac": "RaPiD (7 nm): INT4 4.7x HFP8 per W",
}


METHOD = """## Method notes

- Area: Yosys `synth -flatten`, `dfflibmap`, `abc -constr -D 10000` (buffering and gate sizing
  against the 10 ns clock; inputs driven by BUFX2, outputs loading one DFFPOSX1 D pin), liberty
  cell areas. No placement, no wires, no clock tree.
- Power: OpenSTA `report_power` at the stated clock. Input ports get the toggle rate and duty
  measured on the workload stimulus (`set_power_activity -input_ports`). Units with flops are
  analysed on a register-cut copy of the netlist (each flop's D on its own input port), because
  OpenSTA 2.0.17's propagation around feedback loops (accumulators, counters) diverges; those
  ports get the flop outputs' toggle rate and duty from a zero-delay gate-level simulation of a
  sample of the same workload. Vectorless: every input, and every flop output, at activity 0.5.
- Energy per MAC = power x clock period / MACs per cycle, so idle or stalled cycles count.
- Cross-check: gate-level simulation of the full stimulus; only the switching (net) power is
  compared: internal (cell) power has no simulator-side counterpart in this flow.
"""


def _fmt(v, digits=3):
    """None as n/a; a float to `digits` significant digits below 1,000, else a whole number with
    thousands separators (no exponent notation in a table)."""
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e3 else f"{v:,.0f}"
    return str(v)


def table(header, rows):
    """Markdown table; floats formatted by _fmt."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def anchor(ratio):
    """The published anchor of a ppa.json ratio ("" when there is none)."""
    return next((text for key, text in ANCHORS.items() if ratio == key or ratio.endswith("_" + key)), "")


def _unit_rows(units):
    rows = []
    for name, u in units.items():
        t = u["timing"]
        rows.append([name, u["kind"], float(u["area_um2"]), u["cells"], u["sequential_cells"],
                     f"{100 * u['sequential_area_share']:.1f}%", t["worst_path_ns"], t["fmax_mhz"],
                     u["power_vectorless"]["total_mw"]])
    return rows


def _energy_tables(units):
    groups = {}
    for name, u in units.items():
        if u["workload"]:
            groups.setdefault(tuple(u["workload"]), []).append(name)
    out = []
    for modes, names in groups.items():
        op = units[names[0]]["workload"][modes[0]]["op"]
        rows = [[n, *[units[n]["workload"][m]["energy_per_op_pj"] for m in modes]] for n in names]
        out.append(f"Energy per {op} (pJ), OpenSTA with workload-annotated input activity:\n\n"
                   + table(["unit", *modes], rows))
        rows = [[n, *[units[n]["workload"][m]["power"]["total_mw"] for m in modes]] for n in names]
        out.append(f"Power (mW) at the same clock:\n\n" + table(["unit", *modes], rows))
    return out


def _crosscheck_table(checks):
    rows = []
    for name, modes in checks.items():
        for mode, r in modes.items():
            rows.append([name, mode, r["opensta_switching_mw"], r["gatesim_zero_delay_switching_mw"],
                         r["gatesim_timed_switching_mw"], r["gatesim_zero_delay_vs_opensta"],
                         r["gatesim_timed_vs_opensta"], r["energy_per_op_pj_with_timed_switching"]])
    return table(["unit", "mode", "OpenSTA sw (mW)", "gate-level zero-delay sw (mW)", "gate-level timed sw (mW)",
                   "zero-delay / OpenSTA", "timed / OpenSTA", "pJ/MAC with timed sw"], rows)


def summary(doc):
    """One paragraph: clock, corner, tools, activity assumptions, operands, run time."""
    tools = doc["tools"]
    return (f"Clock {doc['clock']['frequency_mhz']:g} MHz ({doc['clock']['period_ns']:g} ns), "
            f"{doc['corner']['voltage_v']} V, {doc['corner']['temperature_c']} C. Tools: {tools['yosys']}, "
            f"OpenSTA {tools['opensta']}, {tools['iverilog']}; {tools['liberty']}. "
            f"Vectorless power: every input toggles with activity {doc['vectorless_activity']['activity']} "
            f"and duty {doc['vectorless_activity']['duty']} per cycle (rst held). "
            f"Workload operands: {doc['workload']['source']}. The run took {doc['runtime_s']:.0f} s.")


def sections(doc, h="##"):
    """The tables of ppa.json under headings of level `h`: units, energy per mode, ratios with
    their published anchors, method notes, failures, the cross-check."""
    parts = [
        f"{h} Units",
        table(["unit", "kind", "area (um^2)", "cells", "flops", "seq. area", "worst path (ns)",
                "Fmax (MHz)", "vectorless P (mW)"], _unit_rows(doc["units"])),
        "Combinational units: worst input-to-output delay against a virtual clock (no flops); "
        "sequential units: register to register including setup.",
        f"{h} Energy per operation by precision mode",
        *_energy_tables(doc["units"]),
        f"{h} Ratios",
        table(["ratio", "measured", "published anchor"],
               [[k, v, anchor(k)] for k, v in doc["ratios"].items()]),
    ]
    if doc["ratio_notes"]:
        parts.append("Not computed:\n\n" + "\n".join(f"- `{k}`: {v}" for k, v in doc["ratio_notes"].items()))
    notes = {n: u["workload_note"] for n, u in doc["units"].items() if u.get("workload_note")}
    if notes:
        parts.append("Units without workload-annotated power:\n\n" + "\n".join(f"- `{k}`: {v}" for k, v in notes.items()))
    parts.append(METHOD.replace("## ", f"{h} ", 1))
    if doc.get("errors"):
        parts.append("Failed units (no numbers):\n\n" + "\n".join(f"- `{k}`: {v.splitlines()[0]}"
                                                              for k, v in doc["errors"].items()))
    if doc["crosscheck"]:
        parts += [f"{h} Cross-check of the activity method (switching power only)",
                  "Gate-level Icarus simulation of the netlist with the osu018 cell models on the same stimulus; "
                  "switching = toggles x 0.5 C V^2 with C from the liberty pin capacitances. Zero-delay counts "
                  "functional transitions only; timed uses the cells' specify delays (glitches).",
                  _crosscheck_table(doc["crosscheck"])]
    return "\n\n".join(parts) + "\n"


def markdown(doc):
    return "# lptrain PPA (OSU 0.18 um, typical corner)\n\n" + summary(doc) + "\n\n" + sections(doc)


def _plot_area(units, path):
    names = list(units)
    area = [units[n]["area_um2"] for n in names]
    seq = [units[n]["sequential_area_um2"] for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.5))
    y = range(len(names))
    ax.barh(y, area, color="#4c72b0", label="combinational")
    ax.barh(y, seq, color="#dd8452", label="sequential (flops)")
    for i, a in enumerate(area):
        ax.text(a * 1.05, i, f"{a:,.0f}", va="center", fontsize=8)
    ax.set_yticks(list(y), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=max(area) * 4)
    ax.set_xlabel("area (um$^2$, OSU 0.18 um, log scale)")
    ax.set_title("Area per unit")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _energy_pairs(units):
    """(label, fusion unit, fixed unit) pairs with workloads: the PEs and the largest common array."""
    pairs = [("PE", "pe_fusion", "pe_fixed8")]
    arrays = sorted((u["params"].get("rows", 0), n) for n, u in units.items() if u["family"] == "mac_array")
    for rows, name in reversed(arrays):
        fixed = name.replace("mac_array", "mac_array_fixed8")
        if fixed in units and units[name]["workload"] and units[fixed]["workload"]:
            pairs.append((f"{rows}x{rows} array", name, fixed))
            break
    return [p for p in pairs if p[1] in units and p[2] in units and units[p[1]]["workload"]]


def _plot_energy(units, path):
    pairs = _energy_pairs(units)
    if not pairs:
        return False
    fig, axes = plt.subplots(1, len(pairs), figsize=(6.5 * len(pairs), 4.2), squeeze=False)
    for ax, (label, fus, fix) in zip(axes[0], pairs):
        modes = list(units[fus]["workload"])
        x = range(len(modes))
        e_fus = [units[fus]["workload"][m]["energy_per_op_pj"] for m in modes]
        e_fix = [units[fix]["workload"][m]["energy_per_op_pj"] for m in modes]
        w = 0.4
        ax.bar([i - w / 2 for i in x], e_fix, w, label=f"{fix} (one 8x8 MAC / cycle)", color="#8c8c8c")
        ax.bar([i + w / 2 for i in x], e_fus, w, label=f"{fus} (fused bricks)", color="#4c72b0")
        ax.set_xticks(list(x), modes)
        ax.set_yscale("log")
        ax.set_xlabel("precision pair (A bits x B bits)")
        ax.set_ylabel("energy per MAC (pJ, log scale)")
        ax.set_title(f"{label}: energy per MAC, training operands")
        ax.legend(fontsize=8)
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _plot_hybrid(units, path):
    if not {"hybrid_mac", "fp16_mac"} <= units.keys():
        return False
    metrics = [("area", lambda u: u["area_um2"]),
               ("vectorless power", lambda u: u["power_vectorless"]["total_mw"])]
    h, f = units["hybrid_mac"], units["fp16_mac"]
    if h["workload"] and f["workload"]:
        metrics.append(("energy per MAC\n(training operands)",
                        lambda u: next(iter(u["workload"].values()))["energy_per_op_pj"]))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    x = range(len(metrics))
    ratios = [m(h) / m(f) for _, m in metrics]
    ax.bar(list(x), [1.0] * len(metrics), 0.35, label="fp16_mac (FP16 x FP16)", color="#8c8c8c", align="edge", )
    ax.bar([i - 0.35 for i in x], ratios, 0.35, label="hybrid_mac (INT4 x R4FP4)", color="#4c72b0", align="edge")
    for i, r in enumerate(ratios):
        ax.text(i - 0.175, r, f"{r:.3f}\n({1 / r:.1f}x less)", ha="center", va="bottom", fontsize=8)
    ax.axhline(1 / 7, color="#c44e52", ls="--", lw=1, label="IBM's ~7x claim (1/7)")
    ax.set_xticks(list(x), [n for n, _ in metrics])
    ax.set_ylabel("relative to fp16_mac")
    ax.set_ylim(0, 1.3)
    ax.set_title("Hybrid FP4 MAC vs FP16 MAC (4 lanes, FP16 accumulator)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


PLOTS = {"area": _plot_area, "energy_per_mac": _plot_energy, "hybrid_vs_fp16": _plot_hybrid, "lanes": lanes.plot}


def plots(doc, out, only=tuple(PLOTS)):
    """Draw the plots of `only` (keys of PLOTS) that the document has data for into `out`
    (<key>.png); returns {key: file name} of those drawn."""
    out = pathlib.Path(out)
    drawn = {}
    for key in only:
        if PLOTS[key](doc["units"], out / f"{key}.png") is not False:
            drawn[key] = f"{key}.png"
    return drawn


def write(doc, out):
    out = pathlib.Path(out)
    drawn = plots(doc, out)
    md = (markdown(doc) + "\n" + lanes.markdown(doc["units"]) + "\n## Plots\n\n"
          + "\n".join(f"![{p}]({p})" for p in drawn.values()) + "\n")
    (out / "ppa.md").write_text(md)


if __name__ == "__main__":
    import json
    import sys

    path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build/synth/ppa.json")
    write(json.loads(path.read_text()), path.parent)
    print(f"wrote {path.parent / 'ppa.md'} and plots")
