"""The demo time window: daily and weekly rhythm, local time and fast timestamp text."""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

from loopline.demo.catalog import EMAIL_CAMPAIGNS, HOUR_WEIGHTS, WEEKDAY_WEIGHTS
from loopline.demo.geo import COUNTRIES

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR_CUM = list(accumulate(HOUR_WEIGHTS))
# Sales pull noticeably more traffic for a few days after the announcement.
SALE_DAYS = 3
SALE_BOOST = 1.35


def to_ms(moment: datetime) -> int:
    """Return milliseconds since the Unix epoch for an aware datetime."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _last_sunday_ms(year: int, month: int) -> int:
    last = date(year, month, 31)
    sunday = last - timedelta(days=(last.weekday() + 1) % 7)
    return (sunday - date(1970, 1, 1)).days * DAY_MS + HOUR_MS


def _utc_offset_ms(standard_minutes: int, summer_time: bool, at_ms: int) -> int:
    # EU and UK clocks change at 01:00 UTC on the last Sundays of March and
    # October; applying the rule directly keeps output independent of the
    # host's time-zone database.
    offset = standard_minutes * MINUTE_MS
    if summer_time:
        year = (date(1970, 1, 1) + timedelta(days=at_ms // DAY_MS)).year
        if _last_sunday_ms(year, 3) <= at_ms < _last_sunday_ms(year, 10):
            offset += HOUR_MS
    return offset


class Window:
    """Calendar of the demo period with per-day traffic weights and local offsets."""

    def __init__(self, end: datetime, days: int) -> None:
        self.end_ms = to_ms(end.astimezone(UTC))
        self.start_ms = self.end_ms - days * DAY_MS
        self.first_day = self.start_ms // DAY_MS
        self.day_count = self.end_ms // DAY_MS - self.first_day + 1
        self.sales = [
            (start, start + SALE_DAYS * DAY_MS)
            for start in (self.at(c[4]) for c in EMAIL_CAMPAIGNS if c[5])
        ]
        weights: list[float] = []
        for index in range(self.day_count):
            day = self.first_day + index
            # 1 January 1970 was a Thursday (weekday 3).
            weight = WEEKDAY_WEIGHTS[(day + 3) % 7]
            if self.in_sale(day * DAY_MS + DAY_MS // 2):
                weight *= SALE_BOOST
            # A gently growing shop: the end of the window is ~15% busier.
            weight *= 1.0 + 0.15 * index / self.day_count
            weights.append(weight)
        self.day_cum = [0.0, *accumulate(weights)]
        # One offset per day, taken at noon UTC: on the two switch days the few
        # sessions before 01:00 UTC use the other offset, shifting only their local hour.
        self.offsets = {
            code: [
                _utc_offset_ms(
                    c.utc_offset_minutes, c.eu_summer_time, (self.first_day + i) * DAY_MS + DAY_MS // 2
                )
                for i in range(self.day_count)
            ]
            for code, c in COUNTRIES.items()
        }
        self._dates: dict[int, str] = {}

    def at(self, fraction: float) -> int:
        """Return the instant a given fraction of the way through the window."""
        return self.start_ms + int(fraction * (self.end_ms - self.start_ms))

    def in_sale(self, at_ms: int) -> bool:
        """Tell whether a sale campaign is running at that instant."""
        return any(start <= at_ms < stop for start, stop in self.sales)

    def sample(self, rng: random.Random, country: str, lo_ms: int, hi_ms: int) -> int | None:
        """Draw a session start in [lo_ms, hi_ms) following the daily and weekly rhythm."""
        lo_day = max(0, lo_ms // DAY_MS - self.first_day)
        hi_day = min(self.day_count, hi_ms // DAY_MS - self.first_day + 1)
        if hi_day <= lo_day:
            return None
        base, span = self.day_cum[lo_day], self.day_cum[hi_day] - self.day_cum[lo_day]
        offsets = self.offsets[country]
        for _ in range(4):
            index = min(bisect_right(self.day_cum, base + rng.random() * span) - 1, hi_day - 1)
            hour = bisect_right(_HOUR_CUM, rng.random() * _HOUR_CUM[-1])
            local = hour * HOUR_MS + rng.randrange(HOUR_MS)
            moment = (self.first_day + index) * DAY_MS + local - offsets[index]
            if lo_ms <= moment < hi_ms:
                return moment
        return None

    def iso(self, at_ms: int) -> str:
        """Format epoch milliseconds as ISO-8601 UTC with a trailing Z."""
        day, rest = divmod(at_ms, DAY_MS)
        text = self._dates.get(day)
        if text is None:
            text = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
            self._dates[day] = text
        hours, rest = divmod(rest, HOUR_MS)
        minutes, rest = divmod(rest, MINUTE_MS)
        seconds, millis = divmod(rest, 1000)
        return f"{text}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"
