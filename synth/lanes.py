"""The training-MAC lane sweep and the whole-datapath comparison, for `make synth`.

More lanes share one FP16 accumulator, so the cheap 4-bit multiply side should win more of the
area and power as L grows. For L in LANES (up to 16 for every family; 32 and 64 only for the IBM
pair hybrid_mac / fp16_mac, WIDE_FAMILIES: where IBM's ~7x would have to show up; fp16_mac there
with a third front stage, without which it misses the clock), `hybrid_mac` (INT4 x R4FP4, IBM), `fp8_mac` (e4m3 x
e5m2, HFP8) and `fp16_mac` are measured by the ordinary flow (synth.ppa.measure: Yosys area,
OpenSTA Fmax, power with the activity of the training operands of synth.workloads); the default
L = 4 units are the rtl/ ones. `sweep` tabulates the ratios to fp16_mac at equal L (equal MACs per
cycle, so the workload power ratio is the energy-per-MAC ratio), `datapath` the three training
GEMMs of a layer per scheme:

- IBM hybrid: forward INT4 x INT4 on `mac_array` (4x4 mode), input and weight gradients
  INT4 x R4FP4 on `hybrid_mac`;
- HFP8: all three GEMMs on `fp8_mac`; FP16: all three on `fp16_mac`.

A layer's three GEMMs have the same MAC count, so energy per training MAC is the mean of the
three GEMMs' energy per MAC, and area per (MAC/cycle) is the mean of the units' area / (MACs per
cycle) (each GEMM on its unit, units provisioned in proportion to their work). The HFP8 forward
GEMM is e4m3 x e4m3; the fp8_mac unit and workload here are e4m3 x e5m2 (the gradient GEMMs),
used for all three.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hdl_gen.fp8_mac import FP8Mac
from hdl_gen.fp16_mac import FP16Mac
from hdl_gen.hybrid_mac import HybridMac
from golden.mx_dot import ADD_STAGES
from hdl_gen.mx_dot import MxDot

__all__ = ["LANES", "FAMILIES", "MX_UNITS", "units", "sweep", "mx_sweep", "datapath", "markdown", "plot"]

LANES = (1, 2, 4, 8, 16, 32, 64)
WIDE = 32  # lane counts from here on are synthesized for WIDE_FAMILIES only
# ... with these pipeline parameters: fp16_mac's 32-lane tree and window-wide add miss the 10 ns
# clock in its two-stage front (92.5 MHz measured), so its wide units register the trees (front 3)
WIDE_FAMILIES = {"hybrid_mac": {}, "fp16_mac": {"front": 3}}
FAMILIES = {"hybrid_mac": HybridMac, "fp8_mac": FP8Mac, "fp16_mac": FP16Mac}
DEFAULT_LANES = 4  # the rtl/ configuration, measured as the plain unit name
# The block-format units (one generator, family mx_dot): unit name -> (element format, block);
# `mx_dot` itself is the rtl/ configuration (MXFP4). FP32 accumulation throughout.
MX_UNITS = {"mx_dot": ("fp4_e2m1", 32), "mx_dot_mxfp8": ("fp8_e4m3", 32), "mx_dot_nvfp4": ("nvfp4", 16)}
MXFP8_ANCHOR = (2.4, 2.8)  # published: MXFP4 dot products ~2.4-2.8x the energy efficiency of MXFP8
MODE = {"hybrid_mac": "int4xr4fp4", "fp8_mac": "e4m3xe5m2", "fp16_mac": "fp16xfp16"}
IBM_ANCHOR = 1 / 7  # published: IBM's "~7x" area and power savings over FP16 (Sun et al., NeurIPS 2020)


def name(family, lanes):
    return family if lanes == DEFAULT_LANES else f"{family}_l{lanes}"


def units(unit_cls):
    """synth.ppa.Unit entries of the sweep (the L = 4 defaults are already in rtl/), and the
    L = 4 units without pipelining (front 0, one chain), which price timing closure."""
    return ([unit_cls(name(f, n), f, "lanes", lambda cls=cls, n=n, f=f: cls(lanes=n, **(WIDE_FAMILIES[f] if n >= WIDE else {})))
             for f, cls in FAMILIES.items() for n in LANES
             if n != DEFAULT_LANES and (n < WIDE or f in WIDE_FAMILIES)]
            + [unit_cls(f"{f}_unpipelined", f, "lanes", lambda cls=cls: cls(lanes=DEFAULT_LANES, front=0, chains=1))
               for f, cls in FAMILIES.items()]
            + [unit_cls(name(u, n), "mx_dot", "lanes", lambda fmt=fmt, block=block, n=n: MxDot(fmt, block, n, "fp32"))
               for u, (fmt, block) in MX_UNITS.items() for n in LANES if n < WIDE and (u, n) != ("mx_dot", DEFAULT_LANES)])


def _metrics(results, family, lanes):
    u = results.get(name(family, lanes))
    if u is None:
        return None
    w = u["workload"].get(MODE[family])
    return {"area_um2": u["area_um2"], "fmax_mhz": u["timing"]["fmax_mhz"],
            "energy_pj": w["energy_per_op_pj"] if w else None, "power_mw": w["power"]["total_mw"] if w else None}


def sweep(results):
    """Rows {lanes, <family>: metrics, ratios vs fp16_mac at equal L} for every measured L."""
    rows = []
    for n in LANES:
        row = {"lanes": n, **{f: _metrics(results, f, n) for f in FAMILIES}}
        base = row["fp16_mac"]
        for f in ("hybrid_mac", "fp8_mac"):
            for key in ("area_um2", "energy_pj"):
                ok = row[f] and base and row[f][key] is not None and base[key]
                row[f"{f}_{key}_vs_fp16"] = row[f][key] / base[key] if ok else None
        rows.append(row)
    return rows


def mx_sweep(results):
    """Rows {lanes, <MX unit>: metrics (workload: its own format), energy per MAC vs hybrid_mac
    and fp8_mac at equal L, MXFP8 / MXFP4 energy} for every measured L."""
    rows = []
    for n in LANES:
        row = {"lanes": n}
        for u, (fmt, _) in MX_UNITS.items():
            r = results.get(name(u, n))
            w = r and r["workload"].get(fmt)
            row[u] = r and {"area_um2": r["area_um2"], "fmax_mhz": r["timing"]["fmax_mhz"],
                            "energy_pj": w["energy_per_op_pj"] if w else None}
        for f in ("hybrid_mac", "fp8_mac"):
            ref = _metrics(results, f, n)
            for u in MX_UNITS:
                ok = row[u] and ref and row[u]["energy_pj"] is not None and ref["energy_pj"]
                row[f"{u}_vs_{f}"] = row[u]["energy_pj"] / ref["energy_pj"] if ok else None
        four, eight = row["mx_dot"], row["mx_dot_mxfp8"]
        ok = four and eight and four["energy_pj"] and eight["energy_pj"]
        row["mxfp8_over_mxfp4"] = eight["energy_pj"] / four["energy_pj"] if ok else None
        if any(row[u] for u in MX_UNITS):
            rows.append(row)
    return rows


def datapath(results):
    """Energy per training MAC (pJ) and area per MAC/cycle (um^2) of the three schemes, or None
    where a unit is missing."""
    def unit(n, mode):
        u = results.get(n)
        w = u and u["workload"].get(mode)
        return (w["energy_per_op_pj"], u["area_um2"] / w["ops_per_cycle"]) if w else None

    gemms = {"IBM hybrid (INT4 fwd on mac_array 4x4, INT4 x R4FP4 bwd on hybrid_mac)":
             [unit("mac_array", "4x4"), unit("hybrid_mac", MODE["hybrid_mac"]), unit("hybrid_mac", MODE["hybrid_mac"])],
             "HFP8 (fp8_mac for all three GEMMs)": [unit("fp8_mac", MODE["fp8_mac"])] * 3,
             "FP16 (fp16_mac for all three GEMMs)": [unit("fp16_mac", MODE["fp16_mac"])] * 3}
    out = {}
    for scheme, parts in gemms.items():
        if any(p is None for p in parts):
            out[scheme] = None
            continue
        out[scheme] = {"fwd_pj": parts[0][0], "bwd_pj": parts[1][0],
                       "energy_per_training_mac_pj": sum(p[0] for p in parts) / 3,
                       "area_per_mac_per_cycle_um2": sum(p[1] for p in parts) / 3}
    fp16 = out["FP16 (fp16_mac for all three GEMMs)"]
    for v in out.values():
        if v and fp16:
            v["energy_vs_fp16"] = v["energy_per_training_mac_pj"] / fp16["energy_per_training_mac_pj"]
            v["area_vs_fp16"] = v["area_per_mac_per_cycle_um2"] / fp16["area_per_mac_per_cycle_um2"]
    return out


def _f(v, fmt="{:.3g}"):
    return "n/a" if v is None else (f"{v:,.0f}" if isinstance(v, float) and v >= 1e4 else fmt.format(v))


def _lane_table(rows, units, ratios):
    """Table lines of a lane sweep: per L, each unit's area, Fmax and pJ/MAC, then the `ratios`
    columns ({header: row key})."""
    lines = ["| L | " + " | ".join(f"{u} area (um^2) | {u} Fmax (MHz) | {u} pJ/MAC" for u in units)
             + "".join(f" | {header}" for header in ratios) + " |",
             "|" + "---|" * (1 + 3 * len(units) + len(ratios))]
    for r in rows:
        cells = []
        for u in units:
            m = r[u] or {}
            cells += [_f(m.get("area_um2")), _f(m.get("fmax_mhz"), "{:.0f}"), _f(m.get("energy_pj"))]
        cells += [_f(r[k]) for k in ratios.values()]
        lines.append(f"| {r['lanes']} | " + " | ".join(cells) + " |")
    return lines


def markdown(results, h="##"):
    """The lane sweep, the whole-datapath table and the price of timing closure, under headings of
    level `h`."""
    rows = sweep(results)
    lines = [f"{h} Lane sweep", "", *_lane_table(rows, FAMILIES, {
        "hybrid/fp16 area": "hybrid_mac_area_um2_vs_fp16", "hybrid/fp16 power": "hybrid_mac_energy_pj_vs_fp16",
        "fp8/fp16 area": "fp8_mac_area_um2_vs_fp16", "fp8/fp16 power": "fp8_mac_energy_pj_vs_fp16"})]
    wide = "; ".join(f"{f} with " + ", ".join(f"{k} {v}" for k, v in kw.items())
                     for f, kw in WIDE_FAMILIES.items() if kw)
    lines += ["", "Power ratios at equal L are energy-per-MAC ratios (same MACs per cycle, same 10 ns clock). "
              f"Published anchor: IBM's ~7x, a ratio of {IBM_ANCHOR:.3f}. At L >= {WIDE} only hybrid_mac and "
              f"fp16_mac are synthesized" + (f" ({wide}: its trees registered, to close the clock)" if wide else "")
              + ".", "", f"{h} Whole training datapath", "",
              "| scheme | fwd pJ/MAC | bwd pJ/MAC | energy per training MAC (pJ) | vs FP16 | area per MAC/cycle (um^2) | vs FP16 |",
              "|---|---|---|---|---|---|---|"]
    for scheme, v in datapath(results).items():
        v = v or {}
        lines.append(f"| {scheme} | " + " | ".join(_f(v.get(k)) for k in (
            "fwd_pj", "bwd_pj", "energy_per_training_mac_pj", "energy_vs_fp16", "area_per_mac_per_cycle_um2",
            "area_vs_fp16")) + " |")
    rows = [(f, results.get(f), results.get(f"{f}_unpipelined")) for f in FAMILIES]
    rows = [(f, a, b) for f, a, b in rows if a and b]
    if rows:
        lines += ["", f"{h} Price of timing closure at L = 4", "",
                  "| unit | pipelined area / Fmax / pJ per MAC | single-cycle area / Fmax / pJ per MAC |",
                  "|---|---|---|"]
        for f, a, b in rows:
            cell = lambda u: (f"{_f(u['area_um2'])} / {_f(u['timing']['fmax_mhz'], '{:.0f}')} / "
                              f"{_f((u['workload'].get(MODE[f]) or {}).get('energy_per_op_pj'))}")
            lines.append(f"| {f} | {cell(a)} | {cell(b)} |")
    mx = mx_sweep(results)
    if mx:
        lines += ["", f"{h} Block-format MACs (mx_dot, FP32 accumulation)", "", *_lane_table(mx, MX_UNITS, {
            "MXFP4 / hybrid pJ": "mx_dot_vs_hybrid_mac", "MXFP4 / fp8_mac pJ": "mx_dot_vs_fp8_mac",
            "NVFP4 / hybrid pJ": "mx_dot_nvfp4_vs_hybrid_mac", "MXFP8 / MXFP4 pJ": "mxfp8_over_mxfp4"})]
        sustained = ", ".join(f"{u} {min(n, block // ADD_STAGES)} at L = {n}" for u, (_, block) in MX_UNITS.items()
                              for n in LANES if block // ADD_STAGES < n < WIDE)
        lines += ["", f"Sustained throughput is min(L, block / {ADD_STAGES}) MACs per cycle (a block closes at most "
                  f"every {ADD_STAGES} cycles, golden.mx_dot): {sustained}. Those rows' pJ/MAC assume a beat every "
                  "cycle, so they flatter the unit; its area per MAC/cycle is area / that throughput.",
                  "", "Each unit runs the IBM backward GEMMs' operands quantized in its own format (synth.workloads); "
                  f"published anchor for MXFP8 / MXFP4 energy per MAC: {MXFP8_ANCHOR[0]}-{MXFP8_ANCHOR[1]} "
                  "(hardware groups' MXFP4 vs MXFP8 dot-product efficiency, their nodes)."]
    lines += ["", "A layer's three GEMMs (forward, input gradient, weight gradient) have equal MAC counts: "
              "energy per training MAC and area per MAC/cycle are the means over them (synth/lanes.py)."]
    return "\n".join(lines) + "\n"


def plot(results, path):
    """Ratios to fp16_mac vs L (area and workload power), with IBM's 1/7; False when empty."""
    rows = [r for r in sweep(results) if r["hybrid_mac_area_um2_vs_fp16"] is not None]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    L = [r["lanes"] for r in rows]
    for f, color in (("hybrid_mac", "#4c72b0"), ("fp8_mac", "#55a868")):
        for key, style, label in (("area_um2", "-o", "area"), ("energy_pj", "--s", "workload power")):
            points = [(r["lanes"], r[f"{f}_{key}_vs_fp16"]) for r in rows if r[f"{f}_{key}_vs_fp16"] is not None]
            if points:
                ax.plot(*zip(*points), style, color=color, label=f"{f} / fp16_mac {label}")
    ax.axhline(IBM_ANCHOR, color="#c44e52", ls=":", lw=1, label="IBM's ~7x (1/7), published")
    ax.set_xscale("log", base=2)
    ax.set_xticks(L, [str(n) for n in L])
    ax.set_xlabel("lanes L (MACs per cycle, one FP16 accumulator)")
    ax.set_ylabel("ratio to fp16_mac at the same L")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("Training MACs vs FP16 MAC by lane count (OSU 0.18 um)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
