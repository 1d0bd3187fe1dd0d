"""docs/results.md and its plots from the documents of report.sources.load.

One section per flow, each opening with where its numbers come from (the command, date,
revision and tools recorded in its JSON), then the flow's own renderer (synth.report,
synth.lanes, cost.report, cost.search_report, golden.training.demo, formal.report, cosim.run, fpga.flow,
bench.bench_executor). A section
whose JSON is absent is one line naming the command that produces it. The Markdown depends on
the documents only (no clock, no paths of this machine), so rendering the committed JSON again
gives the committed docs/results.md.
"""

import pathlib

from bench import bench_executor
from cosim.run import table as hil_table
from cost import report as cost_report
from cost import search_report
from formal import report as formal_report
from fpga.ecp5 import markdown as ecp5_build_markdown
from fpga.ecp5_sweep import markdown as ecp5_markdown
from fpga.flow import markdown as fpga_markdown
from golden.training import demo
from synth import fusion_variants as fv
from synth import lanes
from synth import report as synth_report
from synth.report import table

from .sources import BY_KEY

__all__ = ["render", "missing", "origin", "times_table", "SECTIONS"]

PLOT_DIR = "results"  # plots live in docs/results/, beside the JSON; links are relative to docs/


def missing(key):
    """The one line standing for a section whose JSON is absent: which command produces it."""
    s = BY_KEY[key]
    return f"Not measured yet: `{s.command}` writes `build/{s.pattern}` (then `make report`).\n"


def _tools(tools):
    return ", ".join(f"{k} {v}" for k, v in tools.items()) if tools else "none recorded"


def origin(doc, key, name=None):
    """The provenance line of one document (older JSON without those keys says what is missing)."""
    s = BY_KEY[key]
    command = f"`{doc['command']}`" if doc.get("command") else f"not recorded (written by `{s.command}`)"
    date = doc.get("date") or doc.get("generated") or "not recorded"
    target = f"{s.target}/{name}.json" if s.group else s.target
    packages = f" (package versions: `docs/results/{target}`)" if doc.get("packages") else ""
    return (f"Command: {command}; date {date}; revision {doc.get('revision', 'not recorded')}; "
            f"tools: {_tools(doc.get('tools'))}; Python {doc.get('python', 'not recorded')}{packages}.\n"
            + _earlier_units(doc))


def _earlier_units(doc):
    """Units an updating run (`synth.ppa --update`) kept from an earlier run, with that run's
    revision and date: one line per earlier run, nothing when every unit is this run's."""
    earlier = {}
    for name, unit in doc.get("units", {}).items() if isinstance(doc.get("units"), dict) else ():
        stamp = unit.get("measured") if isinstance(unit, dict) else None
        if stamp and stamp.get("revision") != doc.get("revision"):
            earlier.setdefault((stamp.get("revision"), stamp.get("date")), []).append(f"`{name}`")
    return "".join(f"Measured earlier (revision {rev}, date {date}): {', '.join(names)}.\n"
                   for (rev, date), names in sorted(earlier.items(), key=str))


def _plots(drawn):
    """A Plots subsection linking the drawn files ({key: file name}); nothing when none was drawn."""
    if not drawn:
        return ""
    return "### Plots\n\n" + "\n".join(f"![{name}]({PLOT_DIR}/{name})" for name in drawn.values()) + "\n"


def _source(name, unit):
    """Where a row of fusion_variants.json comes from: this repository's generators, or Bit
    Fusion's files (recorded, or measured from BF_RTL and compared with the recorded sha256)."""
    if name not in fv.BIT_FUSION:
        return "generated here"
    if unit["source"].startswith("recorded"):
        return "recorded"
    same = unit.get("sha256") == fv.BIT_FUSION[name]["sha256"]
    return "measured (BF_RTL), " + ("the recorded file" if same else "NOT the recorded file (sha256 differs)")


def _bit_fusion(docs):
    """Bit Fusion's RTL beside the fusion variants: where its files come from, the areas."""
    src = fv.BIT_FUSION_SOURCE
    paths = fv.source_paths()
    lines = ["### Bit Fusion side by side", "",
             f"Bit Fusion's RTL is {src['note']}: {src['repository']} at commit `{src['commit']}`, files "
             + ", ".join(f"`{p}` (sha256 `{fv.BIT_FUSION[top]['sha256']}`)" for top, p in paths.items())
             + ". Re-measured with `make synth-variants BF_RTL=<checkout>/" + src["directory"] + "`; without "
             "`BF_RTL` the areas recorded in `synth.fusion_variants.BIT_FUSION` (measured with the same script) "
             "are used.", ""]
    if "ppa" in docs:
        measured = all(top in docs["ppa"]["units"] for top in fv.BIT_FUSION)
        lines += ["The `*_unit_area_vs_bit_fusion` ratios above divide by Bit Fusion's "
                  + ("area measured in that run (`BF_RTL`)." if measured else "recorded area."), ""]
    variants = docs.get("variants")
    if variants is None:
        return "\n".join(lines) + "\n" + missing("variants")
    lines += [origin(variants, "variants")]
    if variants.get("bf_rtl"):
        lines += [f"Bit Fusion's files read from `BF_RTL={variants['bf_rtl']}`.", ""]
    units = variants["units"]
    bf = units["signed_spatial_mult"]["area_um2"]
    rows = []
    for name, u in units.items():
        ratio = u.get("vs_bit_fusion") or (u["area_um2"] / bf if name in fv.BIT_FUSION else None)
        rows.append([f"`{name}`", float(u["area_um2"]), u["cells"], ratio, u.get("vs_pe_fixed8"), _source(name, u)])
    lines += [table(["design", "area (um^2)", "cells", "vs Bit Fusion `signed_spatial_mult`",
                      "PE vs the fixed-8 PE", "source"], rows),
              "", "Published anchor: Bit Fusion's fusion unit is 2.52x the area of a fixed 8-bit MAC (45 nm)."]
    return "\n".join(lines) + "\n"


def silicon(docs, out):
    doc = docs.get("ppa")
    if doc is None:
        return "## Silicon\n\n" + missing("ppa") + "\n" + _bit_fusion(docs)
    parts = ["## Silicon", "", origin(doc, "ppa"), synth_report.summary(doc), ""]
    if not doc.get("complete", True):
        parts += ["This run did not finish (`complete` is false): the units it reached are below.", ""]
    parts += [synth_report.sections(doc, "###"), _bit_fusion(docs)]
    parts.append(_plots(synth_report.plots(doc, out, only=("area", "energy_per_mac"))))
    return "\n".join(parts)


def training_macs(docs, out):
    """From `make synth-lanes` when it ran (its own sweep), else from `make synth`'s units."""
    key = "lanes" if "lanes" in docs else "ppa"
    doc = docs.get(key)
    if doc is None or not set(lanes.FAMILIES) & set(doc["units"]):
        return "## Training MACs\n\n" + missing("lanes")
    drawn = synth_report.plots(doc, out, only=("hybrid_vs_fp16", "lanes"))
    return "\n".join(["## Training MACs", "", origin(doc, key), lanes.markdown(doc["units"], "###"), _plots(drawn)])


def training_cost(docs, out):
    doc = docs.get("cost")
    if doc is None:
        return "## Training cost\n\n" + missing("cost")
    drawn = cost_report.plots(doc, out, prefix="cost_")
    return "\n".join(["## Training cost", "", origin(doc, "cost"), cost_report.preamble(doc), "",
                      cost_report.sections(doc, "###"), _plots(drawn)])


def schedule_search(docs, out):
    doc = docs.get("search")
    if doc is None:
        return "## Schedule search\n\n" + missing("search")
    drawn = search_report.plots(doc, out, prefix="search_")
    return "\n".join(["## Schedule search", "", origin(doc, "search"), search_report.sections(doc, "###"), _plots(drawn)])


def training_accuracy(docs, out):
    doc = docs.get("demo")
    if doc is None:
        return "## Training accuracy\n\n" + missing("demo")
    summary = demo.summarize(doc["runs"])
    name = "training_accuracy_vs_macs.png"
    demo.plot(summary, pathlib.Path(out) / name)
    return "\n".join(["## Training accuracy", "", origin(doc, "demo"),
                      demo.table(summary, doc.get("wall_s"), doc.get("cpu_s"), demo.where(doc)), "",
                      _plots({"accuracy": name})])


# The 4-bit training formats side by side: what runs each GEMM in this flow (forward, input
# gradient, weight gradient: unit and mode in `make synth`'s ppa.json; None: no unit yet) and
# what the papers report, in their words (no figure of theirs is reproduced here).
FOUR_BIT = {
    "ibm4": ("INT4 x R4FP4 + TPR (first/last layers FP8, not in the energy)", [("mac_array", "4x4"), ("hybrid_mac", "int4xr4fp4"), ("hybrid_mac", "int4xr4fp4")],
             "Sun et al. 2020: 4-bit training close to full precision across vision, speech and language models"),
    "mxfp4": ("MXFP4 everywhere (E2M1, 32-blocks, E8M0)", [("mx_dot", "fp4_e2m1")] * 3,
              "Tseng et al. 2025: MXFP4 loses accuracy mainly through the weight-gradient GEMM"),
    "mxfp4_rht": ("MXFP4 + random Hadamard transform on wgrad", [("mx_dot", "fp4_e2m1")] * 3,
                  "Tseng et al. 2025: with the transform and stochastic rounding, near-lossless LLM training"),
    "nvfp4": ("NVFP4 everywhere (E2M1, 16-blocks, E4M3, FP32)", [("mx_dot_nvfp4", "nvfp4")] * 3,
              "NVIDIA 2025: a 12B model pretrained in NVFP4 matched its FP8 baseline"),
    "psq4": ("8-bit forward, 4-bit PSQ gradients", [("mac_array", "8x8"), ("mac_array", "8x4"), ("mac_array", "8x4")],
             "Chen et al. 2020: per-sample ranges beat per-tensor at 4-5 gradient bits"),
    "bhq4": ("8-bit forward, 4-bit BHQ gradients (Householder part on the host, not in the energy)",
             [("mac_array", "8x8"), ("mac_array", "8x4"), ("mac_array", "8x4")],
             "Chen et al. 2020: the block Householder quantizer beats PSQ"),
}


def four_bit_formats(docs, out):
    """Every 4-bit training format on MNIST-1D: accuracy from `make demo`, energy and area per
    training MAC from `make synth` (and `make synth-lanes` for the units only it measures) where a
    unit runs all three GEMMs."""
    demo_doc = docs.get("demo")
    if demo_doc is None:
        return "## 4-bit training formats\n\n" + missing("demo")
    summary = demo.summarize(demo_doc["runs"])
    units = {**(docs["lanes"]["units"] if "lanes" in docs else {}), **(docs["ppa"]["units"] if "ppa" in docs else {})}

    def per_mac(gemms):
        if None in gemms:
            return "a GEMM runs on the host", ""
        got = [units.get(u, {}).get("workload", {}).get(mode) for u, mode in gemms]
        if None in got:
            return "not measured", ""
        energy = sum(w["energy_per_op_pj"] for w in got) / 3
        area = sum(units[u]["area_um2"] / w["ops_per_cycle"] for (u, _), w in zip(gemms, got)) / 3
        return f"{energy:.3g}", f"{area:,.0f}"

    rows = ["| recipe | format | MNIST-1D accuracy % (mean +- std) | per seed | pJ per training MAC | "
            "um^2 per MAC/cycle | units (fwd, dgrad, wgrad) | published |", "|---|---|---|---|---|---|---|---|"]
    for ref in ("fp32", "fw8bw8"):
        v = summary.get(("mnist1d", ref))
        if v:
            rows.append(f"| {ref} (reference) | | {v['acc_mean']:.2f} +- {v['acc_std']:.2f} | "
                        f"{' / '.join(f'{a:.1f}' for a in v['acc'])} | | | | |")
    for rec, (fmt, gemms, anchor) in FOUR_BIT.items():
        v = summary.get(("mnist1d", rec))
        acc = (f"{v['acc_mean']:.2f} +- {v['acc_std']:.2f}", " / ".join(f"{a:.1f}" for a in v["acc"])) if v \
            else ("not run", "")
        energy, area = per_mac(gemms)
        where = ", ".join(f"`{g[0]}` {g[1]}" if g else "host" for g in gemms)
        rows.append(f"| {rec} | {fmt} | {acc[0]} | {acc[1]} | {energy} | {area} | {where} | {anchor} |")
    note = ("Energy per training MAC and area per MAC/cycle: the mean over a layer's three GEMMs (equal MAC "
            "counts), each on the unit and mode named, from the workload-annotated power and the area of "
            "`make synth` / `make synth-lanes` on OSU 0.18 um at 100 MHz (tables Silicon, Training MACs). The "
            "training runs themselves compute the block formats' GEMMs on the host (float); `mx_dot` computes "
            "them bit for bit in its tests. Hardware groups report MXFP4 dot products at about 2.4-2.8x the "
            "energy efficiency of MXFP8 (Training MACs, block-format table).")
    return "\n".join(["## 4-bit training formats", "", origin(demo_doc, "demo"), "\n".join(rows), "", note, ""])


def formal(docs, out):
    doc = docs.get("formal")
    if doc is None:
        return "## Formal\n\n" + missing("formal")
    return "\n".join(["## Formal", "", origin(doc, "formal"), formal_report.markdown(doc)])


def training_on_the_rtl(docs, out):
    runs = docs.get("hil")
    if runs is None:
        return "## Training on the RTL\n\n" + missing("hil")
    parts = ["## Training on the RTL", "",
             "| run | RTL GEMMs | host GEMMs | host transform MACs (BHQ) | mismatches | cycles = predicted, every GEMM | "
             "test accuracy (first batch) | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        acc = r.get("test_accuracy_first_batch")
        parts.append(f"| `{name}` | {r['gemms']} | {r['host']['gemms']} | {r['host'].get('transform_macs', 0):,} "
                     f"| {r['mismatches']} | {'yes' if r['cycles_equal_predicted_every_gemm'] else 'no'} "
                     f"| {'n/a' if acc is None else f'{100 * acc:.1f}%'} | {r['seconds']:.1f} |")
    parts.append("")
    for name, r in runs.items():
        parts += [f"### `{name}`", "", origin(r, "hil", name), "```", hil_table(r), "```", ""]
    return "\n".join(parts)


def fpga(docs, out):
    parts = ["## FPGA", ""]
    boards = docs.get("fpga")
    if boards is None:
        parts.append(missing("fpga"))
    for name, result in (boards or {}).items():
        parts += [f"### {name}", "", origin(result, "fpga", name), fpga_markdown(result)]
    builds = docs.get("bitstream")
    if builds:
        parts += ["", "### ECP5 bitstreams (open flow)", "",
                  *(f"{name}: " + origin(b, "bitstream", name) for name, b in builds.items()),
                  ecp5_build_markdown(list(builds.values()))]
    else:
        parts += ["", missing("bitstream")]
    sweeps = docs.get("ecp5")
    if not sweeps:
        parts += ["", missing("ecp5")]
    for name, result in (sweeps or {}).items():
        parts += ["", f"### {name} (ECP5, open flow: placed, routed, packed)", "", origin(result, "ecp5", name),
                  ecp5_markdown(result)]
    return "\n".join(parts) + "\n"


def sweeps_on_the_executor(docs, out):
    doc = docs.get("executor")
    if doc is None:
        return "## Sweeps on the executor\n\n" + missing("executor")
    bench_executor.plot(doc, out / "executor_scale.png")
    return "\n".join(["## Sweeps on the executor", "", origin(doc, "executor"), bench_executor.markdown(doc), "",
                      _plots({"scale": "executor_scale.png"})])


def times_table(times, names=None):
    """Markdown table of recorded command times (report.timing), all or only `names`."""
    rows = ["| name | command | wall time | exit status | date | revision | cores |", "|---|---|---|---|---|---|---|"]
    for name, t in times.items():
        if names is None or name in names:
            m, s = divmod(round(t["wall_s"]), 60)
            rows.append(f"| {name} | `{t['timed_command']}` | {m} min {s:02d} s ({t['wall_s']:.1f} s) "
                        f"| {t['exit_status']} | {t['date']} | {t['revision']} | {t['nproc']} |")
    return "\n".join(rows) + "\n"


def command_times(docs, out):
    times = docs.get("times")
    if times is None:
        return "## Command times\n\n" + missing("times")
    return "\n".join(["## Command times", "",
                      "Wall time of whole commands on the machine that ran them, recorded by "
                      "`python -m report.timing NAME -- CMD...` (`docs/results/times/NAME.json` also holds "
                      "the Python and package versions and the machine's load when the command started).", "",
                      times_table(times)])


SECTIONS = [silicon, training_macs, training_cost, schedule_search, training_accuracy, four_bit_formats, formal, training_on_the_rtl, fpga,
            sweeps_on_the_executor, command_times]

HEADER = """# Results

Generated by `make report` (`python -m report`) from the JSON in `docs/results/`, which it copies
from the flows' outputs under `build/`; do not edit by hand. Each section names the command,
date, revision and tools of its run. Ratios carry across process nodes, absolute numbers do not:
the silicon figures are OSU 0.18 um, 1.8 V, without placement, wires, clock tree or clock gating.
"""


def render(docs, out):
    """docs/results.md's text; the plots are drawn into `out`."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return "\n".join([HEADER, *(section(docs, out) for section in SECTIONS)])
