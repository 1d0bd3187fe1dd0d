"""The fast formal proofs (`python -m formal --fast`) and the demonstration that a proof fails.

Each proof runs Yosys + smtbmc + yices (formal/__main__.py). The slow ones (the compositional
proofs at MAXB 16 and of the bitblade summation, fixed_mul, the mac_array data proofs at MAXB 16
and 3x2) run in `make formal` only; the flat end-to-end miters with `--flat`; times are in
build/formal/results.json. The mac_array mutants' counterexamples are replayed through
golden.mac_array here.
"""

import functools
import json

import numpy as np
import pytest

from formal.__main__ import OUT, main, proofs, run
from formal.array_data import cut_array_verilog
from formal.compose import element_positions, level_plan
from formal.cut import cut_instances
from formal.fusion_ref import layout_table
from formal.mutation import MUTATED_MODE, counterexample, dropped_acc_bit, last_off_by_one, tiles_mix, trace_steps
from golden.fusion import PRECISION_BITS, bus_bits, fusion_dot, is_valid_mode, pack, products
from golden.mac_array import lane_bits
from golden.mac_array import mac_array as golden_mac_array

FAST = [p for p in proofs() if not p.slow and p.expect == "PASS"]


@pytest.mark.parametrize("proof", FAST, ids=[p.name for p in FAST])
def test_proof(proof):
    result = run(proof, workdir=OUT / "test" / proof.name)
    assert result["status"] == "PASS", result


def test_mutated_routing_bit_gives_a_counterexample():
    (proof,) = [p for p in proofs() if p.name == "mutation_fusion_maxb8_2x2"]
    result = run(proof, workdir=OUT / "test" / proof.name)
    assert result["status"] == "FAIL" and result["trace"], result
    # Replay the trace: the reference agrees with the golden model, the mutant does not.
    cex = counterexample(OUT / "test" / proof.name / "trace.vcd")
    pa, pb = MUTATED_MODE
    expected = fusion_dot(cex["a"], cex["b"], pa, pb, 1, 1, layout="linear") % (1 << 18)
    assert cex["p_ref"] == expected and cex["p_dut"] != expected, cex


def test_mutated_routing_bit_breaks_a_level_check():
    # The same mutant under the compositional proof: the top level's check fails, and its trace
    # shows the level in the mutated mode feeding sub-unit 0 a bus bit the plan does not route.
    (proof,) = [p for p in proofs() if p.name == "mutation_compose_maxb8"]
    work = OUT / "test" / proof.name
    result = run(proof, workdir=work)
    assert result["status"] == "FAIL" and result["trace"], result
    # The miter checks each level once per mode (formal/compose.py: m<module>_<pa><pb>_<port>).
    i = sorted(json.loads((work / "ports.json").read_text())["modules"]).index("fusion_unit.level")
    pa, pb = MUTATED_MODE
    names = [f"m{i}_{pa}{pb}_{port}" for port in ("a", "u0__a")]
    cex = counterexample(work / "trace.vcd", names=names)
    a, sub_a = (cex[n] for n in names)
    planned = level_plan(8, PRECISION_BITS[pa], PRECISION_BITS[pb], "linear")[0][0]
    assert any(q is not None and (sub_a >> j & 1) != (a >> q & 1) for j, q in enumerate(planned)), cex


def test_lemma_rejects_a_wrong_plan(monkeypatch):
    # The exact lemma is what makes the plan trustworthy: one misrouted digit must break it.
    import formal.compose as compose
    original = compose.level_plan

    def misrouted(w, ea, eb, layout):
        plan = original(w, ea, eb, layout)
        if (w, ea, eb) == (8, 2, 2):
            a_src, *rest = plan[0]
            plan[0] = ([a_src[1]] + a_src[1:], *rest)
        return plan

    monkeypatch.setattr(compose, "level_plan", misrouted)
    with pytest.raises(AssertionError, match=r"mode \(0, 0\)"):
        compose.check_lemma(8, "linear")


@pytest.mark.parametrize("wrong_c, message", [
    (lambda sa, sb: 0, r"brick s01: dA\*dB - c in \[-6, 3\]"),         # a signed brick's value goes negative
    (lambda sa, sb: -6, r"4-bit level's value can leave \[0, 2\^8\)"),  # fits a brick, wraps a fused level
], ids=["c0_negative_brick", "c6_level_wraps"])
def test_lemma_rejects_a_wrong_brick_correction(monkeypatch, wrong_c, message):
    # The no-wrap bounds are what let unsigned levels add mod 2^(2w): a correction c that breaks
    # them must fail the lemma (its equality alone cannot notice: C is the same c summed).
    import formal.compose as compose
    monkeypatch.setattr(compose, "brick_correction", wrong_c)
    compose.brick_range.cache_clear()
    try:
        with pytest.raises(AssertionError, match=message):
            compose.check_lemma(8, "linear")
    finally:
        compose.brick_range.cache_clear()


@pytest.mark.parametrize("maxb", [8, 16])
@pytest.mark.parametrize("layout", ["linear", "hierarchical"])
def test_element_positions_are_golden_pack(maxb, layout):
    # formal/compose.py's own layout definition places every element bit where golden.fusion.pack does.
    for pa in range(4):
        for pb in range(4):
            if not is_valid_mode(pa, pb, maxb):
                continue
            ba, bb = PRECISION_BITS[pa], PRECISION_BITS[pb]
            got = element_positions(maxb, pa, pb, layout)
            for side, bits, other, positions in (("a", ba, bb, got[0]), ("b", bb, ba, got[1])):
                packer = functools.partial(pack, other_bits=other, side=side, maxb=maxb, layout=layout)
                assert [[sorted(q) for q in e] for e in positions] == \
                    layout_table(products(pa, pb, maxb), bits, bus_bits(maxb), packer), (pa, pb, side)


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
def test_layout_table_is_golden_pack(bits):
    # The linear layout (docs/spec.md): bit t of element i is bus bit i*bits + t.
    count = 64 // bits
    assert layout_table(count, bits, 64, pack) == [[[i * bits + t] for t in range(bits)] for i in range(count)]


def test_cli_rejects_unknown_proof(capsys):
    with pytest.raises(SystemExit) as e:
        main(["no_such_proof"])
    assert e.value.code == 2
    assert "no proof matches" in capsys.readouterr().err


ARRAY = dict(rows=2, cols=2, maxb=8, accw=18)  # the configuration of the mac_array mutation proofs
TRACE_SIGNALS = ["rst", "in_valid", "in_ready", "in_a", "in_b", "in_pa", "in_pb", "in_sa", "in_sb", "in_first",
                 "in_last", "out_valid", "out_ready", "out_row", "out_data", "q0_0_0", "q0_0_1", "q0_1_0", "q0_1_1"]


def replay_against_golden(steps, rows, cols, maxb, accw, pe):
    """Drive the beats a mac_array trace accepts (after its last reset) through golden.mac_array.

    Returns [(step, row, trace words, golden words)] for every output word of the trace: the words
    taken (out_valid && out_ready) and the one offered at the final step, where the proof failed."""
    final = len(steps) - 1
    start = max([i + 1 for i, s in enumerate(steps[:final]) if s["rst"]], default=0)
    beats = [s for s in steps[start:] if s["in_valid"] and s["in_ready"]]
    lane, mask = lane_bits(maxb, pe), (1 << accw) - 1
    tiles = golden_mac_array(
        np.array([[s["in_a"] >> r * lane & (1 << lane) - 1 for r in range(rows)] for s in beats], dtype=np.uint64),
        np.array([[s["in_b"] >> c * lane & (1 << lane) - 1 for c in range(cols)] for s in beats], dtype=np.uint64),
        *([s[k] for s in beats] for k in ("in_pa", "in_pb", "in_sa", "in_sb", "in_first", "in_last")),
        maxb=maxb, accw=accw, pe=pe, layout="linear").tiles
    words = [i for i in range(start, final + 1) if steps[i]["out_valid"] and (steps[i]["out_ready"] or i == final)]
    out = []
    for k, i in enumerate(words):
        row = steps[i]["out_row"]
        assert row == k % rows, (i, row)  # the stream order itself is not what the mutants break
        out.append((i, row, [steps[i]["out_data"] >> c * accw & mask for c in range(cols)],
                    [int(v) & mask for v in tiles[k // rows][row]]))
    return out


ARRAY_MUTANTS = [p for p in proofs() if p.name.startswith("mutation_mac_array_") and not p.slow]


@pytest.mark.parametrize("proof", ARRAY_MUTANTS, ids=[p.name for p in ARRAY_MUTANTS])
def test_mac_array_mutant_counterexample_replays_against_golden(proof):
    # The data proof's mutants fail with a trace; its inputs driven through the golden model give
    # the numbers the formal reference expected, and the mutant's last output word is not them.
    work = OUT / "test" / proof.name
    result = run(proof, workdir=work)
    assert result["status"] == "FAIL" and result["failed_step"] == "bmc" and result["trace"], result
    steps = trace_steps(work / "trace.vcd", TRACE_SIGNALS)
    words = replay_against_golden(steps, **ARRAY, pe="fixed" if "fixed8" in proof.name else "fusion")
    *taken, (step, row, got, expected) = words
    assert step == len(steps) - 1
    assert all(g == e for _, _, g, e in taken), taken  # every earlier word was right
    assert got != expected, (got, expected)
    assert [steps[step][f"q0_{row}_{c}"] for c in range(ARRAY["cols"])] == expected  # reference == golden


def test_cut_array_is_the_same_for_every_pe_variant():
    # formal/array_data.py: the data proof's cut array does not depend on the PEs' layout or summation.
    config = dict(rows=2, cols=2, maxb=8, accw=18, cntw=8)
    assert cut_array_verilog(**config) == cut_array_verilog(**config, layout="hierarchical", summation="bitblade")


def test_cut_turns_sub_unit_ports_around():
    # formal/cut.py on a two-module text: the instance goes, its ports become the parent's.
    text = ("module top(x, y);\n  input [3:0] x;\n  output [7:0] y;\n  wire [7:0] q;\n"
            "  \\top.u  u (\n    .a(x),\n    .p(q)\n  );\n  assign y = q;\nendmodule\n\n"
            "module \\top.u (a, p);\n  input [3:0] a;\n  output [7:0] p;\n  assign p = a * a;\nendmodule\n")
    cut, ports = cut_instances(text, "top", "u")
    assert ports == {"u": {"a": ("input", 4), "p": ("output", 8)}}
    assert "module \\top.u" not in cut and "\\top.u  u" not in cut
    assert "module top(u__a, u__p, x, y);" in cut
    assert "output [3:0] u__a;\n  assign u__a = x;" in cut and "input [7:0] u__p;\n  assign q = u__p;" in cut
    with pytest.raises(ValueError, match="no instance"):
        cut_instances(text, "top", "v")


def test_array_mutations_apply_once():
    text = cut_array_verilog(2, 2, 8, 18, 8)
    assert last_off_by_one(text, 2, 2).count("= acc_") == text.count("= acc_") + 4
    assert dropped_acc_bit(text, 18).count("{1'b0, ") == text.count("{1'b0, ") + 1
    assert tiles_mix(text, 2, 2).count("s2_fresh ?") == text.count("s2_fresh ?") - 4
    with pytest.raises(ValueError, match="matched 0 times"):
        dropped_acc_bit(text, 20)
