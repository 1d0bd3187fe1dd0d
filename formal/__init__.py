"""Formal proofs of lptrain's RTL (SPEC.md "Flows": `make formal`); the driver is `python -m formal`."""
