"""Deterministic synthetic Segment traffic for the demo fashion-shop workspace."""
