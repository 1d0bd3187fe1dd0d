"""The proofs can fail: a copy of `fusion_unit` with one routing bit mutated.

`mutated_fusion_verilog` regenerates the unit with one entry of the top level's routing table
(hdl_gen.fusion.level_route, the linear layout's routing) changed: in the 2x2 mode, sub-unit 0 reads bus bit 1 of `a` where it
should read bit 0. Both proofs of that unit must then fail with a counterexample trace: the flat
miter of that mode (`counterexample` reads the trace back so a test can replay it through the
golden model) and the compositional proof (formal/compose.py: the top level's routing check).
"""

import re
from unittest import mock

MUTATED_MODE = (0, 0)  # pa, pb: 2-bit x 2-bit


def mutated_fusion_verilog(maxb=8):
    import hdl_gen.fusion as fusion
    from hdl_gen.rtl import to_verilog

    original = fusion.level_route

    def route(w, ba, bb):
        routes = original(w, ba, bb)
        if w == maxb and (ba, bb) == (2, 2):
            a_src, b_src = routes[0]
            routes[0] = ([a_src[1]] + a_src[1:], b_src)  # bit 0 of sub-unit 0 now reads bit 1
        return routes

    with mock.patch.object(fusion, "level_route", route):
        return to_verilog(fusion.FusionUnit(maxb, layout="linear"), "fusion_unit")


def counterexample(vcd_path, names=("a", "b", "p_dut", "p_ref")):
    """{name: int} of the top-level signals at the first time step of a smtbmc VCD trace."""
    ids, scope, values = {}, [], {}
    for line in open(vcd_path).read().splitlines():
        if line.startswith("$scope"):
            scope.append(line.split()[2])
        elif line.startswith("$upscope"):
            scope.pop()
        elif line.startswith("$var") and len(scope) == 1:
            parts = line.split()
            ids[parts[3]] = parts[4]
        elif line.startswith("#") and line != "#0" and values:
            break
        elif line.startswith("b"):
            bits, ident = line[1:].split()
            if ids.get(ident) in names:
                values[ids[ident]] = int(re.sub("[xz]", "0", bits), 2)
    return values
