"""The SQLite bulk insert stores exactly what SQLAlchemy's own path stores, and keeps ON CONFLICT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.engine import create_store_engine
from loopline.store.sql.upsert import _prepared_sqlite, upsert

METADATA = sa.MetaData()
ROWS = sa.Table(
    "rows", METADATA,
    sa.Column("id", sa.String(20), primary_key=True),
    sa.Column("label", sa.String(20), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("later", sa.DateTime(timezone=True), nullable=True),
    sa.Column("document", sa.JSON, nullable=True),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("amount", sa.Numeric(10, 2), nullable=True),
)
WITH_DEFAULT = sa.Table(
    "with_default", METADATA,
    sa.Column("id", sa.String(20), primary_key=True),
    sa.Column("label", sa.String(20), nullable=False, default=lambda: "from python"),
)
NOW = datetime(2026, 6, 15, 10, 0, 0, 123456, tzinfo=UTC)


def _rows(prefix: str) -> list[dict[str, Any]]:
    # The same instant repeated (what a batch's "now" is), distinct ones, None and JSON of every shape.
    return [{"id": f"{prefix}{n}", "label": f"row {n}", "at": NOW,
             "later": NOW + timedelta(seconds=n) if n % 2 else None,
             "document": [{"n": n, "text": "ä\u2028"}, None, n * 1.5] if n % 3 else None, "flag": n % 2 == 0,
             "amount": None if n % 4 == 0 else n / 4}
            for n in range(12)]


def _engine(tmp_path: Path) -> sa.Engine:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    METADATA.create_all(engine)
    return engine


def _stored(conn: sa.Connection, prefix: str) -> list[tuple[Any, ...]]:
    """Return the rows as stored (raw text and numbers), without the id's prefix."""
    raw = conn.exec_driver_sql("SELECT substr(id, 3), label, at, later, document, flag, amount FROM rows "
                               "WHERE id LIKE ? ORDER BY id", (f"{prefix}%",)).all()
    return [tuple(row) for row in raw]


def test_the_bulk_path_stores_what_sqlalchemy_stores(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        upsert(conn, ROWS, _rows("b_"), keys=("id",))
        conn.execute(sa.insert(ROWS), _rows("s_"))  # SQLAlchemy's own conversions
        assert _stored(conn, "b_") == _stored(conn, "s_")
        read = {row.id: row for row in conn.execute(sa.select(ROWS).where(ROWS.c.id.like("b_%")))}
    assert read["b_1"].at == NOW.replace(tzinfo=None)
    assert read["b_1"].later is not None
    assert read["b_4"].document == [{"n": 4, "text": "ä\u2028"}, None, 6.0]
    assert _prepared_sqlite(engine.dialect, ROWS, tuple(_rows("x")[0]), ("id",), ()) is not None  # took the bulk path


def test_a_conflict_keeps_the_row_or_updates_the_named_columns(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    first = _rows("c_")[:2]
    with engine.begin() as conn:
        upsert(conn, ROWS, first, keys=("id",))
        upsert(conn, ROWS, [{**first[0], "label": "changed"}], keys=("id",))
        assert conn.execute(sa.select(ROWS.c.label).where(ROWS.c.id == "c_0")).scalar_one() == "row 0"
        upsert(conn, ROWS, [{**first[0], "label": "changed", "flag": False}], keys=("id",), update=("label",))
        kept = conn.execute(sa.select(ROWS.c.label, ROWS.c.flag).where(ROWS.c.id == "c_0")).one()
    assert tuple(kept) == ("changed", True)


def test_rows_that_leave_a_python_default_to_fill_take_sqlalchemys_path(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    assert _prepared_sqlite(engine.dialect, WITH_DEFAULT, ("id",), ("id",), ()) is None
    with engine.begin() as conn:
        upsert(conn, WITH_DEFAULT, [{"id": "d_1"}], keys=("id",))
        assert conn.execute(sa.select(WITH_DEFAULT.c.label)).scalar_one() == "from python"
