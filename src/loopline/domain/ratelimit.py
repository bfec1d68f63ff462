"""A token bucket: the decision whether a workspace may ingest more right now."""

from __future__ import annotations

from dataclasses import dataclass


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
