"""The numbers of `mac_array`: every output word is its tile's sum of products, mod 2^ACCW.

Claim (port level, `mac_array_data` below): for every input stream -- any mix of precision codes
(valid or not) and signedness per beat, `first` / `last` framing (a `first` inside an open tile
abandons it), gaps, `out_ready` backpressure, `clear` and `rst` at any cycle -- each output beat
(row r of a tile) carries, in column c, sum over the tile's beats k of dot(A_k[r], B_k[c], mode_k)
mod 2^ACCW, where dot is the spec's packed dot product of the PE (docs/spec.md, "MAC array":
fusion PEs sum_i A_i B_i over the lanes' elements, 0 for an invalid code; fixed PEs one MAXB x
MAXB product, 0 unless the mode is MAXB x MAXB). In addition, the input is never held unless two
finished tiles wait on the output port: a precision switch at a tile boundary costs no bubble,
and (the claim above, per tile) the next tile's first beat never mixes with the previous tile.

The reference is written here from the spec, not taken from golden/: the reference products of
each accepted beat (`fusion_ref`, formal/fusion_ref.py: one Verilog `*` per element pair of the
lanes, 0 for an invalid code; fixed PEs one `*`) are registered with the beat (`lp`); in the
next cycle a shadow accumulator per (r, c) adds them -- starting over if the beat opened a tile
-- and on `last` appends the tile to a queue of finished tiles; each output beat is compared with
the queue's head, which is dropped on the tile's last row. (Adding one cycle after acceptance is
still before any result can leave the array, and lets each beat's product enter the proof once,
as the register lp: the solver never relates two copies of a product (adding at acceptance made
it do so, several times slower; a flat data proof of the array would relate multipliers too).)

Composition (why a cut PE proves the whole). The PE instances are cut out of the generated
Verilog (formal/cut.py): their inputs are observed, their outputs `pe_r_c__p` are free inputs of
the proof. With the last accepted beat's lanes, mode and lp stored in the wrapper,
  (routing, asserted) while s1 holds a beat, PE (r, c) reads exactly that beat's lane r, lane c
      and mode (fixed PEs: A = 0 for an invalid mode, which is how the array makes it contribute 0);
  (contract, assumed) while s1 holds a beat, PE (r, c) outputs lp_r_c.
In the real array PE (r, c) outputs f(its inputs), f the unit's function, which the unit's own
proofs show equal to the reference on every input (fusion, linear layout: compose_linear_* with
lemma_linear_*, p == sum_i A_i B_i; fixed: fixed_mul_8). So whenever the routing assertion holds,
the real PE output is f(the beat's lanes) = reference(the beat's lanes) = lp: the assumption is
true of the real design. It constrains only the free cut outputs, so it never excludes an input
stream, and the routing assertion at a cycle does not depend on that cycle's PE output; by
induction over the cycles every real trace satisfies the assumption, hence every proven assertion.

Layouts. The array is generated with linear tree PEs. Cut, its Verilog is the same text for every
layout and summation (tests/test_formal.py checks it), so the accumulation, framing and routing
proven here are those of every variant. For hierarchical PEs the numbers follow the same way with
their own function (the brick sum compose_hierarchical_* proves) in place of fusion_ref: the
proof never looks inside the reference, whose value enters once per beat as lp. That instance is
argued, not run.

Induction (1-inductive). Port claims alone are not inductive (without the invariants the step
fails at once); the auxiliary invariants (over registers exposed by Yosys `expose`, as in
formal/streams.py) fold the pipeline: after the beat in s2 commits (t2 = (s2_fresh ? 0 : acc) + p)
and the beat in s1 (t1 = (s1_fresh ? 0 : v1) + lp), the open tile's sum equals the shadow
accumulator; the finished tiles -- the shadow bank (while `out_valid`), t2 (s2 holds a `last`
beat), t1 (s1 does, once added) -- are the queue, in that order. `acc_live` (acc holds the open
tile's committed sum) says when a non-fresh beat may follow.
"""

import functools

from golden.mac_array import lane_bits, valid_modes

# Internal registers the invariants read (named in hdl_gen/mac_array.py).
PIPELINE = ("s1_valid", "s1_last", "s1_fresh", "s2_valid", "s2_last", "s2_fresh", "tile_open")
QUEUE = 3  # finished tiles in flight at most: s1, s2 and the shadow bank


def data_internals(rows, cols):
    """The registers of `mac_array` the data wrapper reads (made ports by Yosys `expose`)."""
    per_pe = [f"{reg}_{r}_{c}" for reg in ("acc", "p", "shadow") for r in range(rows) for c in range(cols)]
    return PIPELINE + tuple(per_pe)


def pe_ports(pe):
    """The PE's ports seen from the array: inputs (observed) and the output p (free)."""
    return ("a", "b", "pa", "pb", "sa", "sb") if pe == "fusion" else ("a", "b", "sa", "sb")


def _rc(rows, cols):
    return [(r, c) for r in range(rows) for c in range(cols)]


def _reference_products(rows, cols, pe, lane, pw, mode_ok):
    """Verilog: prod_r_c, the spec's product of the beat on the input port for PE (r, c)."""
    out = []
    for r, c in _rc(rows, cols):
        a, b = f"in_a[{r * lane} +: {lane}]", f"in_b[{c * lane} +: {lane}]"
        out.append(f"  wire signed [{pw - 1}:0] prod_{r}_{c};")
        if pe == "fusion":
            out.append(f"  fusion_ref ref_{r}_{c}(.a({a}), .b({b}), .pa(in_pa), .pb(in_pb), .sa(in_sa), .sb(in_sb),"
                       f" .p(prod_{r}_{c}), .well_formed());")
        else:  # one MAXB x MAXB product, two's complement per sa / sb; an invalid mode adds 0
            top_a, top_b = f"in_a[{r * lane + lane - 1}]", f"in_b[{c * lane + lane - 1}]"
            out.append(f"  assign prod_{r}_{c} = ({mode_ok}) ? $signed({{in_sa & {top_a}, {a}}})"
                       f" * $signed({{in_sb & {top_b}, {b}}}) : {pw}'sd0;")
    return out


def mac_array_data_wrapper(rows, cols, maxb, accw, pe="fusion", invariants=True):
    """SystemVerilog of `mac_array_data`, the data property of one cut mac_array configuration.

    `invariants=False` leaves out the auxiliary invariants: only the port claims and the routing
    check remain (a mutant's BMC trace then ends at the first wrong output word)."""
    lane, pw, rb = lane_bits(maxb, pe), 2 * maxb + 2, max(1, (rows - 1).bit_length())
    rc = _rc(rows, cols)
    mode_ok = " || ".join(f"(in_pa == 2'd{pa} && in_pb == 2'd{pb})" for pa, pb in valid_modes(maxb, pe))
    lmode_ok = mode_ok.replace("in_pa", "l_pa").replace("in_pb", "l_pb")
    sext = (lambda x: f"{{{{{accw - pw}{{{x}[{pw - 1}]}}}}, {x}}}") if accw > pw else (lambda x: x)
    ports = pe_ports(pe)
    widths = {"a": lane, "b": lane, "pa": 2, "pb": 2, "sa": 1, "sb": 1}
    free = ", ".join(f"input [{pw - 1}:0] pe_{r}_{c}__p" for r, c in rc)
    internals = data_internals(rows, cols)
    conns = [f".{p}({p})" for p in ("clk", "rst", "in_valid", "in_ready", "in_a", "in_b", "in_pa", "in_pb", "in_sa",
                                    "in_sb", "in_first", "in_last", "out_valid", "out_ready", "out_data", "out_row",
                                    "out_last", "clear")]
    conns += [f".pe_{r}_{c}__{p}(pe_{r}_{c}__{p})" for r, c in rc for p in ports + ("p",)]
    conns += [f".{w}({w})" for w in internals]
    lines = [
        f"// Generated by formal/array_data.py: data property of mac_array {rows}x{cols}, pe={pe}, MAXB {maxb}, "
        f"ACCW {accw}, PEs cut.",
        f"module mac_array_data(input clk, input rst, input in_valid, input [{rows * lane - 1}:0] in_a,",
        f"    input [{cols * lane - 1}:0] in_b, input [1:0] in_pa, input [1:0] in_pb, input in_sa, input in_sb,",
        f"    input in_first, input in_last, input out_ready, input clear, {free});",
        "  wire in_ready, out_valid, out_last;",
        f"  wire [{cols * accw - 1}:0] out_data;",
        f"  wire [{rb - 1}:0] out_row;",
        f"  wire {', '.join(PIPELINE)};",
        *[f"  wire [{widths[p] - 1}:0] pe_{r}_{c}__{p};" for r, c in rc for p in ports],
        *[f"  wire [{(pw if w.startswith('p_') else accw) - 1}:0] {w};" for w in internals[len(PIPELINE):]],
        f"  mac_array dut({', '.join(conns)});",
        "",
        "  wire accept = in_valid && in_ready;",
        "  wire out_fire = out_valid && out_ready;",
        "  reg c_open = 0;                 // a tile is open (its last beat not yet accepted)",
        "  wire fresh = in_first || !c_open;  // this beat starts a tile",
        *_reference_products(rows, cols, pe, lane, pw, mode_ok),
        "",
        "  // The beat accepted last (s1 holds it) and its reference products, registered at acceptance.",
        "  reg nb = 0;  // that beat is not yet added to the accumulators below (accepted in the last cycle)",
        "  reg [1:0] l_pa, l_pb;",
        "  reg l_sa, l_sb, l_fresh, l_last;",
        *[f"  reg [{lane - 1}:0] l_a{r};" for r in range(rows)],
        *[f"  reg [{lane - 1}:0] l_b{c};" for c in range(cols)],
        *[f"  reg [{pw - 1}:0] lp_{r}_{c};" for r, c in rc],
        "  always @(posedge clk) begin",
        "    nb <= accept && !rst;",
        "    if (accept) begin",
        "      l_pa <= in_pa; l_pb <= in_pb; l_sa <= in_sa; l_sb <= in_sb; l_fresh <= fresh; l_last <= in_last;",
        *[f"      l_a{r} <= in_a[{r * lane} +: {lane}];" for r in range(rows)],
        *[f"      l_b{c} <= in_b[{c * lane} +: {lane}];" for c in range(cols)],
        *[f"      lp_{r}_{c} <= prod_{r}_{c};" for r, c in rc],
        "    end",
        "  end",
        "",
        "  // The spec's accumulators: the open tile's sum, and the finished tiles not yet emitted (q0 first,",
        "  // qn of them). The registered beat is added one cycle after its acceptance: its product enters",
        "  // the proof once, as lp (module docstring).",
        "  reg [1:0] pending = 0;  // tiles whose last beat was accepted and that are not yet emitted",
        "  reg [1:0] qn = 0;",
        f"  reg [{rb - 1}:0] exp_row = 0;",
    ]
    for r, c in rc:
        lines += [f"  reg [{accw - 1}:0] racc_{r}_{c}, " + ", ".join(f"q{i}_{r}_{c}" for i in range(QUEUE)) + ";",
                  f"  wire [{accw - 1}:0] tsum_{r}_{c} = (l_fresh ? {accw}'d0 : racc_{r}_{c}) + {sext(f'lp_{r}_{c}')};"]
    lines += [
        "  wire push = nb && l_last;",
        "  wire pop = out_fire && out_last;",
        "  wire [1:0] tail = qn - pop;  // the slot a pushed tile goes to",
        "  always @(posedge clk) begin",
        "    if (rst) begin",
        "      c_open <= 0; pending <= 0; qn <= 0; exp_row <= 0;",
        "    end else begin",
        "      if (accept) c_open <= !in_last;",
        "      pending <= pending + (accept && in_last) - pop;",
        "      qn <= qn + push - pop;",
        "      if (out_fire) exp_row <= out_last ? 0 : exp_row + 1;",
        "    end",
    ]
    for r, c in rc:
        lines.append(f"    if (nb && !l_last) racc_{r}_{c} <= tsum_{r}_{c};")
        for i in range(QUEUE):
            shifted = f"q{i + 1}_{r}_{c}" if i + 1 < QUEUE else f"q{i}_{r}_{c}"
            lines.append(f"    q{i}_{r}_{c} <= (push && tail == {i}) ? tsum_{r}_{c} : pop ? {shifted} : q{i}_{r}_{c};")
    lines += ["  end", ""]
    # Contract of the cut PEs.
    lines += ["  always @(*) if (s1_valid) begin"]
    for r, c in rc:
        a = f"l_a{r}" if pe == "fusion" else f"(({lmode_ok}) ? l_a{r} : {lane}'d0)"
        expect = {"a": a, "b": f"l_b{c}", "pa": "l_pa", "pb": "l_pb", "sa": "l_sa", "sb": "l_sb"}
        lines.append(f"    assume(pe_{r}_{c}__p == lp_{r}_{c});  // the PE's proven contract")
        lines.append("    assert(" + " && ".join(f"pe_{r}_{c}__{p} == {expect[p]}" for p in ports) + ");  // routing")
    lines += ["  end", ""]
    # Port claims.
    lines += ["  always @(*) begin",
              "    // Every output word is its tile's sum; rows in order.",
              f"    assert(out_row == exp_row && exp_row <= {rows - 1});",
              "    if (out_valid) begin",
              "      assert(pending != 0);",
              "      case (out_row)"]
    for r in range(rows):
        words = " && ".join(f"out_data[{c * accw} +: {accw}] == q0_{r}_{c}" for c in range(cols))
        lines.append(f"        {rb}'d{r}: assert({words});")
    lines += ["        default: assert(0);", "      endcase", "    end",
              "    // No bubble: the input waits only while two finished tiles wait on the output.",
              "    if (!in_ready) assert(pending >= 2);",
              "  end"]
    if invariants:
        lines += _invariants(rows, cols, accw, sext)
    lines += ["endmodule", ""]
    return "\n".join(lines)


def _invariants(rows, cols, accw, sext):
    rc = _rc(rows, cols)
    out = ["", "  // Auxiliary invariants (module docstring): the pipeline folded onto the accumulators.",
           "  reg acc_live = 0;  // acc holds the open tile's committed sum",
           "  always @(posedge clk)",
           "    if (rst) acc_live <= 0;",
           "    else if (s2_valid && in_ready) acc_live <= !s2_last;"]
    for r, c in rc:
        out += [f"  wire [{accw - 1}:0] t2_{r}_{c} = (s2_fresh ? {accw}'d0 : acc_{r}_{c}) + {sext(f'p_{r}_{c}')};",
                f"  wire [{accw - 1}:0] v1_{r}_{c} = s2_valid ? t2_{r}_{c} : acc_{r}_{c};",
                f"  wire [{accw - 1}:0] t1_{r}_{c} = (s1_fresh ? {accw}'d0 : v1_{r}_{c}) + {sext(f'lp_{r}_{c}')};",
                f"  wire [{accw - 1}:0] v2_{r}_{c} = s1_valid ? t1_{r}_{c} : v1_{r}_{c};"]
    out += ["  wire e0 = out_valid, e2 = s2_valid && s2_last, e1 = s1_valid && s1_last && !nb;",
            "  always @(*) begin",
            "    assert(tile_open == c_open);",
            "    assert(pending == qn + push);",
            "    assert(qn == e0 + e2 + e1);",
            "    assert(c_open == (s1_valid ? !s1_last : s2_valid ? !s2_last : acc_live));",
            "    if (nb) assert(s1_valid);",
            "    if (s1_valid) assert(s1_fresh == l_fresh && s1_last == l_last);",
            "    if (s2_valid && !s2_fresh) assert(acc_live);",
            "    if (s1_valid && !s1_fresh) assert(s2_valid ? !s2_last : acc_live);"]
    for r, c in rc:
        out.append(f"    if (c_open && !nb) assert(racc_{r}_{c} == v2_{r}_{c});")
        out.append(f"    if (nb && !l_fresh) assert(racc_{r}_{c} == v1_{r}_{c});")
    # The queue is the finished tiles in pipeline order: shadow (e0), t2 (e2), t1 (e1, once added).
    out.append("    case ({e0, e2, e1})")
    for present in range(8):
        entries = [name for bit, name in zip((4, 2, 1), ("shadow", "t2", "t1")) if present & bit]
        checks = [f"q{i}_{r}_{c} == {name}_{r}_{c}" for i, name in enumerate(entries) for r, c in rc]
        out.append(f"      3'd{present}: assert({' && '.join(checks) or '1'});")
    out += ["    endcase", "  end"]
    return out


@functools.lru_cache(maxsize=None)
def cut_array_verilog(rows, cols, maxb, accw, cntw, pe="fusion", layout="linear", summation="tree"):
    """The generated mac_array with its PEs cut (formal/cut.py). The proofs use the linear tree PEs;
    the cut text is the same for every layout and summation (module docstring)."""
    from hdl_gen.mac_array import MacArray
    from hdl_gen.rtl import to_verilog

    from .cut import cut_instances
    array = MacArray(rows=rows, cols=cols, maxb=maxb, accw=accw, pe=pe, cntw=cntw, layout=layout, summation=summation)
    return cut_instances(to_verilog(array, "mac_array"), "mac_array", r"pe_\d+_\d+")[0]


def data_sources(rows, cols, maxb, accw, cntw, pe="fusion", invariants=True, mutate=None):
    """() -> {file: text}: the cut array (optionally mutated: text -> text), the reference, the wrapper."""
    def build():
        from .fusion_ref import reference_verilog
        text = cut_array_verilog(rows, cols, maxb, accw, cntw, pe)
        files = {"dut.v": mutate(text) if mutate else text}
        if pe == "fusion":
            files["ref.v"] = reference_verilog(maxb)
        files["props.sv"] = mac_array_data_wrapper(rows, cols, maxb, accw, pe, invariants)
        return files
    return build
