"""Every report, on DuckDB and PostgreSQL, gives the answer of an independent computation of
docs/analytics.md on the same synthetic data."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from loopline.domain.analytics import parse_report
from loopline.query.dialects import DIALECTS
from loopline.query.reports import build_report
from tests.analytics.catalog import REQUESTS
from tests.analytics.dataset import NOW, OTHER_WORKSPACE, WORKSPACE, build_dataset
from tests.analytics.oracle import report as oracle_report
from tests.conftest import POSTGRES_ENV
from tests.segments.engines import Runner, duckdb_engine, postgres_engine

ENGINES = {"duckdb": duckdb_engine, "postgres": postgres_engine}


@cache
def _data():  # type: ignore[no-untyped-def]
    return build_dataset()


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, Runner]]:
    name = request.param
    if name == "postgres" and not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set: the PostgreSQL engine needs a server")
    with ENGINES[name](_data()) as run:
        yield name, run


def _normal(value: Any) -> Any:
    """Return an answer with links in a fixed order (their order carries no meaning)."""
    if isinstance(value, dict):
        out = {key: _normal(item) for key, item in value.items()}
        if "links" in out:
            out["links"] = sorted(out["links"], key=lambda link: (link["source"], link["target"]))
        return out
    if isinstance(value, list):
        return [_normal(item) for item in value]
    return value


def _differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Return where two answers differ; floats (sums, medians of microseconds) within 1e-5."""
    if isinstance(got, float) and isinstance(want, float | int) and not isinstance(want, bool):
        return [] if math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-5) else [f"{path}: {got!r} != {want!r}"]
    if type(got) is not type(want):
        return [f"{path}: {got!r} != {want!r}"]
    if isinstance(got, dict):
        return [d for key in sorted(set(got) | set(want), key=str)
                for d in _differences(got.get(key), want.get(key), f"{path}.{key}")]
    if isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items != {len(want)}"]
        return [d for index, (a, b) in enumerate(zip(got, want, strict=True))
                for d in _differences(a, b, f"{path}[{index}]")]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


@pytest.mark.parametrize("entry_id", [entry_id for entry_id, _ in REQUESTS])
def test_reports_match_the_reference(engine: tuple[str, Runner], entry_id: str) -> None:
    name, run = engine
    request = dict(REQUESTS)[entry_id]
    for workspace_id in (WORKSPACE, OTHER_WORKSPACE):
        answer = build_report(parse_report(request), dialect=DIALECTS[name], workspace_id=workspace_id, now=NOW,
                              fetch=run)
        expected = oracle_report(request, _data(), workspace_id=workspace_id, now=NOW)
        differences = _differences(_normal(answer), _normal(expected))
        assert differences == [], f"{name} {workspace_id} {entry_id}: {differences[:5]}"
