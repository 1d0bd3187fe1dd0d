"""README's generated blocks: the text between `<!-- report:NAME -->` and `<!-- /report:NAME -->`.

`rewrite` replaces the body of each block it has content for and leaves every other byte of the
file as it was; a README without the markers is returned unchanged. `blocks` builds the two
blocks README carries: `units` (the unit table) and `times` (wall times of `make sim` and
`make test`).
"""

import re

from . import render, units
from .sources import BY_KEY

__all__ = ["rewrite", "blocks", "TIMED"]

TIMED = ("sim", "test")  # command-times names README shows: `make sim` and `make test`


def _block(name):
    return re.compile(rf"(<!-- report:{re.escape(name)} -->)(.*?)(<!-- /report:{re.escape(name)} -->)", re.S)


def rewrite(text, contents):
    """`text` with the body of every block named in `contents` ({name: Markdown}) replaced; blocks
    without content, and text outside the markers, are untouched."""
    for name, body in contents.items():
        text = _block(name).sub(lambda m: f"{m.group(1)}\n{body.strip()}\n{m.group(3)}", text)
    return text


def blocks(docs):
    """{"units": ..., "times": ...} from the loaded documents (report.sources.load)."""
    ppa = docs.get("ppa")
    if ppa is None:
        unit_block = render.missing("ppa")
    else:
        unit_block = (units.table(ppa) + "\n\n" + f"Area and Fmax: `{ppa.get('command') or BY_KEY['ppa'].command}` on OSU 0.18 um "
                      f"({ppa.get('date') or ppa.get('generated')}, revision {ppa.get('revision', 'not recorded')}); "
                      "latency and throughput: docs/spec.md, \"Hardware units\"; every figure: "
                      "[docs/results.md](docs/results.md#silicon).\n")
    times = docs.get("times", {})
    shown = {name: times[name] for name in TIMED if name in times}
    lines = [render.times_table(shown)] if shown else []
    lines += [f"`make {name}`: not timed yet (`python -m report.timing {name} -- make {name}`, then `make report`)."
              for name in TIMED if name not in times]
    return {"units": unit_block, "times": "\n\n".join(lines) + "\n"}
