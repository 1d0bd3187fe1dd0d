# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.fp16_mac: validated, and reflected in the ports and timing."""

import pytest

from golden.fp16_accumulator import TIMING, latency
from hdl_gen.fp16_mac import FP16Mac


@pytest.mark.parametrize("lanes", [1, 4, 16])
def test_port_widths(lanes):
    f = FP16Mac(lanes)
    assert len(f.x) == len(f.g) == 16 * lanes and len(f.out_data) == 16
    assert (f.fmt_x, f.fmt_g) == ("fp16", "fp16")


@pytest.mark.parametrize("bad", [0, 65, True])
def test_bad_lanes_raises(bad):
    with pytest.raises(ValueError, match=r"lanes must be an integer in \[1, 64\]"):
        FP16Mac(bad)


def test_timing_follows_golden():
    f = FP16Mac(4)
    assert (f.front, f.chains) == TIMING["fp16_mac"] and f.latency == latency("fp16_mac") == 6
    assert FP16Mac(4, front=2, chains=1).latency == 3
    assert FP16Mac(32, front=3).latency == latency("fp16_mac", 3) == 7


@pytest.mark.parametrize("kwargs,match", [
    (dict(front=4), r"front must be an integer in \[0, 3\]"),
    (dict(chains=0), r"chains must be an integer in \[1, 3\]"),
])
def test_bad_pipeline_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FP16Mac(4, **kwargs)
