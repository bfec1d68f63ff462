"""``loopline bench triggers`` at a tiny size: every trigger's message arrives and is timed."""

from __future__ import annotations

from loopline.bench.triggers import run_triggers


def test_the_triggers_bench_delivers_and_times_every_trigger():
    result = run_triggers(scale=0.01)
    assert result["bench"] == "triggers"
    assert result["triggers"] == 200  # two seconds at 1,000 events/s, one in ten
    assert result["delivered"] == result["triggers"]
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]
