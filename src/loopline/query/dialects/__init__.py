"""What differs between the engines a query runs on: literals, JSON access, dates, versions.

The compilers build every query from these few fragments, so the meaning of a segment or a
report is written once and each engine receives its own spelling of it. Only literals the
compiler makes from validated values enter the SQL; each dialect escapes them for itself.
The protocol is in ``base``; each engine's spelling has a module of its own.
"""

from __future__ import annotations

from loopline.query.dialects.base import Dialect, Path, in_sample, number
from loopline.query.dialects.clickhouse import ClickhouseDialect
from loopline.query.dialects.duckdb import DuckdbDialect
from loopline.query.dialects.postgres import POSTGRES_FUNCTIONS, PostgresDialect

DIALECTS: dict[str, Dialect] = {
    dialect.name: dialect for dialect in (DuckdbDialect(), PostgresDialect(), ClickhouseDialect())
}

__all__ = [
    "DIALECTS", "POSTGRES_FUNCTIONS", "ClickhouseDialect", "Dialect", "DuckdbDialect", "Path", "PostgresDialect",
    "in_sample", "number",
]
