"""Which JSON each flow writes, which command writes it, and its stable name under docs/results/.

`collect` copies what the flows left under build/ into docs/results/ (the committed copies the
report renders from); `load` reads the copies back. A source is one file (`ppa`, `cost`, ...) or a
group of files, one per run (`hil`, `fpga`, `times`), kept as docs/results/<group>/<name>.json.
"""

import dataclasses
import json
import pathlib
import shutil

from lptrain.cache import write_atomic

__all__ = ["Source", "SOURCES", "collect", "load", "write_json"]


@dataclasses.dataclass(frozen=True)
class Source:
    key: str          # name in the loaded documents and in --targets metric paths
    pattern: str      # glob under build/
    target: str       # file name under docs/results/ (a group: its directory)
    command: str      # what produces it
    group: bool = False
    replace: bool = False  # group: a new set of runs replaces the committed set (else merged by name)
    by_directory: bool = False  # group: a member is named by its directory (build/<board>/resources.json)

    def member_name(self, path):
        return path.parent.name if self.by_directory else path.stem


SOURCES = [
    Source("ppa", "synth/ppa.json", "ppa.json", "make synth"),
    Source("lanes", "synth/lanes/ppa.json", "lanes_ppa.json", "make synth-lanes"),
    Source("variants", "synth/fusion_variants/fusion_variants.json", "fusion_variants.json", "make synth-variants"),
    Source("cost", "cost/cost.json", "cost.json", "make cost"),
    Source("search", "search/search.json", "search.json", "make search"),
    Source("demo", "demo/results.json", "demo.json", "make demo"),
    Source("formal", "formal/results.json", "formal.json", "make formal"),
    Source("hil", "hil_runs/*.json", "hil", "make hil", group=True, replace=True),
    Source("fpga", "*/resources.json", "fpga", "make fpga-estimate BOARD=zc706", group=True, by_directory=True),
    Source("ecp5", "fpga_ecp5/*.json", "ecp5", "make fpga-sweep BOARD=ulx3s", group=True),
    Source("bitstream", "*/summary.json", "bitstream", "make bitstream BOARD=ulx3s", group=True, by_directory=True),
    Source("executor", "bench/executor.json", "executor.json", "python -m bench.bench_executor"),
    Source("times", "times/*.json", "times", "python -m report.timing NAME -- CMD...", group=True),
]
BY_KEY = {s.key: s for s in SOURCES}


def write_json(path, doc):
    """Write `doc` to `path` atomically: a reader never sees half a file."""
    write_atomic(path, json.dumps(doc, indent=1) + "\n")


def _read(path):
    """The JSON object in `path`, or None when the file is empty, torn or not an object (the flows
    write atomically; files from older runs or edited by hand may not be whole)."""
    try:
        doc = json.loads(pathlib.Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _found(source, build):
    """{path: document} of the build/ files of `source` that hold a JSON object (a resources.json
    glob also matches other flows' directories: only documents with a "board" are FPGA estimates,
    only checked bist_top builds are bitstream summaries)."""
    docs = {p: _read(p) for p in sorted(pathlib.Path(build).glob(source.pattern)) if p.is_file()}
    return {p: d for p, d in docs.items() if d is not None and (source.key != "fpga" or "board" in d)
            and (source.key != "bitstream" or d.get("top") == "bist_top" and "routed_check" in d)}


def collect(build, results):
    """Copy every flow JSON found under `build` into `results`; returns ([(source path,
    destination)], [paths skipped: not a JSON object])."""
    results = pathlib.Path(results)
    copied, skipped = [], []
    for source in SOURCES:
        found = _found(source, build)
        skipped += [p for p in sorted(pathlib.Path(build).glob(source.pattern))
                    if p.is_file() and p not in found and _read(p) is None]
        if not found:
            continue
        if not source.group:
            path, doc = next(iter(found.items()))
            write_json(results / source.target, doc)
            copied.append((path, results / source.target))
            continue
        folder = results / source.target
        if source.replace and folder.exists():
            shutil.rmtree(folder)
        for path, doc in found.items():
            dst = folder / f"{source.member_name(path)}.json"
            write_json(dst, doc)
            copied.append((path, dst))
    return copied, skipped


def load(results):
    """{key: document} of every source present in `results` ({key: {name: document}} for a
    group); absent sources are left out."""
    results = pathlib.Path(results)
    docs = {}
    for source in SOURCES:
        path = results / source.target
        if source.group:
            members = {p.stem: json.loads(p.read_text()) for p in sorted(path.glob("*.json"))} if path.is_dir() else {}
            if members:
                docs[source.key] = members
        elif path.is_file():
            docs[source.key] = json.loads(path.read_text())
    return docs
