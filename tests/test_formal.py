"""The fast formal proofs (`python -m formal --fast`) and the demonstration that a proof fails.

Each proof runs Yosys + smtbmc + yices (formal/__main__.py). The slow ones (the compositional
proofs at MAXB 16 and of the bitblade summation, fixed_mul) run in `make formal` only; the flat
end-to-end miters with `--flat`; docs/notes/issue16.md has times.
"""

import functools
import json

import pytest

from formal.__main__ import OUT, main, proofs, run
from formal.compose import element_positions, level_plan
from formal.fusion_ref import layout_table
from formal.mutation import MUTATED_MODE, counterexample
from golden.fusion import PRECISION_BITS, bus_bits, fusion_dot, is_valid_mode, pack, products

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
    expected = fusion_dot(cex["a"], cex["b"], pa, pb, 1, 1) % (1 << 18)
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
    # The linear layout (SPEC.md): bit t of element i is bus bit i*bits + t.
    count = 64 // bits
    assert layout_table(count, bits, 64, pack) == [[[i * bits + t] for t in range(bits)] for i in range(count)]


def test_cli_rejects_unknown_proof(capsys):
    with pytest.raises(SystemExit) as e:
        main(["no_such_proof"])
    assert e.value.code == 2
    assert "no proof matches" in capsys.readouterr().err
