"""The segments benchmark runs end to end at a tiny scale: the three computations must agree."""

from __future__ import annotations

from tests.bench.test_bench_ingest import run_bench


def test_segments_bench_reports_every_reference_segment() -> None:
    result = run_bench("segments", 0.002)
    assert result["bench"] == "segments"
    assert set(result["segments"]) == {
        "trait_filter", "event_count_30d", "inactive_7d", "cart_abandoned_1h", "rfm_champions"}
    for name, part in result["segments"].items():
        # The bench raises when ours, the hand-written SQL and pandas disagree; members > 0 shows
        # each reference segment selects someone at this size too.
        assert part["members"] > 0, name
        assert part["seconds"] > 0, name
    assert result["seconds"] == max(part["seconds"] for part in result["segments"].values())
    assert result["vs_limit"] == min(part["vs_limit"] for part in result["segments"].values())


def test_analytics_bench_reports_every_reference_report() -> None:
    result = run_bench("analytics", 0.002)
    assert result["bench"] == "analytics"
    # The bench raises when a report and its hand-written SQL disagree.
    assert set(result["reports"]) == {"dau", "retention", "funnel", "paths"}
    assert result["vs_limit"] == min(part["vs_limit"] for part in result["reports"].values())


def test_incremental_bench_keeps_members_equal_to_a_full_evaluation() -> None:
    result = run_bench("segments-incremental", 0.002)
    assert result["bench"] == "segments-incremental"
    # The bench raises when the members kept batch by batch differ from a full evaluation;
    # people moving in and out shows the batches changed something to keep.
    assert result["entered"] > 0
    assert result["exited"] > 0
    assert result["batches"] * result["batch_events"] > 0
    assert result["ms_per_batch"] > 0
