"""FPGA boards and flows: Amaranth platforms (`fpga.boards`), the board side of the self-checking
top, build plans, resource estimates and the Zynq AXI system (docs/flows.md)."""
