"""The pure core: decisions over data and ``now``; no I/O, no clock, no randomness."""
