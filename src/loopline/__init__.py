"""Loopline: a Python-native mobile customer engagement platform."""

__version__ = "0.1.0"
