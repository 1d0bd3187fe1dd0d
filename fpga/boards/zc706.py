"""Amaranth platform for the AMD/Xilinx ZC706 evaluation board (Zynq-7000 xc7z045ffg900-2).

Only the programmable-logic (PL) side is described: the 200 MHz system clock, the four user LEDs,
the three GPIO push buttons and the four-way DIP switch. Pin names follow the board user guide
(AMD/Xilinx UG954, "ZC706 Evaluation Board for the Zynq-7000 XC7Z045 SoC"); pins and I/O
standards were checked against two independent public board files, which agree pin for pin:

- Analog Devices HDL, `projects/common/zc706/zc706_system_constr.xdc`
  (github.com/analogdevicesinc/hdl): GPIO_LED_LEFT/CENTER/RIGHT/0, GPIO_SW_LEFT/CENTER/RIGHT,
  GPIO_DIP_SW0-3 with their LVCMOS25 / LVCMOS15 standards;
- VLSI-EDA PoC, `ucf/ZC706/Clock.SystemClock.xdc`, `GPIO.LED.xdc`, `GPIO.Button.Cursor.xdc`
  (github.com/VLSI-EDA/PoC): SYSCLK on H9/G9 (200 MHz SiTime SIT9102 oscillator, U64), the same
  LED and button pins, buttons active high with external pull-downs.

SYSCLK (H9/G9) sits on HP bank 34, which the board powers at 1.5 V for the PL DDR3 SODIMM, so the
clock input uses DIFF_SSTL15 as the Xilinx ZC706 master XDC and MIG-generated designs do (an LVDS
input without DIFF_TERM, as PoC and LiteX-Boards use, is also legal there). LEDs and buttons are
active high and sit on 2.5 V (VADJ) and 1.5 V banks, hence the per-pin I/O standards.
"""

from amaranth.build import Attrs, Clock, DiffPairs, Pins, Resource
from amaranth.vendor import XilinxPlatform

__all__ = ["ZC706Platform"]


def _single(name, number, pin, direction, iostandard):
    return Resource(name, number, Pins(pin, dir=direction), Attrs(IOSTANDARD=iostandard))


class ZC706Platform(XilinxPlatform):
    """ZC706 PL resources: `clk200`, `led` 0-3, `button` 0-2 (left, center, right), `switch` 0-3.

    LED order follows the board silkscreen: 0 = GPIO_LED_LEFT (DS8), 1 = GPIO_LED_CENTER (DS9),
    2 = GPIO_LED_RIGHT (DS10), 3 = GPIO_LED_0 (DS35). Vivado is the toolchain (the default for
    series 7); `AMARANTH_ENV_VIVADO` names a settings script sourced before Vivado runs.
    """

    device = "xc7z045"
    package = "ffg900"
    speed = "2"
    default_clk = "clk200"
    # Vivado board file (shipped with Vivado) whose processing_system7 preset configures the PS:
    # DDR3, MIO, clocks. Used by the AXI system flow (fpga/axi_system.py).
    board_part = "xilinx.com:zc706:part0:1.4"
    # xc7z045 programmable logic (Zynq-7000 data sheet DS190): what the resource estimate divides by.
    capacity = {"LUT": 218_600, "FF": 437_200, "CARRY4": 54_650, "DSP48E1": 900, "BRAM36": 545}

    resources = [
        Resource("clk200", 0, DiffPairs("H9", "G9", dir="i"), Clock(200e6),
                 Attrs(IOSTANDARD="DIFF_SSTL15")),
        _single("led", 0, "Y21", "o", "LVCMOS25"),
        _single("led", 1, "G2", "o", "LVCMOS15"),
        _single("led", 2, "W21", "o", "LVCMOS25"),
        _single("led", 3, "A17", "o", "LVCMOS15"),
        _single("button", 0, "AK25", "i", "LVCMOS25"),
        _single("button", 1, "K15", "i", "LVCMOS15"),
        _single("button", 2, "R27", "i", "LVCMOS25"),
        _single("switch", 0, "AB17", "i", "LVCMOS25"),
        _single("switch", 1, "AC16", "i", "LVCMOS25"),
        _single("switch", 2, "AC17", "i", "LVCMOS25"),
        _single("switch", 3, "AJ13", "i", "LVCMOS25"),
    ]
    connectors = []
