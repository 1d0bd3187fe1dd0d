"""`python -m report` (`make report`): copy the flows' JSON into docs/results/, render
docs/results.md and its plots, rewrite README's generated blocks.

    python -m report [--build DIR] [--results DIR] [--md FILE] [--readme FILE] [--no-collect]
    python -m report --targets FILE [--results DIR]

--targets compares the numbers in --results with a thresholds file (report.targets), prints the
table and exits 1 if one misses or is missing; it renders nothing.
"""

import pathlib
import sys

from lptrain.cli import ArgumentParser
from lptrain.paths import BUILD, DOCS, ROOT

from . import readme, render, sources, targets

__all__ = ["main"]


def main(argv=None):
    ap = ArgumentParser(prog="python -m report", description=__doc__.splitlines()[0])
    ap.add_argument("--build", type=pathlib.Path, default=BUILD, help="where the flows wrote their JSON")
    ap.add_argument("--results", type=pathlib.Path, default=DOCS / "results",
                    help="the committed copies of the JSON, and the plots")
    ap.add_argument("--md", type=pathlib.Path, default=DOCS / "results.md", help="the Markdown written")
    ap.add_argument("--readme", type=pathlib.Path, default=ROOT / "README.md",
                    help="file whose <!-- report:NAME --> blocks are rewritten")
    ap.add_argument("--no-collect", action="store_true", help="render --results as it is, copy nothing from --build")
    ap.add_argument("--targets", type=pathlib.Path, help="compare with this thresholds file instead of rendering")
    args = ap.parse_args(argv)
    if args.targets is not None:
        try:
            wanted = targets.parse(args.targets.read_text())
        except (OSError, ValueError) as exc:
            ap.error(f"--targets: {exc}")
        rows = targets.compare(sources.load(args.results), wanted)
        print(targets.table(rows))
        return 0 if all(r[-1] == "holds" for r in rows) else 1
    copied, skipped = ([], []) if args.no_collect else sources.collect(args.build, args.results)
    for src, dst in copied:
        print(f"copied {src} -> {dst}")
    for src in skipped:
        print(f"skipped {src}: not a JSON object (a failed or unfinished run?)")
    docs = sources.load(args.results)
    for png in args.results.glob("*.png"):  # every plot is redrawn: one the JSON no longer supports must go
        png.unlink()
    args.md.write_text(render.render(docs, args.results))
    absent = [s.key for s in sources.SOURCES if s.key not in docs]
    print(f"wrote {args.md} and plots in {args.results}" + (f"; not measured yet: {', '.join(absent)}" if absent else ""))
    if args.readme.exists():
        text = args.readme.read_text()
        new = readme.rewrite(text, readme.blocks(docs))
        if new != text:
            args.readme.write_text(new)
            print(f"rewrote the report blocks of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
