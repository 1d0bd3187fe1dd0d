"""The board side of the self-checking top: `hdl_gen.bist_top.BistTop` on a board of `fpga.boards`.

An MMCM derives the run clock from the board clock; LEDs show heartbeat, done, pass and fail; a
push button restarts the run and a DIP switch selects stall mode.
"""

from amaranth.hdl import ClockDomain, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import FFSynchronizer, ResetSynchronizer

__all__ = ["BistBoard"]


class BistBoard(wiring.Component):
    """`BistTop` on a board: LEDs 0-3 = heartbeat, done, pass, fail; `button` restarts the run
    (held: the run waits; released: it starts); `switch` 0 selects stall mode.

    The run clock comes from an MMCM: VCO = 1000 MHz from the board clock, divided down to
    `clk_mhz` (1000/clk_mhz must be a multiple of 1/8 in [2, 128]). The default, 100 MHz, leaves
    the fusion unit's combinational multiply-add a full 10 ns cycle; the board clock (200 MHz) is
    what the build plan constrains, and Vivado derives the MMCM output clock from it.
    """

    def __init__(self, bist, clk_mhz=100, button=1):
        divide = 1000 / clk_mhz if clk_mhz > 0 else 0
        if not (2 <= divide <= 128 and (divide * 8).is_integer()):
            raise ValueError(f"clk_mhz must be 1000/d with d in [2, 128] a multiple of 1/8 "
                             f"(e.g. 50, 100, 125, 200), got {clk_mhz!r}")
        self.bist, self.clk_mhz, self.button, self.divide = bist, clk_mhz, button, divide
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        clk_period = 1e9 / platform.default_clk_frequency
        mult = 1000 * clk_period / 1e3  # VCO 1000 MHz
        if not (mult * 8).is_integer():
            raise ValueError(f"board clock {platform.default_clk_frequency / 1e6} MHz cannot reach a "
                             f"1000 MHz VCO with an integer multiple of 1/8")
        m.submodules.clk_buf = clk_buf = io.Buffer("i", platform.request(platform.default_clk, dir="-"))
        feedback, clk_out, locked = Signal(), Signal(), Signal()
        m.submodules.mmcm = Instance(
            "MMCME2_BASE",
            p_CLKIN1_PERIOD=clk_period, p_DIVCLK_DIVIDE=1, p_CLKFBOUT_MULT_F=mult,
            p_CLKOUT0_DIVIDE_F=self.divide,
            i_CLKIN1=clk_buf.i, i_CLKFBIN=feedback, o_CLKFBOUT=feedback, o_CLKOUT0=clk_out,
            o_LOCKED=locked, i_RST=Const(0), i_PWRDWN=Const(0))
        m.domains.sync = ClockDomain("sync")
        m.submodules.bufg = Instance("BUFG", i_I=clk_out, o_O=ClockSignal("sync"))
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")

        m.submodules.bist = bist = self.bist

        def pin(name, number, direction):
            buffer = io.Buffer(direction, platform.request(name, number, dir="-"))
            m.submodules[f"{name}_{number}"] = buffer
            return buffer

        m.submodules.button_sync = FFSynchronizer(pin("button", self.button, "i").i, bist.restart)
        m.submodules.switch_sync = FFSynchronizer(pin("switch", 0, "i").i, bist.stall)
        for i, status in enumerate((bist.heartbeat, bist.done, bist.passed, bist.failed)):
            m.d.comb += pin("led", i, "o").o.eq(status)
        return m
