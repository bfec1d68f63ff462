"""Benchmarks run by ``loopline bench NAME``; each returns the one JSON line it reports."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Bench = Callable[..., dict[str, Any]]


def _lazy(module: str, function: str) -> Bench:
    """Return a bench that imports its module only when run, so ``loopline --help`` stays fast."""

    def run(**options: Any) -> dict[str, Any]:
        bench: Bench = getattr(importlib.import_module(module), function)
        return bench(**options)

    run.__name__ = function
    return run


BENCHES: dict[str, Bench] = {
    "ingest": _lazy("loopline.bench.ingest", "run_ingest"),
    "ingest-single": _lazy("loopline.bench.ingest", "run_ingest_single"),
    "segments": _lazy("loopline.bench.segments", "run_segments"),
    "segments-incremental": _lazy("loopline.bench.incremental", "run_segments_incremental"),
    "analytics": _lazy("loopline.bench.analytics", "run_analytics"),
    "campaign": _lazy("loopline.bench.campaign", "run_campaign"),
    "triggers": _lazy("loopline.bench.triggers", "run_triggers"),
    "smtp": _lazy("loopline.bench.smtp", "run_smtp"),
}
