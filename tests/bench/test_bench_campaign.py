"""``loopline bench campaign`` at a tiny size: it runs the whole path and its counts add up."""

from __future__ import annotations

from loopline.bench.campaign import run_campaign


def test_the_campaign_bench_runs_and_accounts_for_every_customer():
    result = run_campaign(scale=0.001)
    assert result["bench"] == "campaign"
    assert result["audience"] == 1_000
    assert result["sent"] + result["deferred"] + result["skipped"] + result["failed"] == 1_000
    assert set(result["skipped_by_reason"]) == {"control_group", "frequency_cap", "no_consent"}
    assert result["deferred"] > 0  # New York is in its quiet hours at the bench's instant
    assert result["messages_per_s"] > 0
    assert result["vs_limit"] > 0
