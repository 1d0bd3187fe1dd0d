"""`make search` (cost.search): the search space, the front, and a tiny search end to end."""

import itertools
import json

import optuna
import pytest

from cost import search, search_report
from cost.model import Hardware, run_cost
from cost.workloads import from_training_json
from golden.training.recipes import RECIPES, check_schedule
from lptrain.paths import DOCS


def test_pareto_is_the_set_of_non_dominated_rows():
    """Against the definition, on every 3-point set of a small grid (ties included)."""
    grid = [(a, b) for a in range(3) for b in range(3)]
    for rows in itertools.combinations_with_replacement(grid, 3):
        want = [i for i, r in enumerate(rows)
                if not any(all(x <= y for x, y in zip(o, r)) and o != r for o in rows)]
        assert search.pareto(rows) == want
    assert search.pareto([(0.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, 1.0)]) == [0, 1]


@pytest.mark.parametrize("forward,quantizer", list(itertools.product(search.FORWARD, search.QUANTIZERS)))
def test_every_point_is_a_recipe_with_a_schedule_the_hardware_runs(forward, quantizer):
    params = {**{f"fw{i}": b for i, b in enumerate((8, 2, 4, 2))}, **{f"bw{i}": b for i, b in enumerate((8, 4, 8, 4))},
              "forward": forward, "grad_quantizer": quantizer, "pfq_epsilon": 0.2, "dfq_target": 0.3}
    recipe, ov = search.suggest(optuna.trial.FixedTrial(params))
    assert recipe in RECIPES and recipe.startswith(forward) and (quantizer in recipe) == (quantizer != "range")
    assert ov["fw_schedule"] == [2, 2, 4, 8] and ov["bw_schedule"] == [4, 4, 8, 8]
    check_schedule(ov["fw_schedule"], ov["bw_schedule"])
    assert ("dfq_target" in ov) == (forward != "pfq") and ov.get("dfq_options", "hw") == "hw"
    assert search.label(recipe, ov).startswith(recipe + " FW 2,2,4,8 BW 4,4,8,8 eps 0.2")
    with pytest.raises(ValueError, match="forward"):
        search.point("pfq2", "psq", (2,), (4,), 0.1, 0.1)
    with pytest.raises(ValueError, match="quantizer"):
        search.point("pfq", "ptq", (2,), (4,), 0.1, 0.1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """4 trials of 1 epoch on digits, 2 per generation, the front on 2 seeds, serially."""
    ppa = DOCS / "results" / "ppa.json"  # the committed copy of make synth's measurements
    out = tmp_path_factory.mktemp("search")
    assert search.main(["--bench", "digits", "--epochs", "1", "--trials", "4", "--population", "2", "--seeds", "2",
                        "--workers", "0", "--ppa", str(ppa), "--out", str(out)]) == 0
    return json.loads((out / "search.json").read_text()), out, Hardware.load(ppa)


def test_tiny_search_end_to_end(tiny):
    doc, out, hw = tiny
    assert doc["schema"] == search.SCHEMA and len(doc["trials"]) == 4
    assert [t["trial"] for t in doc["trials"]] == [0, 1, 2, 3]
    assert {r["name"] for r in doc["references"]} == set(search.REFERENCES)
    done = [t for t in doc["trials"] if "failed" not in t]
    front = {r["name"] for r in doc["front"]}
    objectives = [(-t["accuracy"], t["cost"]["energy_j"], t["cost"]["latency_at_fmax_s"]) for t in done]
    assert front == {done[i]["name"] for i in search.pareto(objectives)}
    for row in doc["front"] + doc["references"]:
        assert row["seeds"] == [0, 1] and row["accuracy"]["n"] == 2
    # a trial's price is cost.model's on its own run, against fw8bw8 of its seed at iso-area
    base = next(r for r in doc["references"] if r["name"] == "fw8bw8")
    assert base["savings"]["fusion"]["energy"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert doc["baseline_cost"]["energy_j"] > 0 and doc["machines"]["fixed_iso_area"].startswith("mac_array_fixed8")
    for p in ("search.md", "accuracy_vs_energy.png", "accuracy_vs_latency.png"):
        assert (out / p).stat().st_size > 0
    text = search_report.markdown(doc)
    assert "Hardware-aware schedule search" in text and "FracTrain PFQ+DFQ" in text


def test_trial_savings_are_the_cost_models(tiny, tmp_path):
    """Re-price one trial's run from the cache: the same energy and savings the search recorded."""
    doc, out, hw = tiny
    t = next(t for t in doc["trials"] if "failed" not in t)
    run = search.train_run("digits", t["name"], t["recipe"], {**t["overrides"], "epochs": 1}, 0)
    pricing = search.Pricing(hw)
    c = run_cost(from_training_json(run), pricing.ms["fusion"], hw)
    assert c["energy_j"] == pytest.approx(t["cost"]["energy_j"], rel=1e-12)
    base = run_cost(from_training_json(search.train_run("digits", "fw8bw8", "fw8bw8", {"epochs": 1}, 0)),
                    pricing.ms["fixed_iso_area"], hw)
    assert t["savings"]["fixed_iso_area"]["energy"] == pytest.approx(1 - c["energy_j"] / base["energy_j"], rel=1e-12)


@pytest.mark.parametrize("args", [["--population", "1"], ["--trials", "0"], ["--bench", "cifar"],
                                  ["--ppa", "/nonexistent/ppa.json"]])
def test_cli_bad_argument_one_line_exit_2(args, capsys):
    with pytest.raises(SystemExit) as e:
        search.main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1, err
