# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""Generator parameters of hdl_gen.lfsr16: validated, and reflected in the ports and reset state."""

import pytest

from hdl_gen.lfsr16 import Lfsr16


def test_ports():
    unit = Lfsr16()
    assert [len(unit.en), len(unit.load), len(unit.seed), len(unit.rand_out)] == [1, 1, 16, 16]


@pytest.mark.parametrize("init,state", [(1, 1), (0, 1), (0xACE1, 0xACE1)])
def test_reset_state(init, state):
    assert Lfsr16(init=init).reset_state == state  # seed 0 would lock the LFSR


@pytest.mark.parametrize("bad", [0, 3, 15, 17, 65, True, 16.0])
def test_bad_steps_raises(bad):
    with pytest.raises(ValueError, match="steps must be"):
        Lfsr16(steps=bad)


@pytest.mark.parametrize("bad", [-1, 1 << 16, 1.5, None])
def test_bad_init_raises(bad):
    with pytest.raises(ValueError, match=r"init must be an integer in \[0, 65535\]"):
        Lfsr16(init=bad)
