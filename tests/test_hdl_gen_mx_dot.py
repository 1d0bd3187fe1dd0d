# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.mx_dot: validated, and reflected in the ports and timing."""

import pytest

from golden.mx_dot import FORMATS, element_format, latency
from hdl_gen.mx_dot import MxDot


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("acc,out_bits", [("fp32", 32), ("fp16", 16)])
def test_port_widths(fmt, acc, out_bits):
    block = 16 if fmt == "nvfp4" else 32
    d = MxDot(fmt, block, 8, acc)
    bits = element_format(fmt).bits
    assert len(d.a) == len(d.b) == 8 * bits and len(d.sa) == len(d.sb) == 8 and len(d.out_data) == out_bits
    assert d.latency == latency() and d.macs_per_cycle == 8


@pytest.mark.parametrize("kwargs,match", [
    (dict(fmt="fp4_e3m0"), "fmt must be one of"),
    (dict(block=12, lanes=8), r"block must be a positive multiple of lanes \(8\)"),
    (dict(block=0), "block must be a positive multiple of lanes"),
    (dict(lanes=0), r"lanes must be an integer in \[1, 64\]"),
    (dict(fmt="nvfp4", block=32), "block must be 16 for nvfp4"),
    (dict(acc="bf16"), "acc must be one of"),
])
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MxDot(**kwargs)
