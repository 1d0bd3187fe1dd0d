"""`make cost`: latency and energy of whole training runs on this project's hardware.

    python -m cost [--ppa build/synth/ppa.json] [--out build/cost] [--rows 8 --cols 8]
                   [--turning-points 0.25,0.5,0.75] [--runs RUN.json ... | --benches digits,mnist1d]
                   [--workers N | --scheduler tcp://HOST:PORT]

The training runs it prices (without --runs) are tasks of the project's executor, cached under
OUT/cache; the pricing itself (seconds for every workload) runs here.

A training run is a list of GEMMs (cost.workloads.Gemm). A `Machine` runs each GEMM on
one of this project's units:

- latency: cycles from the GEMM mapper (`golden.gemm.predict_cycles`, the RTL's count) at the clock
  `make synth` quotes (ppa.json `clock`); also at the slowest used unit's own Fmax;
- compute energy: per GEMM, cycles x the measured workload-annotated power of the unit in that
  precision mode (ppa.json `units.<unit>.workload.<mode>.power.total_mw`) x the clock period.
  Arrays are measured with workload power at 4x4 (larger arrays exceed the flow's gate-level
  simulation budget and get vectorless power only); an R x C array's power in a mode is the 4x4
  array's workload power in that mode x (vectorless power of R x C / vectorless power of 4x4),
  vectorless power and area at sizes that were not synthesized being interpolated linearly in
  the number of PEs between synthesized sizes. Single MAC units (`hybrid_mac`, `fp16_mac`) are
  laid out as an R x C grid of identical units: power x R*C.
- memory energy, separately: bits moved per GEMM at their precision (model in `memory_bits`),
  and the optimizer's FP32 traffic per step (`update_cost`), SRAM and DRAM energy per bit from Horowitz (ISSCC 2014, 45 nm, 0.9 V), carried to this
  flow's node by the ratio of our measured 8x8 MAC energy to Horowitz's (`node_factor`).

Every cost row names its cycle source, its ppa.json entries and its memory-energy citation.
"""

import dataclasses
import functools
import json
import math
import pathlib

from golden.gemm import mode_bits, predict_cycles
from golden.training.recipes import COMBINED
from golden.mac_array import ACCW_DEFAULT

from lptrain import executor
from lptrain.cli import ArgumentParser
from lptrain.paths import ROOT
from lptrain.provenance import provenance

from .workloads import (FRACTRAIN_EPOCHS, Update, from_training_json, pfq_run, resnet_step, stage_epochs,
                        training_tasks)

__all__ = ["cycles", "Machine", "Hardware", "memory_bits", "gemm_cost", "run_cost", "MEMORY"]

SCHEMA = "lptrain-cost/1"
MAXB = 8
ACCW = {"mac_array": ACCW_DEFAULT, "mac_array_fixed8": ACCW_DEFAULT, "hybrid_mac": 16, "fp16_mac": 16, "fp8_mac": 16}
CYCLE_SOURCE = "golden.gemm.predict_cycles (the GEMM mapper's exact cycle count, equal to the RTL's in HIL)"

# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, Fig. 1.1.9
# (45 nm, 0.9 V): 64-bit reads of an 8 KB / 32 KB / 1 MB SRAM 10 / 20 / 100 pJ, DRAM 1.3-2.6 nJ;
# 8-bit integer multiply 0.2 pJ, 32-bit integer add 0.1 pJ.
MEMORY = {
    "citation": "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, "
                "Fig. 1.1.9, 45 nm 0.9 V: 32 KB SRAM 20 pJ / 64-bit access, DRAM 1.3 nJ / 64-bit access "
                "(low end of 1.3-2.6 nJ), 8-bit multiply 0.2 pJ + 32-bit add 0.1 pJ, 32-bit float "
                "multiply 3.7 pJ + add 0.9 pJ",
    "sram_pj_per_bit_45nm": 20.0 / 64,
    "dram_pj_per_bit_45nm": 1300.0 / 64,
    "mac8_pj_45nm": 0.2 + 0.1,
    "fp32_mac_pj_45nm": 3.7 + 0.9,  # the host's multiply-adds (BHQ's Householder part)
    "node_reference": "units.pe_fixed8.workload.8x8.energy_per_op_pj",
    "writes": "a write costs what a read of the same width costs (Horowitz quotes reads)",
}


def _mode_bits(bits, name):
    """The fusion mode a code width runs in (golden.gemm.mode_bits), naming the parameter."""
    try:
        return mode_bits(bits)
    except ValueError:
        raise ValueError(f"{name} must be an integer in 1..{MAXB}, got {bits!r}") from None


@functools.lru_cache(maxsize=None)
def cycles(unit, m, k, n, bits_a, bits_b, rows, cols, lanes):
    """golden.gemm.predict_cycles (the cycle count HIL measures on the RTL), memoized: a training
    run repeats the same GEMM shapes thousands of times (the MACs' pipelines included)."""
    return predict_cycles(unit, m, k, n, bits_a, bits_b, rows=rows, cols=cols, lanes=lanes)


@dataclasses.dataclass(frozen=True)
class Machine:
    """What runs a training run. platform: "fusion" (integer GEMMs on mac_array), "fixed8"
    (mac_array_fixed8: everything in 8x8 mode), "ibm" (INT4 GEMMs on mac_array, INT4 x R4FP4 on
    a grid of hybrid_mac, FP8 on fp8_mac when ppa.json has it, else fp16_mac: FP8 decodes to FP16
    exactly), "fp16" (everything on a grid of fp16_mac). rows x cols: the array / the grid."""
    name: str
    platform: str
    rows: int = 8
    cols: int = 8

    PLATFORMS = ("fusion", "fixed8", "ibm", "fp16")

    def __post_init__(self):
        if self.platform not in self.PLATFORMS:
            raise ValueError(f"platform must be one of {self.PLATFORMS}, got {self.platform!r}")
        for name in ("rows", "cols"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


class Hardware:
    """ppa.json, read for what the cost model needs (each figure with the entry it came from)."""

    def __init__(self, ppa, ppa_path="build/synth/ppa.json"):
        self.doc, self.path = ppa, str(ppa_path)
        self.units = ppa["units"]
        self.period_ns = float(ppa["clock"]["period_ns"])
        ref = self.units.get("pe_fixed8", {}).get("workload", {}).get("8x8")
        if ref is None:
            raise ValueError(f"{ppa_path}: no units.pe_fixed8.workload.8x8 (run `make synth`)")
        self.mac8_pj = float(ref["energy_per_op_pj"])
        self.node_factor = self.mac8_pj / MEMORY["mac8_pj_45nm"]

    @classmethod
    def load(cls, path):
        path = pathlib.Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found (run `make synth`)")
        return cls(json.loads(path.read_text()), path)

    def unit(self, name):
        if name not in self.units:
            raise ValueError(f"{self.path}: no unit {name!r} (run `make synth`)")
        return self.units[name]

    def has(self, name):
        return name in self.units

    def _sizes(self, family):
        """{PEs: unit name} of every synthesized size of an array family."""
        out = {}
        for name, u in self.units.items():
            if u.get("family") == family and u["kind"] in ("rtl", "array"):
                out[u["params"]["rows"] * u["params"]["cols"]] = name
        if not out:
            raise ValueError(f"{self.path}: no {family} array synthesized")
        return out

    def _interp(self, family, pes, value):
        """value(unit entry) at `pes` PEs: the synthesized size's, else linear in PE count between
        the neighbouring synthesized sizes (or extrapolated from the two nearest; proportional to
        the PE count when only one size was synthesized)."""
        sizes = self._sizes(family)
        if pes in sizes:
            return value(self.units[sizes[pes]]), [sizes[pes]]
        keys = sorted(sizes)
        if len(keys) == 1:  # one synthesized size: proportional to the PE count
            return value(self.units[sizes[keys[0]]]) * pes / keys[0], [sizes[keys[0]]]
        lo = max([s for s in keys if s < pes], default=keys[0])
        hi = min([s for s in keys if s > pes], default=keys[-1])
        if lo == hi:
            lo, hi = (keys[-2], keys[-1]) if pes > keys[-1] else (keys[0], keys[1])
        vl, vh = value(self.units[sizes[lo]]), value(self.units[sizes[hi]])
        return vl + (vh - vl) * (pes - lo) / (hi - lo), [sizes[lo], sizes[hi]]

    def area(self, family, rows, cols):
        return self._interp(family, rows * cols, lambda u: float(u["area_um2"]))

    def fmax_mhz(self, family, rows, cols):
        """Fmax of the synthesized size nearest in PE count (Fmax does not scale with size: the
        PE's path sets it; 4x4 -> 8x8 moves it by a few per cent)."""
        sizes = self._sizes(family)
        near = min(sizes, key=lambda s: (abs(s - rows * cols), -s))
        return float(self.units[sizes[near]]["timing"]["fmax_mhz"])

    def array_power_mw(self, family, rows, cols, mode):
        """(mW, ppa.json entries) of an R x C array running `mode` ("AxB")."""
        sizes = self._sizes(family)
        measured = [n for n in sizes.values() if mode in self.units[n]["workload"]]
        if not measured:
            raise ValueError(f"{self.path}: no {family} array with workload power in mode {mode}")
        base = min(measured, key=lambda n: self.units[n]["params"]["rows"] * self.units[n]["params"]["cols"])
        ub = self.units[base]
        p = float(ub["workload"][mode]["power"]["total_mw"])
        pes = rows * cols
        if pes == ub["params"]["rows"] * ub["params"]["cols"]:
            return p, [f"units.{base}.workload.{mode}.power.total_mw"]
        vl, names = self._interp(family, pes, lambda u: float(u["power_vectorless"]["total_mw"]))
        return (p * vl / float(ub["power_vectorless"]["total_mw"]),
                [f"units.{base}.workload.{mode}.power.total_mw", f"units.{base}.power_vectorless.total_mw",
                 *[f"units.{n}.power_vectorless.total_mw" for n in names]])

    def mac_power_mw(self, unit, mode):
        u = self.unit(unit)
        if mode not in u["workload"]:
            raise ValueError(f"{self.path}: {unit} has no workload power in mode {mode}")
        return float(u["workload"][mode]["power"]["total_mw"]), [f"units.{unit}.workload.{mode}.power.total_mw"]

    def iso_area_shape(self, rows, cols):
        """(R, C), R <= C <= ISO_AREA_ASPECT * R, of the mac_array_fixed8 with the most PEs whose
        area is at most that of a rows x cols mac_array (both as `area` gives them: a function of
        the PE count); among shapes with that many PEs, the squarest. Not only square arrays: a
        square one leaves up to 2N + 1 PEs' worth of the area unused."""
        target = self.area("mac_array", rows, cols)[0]
        pes = 1
        while self.area("mac_array_fixed8", 1, pes + 1)[0] <= target:
            pes += 1
        shapes = [(r, min(pes // r, ISO_AREA_ASPECT * r)) for r in range(1, math.isqrt(pes) + 1)]
        return max(shapes, key=lambda s: (s[0] * s[1], s[0] - s[1]))

    def iso_area(self, rows, cols):
        """The iso-area comparison's record: both arrays' areas and the ppa.json units they come
        from (one unit of exactly that size: synthesized; two: interpolated in the PE count)."""
        r, c = self.iso_area_shape(rows, cols)
        (fixed, fixed_from), (fusion, fusion_from) = self.area("mac_array_fixed8", r, c), self.area("mac_array", rows, cols)
        synthesized = lambda names, n: len(names) == 1 and self.units[names[0]]["params"]["rows"] * \
            self.units[names[0]]["params"]["cols"] == n
        return {"shape": [r, c], "area_um2": fixed, "area_from": fixed_from, "synthesized": synthesized(fixed_from, r * c),
                "fusion": [rows, cols], "fusion_area_um2": fusion, "fusion_area_from": fusion_from,
                "fusion_synthesized": synthesized(fusion_from, rows * cols)}


def _lanes(hw, unit):
    return hw.unit(unit)["params"].get("lanes", 4)


def placement(g, machine, hw):
    """(unit, mode label, bits_a, bits_b, bits_out as the unit reads and writes them, passes) of
    GEMM g on a machine.

    Integer codes of 3, 5, 6, 7 bits run in the next power-of-two mode (zero/sign-extended);
    9..16-bit integer codes (e.g. DFQ's 12-bit gradients) run as two 8-bit passes per such
    operand (high and low byte, summed in the epilogue)."""
    p = machine.platform
    if g.fmt == "int" and p in ("fusion", "fixed8", "ibm"):
        unit = "mac_array_fixed8" if p == "fixed8" else "mac_array"
        passes = math.ceil(g.bits_a / MAXB) * math.ceil(g.bits_b / MAXB)
        a = _mode_bits(min(g.bits_a, MAXB), "bits_a")
        b = _mode_bits(min(g.bits_b, MAXB), "bits_b")
        # A fixed array's power still depends on the data: narrow codes sign/zero-extended to 8 bits
        # toggle fewer bits; ppa.json measures it per data precision pair.
        run_a, run_b = (MAXB, MAXB) if p == "fixed8" else (a, b)
        # The result is stored as its consumer reads it: in that array's lane width.
        out = g.bits_out if g.bits_out > MAXB else (MAXB if p == "fixed8" else _mode_bits(g.bits_out, "bits_out"))
        return unit, f"{a}x{b}", run_a, run_b, out, passes
    if g.fmt == "int4xr4fp4" and p == "ibm":
        return "hybrid_mac", "int4xr4fp4", 4, 4, g.bits_out, 1
    if g.fmt == "fp8" and p == "ibm":
        if hw.has("fp8_mac") and hw.unit("fp8_mac")["workload"]:
            return "fp8_mac", next(iter(hw.unit("fp8_mac")["workload"])), 8, 8, g.bits_out, 1
        return "fp16_mac", "fp16xfp16", 16, 16, g.bits_out, 1
    if p == "fp16":
        return "fp16_mac", "fp16xfp16", 16, 16, g.bits_out, 1
    raise ValueError(f"GEMM {g.layer}/{g.role} ({g.fmt}) cannot run on platform {p!r}")


def memory_bits(g, unit, bits_a, bits_b, bits_out, rows, cols):
    """SRAM and DRAM bits moved by one run of GEMM g (output-stationary, rows x cols tiles).

    Operands are stored at the width the unit reads them (`bits_a`/`bits_b`: the mode's width, so a
    3-bit code moves as 4 bits), results at `bits_out` (likewise); results leave the array at the
    accumulator width ACCW.
      DRAM: the stored A, B tensors read once, the result written once at `bits_out` (an on-chip
            buffer big enough for a GEMM's operand panels: compulsory traffic only).
      SRAM: the DRAM fills written (A, B) and the result staged for DRAM (written, read);
            the array's operand streams: every tile reads its rows of A and columns of B, an A
            element is broadcast to a row of PEs, a B element to a column, so A is read
            ceil(N / cols) times and B ceil(M / rows) times; the accumulators drained (written
            at ACCW) and read back by the epilogue (scales, zero points, rounding).
      The operands' ranges (g.side_bits) travel with them: read from DRAM once, written to and
      read from SRAM once (by the epilogue).
    """
    accw = ACCW[unit]
    fills = g.a_elems * bits_a + g.b_elems * bits_b + g.side_bits
    result = g.c_elems * bits_out
    stream = g.m * g.k * bits_a * -(-g.n // cols) + g.k * g.n * bits_b * -(-g.m // rows)
    drain = 2 * g.m * g.n * accw
    return {"sram": fills + g.side_bits + stream + drain + 2 * result, "dram": fills + result}


def _memory(sram_bits, dram_bits, hw, n):
    """Bits moved `n` times and their energy (Horowitz's per-bit energy x the node factor)."""
    k = hw.node_factor
    return {"sram_bits": sram_bits * n, "dram_bits": dram_bits * n,
            "sram_pj": sram_bits * MEMORY["sram_pj_per_bit_45nm"] * k * n,
            "dram_pj": dram_bits * MEMORY["dram_pj_per_bit_45nm"] * k * n}


def update_cost(u, machine, hw):
    """The optimizer's traffic (an Update, `u.count` times): every bit read from or written to
    DRAM through SRAM; the weights' codes at the width this machine stores them (8 bits on the
    fixed array). No cycles: the update streams while the array works (not on its critical path
    in this model); no compute energy (32-bit adds, next to the memory traffic's)."""
    stored = MAXB if machine.platform == "fixed8" else u.bits_w if u.bits_w > MAXB else _mode_bits(u.bits_w, "bits_w")
    bits = dataclasses.replace(u, bits_w=stored).bits
    return {"unit": "optimizer", "mode": "fp32", "passes": 0, "cycles": 0.0, "compute_pj": 0.0,
            **_memory(bits, bits, hw, u.count), "macs": 0.0, "effective_macs": 0.0, "ppa_entries": []}


def gemm_cost(g, machine, hw):
    """Cost of `g.count` runs of GEMM g on `machine`: a dict of floats plus its sources."""
    if isinstance(g, Update):
        return update_cost(g, machine, hw)
    unit, mode, run_a, run_b, run_out, passes = placement(g, machine, hw)
    r, c = machine.rows, machine.cols
    if unit.startswith("mac_array"):
        n_cycles = passes * cycles(unit, g.m, g.k, g.n, min(g.bits_a, MAXB), min(g.bits_b, MAXB), r, c, 4)
        power, entries = hw.array_power_mw(unit, r, c, mode)
    else:  # an R x C grid of MAC units, each computing a ceil(M/R) x ceil(N/C) block of dot products
        n_cycles = cycles(unit, -(-g.m // r), g.k, -(-g.n // c), 4, 4, 1, 1, _lanes(hw, unit))
        p1, entries = hw.mac_power_mw(unit, mode)
        power = p1 * r * c
    bits = memory_bits(g, unit, run_a, run_b, run_out, r, c)
    n = g.count
    return {
        "unit": unit, "mode": mode, "passes": passes,
        "cycles": n_cycles * n,
        "compute_pj": n_cycles * power * hw.period_ns * n,
        **_memory(bits["sram"], bits["dram"], hw, n),
        "macs": g.macs * n,
        "effective_macs": g.macs * n * min(g.bits_a, 32) / 32 * min(g.bits_b, 32) / 32,
        "ppa_entries": entries,
    }


def run_cost(gemms, machine, hw):
    """Cost of a whole run: totals, per-unit and per-mode breakdowns, and the sources."""
    tot = {"cycles": 0.0, "compute_pj": 0.0, "sram_pj": 0.0, "dram_pj": 0.0, "sram_bits": 0.0,
           "dram_bits": 0.0, "macs": 0.0, "effective_macs": 0.0}
    by_mode, entries, unit_cycles = {}, set(), {}
    by_role = {}
    for g in gemms:
        c = gemm_cost(g, machine, hw)
        for key in tot:
            tot[key] += c[key]
        role = by_role.setdefault(g.role,
                                  {"cycles": 0.0, "compute_pj": 0.0, "sram_pj": 0.0, "dram_pj": 0.0})
        for key in role:
            role[key] += c[key]
        if isinstance(g, Update):
            continue
        unit_cycles[c["unit"]] = unit_cycles.get(c["unit"], 0.0) + c["cycles"]
        label = f"{c['unit']}:{c['mode']}"
        bm = by_mode.setdefault(label, {"cycles": 0.0, "compute_pj": 0.0, "macs": 0.0})
        for key in bm:
            bm[key] += c[key]
        entries.update(c["ppa_entries"])
    period_s = hw.period_ns * 1e-9
    # Each unit in its own clock domain at its own Fmax (hybrid_mac and fp16_mac do not close at
    # the quoted clock; the arrays close above it).
    fmax = {u: _fmax(hw, u, machine) for u in unit_cycles}
    memory_pj = tot["sram_pj"] + tot["dram_pj"]
    return {
        "machine": dataclasses.asdict(machine),
        "cycles": tot["cycles"],
        "latency_s": tot["cycles"] * period_s,
        "clock_mhz": 1e3 / hw.period_ns,
        "fmax_mhz": fmax,
        "latency_at_fmax_s": sum(n / (fmax[u] * 1e6) for u, n in unit_cycles.items()),
        "compute_j": tot["compute_pj"] * 1e-12,
        "sram_j": tot["sram_pj"] * 1e-12,
        "dram_j": tot["dram_pj"] * 1e-12,
        "memory_j": memory_pj * 1e-12,
        "energy_j": (tot["compute_pj"] + memory_pj) * 1e-12,
        "sram_bits": tot["sram_bits"], "dram_bits": tot["dram_bits"],
        "macs": tot["macs"], "effective_macs": tot["effective_macs"],
        "by_mode": by_mode,
        "by_role": by_role,
        "area_um2": _area(hw, unit_cycles, machine),
        "sources": {"cycles": CYCLE_SOURCE, "ppa": f"{hw.path}: " + ", ".join(sorted(entries)),
                    "memory": MEMORY["citation"] + f"; x{hw.node_factor:.1f} to this node "
                              f"({MEMORY['node_reference']} = {hw.mac8_pj:.3g} pJ / {MEMORY['mac8_pj_45nm']} pJ)"},
    }


def _fmax(hw, unit, machine):
    if unit.startswith("mac_array"):
        return hw.fmax_mhz(unit, machine.rows, machine.cols)
    return float(hw.unit(unit)["timing"]["fmax_mhz"])


def _area(hw, units, machine):
    total = 0.0
    for u in units:
        if u.startswith("mac_array"):
            total += hw.area(u, machine.rows, machine.cols)[0]
        else:
            total += float(hw.unit(u)["area_um2"]) * machine.rows * machine.cols
    return total


# ---- the study: workloads x machines -------------------------------------------------------

FRACTRAIN_SCHEDULE = ((3, 4, 6, 8), (6, 6, 8, 8))
# Hardware-aware PFQ: only the fusion array's full-rate modes. A = FracTrain's schedule as the
# array runs it (3 -> 4, 6 -> 8: same cycles and energy, the extra bits are free); B = one step
# lower in the forward pass where the array gains throughput (2-bit first stage, 4 bits until the
# last), gradients kept at 8 bits.
HW_SCHEDULES = {"pfq_hw_a": ((4, 4, 8, 8), (8, 8, 8, 8)), "pfq_hw_b": ((2, 4, 4, 8), (8, 8, 8, 8))}
DEFAULT_FRACTIONS = (0.25, 0.5, 0.75)
RESNET_DEPTHS = (38, 74, 110, 164)
# FracTrain (Fu et al., NeurIPS 2020), Sec. 4.3 / Table 4: PFQ + DFQ on CIFAR-100, savings vs
# FW8/BW8 on their FPGA (ZC706, bit-fusion style) and vs FW8/BW8 on an integer-only (Eyeriss)
# accelerator with the same memory and unit energy.
FRACTRAIN_PUBLISHED = {
    (38, 100): {"fpga_latency": 0.349, "fpga_energy": 0.303, "eyeriss_latency": 0.726, "eyeriss_energy": 0.658},
    (74, 100): {"fpga_latency": 0.366, "fpga_energy": 0.249, "eyeriss_latency": 0.682, "eyeriss_energy": 0.698},
}
PRICEABLE = ("fw8bw8", "pfq", "ibm4", "dfq", "fractrain", "bhq4") + COMBINED
ISO_AREA_ASPECT = 4  # the iso-area fixed array's longest side at most this many times its shortest
LATENCY_KEYS = ("latency", "latency_at_fmax")


def machines(hw, rows, cols):
    r, c = hw.iso_area_shape(rows, cols)
    return {
        "fusion": Machine(f"mac_array {rows}x{cols}", "fusion", rows, cols),
        "fixed_iso_pe": Machine(f"mac_array_fixed8 {rows}x{cols} (iso-PE)", "fixed8", rows, cols),
        "fixed_iso_area": Machine(f"mac_array_fixed8 {r}x{c} (iso-area)", "fixed8", r, c),
        "ibm": Machine(f"IBM: mac_array {rows}x{cols} + {rows}x{cols} hybrid_mac (+ fp16_mac for FP8)", "ibm",
                       rows, cols),
        "fp16": Machine(f"{rows}x{cols} fp16_mac", "fp16", rows, cols),
    }


def saving(new, base, key):
    return 1.0 - new[key] / base[key] if base[key] else None


SAVING_KEYS = {"effective_macs": "effective_macs", "latency": "latency_s", "latency_at_fmax": "latency_at_fmax_s",
               "compute_energy": "compute_j",
               "memory_energy": "memory_j", "energy": "energy_j"}


def savings(new, base):
    return {name: saving(new, base, key) for name, key in SAVING_KEYS.items()}


def equal_area_savings(new, base):
    """Savings against `base` scaled to exactly `new`'s area: latency per mm^2 (throughput per
    mm^2), 1 - latency_new * area_new / (latency_base * area_base); energy per operation does
    not change with the array's size, so the energy savings are `savings`'."""
    out = savings(new, base)
    scale = new["area_um2"] / base["area_um2"]
    for name in LATENCY_KEYS:
        out[name] = 1.0 - new[SAVING_KEYS[name]] * scale / base[SAVING_KEYS[name]]
    return out


def at_lanes(hw, lanes_doc, lanes):
    """`hw` with its training MACs replaced by the lane sweep's `lanes`-lane units (make
    synth-lanes' ppa.json: hybrid_mac_l<L>, fp16_mac_l<L>, fp8_mac_l<L>; L = 4 is the plain
    name). A unit the sweep did not measure at that L is dropped: FP8 layers then run on
    fp16_mac, which computes the same numbers. ValueError if hybrid_mac or fp16_mac is missing or
    has no workload power."""
    name = lambda family: family if lanes == 4 else f"{family}_l{lanes}"
    units = {**hw.units}
    for family in ("hybrid_mac", "fp16_mac", "fp8_mac"):
        units.pop(family, None)
        u = lanes_doc["units"].get(name(family))
        if u is not None and u["workload"]:
            units[family] = u
        elif family != "fp8_mac":
            raise ValueError(f"lane sweep has no {name(family)} with workload power"
                             + (f" ({u['workload_note']})" if u and u.get("workload_note") else ""))
    return Hardware({**hw.doc, "units": units}, hw.path)


def lane_study(hw, lanes_doc, rows=8, cols=8, depths=RESNET_DEPTHS, batch=128):
    """One ibm4 training step of each CIFAR ResNet on the IBM machine against FP16 everywhere,
    memory included, with the training MACs at every lane count L the sweep measured both
    hybrid_mac and fp16_mac at (a grid of rows x cols L-lane MACs: equal MACs per cycle on both
    machines). Rows: lanes, workload, where the FP8 layers ran, both machines' energy (compute,
    memory, total) and fp16 / ibm4 energy ratios; an L that cannot be priced: {lanes, skipped}."""
    ls = sorted({int(u["params"]["lanes"]) for n, u in lanes_doc["units"].items()
                 if u.get("family") == "hybrid_mac" and "lanes" in u.get("params", {})})
    out = []
    for lanes in ls:
        try:
            h = at_lanes(hw, lanes_doc, lanes)
        except ValueError as err:
            out.append({"lanes": lanes, "skipped": str(err)})
            continue
        ms = machines(h, rows, cols)
        for depth in depths:
            wl = f"resnet{depth}-cifar10"
            ibm = run_cost(resnet_step(depth, 10, "ibm4", batch=batch), ms["ibm"], h)
            fp16 = run_cost(resnet_step(depth, 10, "fp16", batch=batch), ms["fp16"], h)
            out.append({"lanes": lanes, "workload": wl, "fp8_unit": "fp8_mac" if h.has("fp8_mac") else "fp16_mac",
                        **{f"{m}_{k}": r[k] for m, r in (("ibm4", ibm), ("fp16", fp16))
                           for k in ("compute_j", "memory_j", "energy_j")},
                        "compute_ratio": fp16["compute_j"] / ibm["compute_j"],
                        "energy_ratio": fp16["energy_j"] / ibm["energy_j"]})
    return out


def host_transform(run, hw):
    """What a run leaves to the host besides the epilogue: BHQ's Householder part (the run's
    host_transform_macs, golden.gemm.low_rank_macs), priced as FP32 multiply-adds at Horowitz's
    45 nm energy scaled to this node; {} for a run without it. Its energy is added to the run's
    energy_j (compute and memory stay the accelerator's); its time is not modelled (a host
    working beside the accelerator)."""
    macs = run.get("host_transform_macs") or 0
    if not macs:
        return {}
    return {"host_transform_macs": macs,
            "host_transform_j": macs * MEMORY["fp32_mac_pj_45nm"] * hw.node_factor * 1e-12}


def study(hw, rows=8, cols=8, fractions=DEFAULT_FRACTIONS, runs=(), depths=RESNET_DEPTHS, batch=128):
    """Every workload on every machine it compares on; returns the cost.json document body."""
    ms = machines(hw, rows, cols)
    costs, comparisons = [], []

    def price(workload, recipe, gemms, machine_key, extra=None):
        row = {"workload": workload, "recipe": recipe, "machine_key": machine_key,
               **run_cost(gemms, ms[machine_key], hw), **(extra or {})}
        row["energy_j"] += row.get("host_transform_j", 0.0)
        costs.append(row)
        return row

    def compare(workload, recipe, new, baselines, published=None, accuracy=None):
        for key, base in baselines.items():
            comparisons.append({"workload": workload, "recipe": recipe, "machine": new["machine"]["name"],
                                "baseline": f"fw8bw8 on {base['machine']['name']}", "baseline_key": key,
                                "accuracy": accuracy, **savings(new, base),
                                "published": (published or {}).get(key)})
            if key == "fixed_iso_area":
                comparisons.append({**comparisons[-1], "baseline_key": "fixed_equal_area",
                                    "baseline": f"fw8bw8 on {base['machine']['name']} scaled to equal area",
                                    **equal_area_savings(new, base)})

    # (b) CIFAR ResNets over FracTrain's 160 epochs.
    schedules = {"pfq": FRACTRAIN_SCHEDULE, **HW_SCHEDULES}
    for depth in depths:
        for classes in (10, 100):
            wl = f"resnet{depth}-cifar{classes}"
            fw8 = pfq_run(depth, classes, (8,), (8,), (), batch=batch)
            base = {k: price(wl, "fw8bw8", fw8, k) for k in ("fusion", "fixed_iso_pe", "fixed_iso_area")}
            pub = FRACTRAIN_PUBLISHED.get((depth, classes))
            published = pub and {"fusion": {"latency": pub["fpga_latency"], "energy": pub["fpga_energy"],
                                            "what": "FracTrain PFQ+DFQ vs FW8/BW8, ZC706 FPGA"},
                                 "fixed_iso_pe": {"latency": pub["eyeriss_latency"], "energy": pub["eyeriss_energy"],
                                                  "what": "FracTrain PFQ+DFQ vs FW8/BW8 on Eyeriss"}}
            for name, (fws, bws) in schedules.items():
                new = price(wl, name, pfq_run(depth, classes, fws, bws, fractions, batch=batch), "fusion",
                            {"schedule": {"fw": fws, "bw": bws, "turning_points": list(fractions)}})
                compare(wl, name, new, base, published if name == "pfq" else None)
            # IBM's side: one training step, ibm4 on the IBM machine vs FP16 everywhere.
            ibm = price(wl, "ibm4 (per step)", resnet_step(depth, classes, "ibm4", batch=batch), "ibm")
            fp16 = price(wl, "fp16 (per step)", resnet_step(depth, classes, "fp16", batch=batch), "fp16")
            comparisons.append({"workload": wl, "recipe": "ibm4 (per step)", "machine": ibm["machine"]["name"],
                                "baseline": f"fp16 on {fp16['machine']['name']}", "baseline_key": "fp16",
                                "accuracy": None, **savings(ibm, fp16), "published": None})
    # Turning-point sensitivity (ResNet-74 / CIFAR-100 with the default depths): PFQ vs FW8/BW8 on every baseline.
    sensitivity = []
    for fr in (fractions, (0.1, 0.2, 0.3), (0.5, 0.75, 0.9)) if depths else ():
        mid = depths[len(depths) // 2]
        new = run_cost(pfq_run(mid, 100, *FRACTRAIN_SCHEDULE, fr, batch=batch), ms["fusion"], hw)
        for key in ("fusion", "fixed_iso_area"):
            base = run_cost(pfq_run(mid, 100, (8,), (8,), (), batch=batch), ms[key], hw)
            sensitivity.append({"turning_points": list(fr), "baseline_key": key, **savings(new, base)})
    # (a) training-benchmark runs.
    unpriced = []
    for run in runs:
        if run["recipe"] not in PRICEABLE:
            raise ValueError(f"run recipe must be one of {PRICEABLE} (integer / IBM GEMMs the hardware runs), "
                             f"got {run['recipe']!r}")
        wl = f"{run['bench']} (seed {run.get('seed', 0)})"
        if run.get("diverged_epoch"):
            # a run that stopped early is no training run to price: fewer epochs would look cheaper
            unpriced.append({"workload": wl, "recipe": run.get("label", run["recipe"]),
                             "reason": f"diverged in epoch {run['diverged_epoch']} of {run['epochs']}"})
            continue
        gemms = from_training_json(run)
        acc = run.get("test_accuracy")
        if run["recipe"] == "ibm4":
            ibm = price(wl, "ibm4", gemms, "ibm", {"test_accuracy": acc})
            fp16 = price(wl, "fp16", from_training_json({**run, "recipe": "fp16"}), "fp16")
            comparisons.append({"workload": wl, "recipe": "ibm4", "machine": ibm["machine"]["name"],
                                "baseline": f"fp16 on {fp16['machine']['name']}", "baseline_key": "fp16",
                                "accuracy": acc, **savings(ibm, fp16), "published": None})
            continue
        if run["recipe"] == "fw8bw8":
            continue
        fw8 = next((r for r in runs if r["recipe"] == "fw8bw8" and r["bench"] == run["bench"]
                    and r.get("seed") == run.get("seed")), None)
        if fw8 is None:
            raise ValueError(f"{wl} {run['recipe']}: no fw8bw8 run of the same bench and seed to compare with")
        base = {k: price(wl, "fw8bw8", from_training_json(fw8), k, {"test_accuracy": fw8.get("test_accuracy")})
                for k in ("fusion", "fixed_iso_pe", "fixed_iso_area")}
        label = run.get("label", run["recipe"])
        new = price(wl, label, gemms, "fusion", {"test_accuracy": acc, **host_transform(run, hw)})
        compare(wl, label, new, base, accuracy=acc)
    # Dedupe baseline rows priced more than once (one per recipe of a bench).
    seen, unique = set(), []
    for row in costs:
        key = (row["workload"], row["recipe"], row["machine_key"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return {"machines": {k: dataclasses.asdict(m) for k, m in ms.items()}, "iso_area": hw.iso_area(rows, cols),
            "costs": unique,
            "comparisons": comparisons, "sensitivity": sensitivity, "unpriced": unpriced}


def priced_runs(parser, args, benches):
    """The priced training runs, each a task of the project's executor, cached by content under
    OUT/cache like `make demo`'s trainings (a rerun prices without training again)."""
    from golden.training.demo import cache
    with executor.from_args(parser, args) as ex:
        outcomes = ex.run(training_tasks(benches), cache=cache(args.out), label="cost: training")
    if executor.report_failures(outcomes):
        parser.exit(1, "cost: a priced training failed (above)\n")
    return [o.value for o in outcomes]


def main(argv=None):
    ap = ArgumentParser(prog="python -m cost", description=__doc__.splitlines()[0])
    ap.add_argument("--ppa", default=str(ROOT / "build" / "synth" / "ppa.json"), help="make synth's ppa.json")
    ap.add_argument("--out", default=str(ROOT / "build" / "cost"), help="output directory")
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--cols", type=int, default=8)
    ap.add_argument("--turning-points", default=",".join(map(str, DEFAULT_FRACTIONS)),
                    help="PFQ turning points as fractions of the 160 CIFAR epochs (three, comma-separated)")
    ap.add_argument("--depths", default=",".join(map(str, RESNET_DEPTHS)),
                    help=f"CIFAR ResNet depths to price (of {', '.join(map(str, RESNET_DEPTHS))}; empty: none)")
    ap.add_argument("--batch", type=int, default=128, help="CIFAR ResNet mini-batch (FracTrain: 128)")
    ap.add_argument("--runs", nargs="*", default=None,
                    help="training-run JSON files (python -m golden.training --json; a 'label' key names the run); "
                         "default: train --benches on the executor")
    ap.add_argument("--benches", default="digits",
                    help="golden.training benches trained in process when --runs is not given (digits,mnist1d)")
    ap.add_argument("--lanes-ppa", default=str(ROOT / "build" / "synth" / "lanes" / "ppa.json"),
                    help="make synth-lanes' ppa.json: the ibm4 vs FP16 step at every measured lane count "
                         "(skipped when the file does not exist)")
    executor.add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        fractions = tuple(float(x) for x in args.turning_points.split(","))
        if len(fractions) != len(FRACTRAIN_SCHEDULE[0]) - 1:
            raise ValueError
        stage_epochs(fractions, FRACTRAIN_EPOCHS)
    except ValueError:
        ap.exit(2, f"--turning-points: three non-decreasing fractions in [0, 1], got {args.turning_points!r}\n")
    try:
        depths = tuple(int(d) for d in args.depths.split(",") if d)
        if any(d not in RESNET_DEPTHS for d in depths):
            raise ValueError
    except ValueError:
        ap.exit(2, f"--depths: comma-separated values of {RESNET_DEPTHS}, got {args.depths!r}\n")
    if args.batch < 1:
        ap.exit(2, f"--batch must be >= 1, got {args.batch}\n")
    if args.rows < 1 or args.cols < 1:
        ap.exit(2, "--rows/--cols must be >= 1\n")
    try:
        hw = Hardware.load(args.ppa)
    except (FileNotFoundError, ValueError, KeyError) as e:
        ap.exit(2, f"--ppa: {e}\n")
    runs = []
    if args.runs is None:
        benches = tuple(b for b in args.benches.split(",") if b)
        if any(b not in ("digits", "mnist1d") for b in benches):
            ap.exit(2, f"--benches: comma-separated values of digits, mnist1d, got {args.benches!r}\n")
        runs = priced_runs(ap, args, benches)
    else:
        for path in args.runs:
            data = json.loads(pathlib.Path(path).read_text())
            runs += data if isinstance(data, list) else [data]
    body = study(hw, args.rows, args.cols, fractions, runs, depths, args.batch)
    lanes_path = pathlib.Path(args.lanes_ppa)
    if lanes_path.exists():
        body["lanes"] = {"ppa": str(args.lanes_ppa),
                         "rows": lane_study(hw, json.loads(lanes_path.read_text()), args.rows, args.cols, depths, args.batch)}
    doc = {"schema": SCHEMA, **provenance("cost", argv),
           "ppa": str(args.ppa), "ppa_date": hw.doc.get("date") or hw.doc.get("generated"),
           "ppa_revision": hw.doc.get("revision"), "ppa_complete": hw.doc.get("complete"), "clock": hw.doc["clock"],
           "ppa_tools": hw.doc.get("tools"),
           "array": {"rows": args.rows, "cols": args.cols}, "resnet_batch": args.batch, "memory": {**MEMORY, "node_factor": hw.node_factor},
           "cycle_source": CYCLE_SOURCE, "turning_points": list(fractions), "epochs": FRACTRAIN_EPOCHS,
           "runs": [{**{k: r.get(k) for k in ("bench", "recipe", "seed", "epochs", "test_accuracy", "effective_macs",
                                             "macs", "gate_macs", "host_transform_macs", "turning_points",
                                             "diverged_epoch", "source")},
                     "label": r.get("label", r["recipe"])} for r in runs],
           **body}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cost.json").write_text(json.dumps(doc, indent=1) + "\n")
    from . import report
    report.write(doc, out)
    print(report.summary(doc))
    print(f"wrote {out / 'cost.json'}, {out / 'cost.md'} and plots")

