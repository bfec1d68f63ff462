"""Benchmarks run by ``loopline bench NAME``; each returns the one JSON line it reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Bench = Callable[..., dict[str, Any]]
BENCHES: dict[str, Bench] = {}
