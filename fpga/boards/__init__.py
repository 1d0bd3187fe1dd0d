"""Board platforms (Amaranth `amaranth.build` platforms) for the FPGA flows in fpga/flow.py."""

from .zc706 import ZC706Platform

# Board name (as given to `make bitstream BOARD=...`) -> platform class.
BOARDS = {"zc706": ZC706Platform}


def platform_for(board):
    """A fresh platform instance for `board`; ValueError listing the supported boards otherwise."""
    if board not in BOARDS:
        raise ValueError(f"unsupported board {board!r}; supported boards: {', '.join(sorted(BOARDS))}")
    return BOARDS[board]()
