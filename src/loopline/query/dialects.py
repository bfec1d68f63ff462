"""What differs between the engines a query runs on: literals, JSON access, dates, versions.

The compilers build every query from these few fragments, so the meaning of a segment or a
report is written once and each engine receives its own spelling of it. Only literals the
compiler makes from validated values enter the SQL; each dialect escapes them for itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from loopline.domain.segments.definition import DATE_PATTERN, VERSION_PATTERN

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


def _epoch_us(moment: datetime) -> int:
    """Return a moment as whole microseconds since 1970 (UTC)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


_VERSION_PARTS = "{a} * 1000000000000 + {b} * 1000000 + {c}"


class DuckdbDialect:
    """DuckDB: JSON columns of type JSON, read by JSON pointer; the session runs in UTC."""

    name = "duckdb"
    settings = ""
    # Updating a column in place is cheap in DuckDB: the mart keeps owners beside the events.
    attributed_owners = True

    def text(self, value: str) -> str:
        """Return a string literal (standard SQL: only the quote doubles)."""
        return _quoted(value)

    def instant(self, value: datetime) -> str:
        """Return a TIMESTAMPTZ literal."""
        return f"TIMESTAMPTZ '{_utc_text(value)}+00'"

    def _pointer(self, path: Path) -> str:
        # JSON pointer (RFC 6901) escapes keys exactly, where JSONPath treats "*" as a wildcard.
        return self.text("/" + "/".join(key.replace("~", "~0").replace("/", "~1") for key in path))

    def _type(self, column: str, path: Path) -> str:
        # A pointer's numeric part also indexes arrays; a path walks into objects only, so
        # the type counts only when every parent of a numeric part is an object.
        parents = [
            f"json_type({column}, {self._pointer(path[:index])}) = 'OBJECT'"
            for index, key in enumerate(path) if key.isdigit() or key == "-"
        ]
        found = f"json_type({column}, {self._pointer(path)})"
        return f"(CASE WHEN {' AND '.join(parents)} THEN {found} END)" if parents else found

    def json_text(self, column: str, path: Path) -> str:
        """Return the string at ``path``."""
        value = f"json_extract_string({column}, {self._pointer(path)})"
        return f"(CASE WHEN {self._type(column, path)} = 'VARCHAR' THEN {value} END)"

    def json_number(self, column: str, path: Path) -> str:
        """Return the number at ``path`` as DOUBLE."""
        return (
            f"(CASE WHEN {self._type(column, path)} IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')"
            f" THEN TRY_CAST(json_extract_string({column}, {self._pointer(path)}) AS DOUBLE) END)"
        )

    def json_bool(self, column: str, path: Path) -> str:
        """Return the boolean at ``path``."""
        return (
            f"(CASE WHEN {self._type(column, path)} = 'BOOLEAN'"
            f" THEN json_extract_string({column}, {self._pointer(path)}) = 'true' END)"
        )

    def json_present(self, column: str, path: Path) -> str:
        """Return whether the path holds a non-null value."""
        return f"(coalesce({self._type(column, path)}, 'NULL') <> 'NULL')"

    def json_array_has(self, column: str, path: Path, element: str) -> str:
        """Return whether the array at ``path`` has the string ``element``."""
        items = f"json_extract(json_extract({column}, {self._pointer(path)}), '$[*]')"
        return (
            f"({self._type(column, path)} = 'ARRAY' AND len(list_filter({items},"
            f" x -> json_type(x) = 'VARCHAR' AND json_extract_string(x, '$') = {self.text(element)})) > 0)"
        )

    def contains(self, haystack: str, needle: str) -> str:
        """Return a case-insensitive substring test."""
        return f"(strpos(lower({haystack}), lower({self.text(needle)})) > 0)"

    def lower(self, text: str) -> str:
        """Return lower case."""
        return f"lower({text})"

    def as_date(self, text: str) -> str:
        """Return the instant of a date text, NULL for anything else."""
        return (
            f"(CASE WHEN regexp_full_match({text}, {self.text(DATE_PATTERN)})"
            f" THEN TRY_CAST(replace({text}, 'Z', '+00:00') AS TIMESTAMPTZ) END)"
        )

    def plus_minutes(self, instant: str, minutes: int) -> str:
        """Return the instant moved later."""
        return f"({instant} + INTERVAL {int(minutes)} MINUTE)"

    def month_day(self, instant: str) -> str:
        """Return month × 100 + day (the session's time zone is UTC)."""
        return f"(month({instant}) * 100 + day({instant}))"

    def version_key(self, text: str) -> str:
        """Return the ordering number of a version text."""
        parts = {key: f"TRY_CAST(coalesce(nullif(split_part({text}, '.', {n}), ''), '0') AS BIGINT)"
                 for key, n in (("a", 1), ("b", 2), ("c", 3))}
        ordered = f"regexp_full_match({text}, {self.text(VERSION_PATTERN)})"
        return f"(CASE WHEN {ordered} THEN {_VERSION_PARTS.format(**parts)} END)"

    def json_scalar_text(self, column: str, path: Path) -> str:
        """Return a scalar at ``path`` as text."""
        value = f"json_extract_string({column}, {self._pointer(path)})"
        scalars = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT', 'BOOLEAN')"
        return f"(CASE WHEN {self._type(column, path)} IN {scalars} THEN {value} END)"

    def date(self, value: date) -> str:
        """Return a DATE literal."""
        return f"DATE '{value.isoformat()}'"

    def day(self, instant: str) -> str:
        """Return the UTC day, counted from the epoch's microseconds.

        A cast to DATE goes through the time-zone library for every row: six times slower
        over millions of events than this floor division (correct before 1970 too).
        """
        return f"(DATE '1970-01-01' + CAST(fdiv(epoch_us({instant}), 86400000000) AS INTEGER))"

    def week(self, day: str) -> str:
        """Return the week's Monday."""
        return f"CAST(date_trunc('week', {day}) AS DATE)"

    def minute(self, instant: str) -> str:
        """Return the minute."""
        return f"date_trunc('minute', {instant})"

    def weekday(self, instant: str) -> str:
        """Return 0 for Monday … 6 for Sunday."""
        return f"(isodow({instant}) - 1)"

    def hour(self, instant: str) -> str:
        """Return the hour."""
        return f"hour({instant})"

    def epoch_us(self, instant: str) -> str:
        """Return microseconds since 1970."""
        return f"epoch_us({instant})"

    def median(self, value: str) -> str:
        """Return the interpolated median."""
        return f"quantile_cont({value}, 0.5)"

    def first_by(self, value: str, order: str, tiebreak: str) -> str:
        """Return arg_min_null over the pair (a NULL value is an answer, not skipped)."""
        return f"arg_min_null({value}, ({order}, {tiebreak}))"

    def sample_bucket(self, text: str) -> str:
        """Return DuckDB's 64-bit hash in buckets."""
        return f"hash({text}) % 100"

    def periods_since(self, instant: str, start: datetime, seconds: int) -> str:
        """Return a floor division of epoch microseconds (no calendar arithmetic per row)."""
        return f"CAST(fdiv(epoch_us({instant}) - {_epoch_us(start)}, {int(seconds) * 1_000_000}) AS INTEGER)"

    def least_n(self, text: str, n: int) -> str:
        """Return min with a count: a bounded heap, no sort of the whole input."""
        return f"min({text}, {int(n)})"

    def array_item_texts(self, source: str, column: str, array_key: str, item_key: str) -> str:
        """Unnest the array's objects and read one string key of each."""
        items = (
            f"CASE WHEN json_type({column}, {self._pointer([array_key])}) = 'ARRAY'"
            f" THEN json_extract({column}, {self.text('$.' + chr(34) + array_key + chr(34) + '[*]')})"
            " ELSE CAST([] AS JSON[]) END"
        )
        key = self._pointer([item_key])
        return (
            f"SELECT s.seq AS seq, CASE WHEN json_type(u.item, {key}) = 'VARCHAR'"
            f" THEN json_extract_string(u.item, {key}) END AS item FROM {source} s, unnest({items}) AS u(item)"
        )


class PostgresDialect:
    """PostgreSQL: JSONB columns; dates parse through a guarded function the mart installs."""

    name = "postgres"
    settings = ""
    # Every update writes a new row version in PostgreSQL: owners are looked up per query,
    # through the identity index.
    attributed_owners = False

    def text(self, value: str) -> str:
        """Return a string literal (standard_conforming_strings: only the quote doubles)."""
        if "\x00" in value:
            raise ValueError("text may not contain NUL")
        return _quoted(value)

    def instant(self, value: datetime) -> str:
        """Return a timestamptz literal."""
        return f"TIMESTAMPTZ '{_utc_text(value)}+00'"

    def _value(self, column: str, path: Path) -> str:
        # ``->`` with a text key reads objects only (``#>`` would also index arrays).
        return "(" + column + "".join(f" -> {self.text(key)}" for key in path) + ")"

    def _scalar(self, column: str, path: Path) -> str:
        return "(" + column + "".join(f" -> {self.text(key)}" for key in path[:-1]) + f" ->> {self.text(path[-1])})"

    def _type(self, column: str, path: Path) -> str:
        return f"jsonb_typeof({self._value(column, path)})"

    def json_text(self, column: str, path: Path) -> str:
        """Return the string at ``path``."""
        return f"(CASE WHEN {self._type(column, path)} = 'string' THEN {self._scalar(column, path)} END)"

    def json_number(self, column: str, path: Path) -> str:
        """Return the number at ``path`` as numeric (exact, and never out of range)."""
        return f"(CASE WHEN {self._type(column, path)} = 'number' THEN {self._scalar(column, path)}::numeric END)"

    def json_bool(self, column: str, path: Path) -> str:
        """Return the boolean at ``path``."""
        return f"(CASE WHEN {self._type(column, path)} = 'boolean' THEN {self._scalar(column, path)}::boolean END)"

    def json_present(self, column: str, path: Path) -> str:
        """Return whether the path holds a non-null value."""
        return f"(coalesce({self._type(column, path)}, 'null') <> 'null')"

    def json_array_has(self, column: str, path: Path, element: str) -> str:
        """Return whether the array at ``path`` has the string ``element``."""
        return (
            f"({self._type(column, path)} = 'array'"
            f" AND {self._value(column, path)} @> jsonb_build_array({self.text(element)}::text))"
        )

    def contains(self, haystack: str, needle: str) -> str:
        """Return a case-insensitive substring test."""
        return f"(strpos(lower({haystack}), lower({self.text(needle)})) > 0)"

    def lower(self, text: str) -> str:
        """Return lower case."""
        return f"lower({text})"

    def as_date(self, text: str) -> str:
        """Return the instant of a date text, NULL for anything else (see ``POSTGRES_FUNCTIONS``)."""
        return f"loopline_as_date({text})"

    def plus_minutes(self, instant: str, minutes: int) -> str:
        """Return the instant moved later."""
        return f"({instant} + INTERVAL '{int(minutes)} minutes')"

    def month_day(self, instant: str) -> str:
        """Return month × 100 + day in UTC."""
        utc = f"({instant} AT TIME ZONE 'UTC')"
        return f"(EXTRACT(MONTH FROM {utc})::int * 100 + EXTRACT(DAY FROM {utc})::int)"

    def version_key(self, text: str) -> str:
        """Return the ordering number of a version text."""
        parts = {key: f"coalesce(nullif(split_part({text}, '.', {n}), ''), '0')::bigint"
                 for key, n in (("a", 1), ("b", 2), ("c", 3))}
        return f"(CASE WHEN {text} ~ {self.text(VERSION_PATTERN)} THEN {_VERSION_PARTS.format(**parts)} END)"

    def json_scalar_text(self, column: str, path: Path) -> str:
        """Return a scalar at ``path`` as text."""
        return (
            f"(CASE WHEN {self._type(column, path)} IN ('string', 'number', 'boolean')"
            f" THEN {self._scalar(column, path)} END)"
        )

    def date(self, value: date) -> str:
        """Return a DATE literal."""
        return f"DATE '{value.isoformat()}'"

    def day(self, instant: str) -> str:
        """Return the UTC day."""
        return f"(({instant}) AT TIME ZONE 'UTC')::date"

    def week(self, day: str) -> str:
        """Return the week's Monday."""
        return f"date_trunc('week', {day})::date"

    def minute(self, instant: str) -> str:
        """Return the minute (connections run in UTC)."""
        return f"date_trunc('minute', {instant})"

    def weekday(self, instant: str) -> str:
        """Return 0 for Monday … 6 for Sunday."""
        return f"(EXTRACT(ISODOW FROM ({instant}) AT TIME ZONE 'UTC')::int - 1)"

    def hour(self, instant: str) -> str:
        """Return the UTC hour."""
        return f"EXTRACT(HOUR FROM ({instant}) AT TIME ZONE 'UTC')::int"

    def epoch_us(self, instant: str) -> str:
        """Return microseconds since 1970 (EXTRACT gives an exact numeric)."""
        return f"(EXTRACT(EPOCH FROM {instant}) * 1000000)::bigint"

    def median(self, value: str) -> str:
        """Return the interpolated median."""
        return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {value})"

    def first_by(self, value: str, order: str, tiebreak: str) -> str:
        """Return the first of the values aggregated in order."""
        return f"(array_agg({value} ORDER BY {order}, {tiebreak}))[1]"

    def sample_bucket(self, text: str) -> str:
        """Return hashtext (a signed 32-bit value, shifted to be non-negative) in buckets."""
        return f"((hashtext({text})::bigint + 2147483648) % 100)"

    def periods_since(self, instant: str, start: datetime, seconds: int) -> str:
        """Return a floor division of the interval's seconds."""
        return f"floor(extract(epoch from ({instant} - {self.instant(start)})) / {int(seconds)})::int"

    def least_n(self, text: str, n: int) -> str:
        """Return the first n of the ordered array."""
        return f"(array_agg({text} ORDER BY {text}))[1:{int(n)}]"

    def array_item_texts(self, source: str, column: str, array_key: str, item_key: str) -> str:
        """Unnest the array's objects and read one string key of each."""
        array = self._value(column, [array_key])
        key = self.text(item_key)
        return (
            f"SELECT s.seq AS seq, CASE WHEN jsonb_typeof(u.item -> {key}) = 'string' THEN u.item ->> {key} END"
            f" AS item FROM {source} s CROSS JOIN LATERAL jsonb_array_elements("
            f"CASE WHEN jsonb_typeof({array}) = 'array' THEN {array} ELSE '[]'::jsonb END) AS u(item)"
        )


POSTGRES_FUNCTIONS = (
    # PostgreSQL has no TRY_CAST: a text that matches the date pattern but is no real day
    # (2026-02-30) would fail the whole query, so the cast is caught here.
    f"""
    CREATE OR REPLACE FUNCTION loopline_as_date(value text) RETURNS timestamptz
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    BEGIN
        IF value IS NULL OR value !~ '{DATE_PATTERN}' THEN
            RETURN NULL;
        END IF;
        RETURN (CASE WHEN length(value) = 10 THEN value || 'T00:00:00Z'
                     WHEN value ~ '(Z|[+-][0-9]{{2}}:[0-9]{{2}})$' THEN value
                     ELSE value || 'Z' END)::timestamptz;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END
    $$
    """,
)
"""Functions the PostgreSQL mart installs for the dialect."""


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
        return f"toDateTime64('{_utc_text(value)}', 6, 'UTC')"

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
        return f"if(match({text}, {self.text(VERSION_PATTERN)}), {_VERSION_PARTS.format(**parts)}, NULL)"

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
        return (f"toInt32(floor((toUnixTimestamp64Micro({instant}) - {_epoch_us(start)})"
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


DIALECTS: dict[str, Dialect] = {
    dialect.name: dialect for dialect in (DuckdbDialect(), PostgresDialect(), ClickhouseDialect())
}
