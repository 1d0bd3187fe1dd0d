"""`python -m verif.axi_sim [--sim verilator|icarus] [--tiles N] [mac_array_axi options]`
(`make sim-axi ARGS="..."`): the cocotbext-axi regression of verif/test_mac_array_axi.py (stream
tiles under random pauses and backpressure, registers, errors, the host driver's GEMMs) on any
configuration of the wrapper, e.g. `python -m verif.axi_sim --rows 8 --cols 8 --accw 24`.
The options are the generator's (`python -m hdl_gen mac_array_axi --help`); a bad value is
answered in one line with exit status 2.
"""

import sys

from hdl_gen import __main__ as gen_cli
from hdl_gen.mac_array_axi import MacArrayAxi
from hdl_gen.rtl import generator_parameters
from lptrain.paths import RTL
from verif.harness import BUILD, SIMS, run, write_verilog

TESTS = ["registers", "random_tiles", "errors_and_recovery", "driver_gemm"]


def sources(params):
    """(build name, sources): the committed rtl/ file for the default, else a generated one."""
    if params == generator_parameters("mac_array_axi")[1]:
        return "mac_array_axi", [RTL / "mac_array_axi.v"]
    name = "mac_array_axi_" + "_".join(f"{k}{v}" for k, v in params.items())
    return name, [write_verilog(MacArrayAxi(**params), "mac_array_axi", BUILD / name / "mac_array_axi.v")]


def simulate(sim, params, tiles, seed=2020):
    """Build and run the regression; raises AssertionError when a cocotb test fails."""
    if params["maxb"] != 8:
        raise ValueError(f"maxb must be 8 for the AXI testbench (its lanes are 64-bit NumPy words), got {params['maxb']}")
    build_name, srcs = sources(params)
    run(sim, toplevel="mac_array_axi", sources=srcs, test_module="verif.test_mac_array_axi",
        build_name=build_name, testcase=TESTS,
        env=dict(LPT_ROWS=params["rows"], LPT_COLS=params["cols"], LPT_MAXB=params["maxb"],
                 LPT_ACCW=params["accw"], LPT_PE=params["pe"], LPT_CNTW=params["cntw"],
                 LPT_DW=params["data_width"], LPT_TILES=tiles, LPT_SEED=seed), opt_fast="-O0")


def main(argv=None):
    parser, params = gen_cli._unit_parser("mac_array_axi")
    parser.prog = "python -m verif.axi_sim"
    parser.add_argument("--sim", default="verilator", help=f"one of {', '.join(SIMS)} (default verilator)")
    parser.add_argument("--tiles", type=int, default=24, help="random tiles per regression (default 24)")
    parser.add_argument("--seed", type=int, default=2020)
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        if args.sim not in SIMS:
            raise ValueError(f"sim must be one of {SIMS}, got {args.sim!r}")
        chosen = {k: getattr(args, k) for k in params}
        MacArrayAxi(**chosen)  # validate before building
        simulate(args.sim, chosen, args.tiles, args.seed)
    except (gen_cli._Usage, ValueError, TypeError) as err:
        print(f"python -m verif.axi_sim: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"mac_array_axi {chosen} on {args.sim}: every cocotb test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
