"""ClickHouse: the scale-out analytics engine (run in chDB by the tests)."""

from __future__ import annotations

from datetime import date, datetime

from loopline.domain.segments.definition import DATE_PATTERN, VERSION_PATTERN
from loopline.query.dialects.base import VERSION_PARTS, Path, epoch_us, utc_text


class ClickhouseDialect:
    """ClickHouse: JSON kept as String columns, read with the JSONExtract family; UTC DateTime64."""

    name = "clickhouse"
    attributed_owners = False
    # Outer joins fill unmatched columns with NULL, as in standard SQL, not with defaults.
    settings = " SETTINGS join_use_nulls = 1"

    def text(self, value: str) -> str:
        """Return a string literal; ClickHouse also treats the backslash as an escape."""
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def instant(self, value: datetime) -> str:
        """Return a DateTime64 literal in UTC."""
        return f"toDateTime64('{utc_text(value)}', 6, 'UTC')"

    def _keys(self, path: Path) -> str:
        return ", ".join(self.text(key) for key in path)

    def _type(self, column: str, path: Path) -> str:
        return f"toString(JSONType({column}, {self._keys(path)}))"

    def json_text(self, column: str, path: Path) -> str:
        """Return the string at ``path``."""
        return f"if({self._type(column, path)} = 'String', JSONExtractString({column}, {self._keys(path)}), NULL)"

    def json_number(self, column: str, path: Path) -> str:
        """Return the number at ``path`` as Float64."""
        return (
            f"if({self._type(column, path)} IN ('Int64', 'UInt64', 'Double'),"
            f" JSONExtractFloat({column}, {self._keys(path)}), NULL)"
        )

    def json_bool(self, column: str, path: Path) -> str:
        """Return the boolean at ``path``."""
        return f"if({self._type(column, path)} = 'Bool', JSONExtractBool({column}, {self._keys(path)}) = 1, NULL)"

    def json_present(self, column: str, path: Path) -> str:
        """Return whether the path holds a non-null value (a missing key reads as Null)."""
        return f"({self._type(column, path)} <> 'Null')"

    def json_array_has(self, column: str, path: Path, element: str) -> str:
        """Return whether the array at ``path`` has the string ``element``."""
        return (
            f"({self._type(column, path)} = 'Array' AND arrayExists(x -> JSONType(x) = 'String'"
            f" AND JSONExtractString(x) = {self.text(element)}, JSONExtractArrayRaw({column}, {self._keys(path)})))"
        )

    def contains(self, haystack: str, needle: str) -> str:
        """Return a case-insensitive substring test (UTF-8 aware)."""
        return f"(positionUTF8(lowerUTF8({haystack}), lowerUTF8({self.text(needle)})) > 0)"

    def lower(self, text: str) -> str:
        """Return lower case (``lower`` alone folds ASCII only)."""
        return f"lowerUTF8({text})"

    def as_date(self, text: str) -> str:
        """Return the instant of a date text, NULL for anything else.

        The best-effort parser rolls impossible days over (30 February becomes 2 March), so
        the parsed day is compared with the text's own.
        """
        parsed = f"parseDateTime64BestEffortOrNull({text}, 6, 'UTC')"
        own_day = f"substring({text}, 1, 10)"
        # toDate32: plain Date starts in 1970 and would bend every older birthday.
        day_of = f"toString(toDate32(parseDateTime64BestEffortOrNull({own_day}, 6, 'UTC')))"
        return (
            f"if(match({text}, {self.text(DATE_PATTERN)}) AND {day_of} = {own_day}, {parsed}, NULL)"
        )

    def plus_minutes(self, instant: str, minutes: int) -> str:
        """Return the instant moved later."""
        return f"({instant} + toIntervalMinute({int(minutes)}))"

    def month_day(self, instant: str) -> str:
        """Return month × 100 + day in UTC."""
        return f"(toMonth({instant}, 'UTC') * 100 + toDayOfMonth({instant}, 'UTC'))"

    def version_key(self, text: str) -> str:
        """Return the ordering number of a version text."""
        parts = {key: f"toInt64OrZero(arrayElement(splitByChar('.', {text}), {n}))"
                 for key, n in (("a", 1), ("b", 2), ("c", 3))}
        return f"if(match({text}, {self.text(VERSION_PATTERN)}), {VERSION_PARTS.format(**parts)}, NULL)"

    def json_scalar_text(self, column: str, path: Path) -> str:
        """Return a scalar at ``path`` as text (as written in the JSON)."""
        scalars = "('String', 'Int64', 'UInt64', 'Double', 'Bool')"
        return (
            f"if({self._type(column, path)} IN {scalars}, if({self._type(column, path)} = 'String',"
            f" JSONExtractString({column}, {self._keys(path)}), JSONExtractRaw({column}, {self._keys(path)})), NULL)"
        )

    def date(self, value: date) -> str:
        """Return a Date32 literal."""
        return f"toDate32('{value.isoformat()}')"

    def day(self, instant: str) -> str:
        """Return the UTC day."""
        return f"toDate32({instant}, 'UTC')"

    def week(self, day: str) -> str:
        """Return the week's Monday."""
        return f"toMonday({day})"

    def minute(self, instant: str) -> str:
        """Return the minute."""
        return f"toStartOfMinute({instant})"

    def weekday(self, instant: str) -> str:
        """Return 0 for Monday … 6 for Sunday."""
        return f"(toDayOfWeek({instant}, 0, 'UTC') - 1)"

    def hour(self, instant: str) -> str:
        """Return the UTC hour."""
        return f"toHour({instant}, 'UTC')"

    def epoch_us(self, instant: str) -> str:
        """Return microseconds since 1970."""
        return f"toUnixTimestamp64Micro({instant})"

    def median(self, value: str) -> str:
        """Return the exact interpolated median."""
        return f"quantileExactInclusive(0.5)({value})"

    def first_by(self, value: str, order: str, tiebreak: str) -> str:
        """Return argMin over the pair, the value wrapped so a NULL is kept."""
        return f"tupleElement(argMin(tuple({value}), ({order}, {tiebreak})), 1)"

    def sample_bucket(self, text: str) -> str:
        """Return cityHash64 in buckets."""
        return f"(cityHash64({text}) % 100)"

    def periods_since(self, instant: str, start: datetime, seconds: int) -> str:
        """Return a floor division of epoch microseconds."""
        return (f"toInt32(floor((toUnixTimestamp64Micro({instant}) - {epoch_us(start)})"
                f" / {int(seconds) * 1_000_000}))")

    def least_n(self, text: str, n: int) -> str:
        """Return the first n of the sorted group array."""
        return f"arraySlice(arraySort(groupArray({text})), 1, {int(n)})"

    def array_item_texts(self, source: str, column: str, array_key: str, item_key: str) -> str:
        """Unnest the array's objects and read one string key of each."""
        key = self.text(item_key)
        return (
            f"SELECT s.seq AS seq, if(JSONType(item, {key}) = 'String', JSONExtractString(item, {key}), NULL) AS item"
            f" FROM {source} s ARRAY JOIN JSONExtractArrayRaw({column}, {self.text(array_key)}) AS item"
        )
