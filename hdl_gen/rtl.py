"""The default configurations committed in rtl/, and `python -m hdl_gen.rtl` to regenerate them."""

import argparse
import pathlib

from amaranth.back import verilog

from .fp8 import FP8ToFP16, FP16ToFP8
from .fusion import FixedMul, FusionUnit
from .gradscale import GradScaleUnit
from .hybrid_mac import FP8Mac, FP16Mac, HybridMac
from .lfsr16 import Lfsr16
from .mac_array import MacArray
from .r4fp4 import R4FP4ToFP16, TPRQuantizer

RTL_DIR = pathlib.Path(__file__).resolve().parent.parent / "rtl"

# Verilog module name -> factory of its default configuration (SPEC.md, "Hardware units").
DEFAULTS = {
    "fusion_unit": lambda: FusionUnit(maxb=8),
    "fixed_mul": lambda: FixedMul(bits=8),
    "gradscale_unit": lambda: GradScaleUnit(lanes=1),
    "lfsr16": lambda: Lfsr16(steps=16, init=1),
    "mac_array": lambda: MacArray(rows=4, cols=4, maxb=8, accw=32),
    "mac_array_fixed8": lambda: MacArray(rows=4, cols=4, maxb=8, accw=32, pe="fixed"),
    "hybrid_mac": lambda: HybridMac(lanes=4),
    "fp16_mac": lambda: FP16Mac(lanes=4),
    "fp8_mac": lambda: FP8Mac(lanes=4, fmt_x="e4m3", fmt_g="e5m2"),
    "tpr_quantizer": lambda: TPRQuantizer(),
    "r4fp4_to_fp16": lambda: R4FP4ToFP16(),
    "fp16_to_e4m3": lambda: FP16ToFP8("e4m3"),
    "e4m3_to_fp16": lambda: FP8ToFP16("e4m3"),
    "fp16_to_e5m2": lambda: FP16ToFP8("e5m2"),
    "e5m2_to_fp16": lambda: FP8ToFP16("e5m2"),
}


def to_verilog(component, name):
    # No src attributes: they hold absolute paths, and rtl/ must not depend on the checkout.
    return verilog.convert(component, name=name, emit_src=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate the default configurations into rtl/.")
    parser.add_argument("names", nargs="*", help=f"units to generate (default: all of {', '.join(DEFAULTS)})")
    parser.add_argument("--out", type=pathlib.Path, default=RTL_DIR, help="output directory")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(DEFAULTS))
    if unknown:
        parser.error(f"unknown unit(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or DEFAULTS:
        path = args.out / f"{name}.v"
        path.write_text(to_verilog(DEFAULTS[name](), name))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
