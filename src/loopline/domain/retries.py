"""When to try a refused hand-over again: exponential backoff with jitter, never before the provider asked.

A provider that is overloaded or briefly down is retried after 30 s, 1 min, 2 min … up to
an hour, each wait drawn between half and all of that step (full jitter would let waits be
near zero; half keeps the backoff meaningful while still spreading a crowd of retries
apart). A ``Retry-After`` from the provider is a floor: waiting less is refused anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

FIRST_WAIT_S = 30.0
LONGEST_WAIT_S = 3_600.0
LONGEST_RETRY_AFTER_S = 24 * 3_600.0  # a provider asking for more is treated as asking for a day


def retry_delay(attempt: int, *, retry_after_s: float | None, jitter: float) -> timedelta:
    """Return the wait before attempt ``attempt + 1`` after attempt ``attempt`` (1 = the first) was refused.

    ``jitter`` is a random draw in [0, 1), passed in so the rule itself stays deterministic.
    """
    step = min(LONGEST_WAIT_S, FIRST_WAIT_S * 2 ** max(0, attempt - 1))
    wait = step / 2 + step / 2 * min(max(jitter, 0.0), 1.0)
    if retry_after_s is not None and retry_after_s > 0:
        wait = max(wait, min(retry_after_s, LONGEST_RETRY_AFTER_S))
    return timedelta(seconds=wait)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait (a number, or an HTTP date), at most a day;
    None when it is absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(float(text), LONGEST_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):  # the parser's ways of saying "not a date"
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), LONGEST_RETRY_AFTER_S)
