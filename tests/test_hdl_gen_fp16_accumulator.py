# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Parameters of hdl_gen.fp16_accumulator's pieces: validated, and reflected in the ports."""

import pytest

from hdl_gen.fp16_accumulator import ChainCombiner, FloatMac, FP16Accumulator


@pytest.mark.parametrize("kwargs,match", [
    (dict(sum_width=20, lsb=-23), r"lsb must be an integer <= -24"),
    (dict(sum_width=20, lsb=-24.0), r"lsb must be an integer <= -24"),
    (dict(sum_width=0, lsb=-24), r"sum_width must be a positive integer"),
    (dict(sum_width="8", lsb=-24), r"sum_width must be a positive integer"),
    (dict(sum_width=20, lsb=-24, chains=4), r"chains must be an integer in \[1, 3\]"),
    (dict(sum_width=20, lsb=-24, front=1), r"front must be True or False"),
])
def test_bad_accumulator_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FP16Accumulator(**kwargs)


def test_accumulator_ports():
    a = FP16Accumulator(30, -24)
    assert len(a.sum) == 30 and len(a.nsum) == 31 and a.nsum.shape().signed and len(a.acc) == 16


@pytest.mark.parametrize("chains", [1, 2, 3])
def test_combiner_ports(chains):
    c = ChainCombiner(chains)
    assert len(c.acc) == len(c.out_data) == 16
    assert hasattr(c, "count") == (chains > 1)


@pytest.mark.parametrize("bad", [0, 4, True, 2.0])
def test_bad_combiner_chains_raise(bad):
    with pytest.raises(ValueError, match=r"chains must be an integer in \[1, 3\]"):
        ChainCombiner(bad)


@pytest.mark.parametrize("kwargs,match", [
    (dict(chains=0), r"chains must be an integer in \[1, 3\]"),
    (dict(chains=True), r"chains must be an integer in \[1, 3\]"),
    (dict(front=-1), r"front must be an integer in \[0, 3\]"),
    (dict(shift_bits=6), r"shift_bits must be an integer in \[0, 5\]"),
    (dict(fmt_x="e3m4"), r"fmt_x must be one of \('fp16', 'e4m3', 'e5m2'\)"),
    (dict(fmt_g="fp32"), r"fmt_g must be one of"),
])
def test_bad_float_mac_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FloatMac(4, **kwargs)


def test_float_mac_unit_follows_formats():
    """Both fp16: the fp16_mac timing defaults; any FP8 operand: fp8_mac's."""
    assert FloatMac(4).unit == "fp16_mac" and FloatMac(4, "e4m3", "e4m3").unit == "fp8_mac"
    assert len(FloatMac(2, "fp16", "e5m2").g) == 16
