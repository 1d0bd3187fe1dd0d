"""Formal proofs of lptrain's RTL (docs/spec.md "Flows": `make formal`); the driver is `python -m formal`."""
