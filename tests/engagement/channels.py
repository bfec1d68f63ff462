"""Channels for fault tests: one that counts every hand-over, one that dies part-way through."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from loopline.ports import Channel, Delivery, Outbound


class ProcessDied(BaseException):
    """Stands for SIGKILL: nothing after the hand-over is recorded (not an Exception, so nothing catches it)."""


class CountingChannel:
    """Passes messages on and counts how often each customer was handed one."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.per_profile: Counter[str] = Counter()
        self.per_key: Counter[str] = Counter()

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        self.per_profile.update(m.profile_id for m in messages)
        self.per_key.update(m.send_key for m in messages)
        return self.inner.deliver(messages)

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        return self.inner.received(send_keys)


class DyingChannel:
    """Delivers ``budget`` messages in all, then dies in the middle of a hand-over.

    With ``spare`` instead, it dies in its first hand-over after delivering all but the last
    ``spare`` messages of it (so a hand-over of two or more dies half-way).
    """

    def __init__(self, inner: Channel, *, budget: int | None = None, spare: int = 0) -> None:
        self.inner, self.budget, self.spare = inner, budget, spare

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        if self.budget is None:
            self.budget = max(0, len(messages) - self.spare)
        if len(messages) <= self.budget and not self.spare:
            self.budget -= len(messages)
            return self.inner.deliver(messages)
        self.inner.deliver(messages[: self.budget])
        self.budget = 0
        raise ProcessDied

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        return self.inner.received(send_keys)


class BlindChannel:
    """Delivers through ``inner`` but, like an SMTP relay, cannot say afterwards what it received."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        return self.inner.deliver(messages)

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        return None
