"""Every condition type gives the same members on DuckDB, PostgreSQL and ClickHouse (chDB),
and the same as an independent pandas computation of the documented semantics."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import pytest

from loopline.domain.segments.definition import parse_segment
from loopline.query.dialects import in_sample
from loopline.query.segments import compile_segment
from tests.segments.catalog import CATALOG
from tests.segments.dataset import NOW, OTHER_WORKSPACE, WORKSPACE, build_dataset
from tests.segments.engines import ENGINES, Runner, dialect_of, engine_or_skip
from tests.segments.oracle import evaluate


@cache
def _data():  # type: ignore[no-untyped-def]
    return build_dataset()


@cache
def _expected(entry_id: str, workspace_id: str) -> frozenset[str]:
    definition = parse_segment(dict(CATALOG)[entry_id])
    return frozenset(evaluate(definition, _data(), workspace_id=workspace_id, now=NOW))


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, Runner]]:
    with engine_or_skip(request.param, _data()) as run:
        yield request.param, run


@pytest.mark.parametrize("entry_id", [entry_id for entry_id, _ in CATALOG])
def test_members_match_the_reference_on_every_engine(engine: tuple[str, Runner], entry_id: str) -> None:
    name, run = engine
    definition = parse_segment(dict(CATALOG)[entry_id])
    for workspace_id in (WORKSPACE, OTHER_WORKSPACE):
        compiled = compile_segment(definition, dialect=dialect_of(name), workspace_id=workspace_id, now=NOW)
        members = {row[0] for row in run(compiled.sql)}
        expected = _expected(entry_id, workspace_id)
        missing, extra = sorted(expected - members), sorted(members - expected)
        assert (missing, extra) == ([], []), f"{name} {workspace_id}: missing {missing[:10]}, extra {extra[:10]}"


def test_the_catalogue_exercises_every_condition_type() -> None:
    types: set[str] = set()

    def walk(condition: dict) -> None:  # type: ignore[type-arg]
        types.add(condition["type"])
        for child in condition.get("conditions", []):
            walk(child)
        if "condition" in condition:
            walk(condition["condition"])

    for _, definition in CATALOG:
        walk(definition["condition"])
    assert types == {
        "and", "or", "not", "trait", "computed", "performed", "sequence", "inactive", "device", "location",
        "reachable", "engagement", "in_segment",
    }


@cache
def _changed_since():  # type: ignore[no-untyped-def]
    """A time about half of the profiles were copied to the mart after (their updated_at)."""
    stamps = sorted(_data().profiles["created_at"])
    return stamps[len(stamps) // 2].to_pydatetime()


@pytest.mark.parametrize("entry_id", [entry_id for entry_id, _ in CATALOG])
def test_a_narrower_scope_gives_the_members_within_it(engine: tuple[str, Runner], entry_id: str) -> None:
    """An incremental refresh (profiles changed since a time) and an estimate's hash sample
    read only their profiles' events; they must still find exactly the members in scope."""
    name, run = engine
    dialect = dialect_of(name)
    definition = parse_segment(dict(CATALOG)[entry_id])
    since = _changed_since()
    for workspace_id in (WORKSPACE, OTHER_WORKSPACE):
        everyone = _expected(entry_id, workspace_id)
        ws = dialect.text(workspace_id)
        profiles = f"SELECT profile_id FROM mart_profiles p WHERE workspace_id = {ws}"
        changed = {row[0] for row in run(f"{profiles} AND updated_at >= {dialect.instant(since)}")}
        sampled = {row[0] for row in run(f"{profiles} AND {in_sample(dialect, 'p.profile_id', 50)}")}
        scoped = compile_segment(definition, dialect=dialect, workspace_id=workspace_id, now=NOW, changed_since=since)
        assert {row[0] for row in run(scoped.sql)} == everyone & changed, f"{name} {workspace_id} changed"
        if name.endswith("-unsynced"):
            continue  # a sample reads attributed events only: an estimate syncs the mart first
        sample = compile_segment(definition, dialect=dialect, workspace_id=workspace_id, now=NOW, sample_percent=50)
        assert {row[0] for row in run(sample.sql)} == everyone & sampled, f"{name} {workspace_id} sample"
    assert 0 < len(changed) < len(_data().profiles), "the scope must leave some profiles out"
