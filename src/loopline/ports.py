"""Ports: the small interfaces the core uses, each with several adapters and one contract test.

Adapters are picked in ``bootstrap.py`` from settings; nothing else names a technology.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from loopline.domain.events import EventRecord
from loopline.domain.location import Location
from loopline.query.dialects import Dialect

Identifier = tuple[str, str]
"""An identifier as (kind, value): user_id, anonymous_id, email or phone."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: new rows stored, and messages already stored (deduplicated)."""

    inserted: int
    duplicates: int
    last_seq: int


class EventStore(Protocol):
    """The append-only log of every message, deduplicated per workspace on messageId.

    Events keep the identifiers they arrived with; which profile they belong to is
    decided by the identity map, so merging and unmerging never rewrite events.
    """

    def append(self, records: Sequence[EventRecord]) -> AppendResult:
        """Store records durably in one transaction; a repeated (workspace, messageId) is skipped."""
        ...

    def read_after(self, seq: int, *, limit: int) -> list[EventRecord]:
        """Return up to ``limit`` records with a sequence number above ``seq``, in order."""
        ...

    def list_for_identifiers(
        self,
        *,
        workspace_id: str,
        identifiers: Sequence[Identifier],
        limit: int | None = None,
        after_seq: int = 0,
    ) -> list[EventRecord]:
        """Return one workspace's records carrying any of the identifiers, newest first."""
        ...

    def iter_for_identifiers(
        self, *, workspace_id: str, identifiers: Sequence[Identifier]
    ) -> Iterator[EventRecord]:
        """Yield every record carrying any of the identifiers, oldest first, without buffering."""
        ...

    def delete_for_identifiers(
        self, *, workspace_id: str, identifiers: Sequence[Identifier]
    ) -> int:
        """Delete one workspace's records carrying any of the identifiers; return how many."""
        ...

    def count(self, *, workspace_id: str | None = None) -> int:
        """Return how many records are stored, in one workspace or in all."""
        ...

    def last_seq(self) -> int:
        """Return the highest sequence number assigned so far (0 when empty)."""
        ...

    def checkpoint(self) -> None:
        """Do deferred maintenance (e.g. fold a write-ahead log); the writer calls it when idle."""
        ...

    def warm_up(self) -> None:
        """Load now what the first write would load lazily; a server calls it once before it serves."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


@dataclass(slots=True)
class MartBatch:
    """Changes to copy into the mart in one transaction (rows are dicts of mart columns).

    ``touched`` profiles have their identities, devices and consents replaced by the rows
    given here; ``gone`` profiles (merged away or erased) leave the mart with all their rows.
    ``sends`` are ledger rows upserted by (workspace, send key); ``merged`` (workspace,
    merged-away profile, the profile it merged into) moves sends to the survivor before the
    ``gone`` profiles' sends are removed, so a merge keeps the messages and an erasure drops them.
    """

    profiles: list[dict[str, Any]] = field(default_factory=list)
    gone: list[tuple[str, str]] = field(default_factory=list)
    touched: list[tuple[str, str]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    suppressions: list[dict[str, Any]] | None = None  # not None: the whole list, replacing the old
    sends: list[dict[str, Any]] = field(default_factory=list)
    merged: list[tuple[str, str, str]] = field(default_factory=list)
    watermarks: dict[str, str] = field(default_factory=dict)


class QueryTooSlow(Exception):
    """An analytics query ran past its time limit and was stopped."""


class Mart(Protocol):
    """The analytics store's customer side: a copy of profile facts beside the events,
    and the engine that runs compiled segment and report queries over both."""

    dialect: Dialect

    def apply(self, batch: MartBatch) -> None:
        """Apply one batch of copied changes atomically."""
        ...

    def watermarks(self) -> dict[str, str]:
        """Return how far each kind of change has been copied."""
        ...

    def attribute_events(self) -> int:
        """Write the owner beside each event not yet attributed, where the dialect keeps owners; return how many."""
        ...

    def forget_profiles(self, *, workspace_id: str, profile_ids: Sequence[str]) -> None:
        """Remove erased profiles and everything the mart holds about them."""
        ...

    def fetch(self, sql: str, *, timeout_s: float, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Run a compiled query read-only; raise QueryTooSlow past the time limit."""
        ...

    def stream(self, sql: str, *, timeout_s: float, chunk: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        """Run a compiled query read-only and yield its rows in chunks."""
        ...

    def change_members(
        self, *, workspace_id: str, segment_id: str, entered: Sequence[str], exited: Sequence[str]
    ) -> None:
        """Add and remove members of a segment in one transaction."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class GeoLocator(Protocol):
    """Places an IP address on the map (country, region, city, postal code, coordinates)."""

    def locate(self, ip: str) -> Location | None:
        """Return where the address is, or None when it is unknown."""
        ...

    def close(self) -> None:
        """Release the database file."""
        ...


class Clock(Protocol):
    """The time source; tests pass a fixed or stepping clock."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True, slots=True)
class Outbound:
    """One rendered message handed to a channel; ``send_key`` is its idempotency key."""

    send_key: str
    workspace_id: str
    source_id: str
    profile_id: str
    channel: str
    address: str | None
    subject: str | None
    body: str
    url: str | None = None
    options: Mapping[str, Any] | None = None  # channel options, e.g. rich push (image, buttons, badge, TTL…)
    unsubscribe_url: str | None = None  # a signed one-click unsubscribe link, on marketing mail


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a channel answered for one message: accepted, or refused (for good, or worth a retry)."""

    send_key: str
    accepted: bool
    permanent: bool = True
    reason: str = ""
    detail: str = ""
    suppress: str = ""  # the provider refused the address itself: list it, with this suppression reason
    retry_after_s: float | None = None  # the provider asked to wait this long before trying again (Retry-After)


class Channel(Protocol):
    """A way to reach customers (the sandbox outbox, SMTP, FCM, APNs, an SMS gateway…)."""

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Hand messages over; answer for each one. A repeated send key is not delivered twice."""
        ...

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        """Return which of these send keys the channel has (to settle sends whose answer was lost).

        None when the channel cannot tell — an SMTP relay keeps no record it can be asked
        about — and then a send whose answer was lost is never sent again.
        """
        ...


@dataclass(frozen=True, slots=True)
class DashboardRow:
    """One console user's dashboard in one workspace: a name and its saved reports, in order."""

    id: str
    workspace_id: str
    user_id: str
    name: str
    reports: list[dict[str, Any]]  # each {"id", "title", "definition"}: an analytics request
    created_at: datetime
    updated_at: datetime


class DashboardStore(Protocol):
    """Personal dashboards: every call names the workspace and the owner, who alone may reach them."""

    def create(self, row: DashboardRow) -> None:
        """Store a new dashboard."""
        ...

    def get(self, *, workspace_id: str, user_id: str, dashboard_id: str) -> DashboardRow | None:
        """Return one of the user's dashboards, or None."""
        ...

    def for_user(self, *, workspace_id: str, user_id: str) -> list[DashboardRow]:
        """Return the user's dashboards in the workspace, by name."""
        ...

    def update(self, *, workspace_id: str, user_id: str, dashboard_id: str, name: str,
               reports: list[dict[str, Any]], now: datetime) -> DashboardRow | None:
        """Replace a dashboard's name and reports; return it, or None when the user has no such dashboard."""
        ...

    def delete(self, *, workspace_id: str, user_id: str, dashboard_id: str) -> bool:
        """Remove a dashboard; return whether the user had it."""
        ...


@dataclass(frozen=True, slots=True)
class TopicRow:
    """One topic of a workspace's catalogue, as stored."""

    workspace_id: str
    key: str
    label: str
    description: str
    channels: list[str]
    default_status: str
    created_at: datetime
    updated_at: datetime


class TopicStore(Protocol):
    """The topic catalogue and the theme of customer-facing pages; every call names the workspace."""

    def list_topics(self, *, workspace_id: str) -> list[TopicRow]:
        """Return the workspace's topics by label."""
        ...

    def get_topic(self, *, workspace_id: str, key: str) -> TopicRow | None:
        """Return one topic, or None."""
        ...

    def create_topic(self, row: TopicRow) -> bool:
        """Store a new topic; return False (storing nothing) when the workspace has one with its key."""
        ...

    def replace_topic(self, *, workspace_id: str, key: str, values: dict[str, Any], now: datetime) -> TopicRow | None:
        """Replace a topic's label, description, channels and default; None when there is no such topic."""
        ...

    def delete_topic(self, *, workspace_id: str, key: str) -> bool:
        """Remove a topic; return whether it existed."""
        ...

    def get_theme(self, *, workspace_id: str) -> dict[str, Any] | None:
        """Return the workspace's theme document, or None when it never set one."""
        ...

    def put_theme(self, *, workspace_id: str, settings: dict[str, Any], now: datetime) -> None:
        """Store the workspace's theme document, replacing the one before."""
        ...
