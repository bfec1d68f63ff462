"""PostgreSQL: the server analytics engine, with the functions its mart installs."""

from __future__ import annotations

from datetime import date, datetime

from loopline.domain.segments.definition import DATE_PATTERN, VERSION_PATTERN
from loopline.query.dialects.base import VERSION_PARTS, Path, quoted, utc_text


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
        return quoted(value)

    def instant(self, value: datetime) -> str:
        """Return a timestamptz literal."""
        return f"TIMESTAMPTZ '{utc_text(value)}+00'"

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
        return f"(CASE WHEN {text} ~ {self.text(VERSION_PATTERN)} THEN {VERSION_PARTS.format(**parts)} END)"

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
