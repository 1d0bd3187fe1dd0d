# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""hdl_gen.fp8: format and bias validated (ValueError naming the parameter), ports per option."""

import pytest

from golden.fp8 import FORMATS
from hdl_gen.fp8 import FP8ToFP16, FP16ToFP8
from verif.harness import port_list

UNITS = (FP16ToFP8, FP8ToFP16)
ALLOWED = {"e4m3": (0, 22), "e5m2": (15, 23)}  # docs/spec.md: decode to FP16 must be exact


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_default_and_allowed_biases(unit, fmt):
    assert unit(fmt).format.bias == FORMATS[fmt][2]
    lo, hi = ALLOWED[fmt]
    for bias in range(lo, hi + 1):
        assert unit(fmt, bias).format.bias == bias


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("fmt,bias", [("e4m3", -1), ("e4m3", 23), ("e5m2", 14), ("e5m2", 24),
                                      ("e4m3", 7.0), ("e5m2", True), ("e4m3", "7")])
def test_bad_bias_raises(unit, fmt, bias):
    lo, hi = ALLOWED[fmt]
    with pytest.raises(ValueError, match=rf"bias for {fmt} must be an integer in \[{lo}, {hi}\]"):
        unit(fmt, bias)


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("fmt", ["e3m4", "E4M3", "fp8", None])
def test_bad_format_raises(unit, fmt):
    with pytest.raises(ValueError, match=r"fmt must be one of \('e4m3', 'e5m2'\)"):
        unit(fmt)


@pytest.mark.parametrize("bad", [1, 0, "yes", None])
def test_bad_stochastic_raises(bad):
    with pytest.raises(ValueError, match="stochastic must be True or False"):
        FP16ToFP8("e4m3", stochastic=bad)


def test_ports():
    flags = [("invalid", 1, False), ("overflow", 1, False), ("underflow", 1, False)]
    assert port_list(FP16ToFP8("e5m2")) == [("x", 16, True), ("code", 8, False), *flags]
    assert port_list(FP16ToFP8("e4m3", stochastic=True)) == [
        ("x", 16, True), ("code", 8, False), *flags, ("stochastic", 1, True), ("rand", 16, True)]
    assert port_list(FP8ToFP16("e4m3")) == [("code", 8, True), ("y", 16, False)]
