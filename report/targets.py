"""`python -m report --targets FILE`: the measured numbers against a user's own thresholds.

The project's code reports numbers and published anchors, never whether they meet a goal; a
user who has one writes it down as JSON, one threshold per metric:

    {"ppa.ratios.fusion_area_vs_fixed8": {"op": "<=", "value": 1.7},
     "demo.summary.mnist1d.pfq.acc_mean": {"op": ">=", "value": 90}}

A metric is a dotted path into the documents of docs/results/ (report.sources: `ppa`, `lanes`,
`variants`, `cost`, `demo`, `formal`, `hil.<run>`, `fpga.<board>`, `times.<name>`; list items
by index), plus `demo.summary.<bench>.<recipe>.<field>`: golden.training.demo.summarize of the
runs (acc_mean in percent, rel_mean = effective MACs / fw8bw8's, ...).
"""

import json
import math
import operator

from golden.training.demo import summarize

__all__ = ["OPS", "parse", "metrics", "lookup", "compare", "table"]

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
       "!=": operator.ne}


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse(text):
    """{metric: (op, value)} from the thresholds file's text; ValueError naming what is wrong."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"targets file is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not doc:
        raise ValueError("targets file must be a non-empty JSON object {metric: {\"op\": ..., \"value\": ...}}")
    out = {}
    for metric, spec in doc.items():
        if not isinstance(spec, dict) or set(spec) != {"op", "value"}:
            raise ValueError(f"target {metric!r} must be {{\"op\": OP, \"value\": NUMBER}}, got {spec!r}")
        if spec["op"] not in OPS:
            raise ValueError(f"target {metric!r}: op must be one of {', '.join(OPS)}, got {spec['op']!r}")
        if not _number(spec["value"]):
            raise ValueError(f"target {metric!r}: value must be a finite number, got {spec['value']!r}")
        out[metric] = (spec["op"], spec["value"])
    return out


def metrics(docs):
    """The tree metric paths walk: the loaded documents, with demo's per-(bench, recipe) summary."""
    tree = dict(docs)
    if "demo" in docs:
        nested = {}
        for (bench, recipe), s in summarize(docs["demo"]["runs"]).items():
            nested.setdefault(bench, {})[recipe] = s
        tree["demo"] = {**docs["demo"], "summary": nested}
    return tree


def lookup(tree, metric):
    """The value at dotted path `metric`, or None when the path does not exist."""
    node = tree
    for part in metric.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def compare(docs, targets):
    """[(metric, measured, op, value, verdict)]: verdict "holds", "misses", or "missing" (no
    such metric, or not a number)."""
    tree = metrics(docs)
    rows = []
    for metric, (op, value) in targets.items():
        measured = lookup(tree, metric)
        if not _number(measured):
            rows.append((metric, measured, op, value, "missing"))
        else:
            rows.append((metric, measured, op, value, "holds" if OPS[op](measured, value) else "misses"))
    return rows


def table(rows):
    lines = ["| metric | measured | target | result |", "|---|---|---|---|"]
    for metric, measured, op, value, verdict in rows:
        shown = f"{measured:.6g}" if _number(measured) else ("not found" if measured is None else "not a number")
        lines.append(f"| `{metric}` | {shown} | {op} {value:g} | {verdict} |")
    return "\n".join(lines)
