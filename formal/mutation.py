"""The proofs can fail: a copy of `fusion_unit` with one routing bit mutated.

`mutated_fusion_verilog` regenerates the unit with one entry of the top level's routing table
(hdl_gen.fusion.level_route, the linear layout's routing) changed: in the 2x2 mode, sub-unit 0 reads bus bit 1 of `a` where it
should read bit 0. Both proofs of that unit must then fail with a counterexample trace: the flat
miter of that mode (`counterexample` reads the trace back so a test can replay it through the
golden model) and the compositional proof (formal/compose.py: the top level's routing check).

The `mac_array` mutants edit the generated (PE-cut) Verilog text of the array: `last_off_by_one`,
`dropped_acc_bit`, `tiles_mix`. Each must fail the data property (formal/array_data.py) in BMC;
`trace_steps` reads the trace back so a test can drive its inputs through golden.mac_array. An
edit that no longer matches the generator's Verilog raises ValueError instead of passing silently.
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


def _mutate(text, pattern, replace, count):
    new, n = re.subn(pattern, replace, text, flags=re.S)
    if n != count:
        raise ValueError(f"mutation pattern matched {n} times, expected {count}: the generator's Verilog changed")
    return new


def last_off_by_one(text, rows, cols):
    """mac_array with the tile's `last` beat left out of its result: on `last` the shadow bank
    takes the accumulator (the sum up to the previous beat) instead of the sum with the last beat,
    as if the tile ended one beat early."""
    for r in range(rows):
        for c in range(cols):
            text = _mutate(text, rf"(\\\$\d+ )( = shadow_{r}_{c};\n(?:(?!always).)*?if \(s2_last\) begin\n\s*)\1 = [^;]+;",
                           rf"\1\2\1 = acc_{r}_{c};", 1)
    return text


def dropped_acc_bit(text, accw):
    """mac_array whose accumulator (0, 0) drops its top bit when it stores a partial sum."""
    return _mutate(text, rf"(\\\$\d+ )( = acc_0_0;\n(?:(?!always).)*?end else begin\n\s*)\1 = (\\\$\d+ )\[{accw - 1}:0\];",
                   rf"\1\2\1 = {{1'b0, \3[{accw - 2}:0]}};", 1)


def trace_steps(vcd_path, names):
    """[{name: int}] of the top-level signals `names`, one dict per step of a smtbmc VCD trace
    (smtbmc dumps every signal at each step and closes the trace with a step of no values; x / z
    read as 0)."""
    ids, scope, steps, dumped = {}, [], [], 0
    for line in open(vcd_path).read().splitlines():
        if line.startswith("$scope"):
            scope.append(line.split()[2])
        elif line.startswith("$upscope"):
            scope.pop()
        elif line.startswith("$var"):
            parts = line.split()
            if parts[4] == "smt_step" or (len(scope) == 1 and parts[4] in names):
                ids[parts[3]] = parts[4]
        elif line.startswith("b"):
            bits, ident = line[1:].split()
            name = ids.get(ident)
            if name == "smt_step":
                step = int(bits, 2)
                while len(steps) <= step:
                    steps.append(dict(steps[-1]) if steps else {})
            elif name is not None:
                steps[-1][name] = int(re.sub("[xz]", "0", bits), 2)
                dumped = len(steps)
    return steps[:dumped]


def tiles_mix(text, rows, cols):
    """mac_array whose accumulators never restart: a tile's first beat adds to the previous tile's
    partial sum (what a precision switch at a tile boundary must never do)."""
    return _mutate(text, r"(assign \\\$\d+ ) = s2_fresh \? \d+'h0+ : (acc_\d+_\d+);", r"\1 = \2;", rows * cols)
