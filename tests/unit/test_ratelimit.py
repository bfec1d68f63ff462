"""Token buckets per key: the counting behind the sign-in and landing-page form limits."""

from __future__ import annotations

from loopline.domain.ratelimit import KeyedBuckets


def test_a_key_gets_its_burst_then_waits_for_the_rate_and_other_keys_are_counted_apart():
    buckets = KeyedBuckets(max_keys=100)
    assert [buckets.take("a", 0.0, per_minute=6, burst=3) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 0.0, per_minute=6, burst=3) == 10.0  # one token per 10 s
    assert buckets.take("b", 0.0, per_minute=6, burst=3) == 0.0
    assert buckets.take("a", 10.0, per_minute=6, burst=3) == 0.0


def test_the_table_stays_bounded_and_forgets_full_buckets_before_busy_ones():
    buckets = KeyedBuckets(max_keys=4)
    buckets.take("busy", 0.0, per_minute=1, burst=2)
    buckets.take("busy", 0.0, per_minute=1, burst=2)
    for key in ("idle1", "idle2", "idle3"):
        buckets.take(key, 0.0, per_minute=60, burst=2)
    # A second later the idle keys have filled up again: they go, the busy one stays counted.
    assert buckets.take("new", 1.0, per_minute=60, burst=2) == 0.0
    assert set(buckets.buckets) == {"busy", "new"}
    assert buckets.take("busy", 1.0, per_minute=1, burst=2) > 0
    for key in range(100):  # a flood of keys that never fill up: the oldest half goes
        buckets.take(f"flood{key}", 1.0, per_minute=1, burst=5)
        assert len(buckets.buckets) <= 4
