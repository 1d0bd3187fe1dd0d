"""golden.bist_report: the line's text, 8N1 framing cycle by cycle, decoding, bad input."""

import numpy as np
import pytest

from golden.bist_report import decode, line, waveform


def test_line_text():
    assert line(8, 4, True, 0x248) == b"bist_top 8x4 PASS cycles=00000248\r\n"
    assert line(2, 2, False, 0xDEADBEEF) == b"bist_top 2x2 FAIL cycles=deadbeef\r\n"


def test_waveform_frames_a_byte_lsb_first():
    # 0x41 'A' = 0100 0001: start 0, data 1 0 0 0 0 0 1 0, stop 1; two cycles a bit.
    assert waveform(b"A", 2).tolist() == [0, 0, 1, 1] + [0, 0] * 5 + [1, 1, 0, 0, 1, 1]


@pytest.mark.parametrize("divisor", [1, 2, 5, 217])
def test_decode_inverts_waveform(divisor):
    data = bytes(np.random.default_rng(divisor).integers(0, 256, 40, dtype=np.uint8)) + line(2, 2, True, 7)
    idle = np.ones(3 * divisor, np.uint8)
    assert decode(np.concatenate([idle, waveform(data, divisor), idle]), divisor) == data


def test_decode_reports_a_framing_error():
    bad = waveform(b"\x00", 3)
    bad[-3:] = 0  # stop bit low
    with pytest.raises(ValueError, match="framing error"):
        decode(np.concatenate([[1], bad, [1, 1, 1]]), 3)


@pytest.mark.parametrize("call, name", [(lambda: line(2, 2, True, 1 << 32), "cycles"),
                                        (lambda: waveform(b"x", 0), "divisor"),
                                        (lambda: decode([1, 0], 0), "divisor")])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
