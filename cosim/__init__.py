"""Training on the RTL: every GEMM of a training step executed by the simulated arrays and MACs
through a C++ Verilator driver and checked bit for bit against the golden model (docs/verification.md)."""
