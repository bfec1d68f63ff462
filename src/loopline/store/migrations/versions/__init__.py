"""Migration scripts, one per schema change, numbered in order."""
