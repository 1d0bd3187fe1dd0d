# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.hybrid_mac: validated, and reflected in the ports and timing."""

import pytest

from golden.fp16_accumulator import TIMING, latency
from hdl_gen.hybrid_mac import HybridMac


@pytest.mark.parametrize("lanes", [1, 4, 7, 64])
def test_port_widths(lanes):
    h = HybridMac(lanes)
    assert len(h.x) == len(h.g) == 4 * lanes
    assert len(h.scale_exp) == 6 and h.scale_exp.shape().signed
    assert len(h.phase) == len(h.sx) == len(h.in_valid) == len(h.in_ready) == len(h.in_last) == 1
    assert len(h.out_valid) == 1 and len(h.out_data) == 16


@pytest.mark.parametrize("bad", [0, -1, 65, 4.0, "4", True, None])
def test_bad_lanes_raises(bad):
    with pytest.raises(ValueError, match=r"lanes must be an integer in \[1, 64\]"):
        HybridMac(bad)


def test_timing_follows_golden():
    """Defaults are golden.fp16_accumulator.TIMING; latency as golden; one beat per cycle."""
    h = HybridMac(4)
    assert (h.front, h.chains) == TIMING["hybrid_mac"] and h.latency == latency("hybrid_mac") == 5
    assert h.macs_per_cycle == 4
    assert HybridMac(4, front=0, chains=1).latency == 1 and HybridMac(4, chains=3).latency == 7


@pytest.mark.parametrize("kwargs,match", [
    (dict(front=2), r"front must be an integer in \[0, 1\]"),
    (dict(chains=4), r"chains must be an integer in \[1, 3\]"),
])
def test_bad_pipeline_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HybridMac(4, **kwargs)
