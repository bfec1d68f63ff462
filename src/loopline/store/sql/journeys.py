"""Journeys, their versions and enrolments in the operational store."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from loopline.store.sql.engine import writer
from loopline.store.sql.rows import as_dict, aware
from loopline.store.sql.tables import (
    enrollments,
    journey_moves,
    journey_versions,
    journeys,
    profiles,
    projection_cursors,
    sends,
)
from loopline.store.sql.upsert import upsert

CURSOR = "journeys"


@dataclass(frozen=True, slots=True)
class JourneyRow:
    """A stored journey with its current version's definition."""

    id: str
    workspace_id: str
    name: str
    status: str
    version: int
    active_since: datetime | None
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    moves_counted: bool = True


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    """Where one customer stands in one journey."""

    id: str
    workspace_id: str
    journey_id: str
    version: int
    profile_id: str
    entry_key: str
    state: str
    step_id: str | None
    wake_at: datetime | None
    waiting_for: dict[str, Any] | None
    visits: int
    done_reason: str
    trigger: dict[str, Any]
    entered_at: datetime
    updated_at: datetime
    key_format: int | None = None  # the send-key format of its sends; None: entered before it was kept


@dataclass(frozen=True, slots=True)
class JourneyTally:
    """What is recorded of a journey's enrolments and sends, counted.

    ``positions``: (state, step id, done reason) → enrolments; an enrolment that ended on its
    goal keeps the step it stood at. ``sends``: (step, ledger state, reason) → decisions, one
    per pass through a send step.
    """

    positions: dict[tuple[str, str | None, str], int]
    sends: dict[tuple[str, str, str], int]
    moves: dict[tuple[str, str | None], int] | None = None  # None: some enrolments moved before moves were counted


@dataclass(frozen=True, slots=True)
class Walked:
    """The links one walk followed from where its enrolment stood; counted when the new position is saved."""

    workspace_id: str
    journey_id: str
    from_step: str | None
    from_visits: int
    moves: tuple[tuple[str, str | None], ...]


class JourneyNameTaken(ValueError):
    """Another journey of the workspace has this name."""


_CURRENT = sa.select(journeys, journey_versions.c.definition).join(
    journey_versions, sa.and_(journey_versions.c.journey_id == journeys.c.id,
                              journey_versions.c.version == journeys.c.version))


class SqlJourneyStore:
    """Journeys per workspace; a new definition is a new version, and enrolments keep theirs."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def create(self, *, journey_id: str, workspace_id: str, name: str, definition: dict[str, Any],
               now: datetime) -> None:
        """Store a new journey (a draft, version 1); raise JourneyNameTaken when the name is in use."""
        try:
            with self._writer.begin() as conn:
                conn.execute(journeys.insert().values(id=journey_id, workspace_id=workspace_id, name=name,
                                                      status="draft", version=1, created_at=now, updated_at=now))
                conn.execute(journey_versions.insert().values(journey_id=journey_id, version=1,
                                                              definition=definition, created_at=now))
        except sa.exc.IntegrityError:
            raise JourneyNameTaken(name) from None

    def new_version(self, *, workspace_id: str, journey_id: str, definition: dict[str, Any],
                    now: datetime) -> JourneyRow | None:
        """Add a version and make it current; running enrolments stay on theirs."""
        with self._writer.begin() as conn:
            current = conn.execute(sa.select(journeys.c.version).where(
                journeys.c.workspace_id == workspace_id, journeys.c.id == journey_id)).scalar()
            if current is None:
                return None
            conn.execute(journey_versions.insert().values(journey_id=journey_id, version=current + 1,
                                                          definition=definition, created_at=now))
            conn.execute(journeys.update().where(journeys.c.id == journey_id)
                         .values(version=current + 1, updated_at=now))
        return self.get(workspace_id=workspace_id, journey_id=journey_id)

    def set_status(self, *, workspace_id: str, journey_id: str, status: str, now: datetime) -> JourneyRow | None:
        """Change a journey's status; None when it does not exist. Activating starts its trigger window."""
        values: dict[str, Any] = {"status": status, "updated_at": now}
        with self._writer.begin() as conn:
            mine = sa.and_(journeys.c.workspace_id == workspace_id, journeys.c.id == journey_id)
            if status == "active":
                was = conn.execute(sa.select(journeys.c.status).where(mine)).scalar()
                if was != "active":
                    values["active_since"] = now
            conn.execute(journeys.update().where(mine).values(**values))
        return self.get(workspace_id=workspace_id, journey_id=journey_id)

    def get(self, *, workspace_id: str, journey_id: str) -> JourneyRow | None:
        """Return one journey with its current definition."""
        with self._engine.connect() as conn:
            row = conn.execute(_CURRENT.where(journeys.c.workspace_id == workspace_id,
                                              journeys.c.id == journey_id)).first()
        return JourneyRow(**as_dict(row)) if row else None

    def in_workspace(self, *, workspace_id: str) -> list[JourneyRow]:
        """Return the workspace's journeys, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(_CURRENT.where(journeys.c.workspace_id == workspace_id)
                                .order_by(journeys.c.created_at.desc(), journeys.c.id)).all()
        return [JourneyRow(**as_dict(r)) for r in rows]

    def active(self) -> list[JourneyRow]:
        """Return every active journey of every workspace (what triggers are matched against)."""
        with self._engine.connect() as conn:
            rows = conn.execute(_CURRENT.where(journeys.c.status == "active")).all()
        return [JourneyRow(**as_dict(r)) for r in rows]

    def definition(self, *, journey_id: str, version: int) -> dict[str, Any] | None:
        """Return one version's definition."""
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(journey_versions.c.definition).where(
                journey_versions.c.journey_id == journey_id, journey_versions.c.version == version)).scalar()
        return dict(found) if found is not None else None

    def enter(self, row: EnrollmentRow, *, last_since: datetime | None) -> tuple[bool, str]:
        """Store a new enrolment unless the customer may not enter; return (entered, why not)."""
        (why_not,) = self.enter_many([(row, last_since)])
        return not why_not, why_not

    def enter_many(self, entries: Sequence[tuple[EnrollmentRow, datetime | None]]) -> list[str]:
        """Store new enrolments in one transaction; return, per entry, why not ("" when it entered).

        Behind the customers' row locks (in id order, on PostgreSQL), each entry is checked
        against the store and the entries before it: a running enrolment of the same journey
        refuses (``running``), so does an earlier entry after its ``since`` (``too_soon``:
        once per N days), and the unique entry key refuses a second "once" entry or a
        replayed trigger (``already_entered``).
        """
        if not entries:
            return []
        with self._writer.begin() as conn:
            profile_ids = sorted({row.profile_id for row, _ in entries})
            if conn.dialect.name == "postgresql":
                for start in range(0, len(profile_ids), 900):
                    conn.execute(sa.select(profiles.c.id).where(profiles.c.id.in_(profile_ids[start:start + 900]))
                                 .order_by(profiles.c.id).with_for_update())
            running, keys, latest = self._standing(conn, entries, profile_ids)
            verdicts, accepted = [], []
            for row, since in entries:
                pair = (row.journey_id, row.profile_id)
                if pair in running:
                    verdicts.append("running")
                elif since is not None and pair in latest and latest[pair] > since:
                    verdicts.append("too_soon")
                elif (*pair, row.entry_key) in keys:
                    verdicts.append("already_entered")
                else:
                    verdicts.append("")
                    accepted.append({name: getattr(row, name) for name in EnrollmentRow.__slots__})
                    running.add(pair)
                    keys.add((*pair, row.entry_key))
                    latest[pair] = row.entered_at
            upsert(conn, enrollments, accepted, keys=("journey_id", "profile_id", "entry_key"))
        return verdicts

    @staticmethod
    def _standing(conn: sa.Connection, entries: Sequence[tuple[EnrollmentRow, datetime | None]],
                  profile_ids: list[str]) -> tuple[set[tuple[str, str]], set[tuple[str, str, str]],
                                                   dict[tuple[str, str], datetime]]:
        """Return what the entry rules look at: who is running, entry keys taken, and each latest entry."""
        journey_ids = sorted({row.journey_id for row, _ in entries})
        wanted_keys = sorted({row.entry_key for row, _ in entries})
        earliest = min((since for _, since in entries if since is not None), default=None)
        relevant = [enrollments.c.state == "active", enrollments.c.entry_key.in_(wanted_keys)]
        if earliest is not None:
            relevant.append(enrollments.c.entered_at > earliest)
        running: set[tuple[str, str]] = set()
        keys: set[tuple[str, str, str]] = set()
        latest: dict[tuple[str, str], datetime] = {}
        for start in range(0, len(profile_ids), 900):
            found = conn.execute(sa.select(
                enrollments.c.journey_id, enrollments.c.profile_id, enrollments.c.entry_key,
                enrollments.c.state, enrollments.c.entered_at,
            ).where(enrollments.c.journey_id.in_(journey_ids),
                    enrollments.c.profile_id.in_(profile_ids[start:start + 900]), sa.or_(*relevant)))
            for journey, profile, key, state, entered_at in found:
                if state == "active":
                    running.add((journey, profile))
                keys.add((journey, profile, key))
                when = aware(entered_at) or entered_at
                if (journey, profile) not in latest or when > latest[(journey, profile)]:
                    latest[(journey, profile)] = when
        return running, keys, latest

    def save_many(self, positions: Sequence[dict[str, Any]], *, now: datetime,
                  walked: Mapping[str, Walked] | None = None) -> None:
        """Record where several enrolments stand, and count the links their walks followed, in one transaction.

        Each position names its enrolment (``id``) and gives ``state``, ``step_id``,
        ``wake_at``, ``waiting_for``, ``visits`` and ``done_reason``. A walk's links
        (``walked``, by enrolment id) count only when the enrolment still stood where the walk
        began: a walk repeated after a crash, or by a second worker, counts nothing twice.
        """
        if not positions:
            return
        update = enrollments.update().where(enrollments.c.id == sa.bindparam("enrollment_id")).values(
            state=sa.bindparam("state"), step_id=sa.bindparam("step_id"), wake_at=sa.bindparam("wake_at"),
            waiting_for=sa.bindparam("waiting_for"), visits=sa.bindparam("visits"),
            done_reason=sa.bindparam("done_reason"), updated_at=sa.bindparam("updated_at"))
        with self._writer.begin() as conn:
            counted = self._still_where_walked(conn, walked or {})
            conn.execute(update, [{**{k: v for k, v in position.items() if k != "id"},
                                   "enrollment_id": position["id"], "updated_at": now} for position in positions])
            self._count_moves(conn, counted)

    @staticmethod
    def _still_where_walked(conn: sa.Connection, walked: Mapping[str, Walked]) -> list[Walked]:
        """Return the walks whose enrolment still stands where they began (row-locked on PostgreSQL)."""
        wanted = {enrollment_id: walk for enrollment_id, walk in walked.items() if walk.moves}
        if not wanted:
            return []
        query = sa.select(enrollments.c.id, enrollments.c.state, enrollments.c.step_id, enrollments.c.visits).where(
            enrollments.c.id.in_(sorted(wanted))).order_by(enrollments.c.id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return [wanted[row.id] for row in conn.execute(query)
                if row.state == "active" and row.step_id == wanted[row.id].from_step
                and row.visits == wanted[row.id].from_visits]

    @staticmethod
    def _count_moves(conn: sa.Connection, walks: Sequence[Walked]) -> None:
        totals: dict[tuple[str, str, str, str], int] = defaultdict(int)
        for walk in walks:
            for source, target in walk.moves:
                totals[(walk.journey_id, source, target or "", walk.workspace_id)] += 1
        if not totals:
            return
        module = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = module.insert(journey_moves)
        statement = statement.on_conflict_do_update(
            index_elements=["journey_id", "source", "target"],
            set_={"moves": journey_moves.c.moves + statement.excluded.moves})
        conn.execute(statement, [{"journey_id": journey_id, "source": source, "target": target,
                                  "workspace_id": workspace_id, "moves": count}
                                 for (journey_id, source, target, workspace_id), count in sorted(totals.items())])

    def join(self, *, journey_id: str, profile_id: str, message_id: str, properties: dict[str, Any],
             now: datetime) -> bool:
        """Add an event to the running enrolment's digest (once per message id); False when none runs."""
        with self._writer.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(profiles.c.id).where(profiles.c.id == profile_id).with_for_update())
            row = conn.execute(sa.select(enrollments.c.id, enrollments.c.trigger).where(
                enrollments.c.journey_id == journey_id, enrollments.c.profile_id == profile_id,
                enrollments.c.state == "active")).first()
            if row is None:
                return False
            trigger = dict(row.trigger or {})
            events = list(trigger.get("events") or [])
            if all(item.get("message_id") != message_id for item in events):
                events.append({"message_id": message_id, "properties": properties})
                conn.execute(enrollments.update().where(enrollments.c.id == row.id).values(
                    trigger={**trigger, "events": events}, updated_at=now))
        return True

    def save(self, *, enrollment_id: str, now: datetime, **values: Any) -> None:
        """Record where an enrolment stands now."""
        with self._writer.begin() as conn:
            conn.execute(enrollments.update().where(enrollments.c.id == enrollment_id).values(**values, updated_at=now))

    def running_for(self, *, workspace_id: str, profile_id: str) -> list[EnrollmentRow]:
        """Return a customer's active enrolments (to end them on a goal or wake a wait on an event)."""
        with self._engine.connect() as conn:
            rows = conn.execute(enrollments.select().where(
                enrollments.c.workspace_id == workspace_id, enrollments.c.profile_id == profile_id,
                enrollments.c.state == "active")).all()
        return [EnrollmentRow(**as_dict(r)) for r in rows]

    def profiles_running(self, *, workspace_id: str, profile_ids: Sequence[str]) -> set[str]:
        """Return which of these customers have an active enrolment (one query for a whole batch)."""
        unique = sorted(set(profile_ids))
        found: set[str] = set()
        with self._engine.connect() as conn:
            for start in range(0, len(unique), 900):
                found.update(conn.execute(sa.select(enrollments.c.profile_id).where(
                    enrollments.c.workspace_id == workspace_id, enrollments.c.state == "active",
                    enrollments.c.profile_id.in_(unique[start : start + 900])).distinct()).scalars())
        return found

    def workspaces_running(self) -> set[str]:
        """Return the workspaces with at least one active enrolment."""
        with self._engine.connect() as conn:
            return set(conn.execute(sa.select(enrollments.c.workspace_id).where(enrollments.c.state == "active")
                                    .distinct()).scalars())

    def due(self, *, now: datetime, limit: int) -> list[EnrollmentRow]:
        """Return active enrolments whose wait has ended."""
        with self._engine.connect() as conn:
            rows = conn.execute(enrollments.select().where(
                enrollments.c.state == "active", enrollments.c.wake_at <= now,
            ).order_by(enrollments.c.wake_at).limit(limit)).all()
        return [EnrollmentRow(**as_dict(r)) for r in rows]

    def list_for_journey(self, *, workspace_id: str, journey_id: str, limit: int = 100) -> list[EnrollmentRow]:
        """Return a journey's enrolments, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(enrollments.select().where(
                enrollments.c.workspace_id == workspace_id, enrollments.c.journey_id == journey_id,
            ).order_by(enrollments.c.entered_at.desc(), enrollments.c.id).limit(limit)).all()
        return [EnrollmentRow(**as_dict(r)) for r in rows]

    def step_tally(self, *, workspace_id: str, journey_ids: Sequence[str]) -> dict[str, JourneyTally]:
        """Return, per journey, how many enrolments stand (or ended) where, and its send steps' decisions."""
        tallies = {journey_id: JourneyTally({}, {}) for journey_id in journey_ids}
        if not tallies:
            return tallies
        where_enrolled = sa.and_(enrollments.c.workspace_id == workspace_id,
                                 enrollments.c.journey_id.in_(list(tallies)))
        where_sent = sa.and_(sends.c.workspace_id == workspace_id, sends.c.source_kind == "journey",
                             sends.c.source_id.in_(list(tallies)))
        with self._engine.connect() as conn:
            for journey_id, state, step_id, reason, count in conn.execute(sa.select(
                    enrollments.c.journey_id, enrollments.c.state, enrollments.c.step_id, enrollments.c.done_reason,
                    sa.func.count()).where(where_enrolled).group_by(
                    enrollments.c.journey_id, enrollments.c.state, enrollments.c.step_id, enrollments.c.done_reason)):
                tallies[journey_id].positions[(state, step_id, reason)] = int(count)
            for journey_id, step, state, reason, count in conn.execute(sa.select(
                    sends.c.source_id, sends.c.step, sends.c.state, sends.c.reason, sa.func.count()).where(
                    where_sent).group_by(sends.c.source_id, sends.c.step, sends.c.state, sends.c.reason)):
                tallies[journey_id].sends[(step, state, reason)] = int(count)
            counted = set(conn.execute(sa.select(journeys.c.id).where(
                journeys.c.workspace_id == workspace_id, journeys.c.id.in_(list(tallies)),
                journeys.c.moves_counted.is_(True))).scalars())
            moves: dict[str, dict[tuple[str, str | None], int]] = {journey_id: {} for journey_id in counted}
            for journey_id, source, target, count in conn.execute(sa.select(
                    journey_moves.c.journey_id, journey_moves.c.source, journey_moves.c.target,
                    journey_moves.c.moves).where(journey_moves.c.workspace_id == workspace_id,
                                                 journey_moves.c.journey_id.in_(sorted(counted)))):
                moves[journey_id][(source, target or None)] = int(count)
        return {journey_id: replace(tally, moves=moves.get(journey_id)) for journey_id, tally in tallies.items()}

    def forget_profiles(self, *, workspace_id: str, profile_ids: Sequence[str], now: datetime) -> None:
        """End an erased person's enrolments and drop the trigger data they hold."""
        with self._writer.begin() as conn:
            conn.execute(enrollments.update().where(
                enrollments.c.workspace_id == workspace_id, enrollments.c.profile_id.in_(list(profile_ids)),
            ).values(state="done", done_reason="erased", trigger={}, wake_at=None, waiting_for=None,
                     updated_at=now))

    def get_cursor(self) -> int:
        """Return how far the trigger processor has read the event log."""
        with self._engine.connect() as conn:
            seq = conn.execute(sa.select(projection_cursors.c.seq).where(projection_cursors.c.name == CURSOR)).scalar()
        return int(seq or 0)

    def set_cursor(self, seq: int) -> None:
        """Record how far the trigger processor has read."""
        with self._writer.begin() as conn:
            upsert(conn, projection_cursors, [{"name": CURSOR, "seq": seq}], keys=("name",), update=("seq",))
