"""Compositional equivalence proof of `fusion_unit`: level-sized SAT checks plus one exact lemma.

A flat miter (unit vs. a flat sum of products) asks the SAT solver to re-associate a multiplier
or an adder tree, which CDCL cannot do beyond ~8 bits (at MAXB 16 the flat miter never
finished). Here the solver never sees a multiplier. The proof has three parts:

1. **Plan.** `level_plan(w, ea, eb, layout)` says, for a w-bit level whose elements are ea x eb
   bits wide, what each of its four sub-units must receive (which level-bus bit feeds each bit
   of its sub-buses, or None: a bit the sub-unit's own plan never reads; whether its sign inputs
   are the level's or 0) and by how much its result is shifted. Written here from docs/spec.md's
   element slices, not taken from the generator (it calls golden.fusion.level_route; this does
   not). `brick_plan` unrolls it down to the 2-bit bricks; `plan_correction` sums the bricks'
   Baugh-Wooley constants c(sa, sb) at their plan weights (the unit's per-mode constant C).
2. **Lemma (Python, exact).** For every valid mode and signedness, the unrolled plan -- a sum of
   shifted brick values dA*dB - c(sa_s, sb_s), plus C -- equals the flat spec sum_i A_i B_i with
   the layout's element positions. Both sides are bilinear forms in the bus bits plus a constant
   (every term is one a bit times one b bit), and two multilinear polynomials are equal on
   {0,1}^n iff their coefficients are: `check_lemma` compares coefficients exactly. It also
   checks the no-wrap bounds: every brick value is in [0, 16) (its 4-bit output), every level's
   value (its bricks' values at their shifts: each brick between its min and max over its digits)
   is in [0, 2^(2w)) (its unsigned 2w-bit output), and sum_i A_i B_i fits the 2*MAXB+2-bit signed
   p. A wrong plan fails here, so the plan needs no trust.
3. **Level checks (SAT).** Yosys `expose -evert` cuts every sub-unit instance of the generated
   Verilog (its inputs become outputs of the parent, its result a free input), so each module of
   the unit is checked alone against the plan: a brick outputs exactly dA*dB - c(sa, sb)
   (unsigned, 4 bits); a tree level routes its buses and signs as planned and returns
   sum_k q_k << shift_k (modulo 2^(2w), unsigned) for ANY sub-results q_k; BitBlade's bitwise sum
   routes to its bricks and returns sum_s q_s << shift_s mod 2^(2*MAXB); the top passes
   everything to its level and outputs (level.p + C(pa, pb, sa, sb)) mod 2^(2*MAXB+2) for valid
   modes, 0 for invalid ones. Every module instance of the unit's Verilog is checked in one
   miter: sa, sb symbolic; each module with mode inputs instantiated once per valid mode with
   pa, pb tied, so Yosys folds its mode logic away (a case split by mode; one symbolic-mode copy
   took minutes at MAXB 16).

c(sa, sb) is a parameter of the contract, taken from hdl_gen.fusion.brick_correction; soundness
does not depend on where it comes from (the brick check proves the bricks meet it, the lemma and
the top check use the same c). C is computed here from the plan's own bricks, not by
hdl_gen.fusion.correction, so the top check verifies the generator's table.

Why that covers the unit (induction over the levels, bottom-up): a brick outputs its value
dA*dB - c exactly (3). If every sub-unit of a level outputs its plan value V_n exactly for every
input, the level outputs sum_k V_n(routed bits) << shift_k mod 2^(2w) (3) = the level's plan
value V_w, because V_n reads only the bits the level routes as planned (3), and V_w, defined as
that sum, is in [0, 2^(2w)) (2), so the modulo is the identity. At the top,
V_MAXB + C = sum_i A_i B_i on every bus the layout can produce (2), which fits p's 2*MAXB+2 bits
signed (2), so (V_MAXB + C) mod 2^(2*MAXB+2) read as signed is it (3); invalid modes give 0 (3).
"""

import functools
import itertools

from golden.fusion import MINB, PRECISION_BITS, is_valid_mode
from hdl_gen.fusion import brick_correction  # the contract parameter c (module docstring)

LAYOUTS = ("linear", "hierarchical")
SUMMATIONS = ("tree", "bitblade")


def level_plan(w, ea, eb, layout):
    """Four (a_src, b_src, a_signed, b_signed, shift), one per sub-unit k = 2x + y, for a w-bit level
    whose elements are ea x eb bits (ea, eb <= w). a_src[j] is the level-bus bit feeding bit j of the
    sub-unit's a bus (None: the sub-unit's plan never reads it); a_signed: the sub-unit's sa is the
    level's sa (else 0).

    An operand whose elements are w bits wide is *fused*: x (for A) picks its high half (x = 0,
    weight 2^(w/2), keeps the sign) or its low half (unsigned). A narrower operand is *split*: the
    level's P products are dealt to the sub-units in consecutive groups, in the linear layout's
    element order (docs/spec.md: element i at [i*bits +: bits]). In the hierarchical layout sub-unit k
    reads the fixed slice k of each bus; the element digits are placed there by the packer.
    """
    n = w // 2
    fuse_a, fuse_b = ea == w, eb == w
    sub_ea, sub_eb = min(ea, n), min(eb, n)
    count = (w // ea) * (w // eb)                       # products of this level
    groups = (1 if fuse_a else 2) * (1 if fuse_b else 2)
    per = count // groups                               # products of one sub-unit
    sub_width = n * n // 2
    plan = []
    for x in (0, 1):
        for y in (0, 1):
            shift = (n if fuse_a and x == 0 else 0) + (n if fuse_b and y == 0 else 0)
            a_signed, b_signed = not (fuse_a and x == 1), not (fuse_b and y == 1)
            if layout == "hierarchical":
                k = 2 * x + y
                sl = list(range(k * sub_width, (k + 1) * sub_width))
                plan.append((sl, list(sl), a_signed, b_signed, shift))
                continue
            group = (0 if fuse_a else x) * (1 if fuse_b else 2) + (0 if fuse_b else y)
            a_src, b_src = [None] * sub_width, [None] * sub_width
            for j in range(per):
                i = group * per + j                     # the level's product index
                for t in range(sub_ea):
                    a_src[j * sub_ea + t] = i * ea + t + (n if fuse_a and x == 0 else 0)
                for t in range(sub_eb):
                    b_src[j * sub_eb + t] = i * eb + t + (n if fuse_b and y == 0 else 0)
            plan.append((a_src, b_src, a_signed, b_signed, shift))
    return plan


def brick_plan(w, ea, eb, layout, a_pos=None, b_pos=None, nodes=None):
    """The plan unrolled to bricks, in hierarchical order (sub-unit 0's bricks first):
    [(a bits (2), b bits (2), a_signed, b_signed, shift)] with bits as positions on the level's bus.

    `nodes`, if a list, receives (width, bricks) for every level of the recursion (range check)."""
    width = w * w // 2
    a_pos = list(range(width)) if a_pos is None else a_pos
    b_pos = list(range(width)) if b_pos is None else b_pos
    if w == MINB:
        if None in a_pos[:2] + b_pos[:2]:
            raise ValueError("the plan feeds a brick a bit no element occupies")
        return [(tuple(a_pos[:2]), tuple(b_pos[:2]), True, True, 0)]
    bricks = []
    n = w // 2
    for a_src, b_src, a_signed, b_signed, shift in level_plan(w, ea, eb, layout):
        sub_a = [None if j is None else a_pos[j] for j in a_src]
        sub_b = [None if j is None else b_pos[j] for j in b_src]
        for a, b, sa, sb, s in brick_plan(n, min(ea, n), min(eb, n), layout, sub_a, sub_b, nodes):
            bricks.append((a, b, sa and a_signed, sb and b_signed, s + shift))
    if nodes is not None:
        nodes.append((w, bricks))
    return bricks


def element_positions(maxb, pa, pb, layout):
    """(pos_a, pos_b): pos[i][t] = the bus bits holding bit t of element i (several: copies).

    Linear: docs/spec.md's slices. Hierarchical: brick s holds, at bits 2s and 2s+1, the digit the
    linear layout's plan routes to brick s (Bit Fusion's fixed wiring; golden.fusion docstring);
    tests/test_formal.py checks these positions against golden.fusion.pack."""
    ba, bb = PRECISION_BITS[pa], PRECISION_BITS[pb]
    count = (maxb // ba) * (maxb // bb)
    if layout == "linear":
        return ([[[i * ba + t] for t in range(ba)] for i in range(count)],
                [[[i * bb + t] for t in range(bb)] for i in range(count)])
    pos_a = [[[] for _ in range(ba)] for _ in range(count)]
    pos_b = [[[] for _ in range(bb)] for _ in range(count)]
    for s, (a, b, _, _, _) in enumerate(brick_plan(maxb, ba, bb, "linear")):
        for d in range(2):
            pos_a[a[d] // ba][a[d] % ba].append(2 * s + d)
            pos_b[b[d] // bb][b[d] % bb].append(2 * s + d)
    return pos_a, pos_b


def _form_add(form, xa, xb, c):
    if c:
        form[xa, xb] = form.get((xa, xb), 0) + c
        if not form[xa, xb]:
            del form[xa, xb]


def _digits(bits, signed):
    """[(bus bit, weight)] of a two's complement (signed) or unsigned number."""
    return [(q, -(1 << t) if signed and t == len(bits) - 1 else 1 << t) for t, q in enumerate(bits)]


def _digit_values(signed):
    return range(-2, 2) if signed else range(4)


@functools.lru_cache(maxsize=None)
def brick_range(sa, sb):
    """(min, max) of a brick's value dA*dB - c(sa, sb) over its digits (sa, sb: its sign flags)."""
    values = [da * db - brick_correction(sa, sb) for da in _digit_values(sa) for db in _digit_values(sb)]
    return min(values), max(values)


def plan_correction(bricks, sa, sb):
    """C: sum over the bricks of c(their sign flags) at their shift (the unit adds it once)."""
    return sum(brick_correction(int(sa and a_signed), int(sb and b_signed)) << shift
               for _, _, a_signed, b_signed, shift in bricks)


def bricks_form(bricks, sa, sb, var_a=lambda q: q, var_b=lambda q: q):
    """{(a var, b var): coefficient} of sum_s (dA_s dB_s - c_s) 2^shift_s; the constant at (None, None)."""
    form = {}
    for a, b, a_signed, b_signed, shift in bricks:
        for qa, wa in _digits(a, sa and a_signed):
            for qb, wb in _digits(b, sb and b_signed):
                _form_add(form, var_a(qa), var_b(qb), wa * wb << shift)
        _form_add(form, None, None, -brick_correction(int(sa and a_signed), int(sb and b_signed)) << shift)
    return form


def flat_form(pos_a, pos_b, sa, sb):
    """Bilinear form of sum_i A_i B_i over element bits (i, t)."""
    form = {}
    for i, (ea, eb) in enumerate(zip(pos_a, pos_b)):
        for (t, _), wa in _digits(list(enumerate(ea)), sa):
            for (u, _), wb in _digits(list(enumerate(eb)), sb):
                _form_add(form, (i, t), (i, u), wa * wb)
    return form


def check_lemma(maxb, layout):
    """Part 2 of the proof for every valid mode and (sa, sb); returns the number of checked
    (mode, signedness) cases or raises AssertionError naming the first failure."""
    for sa, sb in itertools.product((0, 1), repeat=2):  # a brick's value fits its unsigned 4-bit output
        lo, hi = brick_range(sa, sb)
        assert 0 <= lo and hi < 1 << 2 * MINB, f"brick s{sa}{sb}: dA*dB - c in [{lo}, {hi}], not in [0, 16)"
    cases = 0
    for pa in range(len(PRECISION_BITS)):
        for pb in range(len(PRECISION_BITS)):
            if not is_valid_mode(pa, pb, maxb):
                continue
            pos_a, pos_b = element_positions(maxb, pa, pb, layout)
            # Each bus bit an element occupies -> that element bit (copies agree on well-formed buses).
            elem_a = {q: (i, t) for i, e in enumerate(pos_a) for t, qs in enumerate(e) for q in qs}
            elem_b = {q: (i, t) for i, e in enumerate(pos_b) for t, qs in enumerate(e) for q in qs}
            nodes = []
            bricks = brick_plan(maxb, PRECISION_BITS[pa], PRECISION_BITS[pb], layout, nodes=nodes)
            for sa in (0, 1):
                for sb in (0, 1):
                    unknown = [q for a, b, *_ in bricks for q in a if q not in elem_a]
                    unknown += [q for a, b, *_ in bricks for q in b if q not in elem_b]
                    assert not unknown, f"mode ({pa}, {pb}): bricks read bus bits no element occupies: {unknown}"
                    got = bricks_form(bricks, sa, sb, elem_a.__getitem__, elem_b.__getitem__)
                    _form_add(got, None, None, plan_correction(bricks, sa, sb))
                    flat = flat_form(pos_a, pos_b, sa, sb)
                    assert got == flat, f"{layout} MAXB {maxb} mode ({pa}, {pb}) s{sa}{sb}: plan + C != sum_i A_i B_i"
                    # sum_i A_i B_i fits p (2*maxb+2 bits signed): each term is a coefficient times 0 or 1.
                    lo, hi = sum(c for c in flat.values() if c < 0), sum(c for c in flat.values() if c > 0)
                    assert -(1 << 2 * maxb + 1) <= lo and hi < 1 << 2 * maxb + 1, \
                        f"{layout} mode ({pa}, {pb}) s{sa}{sb}: sum_i A_i B_i can exceed p's width"
                    for w, sub in nodes:  # every level's value fits its unsigned 2w-bit output
                        ranges = [(brick_range(int(sa and a_s), int(sb and b_s)), shift)
                                  for _, _, a_s, b_s, shift in sub]
                        lo, hi = sum(r[0] << s for r, s in ranges), sum(r[1] << s for r, s in ranges)
                        assert 0 <= lo and hi < 1 << 2 * w, \
                            f"{layout} mode ({pa}, {pb}) s{sa}{sb}: a {w}-bit level's value can leave [0, 2^{2 * w})"
                    cases += 1
    return cases


# ---------------------------------------------------------------------------------------------
# Part 3: the miter over the everted modules.

def _clean(port):
    """Amaranth's port names carry $N suffixes (a$3, u0__p$30); the plan speaks of a, u0__p."""
    return port.split("$")[0] if "$" in port else port


def _role(module, maxb, summation):
    """("top" | "level" | "bitwise" | "brick", level width) of a module of the unit's Verilog."""
    parts = module.split(".")
    if parts == ["fusion_unit"]:
        return "top", maxb
    if summation == "bitblade":
        return ("bitwise", maxb) if len(parts) == 2 else ("brick", MINB)
    w = maxb >> (len(parts) - 2)
    return ("brick" if w == MINB else "level"), w


def _vec(bits, bus):
    """Verilog concatenation of bus bits (None -> 0), MSB first, and its care mask."""
    value = ", ".join("1'b0" if q is None else f"{bus}[{q}]" for q in reversed(bits))
    mask = "".join("0" if q is None else "1" for q in reversed(bits))
    return f"{{{value}}}", f"{len(bits)}'b{mask}"


def _modes(maxb):
    return [(pa, pb) for pa in range(4) for pb in range(4) if is_valid_mode(pa, pb, maxb)]


def miter_verilog(ports, maxb, layout, summation, split=False):
    """Verilog of `compose_miter`: every module of the everted unit, each with free inputs and the
    assertions of its role. `ports`: {module: {port: (direction, width)}} (Yosys write_json).
    `split`: a module with mode inputs is instantiated once per valid mode with pa, pb tied to it
    (Yosys folds its mode logic away, and the solver sees no mode), else once with free pa, pb."""
    decl, body, inputs = [], [], []
    for idx, (module, mports) in enumerate(sorted(ports.items())):
        role, w = _role(module, maxb, summation)
        copies = [(f"m{idx}_{pa}{pb}", [(pa, pb)]) for pa, pb in _modes(maxb)] \
            if split and role in ("level", "bitwise") else [(f"m{idx}", _modes(maxb))]
        for prefix, modes in copies:
            v, conns = {}, []
            for port, (direction, width) in sorted(mports.items()):
                name = v[_clean(port)] = f"{prefix}_{_clean(port)}"
                if direction == "input" and len(modes) == 1 and _clean(port) in ("pa", "pb"):
                    decl.append(f"  wire [{width - 1}:0] {name} = 2'd{modes[0][_clean(port) == 'pb']};")
                elif direction == "input":
                    inputs.append((name, width))
                else:
                    decl.append(f"  wire [{width - 1}:0] {name};")
                conns.append(f".\\{port} ({name})")
            body.append(f"  \\{module} {prefix}_i ({', '.join(conns)});")
            body += _checks(role, w, maxb, layout, v, prefix, modes)
    header = ", ".join(f"input [{width - 1}:0] {name}" for name, width in inputs)
    return "\n".join([f"// Generated by formal/compose.py: compositional checks of fusion_unit ({layout}, "
                      f"{summation}, MAXB {maxb}), every module instance cut from its sub-units.",
                      f"module compose_miter({header});", *decl, *body, "endmodule", ""])


def _balanced(terms):
    while len(terms) > 1:
        terms = [f"({terms[i]} + {terms[i + 1]})" if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


def _weighted_sum(prefix, shifts, groups=None, zero="0"):
    """sum_k x_k << shifts[k]: a balanced sum in index order (a tree level), or, given `groups`
    ({shift: term indices}, every mode's terms of that shift), each group summed first (terms of
    another shift in this mode count 0) and shifted once (a bitwise summation). Every order is the
    same integer; these are the units' own orders, which spares the solver re-associating adders
    (what makes the flat miters slow)."""
    if groups is None:
        return _balanced([f"(x{prefix}_{k} << {s})" for k, s in enumerate(shifts)])
    return " + ".join(f"({_balanced([f'x{prefix}_{k}' if shifts[k] == s else zero for k in groups[s]])} << {s})"
                      for s in sorted(groups))


def _checks(role, w, maxb, layout, v, prefix, modes):
    out = []
    if role == "brick":  # p (4 bits, unsigned) is exactly dA*dB - c(sa, sb): compared in 6 bits signed
        out.append(f"  always @* case ({{{v['sa']}, {v['sb']}}})")
        for sa, sb in itertools.product((0, 1), repeat=2):
            c = brick_correction(sa, sb)
            da, db = (f"$signed({{{v['s' + x]} & {v[x]}[1], {v[x]}}})" for x in ("a", "b"))
            out.append(f"    2'd{2 * sa + sb}: assert($signed({{2'b00, {v['p']}}}) == {da} * {db}"
                       f" {'+' if c <= 0 else '-'} 6'sd{abs(c)});")
        out.append("  endcase")
        return out
    if role == "top":  # p = (level.p + C) mod 2^(2*maxb+2) in valid modes, else 0
        pw = 2 * maxb + 2
        out.append(f"  always @* begin")
        for port in ("a", "b", "pa", "pb", "sa", "sb"):
            out.append(f"    assert({v['level__' + port]} == {v[port]});")
        out.append(f"    case ({{{v['pa']}, {v['pb']}, {v['sa']}, {v['sb']}}})")
        for pa, pb in modes:
            bricks = brick_plan(maxb, PRECISION_BITS[pa], PRECISION_BITS[pb], layout)
            for sa, sb in itertools.product((0, 1), repeat=2):
                corr = plan_correction(bricks, sa, sb) % (1 << pw)
                out.append(f"      6'd{pa << 4 | pb << 2 | sa << 1 | sb}: "
                           f"assert({v['p']} == {v['level__p']} + {pw}'d{corr});")
        out.append(f"      default: assert({v['p']} == {pw}'d0);")
        out += ["    endcase", "  end"]
        return out
    pw = 2 * w
    if role == "level":
        subs = [f"u{k}" for k in range(4)]
        plans = {md: level_plan(w, min(PRECISION_BITS[md[0]], w), min(PRECISION_BITS[md[1]], w), layout)
                 for md in modes}
        sub_is_level = w // 2 > MINB
    else:  # bitwise: one "sub-unit" per brick, the plan unrolled
        subs = [f"b{s}" for s in range(maxb * maxb // 4)]
        plans = {md: brick_plan(maxb, PRECISION_BITS[md[0]], PRECISION_BITS[md[1]], layout) for md in modes}
        sub_is_level = False
    groups = None
    if role == "bitwise":  # {shift: bricks with that shift in some valid mode}, in brick order
        groups = {}
        every = [brick_plan(maxb, PRECISION_BITS[pa], PRECISION_BITS[pb], layout) for pa, pb in _modes(maxb)]
        for k in range(len(subs)):
            for shift in sorted({plan[k][4] for plan in every}):
                groups.setdefault(shift, []).append(k)
    # Sub-results zero-extended: unsigned values (Baugh-Wooley bricks, module docstring).
    out.append(f"  wire [{pw - 1}:0] " + ", ".join(f"x{prefix}_{k}" for k in range(len(subs))) + ";")
    out += [f"  assign x{prefix}_{k} = {v[s + '__p']};" for k, s in enumerate(subs)]
    out.append(f"  always @* begin")
    out.append(f"    case ({{{v['pa']}, {v['pb']}}})")
    for (pa, pb), plan in plans.items():
        out.append(f"      4'd{pa * 4 + pb}: begin")
        for k, (a_src, b_src, a_signed, b_signed, shift) in enumerate(plan):
            s = subs[k]
            for side, src, signed in (("a", a_src, a_signed), ("b", b_src, b_signed)):
                value, mask = _vec(list(src), v[side])
                out.append(f"        assert(({v[s + '__' + side]} & {mask}) == ({value} & {mask}));")
                out.append(f"        assert({v[s + '__s' + side]} == " + (v["s" + side] if signed else "1'b0") + ");")
            if sub_is_level:
                out.append(f"        assert({v[s + '__pa']} == {v['pa']} && {v[s + '__pb']} == {v['pb']});")
        total = _weighted_sum(prefix, [k[4] for k in plan], groups, f"{pw}'d0")
        out.append(f"        assert({v['p']} == {pw}'d0 + {total});")
        out.append("      end")
    out += ["      default: ;", "    endcase", "  end"]
    return out
