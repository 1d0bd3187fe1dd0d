"""Self-checking top for the FPGA: a `mac_array` runs golden-generated tiles and checks itself.

`BistTop` is board-independent (plain clock, synchronous `restart`): stimulus ROM -> MacArray ->
checker against a ROM of golden results (golden/mac_array.py). `fpga.bist_board.BistBoard` puts it
on a board of fpga/boards: an MMCM derives the run clock from the board clock, and the LEDs show heartbeat,
done, pass and fail; a push button restarts the run and a DIP switch selects stall mode.

The run covers every valid precision pair of the array with every signedness combination, one
tile each, back to back, so the precision changes at every tile boundary (for MAXB = 8: 36 tiles,
2x2, 2x4, 2x8, 4x2, ... 8x8, then again with the next signedness). Lanes are uniformly random
(seeded), junk in the bus bits a mode does not read included. At the end the run also checks the
array's status: `error` low, `busy_cycles` equal to the beats sent, and every `macs_<a>x<b>`
counter equal to the golden model's count. A watchdog fails a run that stops making progress.

`stall` (sampled continuously) gates the input with pseudo-random gaps and the output with
pseudo-random backpressure from a 16-bit LFSR, exercising the array's hold path on silicon.
"""

import numpy as np
from amaranth.hdl import Module, Mux, ResetInserter, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.fusion import PRECISION_BITS, check_maxb, pack
from golden.lfsr16 import TOGGLE_MASK
from golden.mac_array import ACCW_DEFAULT, check_accw, lane_bits, mac_array, valid_modes

from .mac_array import MacArray

__all__ = ["BistTop", "bist_vectors", "default_tiles"]

SIGNS = ((1, 1), (0, 0), (1, 0), (0, 1))


def default_tiles(maxb=8, beats=16):
    """Every valid (pa, pb) code pair with every signedness: [(pa, pb, sa, sb, beats), ...]."""
    return [(pa, pb, sa, sb, beats) for sa, sb in SIGNS for pa, pb in valid_modes(maxb)]


def bist_vectors(rows, cols, maxb, accw, tiles, seed):
    """Stimulus beats, expected output rows and MAC counts of a run, from the golden model.

    Returns (beats, expected, macs): `beats` is a list of dicts (a, b: packed lanes; pa pb sa sb
    first last), `expected` a list of packed output rows (column c at [c*accw +: accw]) in output
    order, `macs` the golden {(bits_a, bits_b): count}.
    """
    lane = lane_bits(maxb)
    rng = np.random.default_rng(seed)
    modes = np.array([t[:4] for t in tiles for _ in range(t[4])], dtype=np.int64).reshape(-1, 4)
    first = np.concatenate([[k == 0 for k in range(t[4])] for t in tiles]).astype(np.int64)
    last = np.concatenate([[k == t[4] - 1 for k in range(t[4])] for t in tiles]).astype(np.int64)
    n = len(modes)
    # Python ints: lanes are 32 bits at MAXB = 8 and 128 at MAXB = 16.
    a = np.array([[int.from_bytes(rng.bytes(lane // 8), "little") for _ in range(rows)] for _ in range(n)],
                 dtype=object)
    b = np.array([[int.from_bytes(rng.bytes(lane // 8), "little") for _ in range(cols)] for _ in range(n)],
                 dtype=object)
    result = mac_array(a, b, *modes.T, first, last, maxb=maxb, accw=accw)
    assert not result.error and len(result.tiles) == len(tiles)

    a_bus, b_bus = pack(a, lane), pack(b, lane)
    beats = [dict(a=a_bus[k], b=b_bus[k], pa=int(modes[k, 0]), pb=int(modes[k, 1]),
                  sa=int(modes[k, 2]), sb=int(modes[k, 3]), first=int(first[k]), last=int(last[k]))
             for k in range(n)]
    expected = pack(result.tiles.reshape(-1, cols), accw).tolist()
    return beats, expected, result.macs


class BistTop(wiring.Component):
    """A `mac_array` checking itself against golden results held in ROMs.

    Parameters
    ----------
    rows, cols, maxb, accw : the MacArray's parameters.
    tiles : list of (pa, pb, sa, sb, beats), default `default_tiles(maxb)`.
    seed : int, seed of the random lanes.
    corrupt : int or None. Index of an expected output row whose lowest bit is flipped in the
        ROM: a run of that design must fail (the negative test of the checker).
    heartbeat_bits : the heartbeat is the top bit of a counter this wide.

    Ports
    -----
    restart : synchronous; while high the run is held in reset, its falling edge starts a run
        (a run also starts after the domain's reset).
    stall : pseudo-random input gaps and output backpressure while high.
    heartbeat : toggles every 2^(heartbeat_bits-1) cycles, whatever the run does.
    done : the run has ended (all results checked, or the watchdog fired).
    passed : done and every check held. failed : a check failed (set at the first bad result,
        before done) or the watchdog fired.
    cycles : cycles from the start of the run to done.
    """

    restart: In(1)
    stall: In(1)
    heartbeat: Out(1)
    done: Out(1)
    passed: Out(1)
    failed: Out(1)
    cycles: Out(32)

    def __init__(self, rows=4, cols=4, maxb=8, accw=ACCW_DEFAULT, tiles=None, seed=2020, corrupt=None,
                 heartbeat_bits=26):
        for name, value in (("rows", rows), ("cols", cols)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        check_maxb(maxb)
        check_accw(accw, maxb)
        self.tiles = default_tiles(maxb) if tiles is None else [tuple(t) for t in tiles]
        modes = valid_modes(maxb)
        for t in self.tiles:
            if len(t) != 5 or tuple(t[:2]) not in modes or t[2] not in (0, 1) or t[3] not in (0, 1) \
                    or not isinstance(t[4], int) or t[4] < 1:
                raise ValueError(f"tiles must be (pa, pb, sa, sb, beats) with (pa, pb) in {modes}, "
                                 f"sa, sb in (0, 1) and beats >= 1, got {t!r}")
        if not self.tiles:
            raise ValueError("tiles must not be empty")
        self.beats, self.expected, self.macs = bist_vectors(rows, cols, maxb, accw, self.tiles, seed)
        if corrupt is not None and not (isinstance(corrupt, int) and 0 <= corrupt < len(self.expected)):
            raise ValueError(f"corrupt must be None or an output row index in [0, {len(self.expected)}), "
                             f"got {corrupt!r}")
        if corrupt is not None:
            self.expected[corrupt] ^= 1
        if not isinstance(heartbeat_bits, int) or not 1 <= heartbeat_bits <= 40:
            raise ValueError(f"heartbeat_bits must be an integer in [1, 40], got {heartbeat_bits!r}")
        self.rows, self.cols, self.maxb, self.accw = rows, cols, maxb, accw
        self.corrupt, self.heartbeat_bits = corrupt, heartbeat_bits
        # Generous: every beat and every output may wait out the LFSR's longest run of zeros.
        self.watchdog = 16 * (len(self.beats) + len(self.expected) + rows + cols + 8)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        beat = Signal(self.heartbeat_bits)
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += self.heartbeat.eq(beat[-1])
        m.submodules.run = ResetInserter(self.restart)(self._run())
        return m

    def _run(self):
        m = Module()
        m.submodules.array = array = MacArray(self.rows, self.cols, self.maxb, self.accw)
        lane, n_beats, n_rows = array.lane, len(self.beats), len(self.expected)

        lfsr = Signal(16, init=1)
        m.d.sync += lfsr.eq((lfsr >> 1) ^ (lfsr[0].replicate(16) & TOGGLE_MASK))
        offer = ~self.stall | lfsr[0]
        take = ~self.stall | lfsr[1]

        # Stimulus: the read address runs one beat ahead, so a beat is ready every cycle.
        layout = data.StructLayout({"a": self.rows * lane, "b": self.cols * lane, "pa": 2, "pb": 2,
                                    "sa": 1, "sb": 1, "first": 1, "last": 1})
        m.submodules.stimulus = stimulus = Memory(shape=layout, depth=n_beats, init=self.beats)
        stim = stimulus.read_port()
        sent = Signal(range(n_beats + 1))
        primed = Signal()
        m.d.sync += primed.eq(1)
        fire_in = array.in_valid & array.in_ready
        m.d.comb += [
            stim.addr.eq(sent + fire_in),
            array.in_valid.eq(primed & (sent < n_beats) & offer),
            array.in_a.eq(stim.data.a), array.in_b.eq(stim.data.b),
            array.in_pa.eq(stim.data.pa), array.in_pb.eq(stim.data.pb),
            array.in_sa.eq(stim.data.sa), array.in_sb.eq(stim.data.sb),
            array.in_first.eq(stim.data.first), array.in_last.eq(stim.data.last),
        ]
        with m.If(fire_in):
            m.d.sync += sent.eq(sent + 1)

        # Checker: expected rows in output order, read one ahead like the stimulus.
        m.submodules.golden = golden = Memory(shape=self.cols * self.accw, depth=n_rows, init=self.expected)
        want = golden.read_port()
        checked = Signal(range(n_rows + 1))
        row = Signal(range(self.rows))
        fire_out = array.out_valid & array.out_ready
        m.d.comb += [array.out_ready.eq(~self.done & take), want.addr.eq(checked + fire_out)]
        bad_row = (array.out_data != want.data) | (array.out_row != row) \
            | (array.out_last != (row == self.rows - 1))
        with m.If(fire_out):
            m.d.sync += [checked.eq(checked + 1), row.eq(Mux(row == self.rows - 1, 0, row + 1))]
            with m.If(bad_row):
                m.d.sync += self.failed.eq(1)

        # End of run: the last row checked, or no result for too long.
        counters_ok = (array.busy_cycles == n_beats) & ~array.error
        for (pa, pb), name in array.counters.items():
            counters_ok &= getattr(array, name) == self.macs[PRECISION_BITS[pa], PRECISION_BITS[pb]]
        timeout = self.cycles == self.watchdog
        with m.If(~self.done):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(timeout):
                m.d.sync += [self.done.eq(1), self.failed.eq(1)]
            with m.Elif(fire_out & (checked == n_rows - 1)):
                m.d.sync += self.done.eq(1)
                with m.If(bad_row | ~counters_ok):
                    m.d.sync += self.failed.eq(1)
        m.d.comb += self.passed.eq(self.done & ~self.failed)
        return m

