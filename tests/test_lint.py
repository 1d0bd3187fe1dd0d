"""verif/lint_waivers.vlt: every waiver is scoped to one unit of rtl/ and to a message, and none is
stale; verif.lint's emulation of Verilator's waiver matching agrees with Verilator.

Verilator does not report a waiver that matched nothing, and a stale one would hide the next
warning of its kind in that file, so each waiver is matched against a lint of rtl/ without waivers
(one Verilator run per file of rtl/). tests/test_rtl.py::test_lint_clean is
Verilator's own verdict with the waivers.
"""

import re

import pytest

from hdl_gen.rtl import DEFAULTS, RTL_DIR
from verif.lint import lint, read_waivers, stale_waivers, waives, warnings, wildmatch

UNIT_FILE = re.compile(r"\*/(\w+)\.v")  # rtl/<unit>.v and the copy FuseSoC makes of it


@pytest.fixture(scope="module")
def found():
    """Every -Wall warning of every file of rtl/, without waivers."""
    return [w for name in DEFAULTS for w in warnings(RTL_DIR / f"{name}.v")]


def test_every_waiver_is_scoped_to_one_unit_and_a_message():
    waivers = read_waivers()
    assert waivers
    for w in waivers:
        where = f"lint_waivers.vlt:{w.lineno}"
        assert w.rule, f"{where}: no -rule"
        unit = UNIT_FILE.fullmatch(w.file or "")
        assert unit and unit.group(1) in DEFAULTS, \
            f"{where}: -file must be \"*/<unit>.v\" for a unit of rtl/, got {w.file!r}"
        # Verilator matches the whole message, which can run over several lines; `waives` sees
        # the first: with a trailing `*` the two agree.
        assert w.match and w.match.endswith("*"), f"{where}: -match must be given and end in '*'"


def test_no_waiver_is_stale(found):
    stale = stale_waivers(read_waivers(), found)
    assert not stale, "waivers matching no warning (delete them):\n" + "\n".join(
        f"lint_waivers.vlt:{w.lineno}: {w.rule} {w.file} {w.match}" for w in stale)


def test_waivers_cover_every_warning(found):
    """The emulation waives everything Verilator waives (test_lint_clean: Verilator reports
    nothing), so a waiver it calls stale is stale for Verilator too."""
    waivers = read_waivers()
    missed = [x for x in found if not any(waives(w, x) for w in waivers)]
    assert not missed, "\n".join(map(str, missed[:20]))


@pytest.mark.parametrize("text,pattern,expected", [
    ("Signal is not used: 'a'", "Signal is not used: *", True),
    ("Signal is not used: 'a'", "Signal is not used: 'b'*", False),
    ("Bits of signal are not used: 'x'[3:1]", "Bits of signal are not used: 'x'[3:1]*", True),
    ("Bits of signal are not used: 'x'[3:1]", "Bits of signal are not used: 'x'[1]*", False),
    ("line one\n... line two", "line one*", True),
    ("line one\n... line two", "line one", False),
    ("/a/rtl/fp16_mac.v", "*/fp16_mac.v", True),
    ("/a/rtl/hybrid_fp16_mac.v", "*/fp16_mac.v", False),
    ("ab", "a?", True),
    ("a", "a?", False),
])
def test_wildmatch(text, pattern, expected):
    assert wildmatch(text, pattern) is expected


# A module with one warning of each kind the waivers deal with, and a widening assignment, which
# the operand waivers must not cover.
SAMPLE = """\
module sample(input clk, input [3:0] a, output y, output e, output [7:0] w, output reg [3:0] r = 4'h0);
  wire [3:0] alias_a = a;
  assign y = !a;
  assign e = a == 1'b1;
  assign w = a;
  always @(posedge clk) r <= a;
endmodule
"""

OPERANDS = "Operator * expects * bits on the ?HS, but ?HS's *"  # as in lint_waivers.vlt


@pytest.mark.parametrize("waiver", [
    'lint_off -rule UNUSEDSIGNAL -file "*/sample.v" -match "Signal is not used: \'alias_a\'*"',
    'lint_off -rule UNUSEDSIGNAL -file "*/sample.v" -match "Signal is not used: \'other\'*"',
    'lint_off -rule UNUSEDSIGNAL -file "*/other.v" -match "Signal is not used: *"',
    'lint_off -rule WIDTHTRUNC -file "*/sample.v" -match "Logical operator LOGNOT expects 1 bit*"',
    'lint_off -rule WIDTHEXPAND -file "*/sample.v" -match "Logical operator LOGNOT expects 1 bit*"',
    f'lint_off -rule WIDTHEXPAND -file "*/sample.v" -match "{OPERANDS}"',
    'lint_off -rule PROCASSINIT -file "*/sample.v" -match "Procedural assignment to declaration with initial value: \'r\'*"',
])
def test_waives_agrees_with_verilator(tmp_path, waiver):
    source, config = tmp_path / "sample.v", tmp_path / "waiver.vlt"
    source.write_text(SAMPLE)
    config.write_text(f"`verilator_config\n{waiver}\n")
    (w,) = read_waivers(config)
    everything = warnings(source)
    assert {x.rule for x in everything} >= {"UNUSEDSIGNAL", "WIDTHTRUNC", "WIDTHEXPAND", "PROCASSINIT"}
    ok, out = lint(source, config)
    reported = {(rule, int(line)) for rule, line in re.findall(r"%Warning-(\w+): \S+?:(\d+):", out)}
    assert reported == {(x.rule, x.line) for x in everything if not waives(w, x)}


@pytest.mark.parametrize("line", ['lint_off -rule WIDTHTRUNC -file "*/x.v" -lines 3',
                                  'lint_on -rule WIDTHTRUNC',
                                  'lint_off -rule'])
def test_read_waivers_rejects_what_it_cannot_emulate(tmp_path, line):
    config = tmp_path / "waiver.vlt"
    config.write_text(f"`verilator_config\n{line}\n")
    with pytest.raises(ValueError, match="waiver.vlt:2"):
        read_waivers(config)
