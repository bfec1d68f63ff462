"""``column IN (many values)`` as one bound parameter, instead of one parameter per value.

A claim asks about a thousand customers at a time in several queries. With an expanding
``IN`` each query is compiled anew for its parameter count and binds a thousand values;
passing the list as one JSON array (SQLite's ``json_each``) or one array (PostgreSQL's
``= ANY``) keeps the statement the same every time and the cost flat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression


def one_of(conn: sa.Connection, column: sa.ColumnElement[Any], values: Sequence[str]) -> sa.ColumnElement[bool]:
    """Return ``column IN values`` written for the connection's dialect with a single parameter."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.literal(list(values), type_=postgresql.ARRAY(sa.String())))
    listed: sa.Select[Any] = sa.select(sa.column("value")).select_from(
        sa.func.json_each(sa.literal(orjson.dumps(list(values)).decode())))
    return column.in_(listed.scalar_subquery())


def unindexed(conn: sa.Connection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """Return ``column`` as an expression SQLite's planner will not pick an index for (``+column``).

    Without statistics SQLite prefers an index on ``workspace_id`` over the primary key for
    ``workspace_id = ? AND id IN (…)``, and so reads every profile of the workspace for a
    thousand ids: a claim's cost then grows with the workspace. Guarding the workspace
    with ``+workspace_id`` leaves the primary key the only choice. PostgreSQL plans by its
    statistics and needs no help.
    """
    if conn.dialect.name != "sqlite":
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)
