"""The dialect protocol, and the helpers every engine's spelling shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

Path = Sequence[str]
"""A path into a JSON column: one key per nesting level."""


class Dialect(Protocol):
    """One engine's spelling of the fragments every query is built from."""

    name: str
    settings: str
    """Appended to every query: engine settings the compiled SQL relies on."""
    attributed_owners: bool
    """Whether the mart writes each event's owner into ``events.profile_id`` (see query.mart.EVENTS)."""

    def text(self, value: str) -> str:
        """Return a string literal."""
        ...

    def instant(self, value: datetime) -> str:
        """Return a timestamp-with-time-zone literal."""
        ...

    def json_text(self, column: str, path: Path) -> str:
        """Return the value at ``path`` when it is a JSON string, else NULL."""
        ...

    def json_number(self, column: str, path: Path) -> str:
        """Return the value at ``path`` when it is a JSON number, else NULL."""
        ...

    def json_bool(self, column: str, path: Path) -> str:
        """Return the value at ``path`` when it is a JSON boolean, else NULL."""
        ...

    def json_present(self, column: str, path: Path) -> str:
        """Return a condition: the path exists and holds something other than JSON null."""
        ...

    def json_array_has(self, column: str, path: Path, element: str) -> str:
        """Return a condition: the value at ``path`` is an array with this string element."""
        ...

    def contains(self, haystack: str, needle: str) -> str:
        """Return a condition: ``haystack`` contains ``needle``, ignoring case."""
        ...

    def lower(self, text: str) -> str:
        """Return ``text`` in lower case (every alphabet, not only ASCII)."""
        ...

    def as_date(self, text: str) -> str:
        """Return ``text`` as an instant when it is a date (``DATE_PATTERN``, a real day), else NULL."""
        ...

    def plus_minutes(self, instant: str, minutes: int) -> str:
        """Return ``instant`` moved ``minutes`` later."""
        ...

    def month_day(self, instant: str) -> str:
        """Return month × 100 + day of ``instant`` in UTC."""
        ...

    def version_key(self, text: str) -> str:
        """Return a number ordering versions by their first three parts, NULL when unordered."""
        ...

    def json_scalar_text(self, column: str, path: Path) -> str:
        """Return a string, number or boolean at ``path`` as text (numbers as written), else NULL."""
        ...

    def date(self, value: date) -> str:
        """Return a DATE literal."""
        ...

    def day(self, instant: str) -> str:
        """Return the UTC calendar day of ``instant`` as a DATE."""
        ...

    def week(self, day: str) -> str:
        """Return the Monday starting the week of DATE ``day``."""
        ...

    def minute(self, instant: str) -> str:
        """Return ``instant`` truncated to its minute."""
        ...

    def weekday(self, instant: str) -> str:
        """Return the UTC weekday of ``instant``, 0 = Monday."""
        ...

    def hour(self, instant: str) -> str:
        """Return the UTC hour of ``instant``."""
        ...

    def epoch_us(self, instant: str) -> str:
        """Return ``instant`` as whole microseconds since 1970 (exact, for differences and medians)."""
        ...

    def median(self, value: str) -> str:
        """Return the median aggregate (the mean of the two middle values for an even count)."""
        ...

    def first_by(self, value: str, order: str, tiebreak: str) -> str:
        """Return the aggregate of ``value`` (NULL kept) on the row with the least (order, tiebreak)."""
        ...

    def sample_bucket(self, text: str) -> str:
        """Return the bucket 0–99 that ``text`` (an id) hashes to: stable across calls, even across 100 buckets."""
        ...

    def periods_since(self, instant: str, start: datetime, seconds: int) -> str:
        """Return the whole periods of ``seconds`` from ``start`` to ``instant``, rounded down (an integer)."""
        ...

    def least_n(self, text: str, n: int) -> str:
        """Return the aggregate list of the ``n`` smallest values of ``text``, in order."""
        ...

    def array_item_texts(self, source: str, column: str, array_key: str, item_key: str) -> str:
        """Return a query over ``source`` giving (seq, item) for each string ``item_key`` of the
        objects in the array ``column[array_key]`` of each row."""
        ...


def number(value: float) -> str:
    """Return a numeric literal (the same spelling on every engine)."""
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return repr(int(value)) if isinstance(value, int) else repr(float(value))


def in_sample(dialect: Dialect, text: str, percent: int) -> str:
    """Return whether the id ``text`` falls in the first ``percent`` of the sample buckets."""
    return f"{dialect.sample_bucket(text)} < {int(percent)}"


def epoch_us(moment: datetime) -> int:
    """Return a moment as whole microseconds since 1970 (UTC)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


VERSION_PARTS = "{a} * 1000000000000 + {b} * 1000000 + {c}"
