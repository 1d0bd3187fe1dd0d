"""`make report`: docs/results.md is the rendering of the committed docs/results/*.json; README's
generated blocks, --targets, the one-line stand-ins for absent JSON, the collection of build/
outputs, and `python -m report.timing`."""

import json
import os
import re
import subprocess
import sys

import pytest

from golden.fp16_accumulator import latency

from lptrain.paths import DOCS, ROOT
from lptrain.provenance import command, provenance
from report import readme, render, sources, targets, timing, units
from report.__main__ import main

from hdl_gen.fusion import FixedMul


# ---- docs/results.md -------------------------------------------------------------------------

def test_committed_results_md_is_the_rendering_of_the_committed_json(tmp_path):
    """Rendering docs/results/*.json again (plots into a scratch directory) gives docs/results.md
    byte for byte: the page was generated, not edited, and from the JSON committed beside it."""
    docs = sources.load(DOCS / "results")
    assert docs, "docs/results/ holds no flow JSON"
    assert render.render(docs, tmp_path) == (DOCS / "results.md").read_text()


def test_sections_and_their_anchors(tmp_path):
    md = render.render({}, tmp_path)
    headings = re.findall(r"^## (.+)$", md, re.M)
    assert headings == ["Silicon", "Training MACs", "Training cost", "Schedule search", "Training accuracy", "4-bit training formats", "Formal",
                        "Training on the RTL", "FPGA", "Sweeps on the executor", "Command times"]
    anchors = {h.lower().replace(" ", "-") for h in headings}
    for doc in DOCS.glob("*.md"):  # every link into results.md names an existing section
        for anchor in re.findall(r"results\.md#([\w-]+)", doc.read_text()):
            assert anchor in anchors, (doc.name, anchor)


def test_every_absent_json_is_one_line_naming_its_command(tmp_path):
    md = render.render({}, tmp_path)
    for source in sources.SOURCES:
        assert f"Not measured yet: `{source.command}` writes `build/{source.pattern}` (then `make report`).\n" in md
    body = md.split("## Silicon\n", 1)[1]
    for section in re.split(r"^## .+\n", body, flags=re.M):
        lines = [line for line in section.splitlines() if line and not line.startswith("#")]
        assert all(line.startswith(("Not measured yet:", "Bit Fusion's RTL is")) for line in lines), lines
    assert not list(tmp_path.iterdir())  # nothing to plot


def test_origin_line_of_json_without_provenance():
    """JSON written before the flows recorded their provenance says so instead of failing."""
    line = render.origin({"generated": "2026-11-30T10:00:00+00:00", "tools": {"yosys": "Yosys 0.70"}}, "ppa")
    assert line == ("Command: not recorded (written by `make synth`); date 2026-11-30T10:00:00+00:00; revision not "
                    "recorded; tools: yosys Yosys 0.70; Python not recorded.\n")
    line = render.origin({**_time_record("sim", "make sim", 1.0), "packages": {"numpy": "2.4.6"}}, "times", "sim")
    assert line == ("Command: `python -m report.timing sim -- make sim`; date 2026-12-01T10:00:00+00:00; revision "
                    "abc1234; tools: none recorded; Python 3.11.7 (package versions: `docs/results/times/sim.json`).\n")


# ---- README blocks ---------------------------------------------------------------------------

README = """# lptrain

Prose the lead wrote.
<!-- report:units -->
| old | table |
<!-- /report:units -->
More prose, with a <!-- comment --> kept.

<!-- report:times -->
<!-- /report:times -->
End.
"""


def test_readme_blocks_replaced_between_the_markers_only():
    new = readme.rewrite(README, {"units": "| new |\n|---|\n", "times": "sim: 1 s"})
    assert new == README.replace("| old | table |\n", "| new |\n|---|\n").replace(
        "<!-- report:times -->\n", "<!-- report:times -->\nsim: 1 s\n")
    assert readme.rewrite(new, {"units": "| new |\n|---|\n", "times": "sim: 1 s"}) == new  # idempotent


def test_readme_without_markers_or_content_is_unchanged():
    text = "# lptrain\n\nno generated blocks\n<!-- report:units -->\nunterminated\n"
    assert readme.rewrite(text, {"units": "x", "times": "y"}) == text
    assert readme.rewrite(README, {"other": "x"}) == README


def test_readme_file_rewritten_in_place_only_with_markers(tmp_path):
    results = tmp_path / "results"
    sources.write_json(results / "times" / "sim.json", _time_record("sim", "make sim", 754.4))
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    marked = tmp_path / "marked.md"
    marked.write_text(README)
    for path in (plain, marked):
        assert main(["--results", str(results), "--md", str(tmp_path / "results.md"), "--readme", str(path),
                     "--no-collect"]) == 0
    assert plain.read_text() == "no markers\n"
    text = marked.read_text()
    assert text.startswith("# lptrain\n\nProse the lead wrote.\n<!-- report:units -->\nNot measured yet: `make synth`")
    assert "| sim | `make sim` | 12 min 34 s (754.4 s) | 0 | 2026-12-01T10:00:00+00:00 | abc1234 | 2 |" in text
    assert "`make test`: not timed yet (`python -m report.timing test -- make test`, then `make report`)." in text
    assert text.endswith("<!-- /report:times -->\nEnd.\n")


def _time_record(name, cmd, wall):
    return {"command": f"python -m report.timing {name} -- {cmd}", "date": "2026-12-01T10:00:00+00:00",
            "revision": "abc1234", "python": "3.11.7", "packages": {}, "tools": {}, "name": name,
            "timed_command": cmd, "exit_status": 0, "wall_s": wall, "nproc": 2, "loadavg_before": [0.5, 0.5, 0.5]}


def _unit(area, fmax, flops, params):
    return {"area_um2": area, "timing": {"fmax_mhz": fmax}, "sequential_cells": flops, "params": params}


def test_unit_table_from_ppa_and_generators():
    ppa = {"units": {"fixed_mul": _unit(18413.0, 309.4, 0, {"bits": 8}),
                     "mac_array": _unit(1343547.0, 133.0, 2068, {"rows": 4, "cols": 4, "maxb": 8, "pe": "fusion"}),
                     "hybrid_mac": _unit(69379.0, 58.9, 16, {"lanes": 4, "front": 1, "chains": 2}),
                     "pe_fixed8": _unit(1.0, 1.0, 0, {})}}  # not a default unit: not in the table
    assert units.table(ppa).splitlines() == [
        "| unit | ports | latency | throughput | area (um^2) | Fmax (MHz) |", "|---|---|---|---|---|---|",
        "| `fixed_mul` | in a[8] b[8] sa sb; out p[18] | combinational | 1 MAC | 18,413 | 309 |",
        "| `mac_array` | clk rst; 11 in (267 bits); 17 out (662 bits) | 6 cycles | up to 256 MACs/cycle | 1,343,547 | 133 |",
        "| `hybrid_mac` | clk rst; in x[16] sx g[16] phase scale_exp[6] in_valid in_last; "
        f"out in_ready out_valid out_data[16] | {latency('hybrid_mac')} cycles | 4 MACs/cycle | 69,379 | 58.9 |"]
    assert units.ports(FixedMul(bits=16), clocked=False) == "in a[16] b[16] sa sb; out p[34]"


# ---- --targets -------------------------------------------------------------------------------

DOCS_FOR_TARGETS = {
    "ppa": {"ratios": {"fusion_area_vs_fixed8": 1.59, "hybrid_mac_area_vs_fp16_mac": None}},
    "demo": {"runs": [{"bench": "mnist1d", "recipe": r, "seed": 0, "test_accuracy": a, "effective_macs": m,
                       "cpu_s": 1.0} for r, a, m in (("fw8bw8", 0.9, 100.0), ("pfq", 0.88, 40.0))]},
    "times": {"sim": {"wall_s": 754.4}},
}


def test_targets_compare_every_operator_and_missing_metrics():
    wanted = targets.parse(json.dumps({
        "ppa.ratios.fusion_area_vs_fixed8": {"op": "<=", "value": 1.7},
        "ppa.ratios.hybrid_mac_area_vs_fp16_mac": {"op": "<", "value": 0.143},
        "demo.summary.mnist1d.pfq.rel_mean": {"op": "<", "value": 0.4},
        "demo.summary.mnist1d.pfq.acc_mean": {"op": ">=", "value": 88},
        "demo.runs.1.recipe": {"op": "==", "value": 1},
        "times.sim.wall_s": {"op": ">", "value": 600},
        "times.test.wall_s": {"op": "!=", "value": 0},
    }))
    rows = targets.compare(DOCS_FOR_TARGETS, wanted)
    assert [(r[0], r[-1]) for r in rows] == [
        ("ppa.ratios.fusion_area_vs_fixed8", "holds"),
        ("ppa.ratios.hybrid_mac_area_vs_fp16_mac", "missing"),  # null: not measured
        ("demo.summary.mnist1d.pfq.rel_mean", "misses"),  # exactly 0.4 is not < 0.4
        ("demo.summary.mnist1d.pfq.acc_mean", "holds"),  # 88.0 >= 88
        ("demo.runs.1.recipe", "missing"),  # "pfq": not a number
        ("times.sim.wall_s", "holds"),
        ("times.test.wall_s", "missing"),
    ]
    text = targets.table(rows)
    assert "| `ppa.ratios.fusion_area_vs_fixed8` | 1.59 | <= 1.7 | holds |" in text
    assert "| `times.test.wall_s` | not found | != 0 | missing |" in text
    assert "| `demo.runs.1.recipe` | not a number | == 1 | missing |" in text


@pytest.mark.parametrize("text,message", [
    ("[1]", "non-empty JSON object"), ("{}", "non-empty JSON object"), ("{", "not JSON"),
    ('{"a.b": {"op": "=<", "value": 1}}', "op must be one of <, <=, >, >=, ==, !="),
    ('{"a.b": {"op": "<", "value": "1"}}', "value must be a finite number"),
    ('{"a.b": {"op": "<", "value": true}}', "value must be a finite number"),
    ('{"a.b": {"op": "<"}}', "must be {\"op\": OP, \"value\": NUMBER}"),
])
def test_targets_file_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        targets.parse(text)


def test_targets_cli_exit_status_and_one_line_errors(tmp_path, capsys):
    results = tmp_path / "results"
    sources.write_json(results / "ppa.json", DOCS_FOR_TARGETS["ppa"])
    ok, bad = tmp_path / "ok.json", tmp_path / "bad.json"
    ok.write_text(json.dumps({"ppa.ratios.fusion_area_vs_fixed8": {"op": "<", "value": 2}}))
    bad.write_text(json.dumps({"ppa.ratios.fusion_area_vs_fixed8": {"op": "<", "value": 1}}))
    md = tmp_path / "results.md"
    assert main(["--targets", str(ok), "--results", str(results), "--md", str(md)]) == 0
    assert main(["--targets", str(bad), "--results", str(results), "--md", str(md)]) == 1
    assert "| 1.59 | < 1 | misses |" in capsys.readouterr().out
    assert not md.exists()  # compares only: renders nothing
    p = subprocess.run([sys.executable, "-m", "report", "--targets", str(tmp_path / "absent.json")],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, p.stderr


# ---- collecting build/ -----------------------------------------------------------------------

def test_collect_copies_under_stable_names(tmp_path):
    build, results = tmp_path / "build", tmp_path / "results"
    for rel, doc in {"synth/ppa.json": {"units": {}}, "demo/results.json": {"runs": []},
                     "hil_runs/digits_pfq_mac_array.json": {"gemms": 3}, "zc706/resources.json": {"board": "zc706"},
                     "tech/resources.json": {"not": "an estimate"}, "times/sim.json": {"wall_s": 1.0}}.items():
        sources.write_json(build / rel, doc)
    (build / "hil_runs" / "digits_ibm4_mac_array.json").write_text("")  # a run that failed: empty stdout
    sources.write_json(results / "hil" / "old_run.json", {"gemms": 1})  # a new set of HIL runs replaces these
    sources.write_json(results / "times" / "test.json", {"wall_s": 2.0})  # times are merged by name
    copied, skipped = sources.collect(build, results)
    assert sorted(str(d.relative_to(results)) for _, d in copied) == [
        "demo.json", "fpga/zc706.json", "hil/digits_pfq_mac_array.json", "ppa.json", "times/sim.json"]
    assert skipped == [build / "hil_runs" / "digits_ibm4_mac_array.json"]
    docs = sources.load(results)
    assert set(docs) == {"ppa", "demo", "hil", "fpga", "times"}
    assert set(docs["hil"]) == {"digits_pfq_mac_array"} and set(docs["times"]) == {"sim", "test"}
    assert not [p for p in results.rglob(".*")]  # no temporary file left behind


# ---- python -m report.timing -----------------------------------------------------------------

def test_timing_records_a_failing_command(tmp_path):
    code = timing.main(["failing", "--out", str(tmp_path), "--", sys.executable, "-c", "import sys; sys.exit(3)"])
    assert code == 3
    record = json.loads((tmp_path / "failing.json").read_text())
    assert record["exit_status"] == 3 and record["name"] == "failing"
    assert record["timed_command"] == f"{sys.executable} -c 'import sys; sys.exit(3)'"
    assert 0 < record["wall_s"] < 60 and record["nproc"] == len(os.sched_getaffinity(0))
    assert len(record["loadavg_before"]) == 3
    assert {"command", "date", "revision", "python", "packages", "tools"} <= set(record)
    assert [p.name for p in tmp_path.iterdir()] == ["failing.json"]


@pytest.mark.parametrize("args", [["-bad", "--", "true"], ["a/b", "--", "true"], ["ok", "--"],
                                  ["ok", "--", "no-such-command-here"]])
def test_timing_bad_arguments_one_line_exit_2(tmp_path, args):
    p = subprocess.run([sys.executable, "-m", "report.timing", "--out", str(tmp_path), *args],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not list(tmp_path.iterdir())


# ---- provenance ------------------------------------------------------------------------------

def test_provenance_keys_and_command_line():
    assert command("synth.ppa", ["--units", "a,b", "--crosscheck", ""]) == \
        "python -m synth.ppa --units a,b --crosscheck ''"
    p = provenance("formal", [], {"solver": "Yices 2.6.5"})
    assert set(p) == {"command", "date", "revision", "python", "packages", "tools"}
    assert p["tools"] == {"solver": "Yices 2.6.5"} and p["packages"]["numpy"] == __import__("numpy").__version__
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    assert p["revision"] == git.stdout.strip()


def test_ratios_carry_their_published_anchor_not_a_target():
    from synth.report import anchor, sections
    assert anchor("fusion_2b_energy_per_mac_vs_fixed8") == anchor("linear_tree_2b_energy_per_mac_vs_fixed8") == \
        "Bit Fusion 0.125 (43 fJ / 344 fJ)"
    assert anchor("hierarchical_tree_pe_area_vs_fixed8") == "Bit Fusion 2.52"
    assert anchor("tpr_path_area_vs_array16") == ""
    doc = {"units": {}, "ratios": {"hybrid_mac_area_vs_fp16_mac": 0.278}, "ratio_notes": {}, "crosscheck": {}}
    text = sections(doc, "###")
    assert "| ratio | measured | published anchor |\n|---|---|---|\n| hybrid_mac_area_vs_fp16_mac | 0.278 | IBM ~1/7 |" in text
    assert "target" not in text.lower()
