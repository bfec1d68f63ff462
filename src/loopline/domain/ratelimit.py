"""Token buckets: whether a workspace may ingest more right now, or a client try again."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """Allows ``rate`` units per second with bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def available(self, now: float) -> float:
        """Return the tokens the bucket holds at ``now``."""
        return min(self.burst, self.tokens + (now - self.updated) * self.rate)

    def take(self, amount: float, now: float) -> float:
        """Take ``amount`` tokens; return 0 if allowed, else the seconds until it would be."""
        self.tokens = self.available(now)
        self.updated = now
        if amount <= self.tokens:
            self.tokens -= amount
            return 0.0
        return (amount - self.tokens) / self.rate


@dataclass(slots=True)
class KeyedBuckets:
    """A token bucket per key (a client address, a link), remembering at most ``max_keys`` keys.

    A bucket that has filled up again is the same as a new one, so those are forgotten first
    when the table is full; if a flood of keys leaves none full, the oldest half goes (its
    keys start afresh, which only ever lets more through, never blocks anyone wrongly).
    """

    max_keys: int
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def take(self, key: str, now: float, *, per_minute: float, burst: float) -> float:
        """Count one use of ``key``; return 0 if allowed, else the seconds until it would be."""
        if key not in self.buckets and len(self.buckets) >= self.max_keys:
            self.buckets = {k: b for k, b in self.buckets.items() if b.available(now) < b.burst}
            if len(self.buckets) >= self.max_keys:
                self.buckets = dict(list(self.buckets.items())[len(self.buckets) // 2:])
        bucket = self.buckets.setdefault(key, TokenBucket(per_minute / 60.0, burst, burst, now))
        return bucket.take(1, now)


class ClientLimit:
    """Uses of one subject (an e-mail address, a link) per minute, and ten times as many per client.

    The first is keyed by subject and client together where the subject is someone's (an
    attacker elsewhere cannot lock a person out) or by the subject alone; the second keeps
    one client from walking many subjects quickly. Safe to share between threads.
    """

    def __init__(self, per_minute: float, *, max_keys: int = 50_000) -> None:
        self._per_minute = float(per_minute)
        self._buckets = KeyedBuckets(max_keys)
        self._lock = threading.Lock()

    def wait(self, *, subject: str, client: str, now: float) -> float:
        """Count one use; return 0 if allowed, else the seconds until it would be (both counts are taken)."""
        with self._lock:
            return max(
                self._buckets.take(f"s:{subject}", now, per_minute=self._per_minute, burst=self._per_minute),
                self._buckets.take(f"c:{client}", now, per_minute=self._per_minute * 10,
                                   burst=self._per_minute * 10),
            )
