"""The unit registry, the default configurations committed in rtl/, and `python -m hdl_gen.rtl`.

`DEFAULTS` maps each Verilog module name to a `functools.partial` of its generator class with the
default parameters bound (docs/spec.md, "Hardware units"). It is the one list of units: `make rtl`,
the generator CLI (`python -m hdl_gen`, hdl_gen/__main__.py), the FuseSoC cores and the synthesis
flow all read it, and the CLI derives every option from the generator's constructor signature, so
a new unit or a new generator parameter needs no edit anywhere else.
"""

import argparse
import functools
import inspect
import pathlib

import amaranth
from amaranth.back import verilog
from amaranth.lib import wiring

from golden.mac_array import ACCW_DEFAULT

from . import __version__
from .cores import core_text
from .fp8 import FP8ToFP16, FP16ToFP8
from .fp8_mac import FP8Mac
from .fp16_mac import FP16Mac
from .fusion import FixedMul, FusionUnit
from .gradscale import GradScaleUnit
from .hybrid_mac import HybridMac
from .lfsr16 import Lfsr16
from .mac_array import MacArray
from .mac_array_axi import MacArrayAxi
from .mx_dot import MxDot
from .r4fp4 import R4FP4ToFP16, TPRQuantizer

RTL_DIR = pathlib.Path(__file__).resolve().parent.parent / "rtl"
unit = functools.partial

# Verilog module name -> generator class with its default configuration bound.
DEFAULTS = {
    "fusion_unit": unit(FusionUnit, maxb=8),
    "fixed_mul": unit(FixedMul, bits=8),
    "gradscale_unit": unit(GradScaleUnit, lanes=1),
    "lfsr16": unit(Lfsr16, steps=16, init=1),
    "mac_array": unit(MacArray, rows=4, cols=4, maxb=8, accw=ACCW_DEFAULT),
    "mac_array_fixed8": unit(MacArray, rows=4, cols=4, maxb=8, accw=ACCW_DEFAULT, pe="fixed"),
    "mac_array_axi": unit(MacArrayAxi, rows=4, cols=4, maxb=8, accw=ACCW_DEFAULT, data_width=64),
    "hybrid_mac": unit(HybridMac, lanes=4),
    "fp16_mac": unit(FP16Mac, lanes=4),
    "fp8_mac": unit(FP8Mac, lanes=4, fmt_x="e4m3", fmt_g="e5m2"),
    "mx_dot": unit(MxDot, fmt="fp4_e2m1", block=32, lanes=4, acc="fp32"),
    "tpr_quantizer": unit(TPRQuantizer),
    "r4fp4_to_fp16": unit(R4FP4ToFP16),
    "fp16_to_e4m3": unit(FP16ToFP8, "e4m3"),
    "e4m3_to_fp16": unit(FP8ToFP16, "e4m3"),
    "fp16_to_e5m2": unit(FP16ToFP8, "e5m2"),
    "e5m2_to_fp16": unit(FP8ToFP16, "e5m2"),
}


def generator_parameters(name):
    """(generator class, {parameter: value of the default configuration}) of unit `name`.

    The parameters are the class constructor's named parameters; a value bound in DEFAULTS (by
    position or keyword) overrides the constructor's default.
    """
    if name not in DEFAULTS:
        raise ValueError(f"unit must be one of {', '.join(DEFAULTS)}, got {name!r}")
    factory = DEFAULTS[name]
    if not isinstance(factory, functools.partial):
        raise TypeError(f"DEFAULTS[{name!r}] must be functools.partial(GeneratorClass, ...), "
                        f"so its parameters can be read")
    cls = factory.func
    if cls.__init__ is wiring.Component.__init__:  # signature fixed by the class: no parameters
        return cls, {}
    sig = inspect.signature(cls.__init__)
    named = [p for p in sig.parameters.values()
             if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    bound = sig.bind_partial(None, *factory.args, **factory.keywords).arguments
    return cls, {p.name: bound.get(p.name, p.default) for p in named}


def to_verilog(component, name):
    # No src attributes: they hold absolute paths, and rtl/ must not depend on the checkout.
    return verilog.convert(component, name=name, emit_src=False)


def cli_command(name, params, module=None):
    """The `python -m hdl_gen` command line that regenerates this configuration."""
    args = [f"--{k.replace('_', '-')} {'none' if v is None else str(v).lower() if isinstance(v, bool) else v}"
            for k, v in params.items()]
    return " ".join(["python -m hdl_gen", name, *args, *([f"--name {module}"] if module else [])])


def header(name, cls, params, module=None):
    """Verilog comment recording the generator, its version and every parameter."""
    call = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return (f"// {module or name}: lptrain hdl_gen {__version__}, Amaranth {amaranth.__version__}\n"
            f"// generator: {cls.__module__}.{cls.__qualname__}({call})\n"
            f"// regenerate: {cli_command(name, params, module)}\n")


def generate(name, module=None, **overrides):
    """Verilog text of unit `name` with `overrides` applied to its default parameters, as module
    `module` (default: `name`), headed by `header`. ValueError for an unknown parameter or value."""
    cls, params = generator_parameters(name)
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} of {name}; "
                         f"parameters: {', '.join(params) or 'none'}")
    params.update(overrides)
    module = module or name
    return header(name, cls, params, None if module == name else module) + to_verilog(cls(**params), module)


def core(name):
    """The FuseSoC core of unit `name` (hdl_gen/cores.py), described by its generator."""
    cls, params = generator_parameters(name)
    doc = (cls.__doc__ or cls.__qualname__).strip().splitlines()[0]
    call = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return core_text(name, f"{doc} Generated by {cls.__qualname__}({call}).")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate the default configurations (Verilog and "
                                                 "FuseSoC cores) into rtl/.")
    parser.add_argument("names", nargs="*", help=f"units to generate (default: all of {', '.join(DEFAULTS)})")
    parser.add_argument("--out", type=pathlib.Path, default=RTL_DIR, help="output directory")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(DEFAULTS))
    if unknown:
        parser.error(f"unknown unit(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or DEFAULTS:
        path = args.out / f"{name}.v"
        path.write_text(generate(name))
        path.with_suffix(".core").write_text(core(name))
        print(f"wrote {path} and {path.with_suffix('.core').name}")


if __name__ == "__main__":
    main()
