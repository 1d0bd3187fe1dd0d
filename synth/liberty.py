"""The few facts the flow needs from a Liberty file: cell areas, pin directions and capacitances,
which cells are sequential, and the nominal voltage. A regex reader, enough for osu018_stdcells.lib.
"""

import functools
import pathlib
import re

__all__ = ["Liberty", "load"]


class Liberty:
    def __init__(self, text):
        self.voltage = float(re.search(r"nom_voltage\s*:\s*([\d.]+)", text).group(1))
        self.cap_unit_pf = 1.0 if re.search(r"capacitive_load_unit\s*\(\s*1\s*,\s*pf\s*\)", text) else None
        if self.cap_unit_pf is None:
            raise ValueError("only liberty files with capacitive_load_unit (1,pf) are supported")
        self.cells = {}
        for m in re.finditer(r"^cell\s*\((\w+)\)\s*\{", text, re.M):
            body = text[m.end():self._block_end(text, m.end())]
            pins = {}
            for p in re.finditer(r"pin\((\w+)\)\s*\{\s*direction\s*:\s*(\w+)\s*;\s*capacitance\s*:\s*([\d.eE+-]+)", body):
                pins[p.group(1)] = {"direction": p.group(2), "capacitance_pf": float(p.group(3))}
            self.cells[m.group(1)] = {
                "area": float(re.search(r"area\s*:\s*([\d.]+)", body).group(1)),
                "pins": pins,
                "sequential": bool(re.search(r"^\s*(ff|latch)\s*\(", body, re.M)),
            }

    @staticmethod
    def _block_end(text, start):
        depth = 1
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return i
        raise ValueError("unbalanced braces in liberty file")

    def pin_cap_pf(self, cell, pin):
        return self.cells[cell]["pins"][pin]["capacitance_pf"]

    def is_output(self, cell, pin):
        return self.cells[cell]["pins"][pin]["direction"] == "output"


@functools.lru_cache(maxsize=4)
def load(path):
    return Liberty(pathlib.Path(path).read_text())
