"""The send ledger in the operational store: claims, hand-offs, and the answer to "why (not)?".

A claim is one transaction: lock the customers, see which send keys exist, read what the
customers already received and how to reach them (consent, suppression), let the caller
decide, and insert the outcomes. Two claims for the same customer — two schedulers, fifty
triggers — queue behind the lock, so the second sees the first one's row and the frequency
cap holds exactly (F9). On PostgreSQL the lock is the customers' profile rows, taken in id
order so two claims never deadlock; SQLite writers are serialised by ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from loopline.domain.contact_policy import Priority, Sent
from loopline.domain.receipts import RANK
from loopline.domain.recipients import Earlier
from loopline.domain.send_ledger import SendState
from loopline.store.sql.contacts import CHUNK, Recipient, SqlContactBook
from loopline.store.sql.engine import writer
from loopline.store.sql.members import one_of
from loopline.store.sql.rows import as_dict, aware
from loopline.store.sql.tables import campaigns, profiles, sends
from loopline.store.sql.upsert import upsert

COUNTED = (SendState.QUEUED, SendState.SENDING, SendState.SENT, SendState.UNKNOWN)
PENDING = (SendState.QUEUED, SendState.SENDING, SendState.UNKNOWN)
_HANDED = (SendState.SENDING, SendState.UNKNOWN)  # the states a hand-off's answer may settle
RETRY_AFTER = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ReceiptTarget:
    """The send a delivery receipt is about, and whether the receipt raised its status."""

    send_key: str
    profile_id: str
    channel: str
    address: str | None
    source_id: str
    raised: bool


@dataclass(frozen=True, slots=True)
class Due:
    """A queued send ready to hand over."""

    send_key: str
    workspace_id: str
    source_kind: str
    source_id: str
    profile_id: str
    channel: str
    address: str | None
    topic: str
    priority: str
    payload: dict[str, Any]
    expires_at: datetime | None
    attempts: int
    claimed_at: datetime


@dataclass(slots=True)
class Claim:
    """An open claim: what the ledger knows about the batch's customers, and the rows to record."""

    conn: sa.Connection
    workspace_id: str
    existing: set[str]
    history: dict[str, list[Earlier]]
    recipients: dict[str, Recipient]
    now: datetime
    hand_over: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)
    taken: list[Due] = field(default_factory=list)
    displaced: dict[str, str] = field(default_factory=dict)  # waiting send key → the key that took its place

    def learn_keys(self, send_keys: Sequence[str]) -> None:
        """Look up which of these keys are claimed already (for a claim opened before its keys were known)."""
        self.existing.update(self._claimed(send_keys))

    def learn_earlier_keys(self, earlier: Mapping[str, str]) -> None:
        """Count as claimed each key whose earlier-format key (``earlier``: that key → today's) is claimed."""
        self.existing.update(earlier[key] for key in self._claimed(sorted(earlier)))

    def _claimed(self, send_keys: Sequence[str]) -> list[str]:
        found: list[str] = []
        for chunk in _chunks(list(send_keys)):
            found.extend(self.conn.execute(
                sa.select(sends.c.send_key).where(one_of(self.conn, sends.c.send_key, chunk))).scalars())
        return found

    def displace(self, *, waiting_key: str, by: str, profile_id: str) -> None:
        """Skip a waiting lower-ranked send (``outranked``) when the claim commits; it leaves the history now."""
        self.displaced[waiting_key] = by
        self.history[profile_id] = [e for e in self.history.get(profile_id, []) if e.waiting_key != waiting_key]

    def record(self, row: dict[str, Any]) -> None:
        """Add a ledger row to insert when the claim commits; a decided send also joins the history.

        When the claimer hands over itself (``hand_over``), a send due now is stored as
        ``sending`` and listed in ``taken``: no second transaction to take it from the queue.
        """
        row["workspace_id"] = self.workspace_id  # the row is the claim's from here on
        if self.hand_over and row["state"] == SendState.QUEUED and row["not_before"] <= self.now:
            row.update(state=SendState.SENDING, attempts=1)
            self.taken.append(Due(
                row["send_key"], self.workspace_id, row["source_kind"], row["source_id"], row["profile_id"],
                row["channel"], row["address"], row["topic"], row["priority"], row["payload"] or {},
                row["expires_at"], 1, row["created_at"],
            ))
        self.rows.append(row)
        self.existing.add(row["send_key"])
        if row["state"] in (SendState.QUEUED, SendState.SENDING):
            sent = Sent(row["created_at"], row["channel"], Priority(row["priority"]), row["source_id"])
            waiting = row["send_key"] if row["state"] == SendState.QUEUED else None
            self.history.setdefault(row["profile_id"], []).append(
                Earlier(sent, row.get("offer"), row.get("rank", 5), waiting))


class SqlSendLedger:
    """The ledger on SQLite or PostgreSQL; every method is one transaction."""

    def __init__(self, engine: sa.Engine, contacts: SqlContactBook | None = None) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self.contacts = contacts or SqlContactBook()

    @contextmanager
    def claiming(
        self, *, workspace_id: str, profile_ids: Sequence[str], send_keys: Sequence[str], since: datetime,
        now: datetime, hand_over: bool = False, earlier_keys: Mapping[str, str] | None = None,
        channels: Collection[str] | None = None,
    ) -> Iterator[Claim]:
        """Open a claim over some customers; the rows recorded on it are inserted when the block ends.

        ``earlier_keys`` maps keys in an earlier format (a run begun before the current one)
        to today's keys: a send claimed under either counts as claimed. ``channels``, when
        given, are the only ones the claim sends on (their addresses are all it reads).
        """
        unique = sorted(set(profile_ids))
        with self._writer.begin() as conn:
            self._lock(conn, workspace_id, unique)
            claim = Claim(conn, workspace_id, set(), self._history(conn, workspace_id, unique, since),
                          self.contacts.load(conn, workspace_id=workspace_id, profile_ids=unique, channels=channels),
                          now, hand_over)
            claim.learn_keys(send_keys)
            if earlier_keys:
                claim.learn_earlier_keys(earlier_keys)
            yield claim
            self._displace(conn, claim)
            upsert(conn, sends, claim.rows, keys=("send_key",))

    def peek(
        self, *, workspace_id: str, profile_ids: Sequence[str], since: datetime,
    ) -> tuple[dict[str, list[Earlier]], dict[str, Recipient]]:
        """Return what a claim would see (history and recipients) without claiming: for previews."""
        unique = sorted(set(profile_ids))
        with self._engine.connect() as conn:
            return (self._history(conn, workspace_id, unique, since),
                    self.contacts.load(conn, workspace_id=workspace_id, profile_ids=unique))

    @staticmethod
    def _displace(conn: sa.Connection, claim: Claim) -> None:
        """Skip the sends outranked in this claim; a send a worker took meanwhile keeps its place.

        Then the send that would have displaced it has no room under the cap after all,
        and is recorded as skipped for the cap instead of queued.
        """
        for waiting_key, by in claim.displaced.items():
            done = conn.execute(sends.update().where(sends.c.send_key == waiting_key,
                                                     sends.c.state == SendState.QUEUED).values(
                state=SendState.SKIPPED, reason="outranked", payload=None, updated_at=claim.now,
                detail="a higher-ranked marketing message took its place under the frequency cap")).rowcount
            if done:
                continue
            for row in claim.rows:
                if row["send_key"] == by:
                    row.update(state=SendState.SKIPPED, reason="frequency_cap", payload=None, not_before=None,
                               detail="the lower-ranked message it would have replaced went out meanwhile")
            claim.taken = [due for due in claim.taken if due.send_key != by]

    @staticmethod
    def _lock(conn: sa.Connection, workspace_id: str, profile_ids: list[str]) -> None:
        if conn.dialect.name != "postgresql":
            return
        for chunk in _chunks(profile_ids):
            conn.execute(sa.select(profiles.c.id).where(profiles.c.workspace_id == workspace_id,
                                                        profiles.c.id.in_(chunk)).order_by(profiles.c.id).with_for_update())

    @staticmethod
    def _history(
        conn: sa.Connection, workspace_id: str, profile_ids: list[str], since: datetime,
    ) -> dict[str, list[Earlier]]:
        history: dict[str, list[Earlier]] = {}
        for chunk in _chunks(profile_ids):
            for row in conn.execute(sa.select(
                sends.c.profile_id, sends.c.created_at, sends.c.channel, sends.c.priority, sends.c.source_id,
                sends.c.offer, sends.c.rank, sends.c.state, sends.c.send_key,
            ).where(sends.c.workspace_id == workspace_id, one_of(conn, sends.c.profile_id, chunk),
                    sends.c.state.in_(COUNTED), sends.c.created_at > since)):
                sent = Sent(aware(row.created_at), row.channel, Priority(row.priority), row.source_id)  # type: ignore[arg-type]
                waiting = row.send_key if row.state == SendState.QUEUED else None
                history.setdefault(row.profile_id, []).append(Earlier(sent, row.offer, row.rank, waiting))
        return history

    def take_due(self, *, now: datetime, limit: int) -> list[Due]:
        """Move up to ``limit`` due queued sends to ``sending`` and return them (held campaigns wait)."""
        query = sa.select(sends.c.send_key).where(
            sends.c.state == SendState.QUEUED, sends.c.not_before <= now,
            # A paused or unscheduled campaign holds its queued sends until it runs again.
            sa.or_(sends.c.source_kind != "campaign", sends.c.source_id.in_(
                sa.select(campaigns.c.id).where(campaigns.c.status.in_(("running", "completed"))))),
        )
        with self._writer.begin() as conn:
            keys = list(conn.execute(query.order_by(sends.c.not_before).limit(limit)).scalars())
            taken: list[Due] = []
            for chunk in _chunks(keys):
                taken.extend(Due(
                    r.send_key, r.workspace_id, r.source_kind, r.source_id, r.profile_id, r.channel, r.address,
                    r.topic, r.priority, dict(r.payload or {}), aware(r.expires_at), r.attempts,
                    aware(r.created_at),  # type: ignore[arg-type]
                ) for r in conn.execute(
                    sends.update().where(sends.c.send_key.in_(chunk), sends.c.state == SendState.QUEUED)
                    .values(state=SendState.SENDING, attempts=sends.c.attempts + 1, updated_at=now, handed_at=None)
                    .returning(*sends.c)
                ))
        return taken

    def settle(self, *, outcomes: Sequence[tuple[str, SendState, str, str]], now: datetime,
               retry_at: Mapping[str, datetime] | None = None, held: Collection[str] = ()) -> None:
        """Record how hand-offs ended: (send key, sent / failed / skipped / queued, reason, detail).

        A send queued again waits until its ``retry_at`` (backoff, or the provider's
        Retry-After), or a minute when none is given; one ``held`` back before it was tried
        (a provider's rate) does not count as an attempt.
        """
        retry_at = retry_at or {}
        alike: dict[tuple[SendState, str, str], list[str]] = {}
        retried: list[tuple[str, str, str]] = []
        for key, state, reason, detail in outcomes:
            if state == SendState.QUEUED:
                retried.append((key, reason, detail))
            else:
                alike.setdefault((state, reason, detail[:500]), []).append(key)
        with self._writer.begin() as conn:
            # Most hand-offs end alike (a batch all "sent"): one statement per kind of ending.
            for (state, reason, detail), keys in alike.items():
                values: dict[str, Any] = {"state": state, "updated_at": now, "reason": reason, "detail": detail}
                if state in (SendState.SENT, SendState.FAILED, SendState.SKIPPED):
                    values["payload"] = None  # rendered content (personal data) is kept only until handed over
                if state == SendState.SENT:
                    values["sent_at"] = now
                for chunk in _chunks(keys):
                    conn.execute(sends.update().where(one_of(conn, sends.c.send_key, chunk),
                                                      sends.c.state.in_(_HANDED)).values(**values))
            if retried:  # a retryable refusal: try again after a pause
                conn.execute(sends.update().where(
                    sends.c.send_key == sa.bindparam("b_key"),
                    sa.or_(*(sends.c.state == state for state in _HANDED)),  # executemany takes no IN list
                ).values(state=SendState.QUEUED, updated_at=now, reason=sa.bindparam("b_reason"),
                         detail=sa.bindparam("b_detail"), not_before=sa.bindparam("b_not_before"), handed_at=None,
                         attempts=sends.c.attempts - 1 + sa.bindparam("b_spent")), [
                    {"b_key": key, "b_reason": reason, "b_detail": detail[:500],
                     "b_not_before": retry_at.get(key, now + RETRY_AFTER), "b_spent": 0 if key in held else 1}
                    for key, reason, detail in retried])

    def mark_handed(self, *, send_keys: Sequence[str], now: datetime) -> None:
        """Record that these claimed sends are about to be handed to their provider.

        Committed before the provider is called: a worker that dies before this point
        provably sent nothing, so its sends may go again; after it, nobody can tell.
        """
        with self._writer.begin() as conn:
            for chunk in _chunks(list(send_keys)):
                conn.execute(sends.update().where(sends.c.send_key.in_(chunk), sends.c.state == SendState.SENDING)
                             .values(handed_at=now))

    def mark_stale_unknown(self, *, older_than: datetime, now: datetime) -> int:
        """Settle sends stuck in ``sending`` since before ``older_than``; return how many became ``unknown``.

        A send its dead worker never handed over is queued again at once (F2); one it did
        hand over becomes ``unknown``, for the reconciler to ask the channel (F1).
        """
        stale = (sends.c.state == SendState.SENDING, sends.c.updated_at < older_than)
        with self._writer.begin() as conn:
            conn.execute(sends.update().where(*stale, sends.c.handed_at.is_(None))
                         .values(state=SendState.QUEUED, not_before=now, updated_at=now))
            return int(conn.execute(sends.update().where(*stale, sends.c.handed_at.is_not(None))
                                    .values(state=SendState.UNKNOWN, updated_at=now)).rowcount)

    def list_unknown(self, *, limit: int) -> list[tuple[str, str, str]]:
        """Return (send key, workspace, channel) of sends whose hand-off has no recorded answer."""
        with self._engine.connect() as conn:
            return [(r.send_key, r.workspace_id, r.channel) for r in conn.execute(
                sa.select(sends.c.send_key, sends.c.workspace_id, sends.c.channel).where(
                    sends.c.state == SendState.UNKNOWN)
                .order_by(sends.c.send_key).limit(limit))]

    def requeue(self, *, send_keys: Sequence[str], now: datetime) -> None:
        """Put ``unknown`` sends the channel never received back in the queue."""
        with self._writer.begin() as conn:
            for chunk in _chunks(list(send_keys)):
                conn.execute(sends.update().where(sends.c.send_key.in_(chunk), sends.c.state == SendState.UNKNOWN)
                             .values(state=SendState.QUEUED, updated_at=now))

    def record_receipt(self, *, workspace_id: str, send_key: str, status: str, at: datetime) -> ReceiptTarget | None:
        """Raise a send's receipt to ``status`` unless it already stands as high; return the send (None: not ours).

        The rise is one conditional UPDATE, so two reports racing each other still end on the
        higher one.
        """
        lower = [name for name, rank in RANK.items() if rank < RANK[status]]
        with self._writer.begin() as conn:
            found = conn.execute(sa.select(sends.c.profile_id, sends.c.channel, sends.c.address, sends.c.source_id)
                                 .where(sends.c.send_key == send_key, sends.c.workspace_id == workspace_id)).first()
            if found is None:
                return None
            raised = conn.execute(sends.update().where(
                sends.c.send_key == send_key, sends.c.workspace_id == workspace_id,
                sa.or_(sends.c.receipt.is_(None), sends.c.receipt.in_(lower)),
            ).values(receipt=status, receipt_at=at)).rowcount
        return ReceiptTarget(send_key, found.profile_id, found.channel, found.address, found.source_id, bool(raised))

    def skip_pending(self, *, workspace_id: str, reason: str, now: datetime, source_id: str | None = None,
                     profile_id: str | None = None, channel: str | None = None, topic: str | None = None) -> int:
        """Skip the queued sends of a source, a customer, or a customer's channel and topic.

        A cancelled campaign, an erased person, an opt-out: what waits in the queue must not go.
        """
        query = sends.update().where(sends.c.workspace_id == workspace_id, sends.c.state == SendState.QUEUED)
        for column, value in ((sends.c.source_id, source_id), (sends.c.profile_id, profile_id),
                              (sends.c.channel, channel), (sends.c.topic, topic)):
            if value is not None:
                query = query.where(column == value)
        with self._writer.begin() as conn:
            return int(conn.execute(query.values(state=SendState.SKIPPED, reason=reason, payload=None,
                                                 updated_at=now)).rowcount)

    def forget_profile(self, *, workspace_id: str, profile_id: str, now: datetime) -> None:
        """Stop a person's pending sends and drop the personal data the ledger holds about them."""
        self.skip_pending(workspace_id=workspace_id, reason="erased", now=now, profile_id=profile_id)
        with self._writer.begin() as conn:
            conn.execute(sends.update().where(sends.c.workspace_id == workspace_id, sends.c.profile_id == profile_id)
                         .values(address=None, payload=None))

    def list_for_profile(self, *, workspace_id: str, profile_id: str, source_id: str | None = None,
                         limit: int = 100) -> list[dict[str, Any]]:
        """Return a customer's ledger rows, newest first: what was sent, skipped or queued, and why."""
        query = sends.select().where(sends.c.workspace_id == workspace_id, sends.c.profile_id == profile_id)
        if source_id is not None:
            query = query.where(sends.c.source_id == source_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(sends.c.created_at.desc(), sends.c.send_key).limit(limit)).all()
        return [as_dict(row) for row in rows]

    def message_of(self, *, workspace_id: str, send_key: str) -> dict[str, Any] | None:
        """Return who a send went to and what sent it (``profile_id``, ``channel``, ``source_kind``,
        ``source_id``, ``step``, ``variant``), or None when the workspace has no such send."""
        query = sa.select(sends.c.profile_id, sends.c.channel, sends.c.source_kind, sends.c.source_id, sends.c.step,
                          sends.c.variant).where(sends.c.workspace_id == workspace_id, sends.c.send_key == send_key)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return as_dict(row) if row is not None else None

    def campaign_decisions(self, *, workspace_id: str, campaign_id: str) -> list[dict[str, Any]]:
        """Return a campaign's rows (its runs, not its test sends), by customer and decision time.

        Each row has ``send_key``, ``profile_id``, ``channel``, ``variant``, ``state``, ``reason``,
        ``created_at`` (timezone-aware) and ``receipt``.
        """
        query = sa.select(sends.c.send_key, sends.c.profile_id, sends.c.channel, sends.c.variant, sends.c.state,
                          sends.c.reason, sends.c.created_at, sends.c.receipt).where(
            sends.c.workspace_id == workspace_id, sends.c.source_kind == "campaign", sends.c.source_id == campaign_id,
        ).order_by(sends.c.profile_id, sends.c.created_at, sends.c.send_key)
        with self._engine.connect() as conn:
            return [{**as_dict(row), "created_at": aware(row.created_at)} for row in conn.execute(query)]

    def sent_elsewhere(self, *, workspace_id: str, profile_ids: Sequence[str], other_than: str, since: datetime,
                       until: datetime) -> list[tuple[str, datetime]]:
        """Return (customer, sent at) of messages of other campaigns and journeys sent to them in a time range."""
        query = sa.select(sends.c.profile_id, sends.c.sent_at).where(
            sends.c.workspace_id == workspace_id, sends.c.profile_id.in_(list(profile_ids)),
            sends.c.state == SendState.SENT, sends.c.source_kind != "test", sends.c.source_id != other_than,
            sends.c.sent_at >= since, sends.c.sent_at <= until,
        )
        with self._engine.connect() as conn:
            found = [(str(row.profile_id), aware(row.sent_at)) for row in conn.execute(query)]
        return [(profile_id, sent_at) for profile_id, sent_at in found if sent_at is not None]  # sent rows have one

    def tally(self, *, workspace_id: str, source_id: str, occurrence: str | None = None) -> dict[str, dict[str, int]]:
        """Return how many sends of a source are in each state, and per reason."""
        query = sa.select(sends.c.state, sends.c.reason, sa.func.count()).where(
            sends.c.workspace_id == workspace_id, sends.c.source_id == source_id)
        if occurrence is not None:
            query = query.where(sends.c.occurrence == occurrence)
        result: dict[str, dict[str, int]] = {}
        with self._engine.connect() as conn:
            for state, reason, count in conn.execute(query.group_by(sends.c.state, sends.c.reason)):
                result.setdefault(state, {})[reason] = int(count)
        return result

    def count_pending(self, *, source_id: str, occurrence: str) -> int:
        """Return how many sends of one run are not settled yet."""
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(
                sends.c.source_id == source_id, sends.c.occurrence == occurrence, sends.c.state.in_(PENDING),
            )).scalar_one())


def since_for(windows: Sequence[timedelta], now: datetime) -> datetime:
    """Return how far back a claim must read the ledger to judge every cap and the offer window."""
    return now - max(windows, default=timedelta(days=1))


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
