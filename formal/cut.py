"""Cut sub-unit instances out of generated Verilog: their inputs become outputs of the parent, their
outputs free inputs of it (what Yosys `expose -evert` does, here on the Verilog text).

A proof of the parent with a sub-unit cut holds for ANY value the sub-unit could output; the
property wrapper then constrains those free values by the sub-unit's proven contract (an
assumption over the new input ports), so the sub-unit's internals never reach the solver. Amaranth
emits one module per instance (`\\<top>.<instance>`, its sub-units `\\<top>.<instance>.<...>`);
the cut removes those definitions with the instance.
"""

import re

_MODULE = re.compile(r"(?:^\(\*[^\n]*\*\)\n)*^module ([^\s(]+) ?\((.*?)\);\n(.*?)^endmodule\n\n?", re.S | re.M)
_PORT = re.compile(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\S+)\s*;", re.M)


def _modules(verilog):
    return {m.group(1): m for m in _MODULE.finditer(verilog)}


def port_widths(verilog, module):
    """{port: (direction, width)} of `module` in the Verilog text."""
    body = _modules(verilog)[module].group(3)
    return {name: (direction, int(msb) + 1 if msb else 1) for direction, msb, name in _PORT.findall(body)}


def cut_instances(verilog, top, instance):
    """The Verilog text with every instance in module `top` whose name matches the regular
    expression `instance` (whole name) removed: sub-unit input `x` of instance `i` becomes the
    output port `i__x` of `top`, sub-unit output `y` the input port `i__y`. Returns
    (text, {instance: {port: (direction seen by the sub-unit, width)}})."""
    modules = _modules(verilog)
    header, body = modules[top].group(2), modules[top].group(3)
    inst_re = re.compile(r"^  (\\\S+)\s+(" + instance + r") \(\n(.*?)^  \);\n", re.S | re.M)
    cut, ports, decls = [], [], []
    for m in inst_re.finditer(body):
        kind, name, conns = m.group(1), m.group(2), m.group(3)
        widths = port_widths(verilog, kind)
        cut.append((kind, name, widths))
        for port, expr in re.findall(r"^\s*\.(\S+?)\((.*?)\),?$", conns, re.M):
            direction, width = widths[port]
            new = f"{name}__{port}"
            rng = f"[{width - 1}:0] " if width > 1 else ""
            ports.append(new)
            if direction == "input":
                decls += [f"  output {rng}{new};", f"  assign {new} = {expr};"]
            else:
                decls += [f"  input {rng}{new};", f"  assign {expr} = {new};"]
    if not cut:
        raise ValueError(f"no instance of {top} matches {instance!r}")
    new_body = inst_re.sub("", body) + "\n".join(decls) + "\n"
    text = verilog.replace(modules[top].group(0),
                           modules[top].group(0).replace(f"({header});\n{body}",
                                                         f"({', '.join(ports)}, {header});\n{new_body}", 1), 1)
    kinds = {kind for kind, _, _ in cut}
    for name, m in _modules(text).items():
        if any(name == k or name.startswith(k + ".") for k in kinds):
            text = text.replace(m.group(0), "", 1)
    return text, {name: widths for _, name, widths in cut}
