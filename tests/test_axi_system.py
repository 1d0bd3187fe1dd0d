"""The ZC706 AXI system flow (fpga/axi_system.py) without Vivado.

The plan holds the generated wrapper with the requested parameters, and a Vivado script whose
block design has the parts the issue asks for, wired as fpga/zc706_driver.py expects: the board's
part and board file, processing_system7 with FCLK_CLK0 at the stated frequency and HP0, an AXI
DMA in simple mode, the wrapper's three AXI interfaces connected, the bitstream and hardware
handoff named as pynq.Overlay loads them. `make bitstream TOP=axi` exits 2 with one line naming the
plan when Vivado is missing and runs the script when AMARANTH_ENV_VIVADO sets Vivado up.
"""

import os
import re
import subprocess
import sys

from hdl_gen.rtl import generator_parameters, header
from fpga import axi_system
from lptrain.paths import ROOT
from tests.vivado import fake_vivado_settings


def test_plan(tmp_path):
    platform, out = axi_system.write_plan("zc706", tmp_path, fclk_mhz=125, rows=1, cols=2)
    cls, params = generator_parameters("mac_array_axi")
    verilog = (out / "mac_array_axi.v").read_text()
    assert verilog.startswith(header("mac_array_axi", cls, {**params, "rows": 1, "cols": 2}))
    assert re.search(r"^module mac_array_axi\(", verilog, re.M)
    tcl = (out / "system.tcl").read_text()
    for line in ["create_project -force mac_array_system vivado -part xc7z045ffg900-2",
                 "set_property board_part xilinx.com:zc706:part0:1.4 [current_project]",
                 "add_files -norecurse mac_array_axi.v",
                 "create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps7",
                 "create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 axi_dma_0",
                 "create_bd_cell -type module -reference mac_array_axi mac_array_axi_0",
                 "connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins mac_array_axi_0/s_axis]",
                 "connect_bd_intf_net [get_bd_intf_pins mac_array_axi_0/m_axis] [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]",
                 "connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins mac_array_axi_0/clk]",
                 "file copy -force [get_property DIRECTORY [get_runs impl_1]]/system_wrapper.bit mac_array_system.bit"]:
        assert line in tcl.splitlines(), line
    assert "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {125}" in tcl and "CONFIG.PCW_USE_S_AXI_HP0 {1}" in tcl
    assert "CONFIG.c_include_sg {0}" in tcl and "CONFIG.c_m_axis_mm2s_tdata_width {64}" in tcl
    for master, slave in [("/ps7/M_AXI_GP0", "/mac_array_axi_0/s_axi"), ("/ps7/M_AXI_GP0", "/axi_dma_0/S_AXI_LITE"),
                          ("/axi_dma_0/M_AXI_MM2S", "/ps7/S_AXI_HP0"), ("/axi_dma_0/M_AXI_S2MM", "/ps7/S_AXI_HP0")]:
        assert f"Master {{{master}}} Slave {{{slave}}}" in tcl
    assert "peripheral_reset" in tcl and "ps7/IRQ_F2P" in tcl and "mac_array_system.hwh" in tcl
    assert os.access(out / "build_system.sh", os.X_OK)


def _cli(args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("AMARANTH_ENV_VIVADO", "VIVADO")}
    clean["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"])
    return subprocess.run([sys.executable, "-m", "fpga", "bitstream", "--board", "zc706", "--top", "axi",
                           "--size", "1", *args], cwd=ROOT, capture_output=True, text=True, env={**clean, **env})


def test_without_vivado(tmp_path):
    proc = _cli(["--out", str(tmp_path)])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0] and "Vivado" in lines[0]
    assert "rows=1, cols=1" in (tmp_path / "mac_array_axi.v").read_text().splitlines()[1]


def test_runs_vivado_from_amaranth_env(tmp_path):
    settings = fake_vivado_settings(tmp_path, ("mac_array_system.bit", "mac_array_system.hwh"))
    out = tmp_path / "plan"
    proc = _cli(["--out", str(out)], AMARANTH_ENV_VIVADO=str(settings))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "vivado_args").read_text().split() == ["-mode", "batch", "-log", "system.log", "-source", "system.tcl"]
    assert str(out / "mac_array_system.bit") in proc.stdout
