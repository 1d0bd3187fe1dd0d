"""lptrain Amaranth generators; `python -m hdl_gen UNIT --param value -o DIR` generates any
configuration, `python -m hdl_gen.rtl` writes the default configurations to rtl/."""

# Recorded in every generated Verilog header; kept equal to pyproject.toml's version (a test).
__version__ = "0.1.0"
