"""The training-cost model: latency and energy of whole training runs on the arrays (`make cost`).

Cycles come from golden.gemm.predict_cycles (checked against the RTL), power from `make synth`,
memory traffic from each tensor's stored width (docs/flows.md).
"""
