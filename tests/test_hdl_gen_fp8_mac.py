# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.fp8_mac: validated, and reflected in the ports and timing."""

import pytest

from golden.fp16_accumulator import TIMING, latency
from hdl_gen.fp8_mac import FP8Mac


@pytest.mark.parametrize("lanes", [1, 4, 16])
def test_port_widths(lanes):
    f = FP8Mac(lanes)
    assert len(f.x) == len(f.g) == 8 * lanes and len(f.out_data) == 16
    assert (f.fmt_x, f.fmt_g) == ("e4m3", "e5m2")  # HFP8: activations/weights x gradients


def test_timing_follows_golden():
    f = FP8Mac(4)
    assert (f.front, f.chains) == TIMING["fp8_mac"] and f.latency == latency("fp8_mac") == 5


@pytest.mark.parametrize("kwargs", [dict(fmt_x="fp16"), dict(fmt_g="e3m4")])
def test_bad_formats_raise(kwargs):
    with pytest.raises(ValueError, match="fmt_x and fmt_g must be 'e4m3' or 'e5m2'"):
        FP8Mac(4, **kwargs)
