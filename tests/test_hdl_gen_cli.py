# amaranth: UnusedElaboratable=no
"""`python -m hdl_gen`: every unit of the registry with every generator parameter as an option,
derived from the constructors (a new parameter or unit needs no CLI edit), headers that record
the generator and parameters, and one-line answers with exit status 2 to bad arguments."""

import functools
import re
import subprocess
import sys
import tomllib

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

import hdl_gen
from golden.mac_array import ACCW_DEFAULT, CNTW_DEFAULT
from hdl_gen import __main__ as cli
from hdl_gen import rtl
from hdl_gen.mac_array import MacArray
from lptrain.paths import ROOT


def test_version_is_the_package_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert hdl_gen.__version__ == project["version"]


def test_registry_entries_are_introspectable():
    for name in rtl.DEFAULTS:
        cls, params = rtl.generator_parameters(name)
        assert not set(params) & set(cli.RESERVED), f"{name}: a parameter shadows a CLI option"
        assert isinstance(rtl.DEFAULTS[name](), cls)
    assert rtl.generator_parameters("mac_array_fixed8")[1] == dict(rows=4, cols=4, maxb=8, accw=ACCW_DEFAULT, pe="fixed", cntw=CNTW_DEFAULT,
                                                                     layout="hierarchical", summation="tree")
    assert rtl.generator_parameters("fp16_to_e5m2")[1] == dict(fmt="e5m2", bias=None, stochastic=False)
    assert rtl.generator_parameters("tpr_quantizer")[1] == {}


def test_help_lists_units_and_parameters(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for name in rtl.DEFAULTS:
        line = next(l for l in text.splitlines() if l.split()[:1] == [name])
        for key, value in rtl.generator_parameters(name)[1].items():
            assert f"--{key.replace('_', '-')} {cli._describe(value)}" in line
    with pytest.raises(SystemExit) as exit_:
        cli.main(["mac_array", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert all(f"--{k}" in text for k in ("rows", "cols", "maxb", "accw", "pe", "cntw"))


def test_generates_a_non_default_array(tmp_path):
    """The README command, as a subprocess; the file is the generator's output for those values."""
    proc = subprocess.run([sys.executable, "-m", "hdl_gen", "mac_array", "--rows", "1", "--cols", "2",
                           "--maxb", "8", "--accw", "24", "-o", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "mac_array.v").read_text()
    assert text == rtl.header("mac_array", MacArray, dict(rows=1, cols=2, maxb=8, accw=24, pe="fusion", cntw=CNTW_DEFAULT,
                                                    layout="hierarchical", summation="tree")) + \
        rtl.to_verilog(MacArray(rows=1, cols=2, maxb=8, accw=24), "mac_array")
    assert re.search(r"output \[47:0\] out_data;", text) and re.search(r"input \[31:0\] in_a;", text)


def test_types_and_module_name(tmp_path):
    assert cli.main(["fp16_to_e4m3", "--stochastic", "true", "--bias", "9", "--name", "enc",
                     "-o", str(tmp_path)]) == 0
    text = (tmp_path / "enc.v").read_text()
    assert "FP16ToFP8(fmt='e4m3', bias=9, stochastic=True)" in text.splitlines()[1]
    assert re.search(r"^module enc\(", text, re.M) and "input [15:0] rand;" in text.replace("\\rand ", "rand")


@pytest.mark.parametrize("argv,words", [
    (["mac_array", "--accw", "8"], ["accw", "[18, 64]"]),
    (["mac_array", "--rows", "abc"], ["rows", ">= 1"]),
    (["mac_array", "--pe", "systolic"], ["pe", "fusion", "fixed"]),
    (["fp16_to_e4m3", "--fmt", "e3m4"], ["fmt", "e4m3", "e5m2"]),
    (["lfsr16", "--steps", "0"], ["steps"]),
    (["fp16_to_e4m3", "--stochastic", "yes please"], ["--stochastic", "true or false"]),
    (["mac_array", "--depth", "3"], ["--depth", "--rows", "--cntw"]),
    (["mac_array", "--rows"], ["--rows"]),
    (["systolic_array"], ["unit", "mac_array", "fusion_unit"]),
    ([], ["usage"]),
])
def test_bad_arguments_one_line_exit_2(argv, words, capsys, tmp_path):
    assert cli.main([*argv, "-o", str(tmp_path)] if argv else argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip() or captured.out.strip()
    assert argv == [] or len(err.splitlines()) == 1, err
    assert all(w in err for w in words), err
    assert not list(tmp_path.iterdir())


class _Toy(wiring.Component):
    """A stand-in generator with a parameter the CLI has never seen."""

    def __init__(self, width=4, *, pipeline_stages=0, layout="linear"):
        if layout not in ("linear", "hierarchical"):
            raise ValueError(f"layout must be one of ('linear', 'hierarchical'), got {layout!r}")
        self.params = (width, pipeline_stages, layout)
        super().__init__({"a": In(width), "y": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a)
        return m


def test_new_parameters_need_no_cli_edit(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(rtl.DEFAULTS, "toy", functools.partial(_Toy, 6, layout="hierarchical"))
    assert cli.main(["toy", "--pipeline-stages", "2", "--width", "3", "-o", str(tmp_path)]) == 0
    assert "_Toy(width=3, pipeline_stages=2, layout='hierarchical')" in (tmp_path / "toy.v").read_text()
    assert cli.main(["toy", "--layout", "diagonal"]) == 2
    assert "layout must be one of ('linear', 'hierarchical'), got 'diagonal'" in capsys.readouterr().err


@pytest.mark.parametrize("argv,words", [
    (["--rows", "0"], ["rows", ">= 1"]),
    (["--sim", "modelsim"], ["sim", "verilator", "icarus"]),
    (["--maxb", "16", "--accw", "40"], ["maxb", "8"]),
    (["--data-width", "48"], ["data_width", "32, 64"]),
])
def test_axi_sim_bad_arguments(argv, words, capsys):
    """`make sim-axi ARGS=...` takes the wrapper generator's options and answers like the CLI."""
    from verif import axi_sim

    assert axi_sim.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err
