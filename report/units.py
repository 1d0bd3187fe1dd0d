"""The unit table of README's `report:units` block: each default unit's ports, latency and
throughput (from its generator and docs/spec.md, "Hardware units") beside the area and Fmax
that `make synth` measured (ppa.json)."""

from amaranth.hdl import Shape

from golden.fp16_accumulator import latency as mac_latency
from golden.mac_array import pe_products, valid_modes
from golden.mac_array_axi import beat_words
from golden.mx_dot import ADD_STAGES, latency as mx_latency
from hdl_gen.rtl import DEFAULTS
from synth.report import table as md_table

__all__ = ["ports", "timing", "table"]

MAX_LISTED = 8  # ports of one direction listed by name; more are counted


def ports(component, clocked):
    """'in a[32] b[32] ...; out p[18]' from the component's signature (clk and rst of the sync
    domain first when `clocked`); a direction with more than MAX_LISTED ports is summarized as
    'N in (B bits)'."""
    sides = {"In": [], "Out": []}
    for name, member in component.signature.members.items():
        width = Shape.cast(member.shape).width
        sides[member.flow.name].append((name, width))
    parts = []
    for flow, label in (("In", "in"), ("Out", "out")):
        items = sides[flow]
        if len(items) > MAX_LISTED:
            parts.append(f"{len(items)} {label} ({sum(w for _, w in items)} bits)")
        elif items:
            parts.append(f"{label} " + " ".join(n if w == 1 else f"{n}[{w}]" for n, w in items))
    return ("clk rst; " if clocked else "") + "; ".join(parts)


def _max_products(params):
    maxb, pe = params.get("maxb", 8), params.get("pe", "fusion")
    return max(pe_products(pa, pb, maxb, pe) for pa, pb in valid_modes(maxb, pe))


def timing(family, params, clocked):
    """(latency, throughput) of a unit, from docs/spec.md "Hardware units" and its parameters."""
    if family in ("hybrid_mac", "fp8_mac", "fp16_mac"):
        return f"{mac_latency(family, front=params.get('front'), chains=params.get('chains'))} cycles", f"{params['lanes']} MACs/cycle"
    if family == "mx_dot":
        sustained = min(params["lanes"], params["block"] // ADD_STAGES)
        return f"{mx_latency()} cycles", f"{sustained} MACs/cycle ({params['block']}-element blocks)"
    if family in ("mac_array", "mac_array_fixed8"):
        macs = params["rows"] * params["cols"] * _max_products(params)
        return f"{params['rows'] + 2} cycles", f"up to {macs} MACs/cycle"
    if family == "mac_array_axi":
        words = beat_words(params["rows"], params["cols"], params.get("maxb", 8), params.get("pe", "fusion"),
                           params["data_width"])
        return "", f"1 array beat per {words} stream words"
    if family == "gradscale_unit":
        lanes = params['lanes']
        return "1 cycle after a tensor's last beat", f"{lanes} FP16 value{'s' if lanes > 1 else ''}/cycle"
    if family == "lfsr16":
        return "", f"1 word ({params['steps']} steps)/cycle"
    if family == "fusion_unit":
        return "combinational", f"1 dot product of up to {_max_products(params)} MACs"
    if family == "fixed_mul":
        return "combinational", "1 MAC"
    if not clocked:
        return "combinational", "1 result per evaluation"
    return "", ""


def table(ppa):
    """Markdown table of every default unit (hdl_gen.rtl.DEFAULTS) that ppa.json measured."""
    rows = []
    for name, factory in DEFAULTS.items():
        u = ppa["units"].get(name)
        if u is None:
            continue
        clocked = u["sequential_cells"] > 0
        latency, throughput = timing(name, u["params"], clocked)
        rows.append([f"`{name}`", ports(factory(), clocked), latency, throughput, float(u["area_um2"]),
                     u["timing"]["fmax_mhz"]])
    return md_table(["unit", "ports", "latency", "throughput", "area (um^2)", "Fmax (MHz)"], rows)

