"""Host drivers for lptrain IP on boards (NumPy only: they run on the board's ARM cores)."""
