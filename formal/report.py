"""The proofs of a `python -m formal` run (build/formal/results.json) as a Markdown table."""

__all__ = ["markdown"]


def markdown(summary):
    """One row per proof (status, the status it must have, wall and CPU seconds) and a total line."""
    lines = ["| proof | kind | status | expected | wall (s) | CPU (s) |", "|---|---|---|---|---|---|"]
    for r in summary["proofs"]:
        lines.append(f"| `{r['name']}` | {r['kind']} | {r['status']} | {r.get('expected', 'PASS')} "
                     f"| {r['seconds']:.1f} | {r['cpu_seconds']:.1f} |")
    ok = sum(r["status"] == r.get("expected", "PASS") for r in summary["proofs"])
    lines += ["", f"{ok} of {len(summary['proofs'])} proofs ended as expected (mutated designs must FAIL with a "
                  f"counterexample); solver {summary['solver']}; {summary['total_seconds']:.0f} s wall, "
                  f"{summary['total_cpu_seconds']:.0f} s CPU in total."]
    return "\n".join(lines) + "\n"
