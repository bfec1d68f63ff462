"""Compilers from definitions (segments, reports) to each analytics engine's SQL; pure, no I/O."""
