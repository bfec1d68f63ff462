"""Token buckets per key: the counting behind the sign-in and landing-page form limits."""

from __future__ import annotations

from loopline.domain.ratelimit import ClientLimit, KeyedBuckets


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


def test_a_client_walking_many_subjects_is_stopped_at_ten_times_the_limit():
    limit = ClientLimit(2)
    waits = [limit.wait(subject=f"link{n}", client="10.0.0.1", now=0.0) for n in range(21)]
    assert waits[:20] == [0.0] * 20  # each link once: within every link's own count
    assert waits[20] > 0  # the client's own count (20 a minute) is spent
    assert limit.wait(subject="link0", client="10.0.0.2", now=0.0) == 0.0  # another client, the same link
    assert limit.wait(subject="link0", client="10.0.0.3", now=0.0) > 0  # link0's own two are spent
