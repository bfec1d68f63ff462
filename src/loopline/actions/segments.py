"""Segments: saving definitions, live estimates, and keeping membership current.

Membership is maintained, not just queried: a refresh evaluates the definition on the mart,
compares the result with the stored members, writes ``Segment Entered`` / ``Segment Exited``
events for the difference, and records the count. A full refresh evaluates everyone; an
incremental one only the profiles whose data changed since the last refresh, which is what
new events cause. Time alone moves people too (windows slide, inactivity grows), so full
refreshes also run on a schedule.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from ulid import ULID

from loopline.actions.mart import OVERLAP, do_sync_mart
from loopline.domain.segments.definition import SegmentDefinition, SegmentInvalid, parse_segment
from loopline.domain.segments.estimates import ScaledCount, scale_sample_count
from loopline.domain.segments.membership import MEMBERSHIP_SOURCE, membership_message
from loopline.domain.segments.references import find_cycle, references, refresh_order
from loopline.ports import Mart, QueryTooSlow
from loopline.query import lookups
from loopline.query.segments import compile_segment
from loopline.services import Services
from loopline.store.sql.segments import CountRow, NameTaken, SegmentRow

if TYPE_CHECKING:
    from loopline.actions.ingest import IngestPipeline

SAMPLE = 10
PROBE_TIMEOUT_S = 2.0
ID_CHUNK = 1_000


class SegmentNotFound(LookupError):
    """No such segment in this workspace."""


class SegmentRejected(ValueError):
    """A definition that cannot be saved or run, with a machine-readable code and the problems."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = problems or [{"path": "", "message": message}]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A live preview: how many match, a few of them, and warnings about unknown names."""

    count: int
    sample: list[dict[str, Any]]
    warnings: list[dict[str, str]]
    took_ms: float
    low: int
    high: int
    sample_percent: int | None
    """The share of profiles evaluated; None when everyone was (then count is exact)."""


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh changed."""

    segment_id: str
    members: int
    entered: int
    exited: int
    full: bool
    refreshed: list[str] = field(default_factory=list)  # this segment and those it builds on


def _parse(data: Any) -> SegmentDefinition:
    try:
        return parse_segment(data)
    except SegmentInvalid as error:
        raise SegmentRejected("invalid_segment", str(error), error.problems) from None


def _uses(services: Services, workspace_id: str) -> dict[str, set[str]]:
    return {
        row.id: references(parse_segment(row.definition).condition).segments
        for row in services.segments.in_workspace(workspace_id=workspace_id)
    }


def _check_references(services: Services, workspace_id: str, segment_id: str, definition: SegmentDefinition) -> None:
    uses = _uses(services, workspace_id)
    used = references(definition.condition).segments
    unknown = sorted(used - set(uses))
    if unknown:
        raise SegmentRejected(
            "unknown_segment", f"in_segment names segments this workspace does not have: {', '.join(unknown)}"
        )
    uses[segment_id] = used
    cycle = find_cycle(segment_id, uses)
    if cycle is not None:
        raise SegmentRejected("segment_cycle", f"segments may not contain themselves: {' → '.join(cycle)}")


def do_create_segment(services: Services, *, workspace_id: str, data: Any) -> SegmentRow:
    """Validate and store a new segment (members follow on its first refresh)."""
    definition = _parse(data)
    segment_id = "seg_" + str(ULID()).lower()
    _check_references(services, workspace_id, segment_id, definition)
    now = services.clock.now()
    row = SegmentRow(
        id=segment_id, workspace_id=workspace_id, name=definition.name, description=definition.description,
        definition=definition.model_dump(mode="json", exclude_none=True), version=1, builtin=None,
        member_count=None, refreshed_at=None, refreshed_version=None, created_at=now, updated_at=now,
    )
    try:
        services.segments.create(row)
    except NameTaken:
        raise SegmentRejected("segment_name_taken", f"a segment named {definition.name!r} exists already") from None
    return row


def _refuse_builtin(segment: SegmentRow) -> None:
    if segment.builtin is not None:
        raise SegmentRejected(
            "builtin_segment", "built-in segments cannot be changed or deleted; copy the definition into a new one"
        )


def do_update_segment(services: Services, *, workspace_id: str, segment_id: str, data: Any) -> SegmentRow:
    """Replace a segment's definition; its version goes up and the next refresh is a full one."""
    _refuse_builtin(get_segment(services, workspace_id=workspace_id, segment_id=segment_id))
    definition = _parse(data)
    _check_references(services, workspace_id, segment_id, definition)
    try:
        row = services.segments.update(
            workspace_id=workspace_id, segment_id=segment_id, name=definition.name,
            description=definition.description, definition=definition.model_dump(mode="json", exclude_none=True),
            now=services.clock.now(),
        )
    except NameTaken:
        raise SegmentRejected("segment_name_taken", f"a segment named {definition.name!r} exists already") from None
    if row is None:
        raise SegmentNotFound(segment_id)
    return row


def do_delete_segment(services: Services, *, workspace_id: str, segment_id: str) -> None:
    """Delete a segment and its members; refused while another segment builds on it."""
    _refuse_builtin(get_segment(services, workspace_id=workspace_id, segment_id=segment_id))
    users = sorted(other for other, used in _uses(services, workspace_id).items() if segment_id in used)
    if users:
        raise SegmentRejected("segment_in_use", f"segments {', '.join(users)} build on this one; change them first")
    stored = lookups.members_sql(services.mart.dialect, workspace_id=workspace_id, segment_id=segment_id)
    members = [str(row[0]) for row in _fetch(services, stored, services.settings.segment_refresh_timeout_s)]
    services.mart.change_members(workspace_id=workspace_id, segment_id=segment_id, entered=[], exited=members)
    services.segments.delete(workspace_id=workspace_id, segment_id=segment_id)


def get_segment(services: Services, *, workspace_id: str, segment_id: str) -> SegmentRow:
    """Return a segment of the workspace or raise SegmentNotFound."""
    row = services.segments.get(workspace_id=workspace_id, segment_id=segment_id)
    if row is None:
        raise SegmentNotFound(segment_id)
    return row


def estimate_segment(services: Services, *, workspace_id: str, data: Any, sync: bool = True) -> Estimate:
    """Count the members of a (possibly unsaved) definition now, with a sample and warnings."""
    started = time.perf_counter()
    definition = _parse(data)
    missing = sorted(references(definition.condition).segments - set(_uses(services, workspace_id)))
    if missing:
        raise SegmentRejected("unknown_segment", f"in_segment names unknown segments: {', '.join(missing)}")
    if sync:
        do_sync_mart(services)
    settings = services.settings
    try:
        matches = count_matches(
            services.mart, definition, workspace_id=workspace_id, now=services.clock.now(),
            timeout_s=settings.segment_query_timeout_s, sample_above=settings.segment_estimate_sample_above,
            sample_percent=settings.segment_estimate_sample_percent,
        )
    except QueryTooSlow as error:
        raise _too_slow(error) from None
    sample = _profiles(services, workspace_id, matches.found)
    warnings = _warnings(services, workspace_id, definition)
    took_ms = round((time.perf_counter() - started) * 1000, 1)
    scaled = matches.scaled
    return Estimate(scaled.count, sample, warnings, took_ms, low=scaled.low, high=scaled.high,
                    sample_percent=matches.sample_percent)


@dataclass(frozen=True, slots=True)
class Matches:
    """How many match (scaled up from a sample when ``sample_percent`` is set) and a few of their ids."""

    scaled: ScaledCount
    sample_percent: int | None
    found: list[str]


def count_matches(
    mart: Mart, definition: SegmentDefinition, *, workspace_id: str, now: datetime, timeout_s: float,
    sample_above: int, sample_percent: int,
) -> Matches:
    """Count a definition's matches now, on a hash sample of profiles past ``sample_above`` of them."""

    counts = mart.fetch(lookups.profile_counts_sql(mart.dialect, workspace_id=workspace_id,
                                                   sample_percent=sample_percent) + mart.dialect.settings,
                        timeout_s=timeout_s)
    total, sampled = (int(counts[0][0]), int(counts[0][1] or 0)) if counts else (0, 0)
    # Past a size, a hash-chosen share of the profiles (and only their events) answers: the
    # preview stays interactive and the interval says how far the count may be off.
    percent = sample_percent if total > sample_above else None
    compiled = compile_segment(definition, dialect=mart.dialect, workspace_id=workspace_id, now=now,
                               sample_percent=percent)
    # The count and ten members (the smallest ids: the same ten each time), from one evaluation.
    rows = mart.fetch(lookups.counted_sample_sql(mart.dialect, compiled.sql, sample=SAMPLE) + mart.dialect.settings,
                      timeout_s=timeout_s)
    matched = int(rows[0][0]) if rows else 0
    found = sorted(str(pid) for pid in (rows[0][1] or [])) if rows and matched else []
    # Everyone evaluated is a sample of the whole: the count comes back exact. A sync landing
    # between the two queries may add profiles; the counts never fall below what matched.
    evaluated = max(matched, total if percent is None else sampled)
    scaled = scale_sample_count(matched, evaluated, max(total, evaluated))
    return Matches(scaled, percent, found)


def _fetch(services: Services, sql: str, timeout_s: float, limit: int | None = None) -> list[tuple[Any, ...]]:
    try:
        return services.mart.fetch(sql + services.mart.dialect.settings, timeout_s=timeout_s, limit=limit)
    except QueryTooSlow as error:
        raise _too_slow(error) from None


def _too_slow(error: QueryTooSlow) -> SegmentRejected:
    return SegmentRejected(
        "segment_query_too_slow",
        f"{error}; narrow the definition (a window on events, fewer OR branches) or raise the time limit",
    )


def _profiles(services: Services, workspace_id: str, profile_ids: list[str]) -> list[dict[str, Any]]:
    """Return the given profiles with their traits and contact identifiers, in the given order."""
    if not profile_ids:
        return []
    dialect, timeout = services.mart.dialect, services.settings.segment_query_timeout_s
    traits = {
        str(pid): value if isinstance(value, dict) else orjson.loads(value)
        for pid, value in _fetch(services, lookups.profiles_sql(dialect, workspace_id=workspace_id,
                                                                profile_ids=profile_ids), timeout)
    }
    ids: dict[str, dict[str, list[str]]] = {}
    for pid, kind, value in _fetch(
        services, lookups.identifiers_sql(dialect, workspace_id=workspace_id, profile_ids=profile_ids), timeout
    ):
        ids.setdefault(str(pid), {}).setdefault(str(kind), []).append(str(value))
    return [{"profile_id": pid, "traits": traits.get(pid, {}), "identifiers": ids.get(pid, {})} for pid in profile_ids]


def _warnings(services: Services, workspace_id: str, definition: SegmentDefinition) -> list[dict[str, str]]:
    """Name the events, event properties and traits this workspace has never seen (likely typos)."""
    found = references(definition.condition)
    dialect = services.mart.dialect
    warnings: list[dict[str, str]] = []

    def unseen(sql: str) -> bool:
        try:
            return not services.mart.fetch(sql + dialect.settings, timeout_s=PROBE_TIMEOUT_S, limit=1)
        except QueryTooSlow:
            return False  # a warning is a courtesy: a slow probe is skipped, never an error

    missing_events = {
        event for event in sorted(found.events)
        if unseen(lookups.event_seen_sql(dialect, workspace_id=workspace_id, event=event))
    }
    warnings += [{"code": "unknown_event", "message": f"no event named {event!r} has been received yet"}
                 for event in sorted(missing_events)]
    for event, path in sorted(found.properties):
        if event not in missing_events and unseen(lookups.event_seen_sql(
            dialect, workspace_id=workspace_id, event=event, property_path=path.split(".")
        )):
            warnings.append({"code": "unknown_property", "message": f"no {event!r} event has had {path!r}"})
    for trait in sorted(found.traits):
        if unseen(lookups.trait_seen_sql(dialect, workspace_id=workspace_id, path=trait.split("."))):
            warnings.append({"code": "unknown_trait", "message": f"no profile has the trait {trait!r}"})
    return warnings


def refresh_order_of(services: Services, workspace_id: str, segment_ids: list[str]) -> list[str]:
    """Return the segments in an order where each comes after the segments it builds on."""
    uses = _uses(services, workspace_id)
    order: list[str] = []
    for segment_id in segment_ids:
        order += [found for found in refresh_order(segment_id, uses) if found not in order]
    return order


def do_refresh_segment(
    services: Services, pipeline: IngestPipeline, *, workspace_id: str, segment_id: str, full: bool = True,
    sync: bool = True, dependencies: bool = True,
) -> RefreshReport:
    """Bring a segment's members up to date (after the segments it builds on) and record the change."""
    segment = get_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    if sync:
        do_sync_mart(services)
    order = refresh_order(segment.id, _uses(services, workspace_id)) if dependencies else [segment.id]
    report: RefreshReport | None = None
    for current_id in order:
        current = get_segment(services, workspace_id=workspace_id, segment_id=current_id)
        report = _refresh_one(services, pipeline, current, full=full)
    assert report is not None  # the segment itself is always last in the order
    return RefreshReport(report.segment_id, report.members, report.entered, report.exited, report.full, order)


def _refresh_one(services: Services, pipeline: IngestPipeline, segment: SegmentRow, *, full: bool) -> RefreshReport:
    now = services.clock.now()
    # A new or changed definition has no members computed by its current version yet.
    full = full or segment.refreshed_at is None or segment.refreshed_version != segment.version
    changed_since = None if full else (segment.refreshed_at or now) - OVERLAP
    definition = parse_segment(segment.definition)
    try:
        change = membership_change(
            services.mart, definition, workspace_id=segment.workspace_id, segment_id=segment.id, now=now,
            changed_since=changed_since, timeout_s=services.settings.segment_refresh_timeout_s,
        )
    except QueryTooSlow as error:
        raise _too_slow(error) from None
    # Events first: if the process dies between the two steps, the next refresh sees the same
    # difference and writes the same message ids, which the event store deduplicates.
    entered, exited = change.entered, change.exited
    _write_changes(services, pipeline, segment, entered, exited, at=now)
    services.mart.change_members(workspace_id=segment.workspace_id, segment_id=segment.id, entered=entered,
                                 exited=exited)
    members = change.matching if full else _count_members(services, segment)
    services.segments.record_refresh(
        workspace_id=segment.workspace_id, segment_id=segment.id, version=segment.version,
        count=CountRow(at=now, members=members, entered=len(entered), exited=len(exited), full=full),
    )
    return RefreshReport(segment.id, members, len(entered), len(exited), full)


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """Who enters and who leaves a segment, and how many of the profiles looked at match."""

    matching: int
    entered: list[str]
    exited: list[str]


def membership_change(
    mart: Mart, definition: SegmentDefinition, *, workspace_id: str, segment_id: str, now: datetime,
    changed_since: datetime | None, timeout_s: float,
) -> MembershipChange:
    """Compare who matches now with the stored members: everyone, or the profiles changed since a time."""
    dialect = mart.dialect
    compiled = compile_segment(definition, dialect=dialect, workspace_id=workspace_id, now=now,
                               changed_since=changed_since)
    matching = {str(row[0]) for row in mart.fetch(compiled.sql + dialect.settings, timeout_s=timeout_s)}
    stored_sql = lookups.members_sql(dialect, workspace_id=workspace_id, segment_id=segment_id,
                                     changed_since=changed_since)
    stored = {str(row[0]) for row in mart.fetch(stored_sql + dialect.settings, timeout_s=timeout_s)}
    return MembershipChange(len(matching), sorted(matching - stored), sorted(stored - matching))


def _count_members(services: Services, segment: SegmentRow) -> int:
    sql = lookups.member_count_sql(services.mart.dialect, workspace_id=segment.workspace_id, segment_id=segment.id)
    rows = _fetch(services, sql, services.settings.segment_refresh_timeout_s)
    return int(rows[0][0]) if rows else 0


def _write_changes(
    services: Services, pipeline: IngestPipeline, segment: SegmentRow, entered: list[str], exited: list[str],
    *, at: datetime,
) -> None:
    changes = [(pid, True) for pid in entered] + [(pid, False) for pid in exited]
    for start in range(0, len(changes), ID_CHUNK):
        chunk = changes[start : start + ID_CHUNK]
        identifiers = _event_identifiers(services, segment.workspace_id, [pid for pid, _ in chunk])
        messages = [
            membership_message(
                segment_id=segment.id, segment_name=segment.name, version=segment.version, profile_id=pid,
                identifier=identifiers[pid], entered=entered_now, at=at,
            )
            for pid, entered_now in chunk
            if pid in identifiers  # a profile known only by email has no event timeline to write to
        ]
        if messages:
            pipeline.record_platform_events(
                workspace_id=segment.workspace_id, messages=messages, source=MEMBERSHIP_SOURCE
            )


def _event_identifiers(services: Services, workspace_id: str, profile_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Return, per profile, the identifier its events are filed under: a user id, else a device id."""
    sql = lookups.identifiers_sql(services.mart.dialect, workspace_id=workspace_id, profile_ids=profile_ids)
    found: dict[str, tuple[str, str]] = {}
    for pid, kind, value in _fetch(services, sql, services.settings.segment_refresh_timeout_s):
        if kind == "user_id" or (kind == "anonymous_id" and str(pid) not in found):
            found[str(pid)] = (str(kind), str(value))
    return found


def members_page(
    services: Services, *, workspace_id: str, segment_id: str, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Return a page of a segment's members (with traits and identifiers) and the cursor of the next."""
    get_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    sql = lookups.members_sql(
        services.mart.dialect, workspace_id=workspace_id, segment_id=segment_id, after=after, limit=limit + 1
    )
    ids = [str(row[0]) for row in _fetch(services, sql, services.settings.segment_query_timeout_s)]
    more = len(ids) > limit
    ids = ids[:limit]
    return _profiles(services, workspace_id, ids), (ids[-1] if more and ids else None)


def iter_members(services: Services, *, workspace_id: str, segment_id: str, chunk: int = 1_000) -> Iterator[
    list[dict[str, Any]]
]:
    """Yield every member, a chunk at a time, without holding the whole list (exports, streams)."""
    after: str | None = None
    while True:
        page, after = members_page(services, workspace_id=workspace_id, segment_id=segment_id, after=after,
                                   limit=chunk)
        if page:
            yield page
        if after is None:
            return


def refresh_due(segment: SegmentRow, *, now: datetime, full_every: timedelta) -> bool:
    """Return whether a segment needs a full refresh: never computed, changed, or stale."""
    return (
        segment.refreshed_at is None
        or segment.refreshed_version != segment.version
        or now - segment.refreshed_at >= full_every
    )
