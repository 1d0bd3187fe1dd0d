"""The fast formal proofs (`python -m formal --fast`) and the demonstration that a proof fails.

Each proof runs Yosys + smtbmc + yices (formal/__main__.py). The slow ones (fusion modes with
wide products, MAXB = 16, fixed_mul) run in `make formal` only; docs/notes/issue16.md has times.
"""

import pytest

from formal.__main__ import OUT, main, proofs, run
from formal.fusion_ref import layout_table
from formal.mutation import MUTATED_MODE, counterexample
from golden.fusion import fusion_dot, pack

FAST = [p for p in proofs() if not p.slow and p.expect == "PASS"]


@pytest.mark.parametrize("proof", FAST, ids=[p.name for p in FAST])
def test_proof(proof):
    result = run(proof, workdir=OUT / "test" / proof.name)
    assert result["status"] == "PASS", result


def test_mutated_routing_bit_gives_a_counterexample():
    (proof,) = [p for p in proofs() if p.expect == "FAIL"]
    result = run(proof, workdir=OUT / "test" / proof.name)
    assert result["status"] == "FAIL" and result["trace"], result
    # Replay the trace: the reference agrees with the golden model, the mutant does not.
    cex = counterexample(OUT / "test" / proof.name / "trace.vcd")
    pa, pb = MUTATED_MODE
    expected = fusion_dot(cex["a"], cex["b"], pa, pb, 1, 1) % (1 << 18)
    assert cex["p_ref"] == expected and cex["p_dut"] != expected, cex


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
