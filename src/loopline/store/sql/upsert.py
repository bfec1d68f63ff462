"""INSERT … ON CONFLICT for both SQL dialects, with the same call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert rows, updating ``update`` columns (or nothing) where the key already exists."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        prepared = _prepared_sqlite(conn.dialect, table, tuple(rows[0]), tuple(keys), tuple(update or ()))
        if prepared is not None:
            _insert_prepared(conn, prepared, rows)
            return
    statement = _statement(conn.dialect.name, table, keys, update)
    # Chunked so PostgreSQL's 65k bind-parameter limit is never reached.
    chunk = max(1, 30_000 // max(1, len(rows[0])))
    for start in range(0, len(rows), chunk):
        conn.execute(statement, list(rows[start : start + chunk]))


def _statement(dialect: str, table: sa.Table, keys: Sequence[str], update: Sequence[str] | None) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    if update:
        return statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in update},
        )
    return statement.on_conflict_do_nothing(index_elements=list(keys))


@dataclass(frozen=True, slots=True)
class _Prepared:
    """An insert's text, a getter of its parameters in order, and the converters of the columns that need one."""

    text: str
    values: Callable[[dict[str, Any]], Any]
    converted: tuple[tuple[int, Callable[[Any], Any], bool], ...]  # (position, converter, memoised)


@lru_cache(maxsize=256)
def _prepared_sqlite(dialect: sa.Dialect, table: sa.Table, names: tuple[str, ...], keys: tuple[str, ...],
                     update: tuple[str, ...]) -> _Prepared | None:
    """Return the insert prepared for rows with these columns; None when it needs Python-side defaults.

    The hot writers (a campaign's ledger rows, the sandbox outbox, tracked links) insert a
    thousand rows at a time, and SQLAlchemy's per-row parameter handling was a quarter of
    the insert's time. Here the rows' values are read in one call per row, and only the
    columns with a converter (times, JSON) go through the column's own converter, the same
    one SQLAlchemy applies. A statement that would fill columns from Python-side defaults
    (names the rows lack) keeps SQLAlchemy's path.
    """
    compiled = _statement("sqlite", table, keys, update or None).compile(dialect=dialect, column_keys=list(names))
    order = tuple(compiled.positiontup or ())
    if not order or not set(order) <= set(names):
        return None
    converted = []
    for position, name in enumerate(order):
        column_type = table.c[name].type
        converter = column_type.dialect_impl(dialect).bind_processor(dialect)
        if converter is not None:
            # A batch's times are mostly the same few (its "now"): each is formatted once.
            converted.append((position, converter, isinstance(column_type, sa.DateTime)))
    getter = itemgetter(*order)
    values = getter if len(order) > 1 else (lambda row: (getter(row),))
    return _Prepared(str(compiled), values, tuple(converted))


def _insert_prepared(conn: sa.Connection, prepared: _Prepared, rows: Sequence[dict[str, Any]]) -> None:
    memo: dict[tuple[int, Any], Any] = {}
    parameters: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(prepared.values(row))
        for position, convert, memoised in prepared.converted:
            value = values[position]  # None too: a JSON column stores it as JSON null, as SQLAlchemy does
            if memoised:
                found = memo.get((position, value), memo)
                if found is memo:
                    found = memo[(position, value)] = convert(value)
                values[position] = found
            else:
                values[position] = convert(value)
        parameters.append(tuple(values))
    conn.exec_driver_sql(prepared.text, parameters)
