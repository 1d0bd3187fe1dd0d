# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.hybrid_mac: validated, and reflected in the port widths."""

import pytest

from golden.hybrid_mac import TIMING, latency
from hdl_gen.hybrid_mac import FloatMac, FP8Mac, FP16Accumulator, FP16Mac, HybridMac


@pytest.mark.parametrize("lanes", [1, 4, 7, 64])
def test_port_widths(lanes):
    h = HybridMac(lanes)
    assert len(h.x) == len(h.g) == 4 * lanes
    assert len(h.scale_exp) == 6 and h.scale_exp.shape().signed
    assert len(h.phase) == len(h.sx) == len(h.en) == len(h.clear) == 1
    f = FP16Mac(lanes)
    assert len(f.x) == len(f.g) == 16 * lanes
    assert len(h.acc) == len(f.acc) == 16


@pytest.mark.parametrize("unit", [HybridMac, FP16Mac, FP8Mac])
@pytest.mark.parametrize("bad", [0, -1, 65, 4.0, "4", True, None])
def test_bad_lanes_raises(unit, bad):
    with pytest.raises(ValueError, match=r"lanes must be an integer in \[1, 64\]"):
        unit(bad)


@pytest.mark.parametrize("kwargs,match", [
    (dict(sum_width=20, lsb=-23), r"lsb must be an integer <= -24"),
    (dict(sum_width=20, lsb=-24.0), r"lsb must be an integer <= -24"),
    (dict(sum_width=0, lsb=-24), r"sum_width must be a positive integer"),
    (dict(sum_width="8", lsb=-24), r"sum_width must be a positive integer"),
])
def test_bad_accumulator_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FP16Accumulator(**kwargs)


@pytest.mark.parametrize("lanes", [1, 4, 16])
def test_fp8_port_widths(lanes):
    f = FP8Mac(lanes)
    assert len(f.x) == len(f.g) == 8 * lanes and len(f.acc) == 16
    assert (f.fmt_x, f.fmt_g) == ("e4m3", "e5m2")  # HFP8: activations/weights x gradients


@pytest.mark.parametrize("unit,name", [(HybridMac, "hybrid_mac"), (FP16Mac, "fp16_mac"), (FP8Mac, "fp8_mac")])
def test_timing_attributes_follow_golden(unit, name):
    """Defaults are golden.hybrid_mac.TIMING; latency = front + chains; one beat per cycle."""
    u = unit(4)
    assert (u.front, u.chains) == TIMING[name] and u.latency == latency(name) and u.macs_per_cycle == 4
    u = unit(4, front=0, chains=1)
    assert u.latency == 1 == latency(name, chains=1) - TIMING[name][0]


@pytest.mark.parametrize("kwargs,match", [
    (dict(chains=0), r"chains must be an integer in \[1, 3\]"),
    (dict(chains=4), r"chains must be an integer in \[1, 3\]"),
    (dict(chains=True), r"chains must be an integer in \[1, 3\]"),
    (dict(front=-1), r"front must be an integer in \[0, 2\]"),
    (dict(front=3), r"front must be an integer in \[0, 2\]"),
])
def test_bad_pipeline_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FloatMac(4, **kwargs)
    if "front" in kwargs:
        with pytest.raises(ValueError, match=r"front must be an integer in \[0, 1\]"):
            HybridMac(4, front=2)


@pytest.mark.parametrize("kwargs,match", [
    (dict(fmt_x="e3m4"), r"fmt_x must be one of \('fp16', 'e4m3', 'e5m2'\)"),
    (dict(fmt_g="fp32"), r"fmt_g must be one of"),
])
def test_bad_formats_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FloatMac(4, **kwargs)
    with pytest.raises(ValueError, match="fmt_x and fmt_g must be 'e4m3' or 'e5m2'"):
        FP8Mac(4, fmt_x="fp16")
