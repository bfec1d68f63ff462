"""Tracked links, their hits, deferred deep links and link settings in the operational store.

Links are written once per hand-over batch (one INSERT, a send handed over again writes the same
rows and changes nothing); a click reads its link with its send in one query. Every read that a
caller outside the workspace could reach names the workspace, except the lookup by token (the
token is the credential, and the row says whose it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.engine import writer
from loopline.store.sql.members import one_of
from loopline.store.sql.rows import aware
from loopline.store.sql.tables import (
    campaigns,
    deferred_links,
    journeys,
    link_hits,
    link_settings,
    sends,
    tracked_links,
)
from loopline.store.sql.upsert import upsert

CHUNK = 500


@dataclass(frozen=True, slots=True)
class SendFacts:
    """What a tracked link's UTM parameters and events say about its send."""

    step: str
    variant: str | None
    source_name: str | None  # the campaign's or journey's name


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A tracked link (or open pixel, ``position`` 0) with the send it belongs to."""

    id: str
    workspace_id: str
    send_key: str
    position: int
    label: str
    url: str
    screen: str | None
    created_at: datetime
    profile_id: str
    channel: str
    source_kind: str
    source_id: str
    step: str
    variant: str | None
    handed_at: datetime | None


class LinkDomainTaken(ValueError):
    """Another workspace's links are written on this domain already."""


class SqlTrackingStore:
    """The tracking tables; one transaction per method."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    # --- Writing links at hand-over -------------------------------------------------------------------------

    def send_facts(self, *, send_keys: Sequence[str]) -> dict[str, SendFacts]:
        """Return each send's step, variant and its campaign's or journey's name."""
        found: dict[str, SendFacts] = {}
        keys = sorted(set(send_keys))
        query = sa.select(sends.c.send_key, sends.c.step, sends.c.variant, campaigns.c.name.label("campaign"),
                          journeys.c.name.label("journey")).select_from(
            sends.outerjoin(campaigns, campaigns.c.id == sends.c.source_id)
            .outerjoin(journeys, journeys.c.id == sends.c.source_id))
        with self._engine.connect() as conn:
            for start in range(0, len(keys), CHUNK):
                for row in conn.execute(query.where(one_of(conn, sends.c.send_key, keys[start : start + CHUNK]))):
                    found[row.send_key] = SendFacts(row.step or "", row.variant, row.campaign or row.journey)
        return found

    def put_links(self, *, rows: Sequence[dict[str, Any]]) -> None:
        """Store tracked links; a token stored already keeps its row (a send handed over again)."""
        with self._writer.begin() as conn:
            upsert(conn, tracked_links, rows, keys=("id",))

    # --- Clicks and opens -----------------------------------------------------------------------------------

    def get_link(self, *, link_id: str) -> StoredLink | None:
        """Return a tracked link with its send, or None."""
        # A channel that keeps one message per send key is handed sends without the mark
        # (actions/delivery.py): their hand-over is the moment the channel took them.
        handed = sa.func.coalesce(sends.c.handed_at, sends.c.sent_at, type_=sends.c.handed_at.type)
        query = sa.select(tracked_links, sends.c.profile_id, sends.c.channel, sends.c.source_kind,
                          sends.c.source_id, sends.c.step, sends.c.variant, handed.label("handed_at")).select_from(
            tracked_links.join(sends, sa.and_(sends.c.send_key == tracked_links.c.send_key,
                                              sends.c.workspace_id == tracked_links.c.workspace_id)),
        ).where(tracked_links.c.id == link_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        created = aware(row.created_at)
        assert created is not None  # NOT NULL
        return StoredLink(row.id, row.workspace_id, row.send_key, row.position, row.label, row.url, row.screen,
                          created, row.profile_id, row.channel, row.source_kind, row.source_id, row.step or "",
                          row.variant, aware(row.handed_at))

    def record_hit(self, *, row: dict[str, Any]) -> None:
        """Store one click or open."""
        with self._writer.begin() as conn:
            conn.execute(link_hits.insert().values(**row))

    def seen_by_person(self, *, link_id: str) -> bool:
        """Return whether a person (not a machine) has clicked this link or loaded this pixel before."""
        with self._engine.connect() as conn:
            return conn.execute(sa.select(link_hits.c.id).where(
                link_hits.c.link_id == link_id, link_hits.c.bot.is_(False)).limit(1)).first() is not None

    def count_other_links_hit(self, *, send_key: str, link_id: str, since: datetime) -> int:
        """Return how many other links of a send were hit since ``since`` (a scanner opens them all at once)."""
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count(sa.distinct(link_hits.c.link_id))).where(
                link_hits.c.send_key == send_key, link_hits.c.at >= since, link_hits.c.link_id != link_id,
                link_hits.c.route != "open")).scalar_one())

    def list_links(self, *, workspace_id: str, send_key: str | None, limit: int) -> list[dict[str, Any]]:
        """Return the workspace's tracked links, newest first, with their hits by people and by machines."""
        people = sa.func.sum(sa.case((link_hits.c.bot.is_(False), 1), else_=0))
        machines = sa.func.sum(sa.case((link_hits.c.bot.is_(True), 1), else_=0))
        counts = (sa.select(link_hits.c.link_id, people.label("people"), machines.label("machines"),
                            sa.func.min(sa.case((link_hits.c.bot.is_(False), link_hits.c.at))).label("first_at"))
                  .where(link_hits.c.workspace_id == workspace_id).group_by(link_hits.c.link_id).subquery())
        query = (sa.select(tracked_links, counts.c.people, counts.c.machines, counts.c.first_at)
                 .select_from(tracked_links.outerjoin(counts, counts.c.link_id == tracked_links.c.id))
                 .where(tracked_links.c.workspace_id == workspace_id))
        if send_key is not None:
            query = query.where(tracked_links.c.send_key == send_key)
        query = query.order_by(tracked_links.c.created_at.desc(), tracked_links.c.send_key,
                               tracked_links.c.position).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [{"send_key": row.send_key, "position": row.position, "kind": "open" if row.position == 0 else "link",
                 "label": row.label, "url": row.url or None, "screen": row.screen, "created_at": aware(row.created_at),
                 "clicks": int(row.people or 0), "bot_clicks": int(row.machines or 0),
                 "first_click_at": aware(row.first_at)} for row in rows]

    # --- Deferred deep links --------------------------------------------------------------------------------

    def put_deferred(self, *, row: dict[str, Any]) -> None:
        """Store a click that may lead to an install."""
        with self._writer.begin() as conn:
            conn.execute(deferred_links.insert().values(**row))

    def claim_deferred(self, *, workspace_id: str, click_id: str | None, fingerprint: str, platform: str,
                       since: datetime, now: datetime, versions: Sequence[str]) -> str | None:
        """Claim the click a first app open matches, once; return its link id.

        By the click id when given (it must still be in the window), else by the device's
        fingerprint: exactly one unclaimed click from this address on this platform (and OS
        version, when the app says it) in the window. Two candidates are not guessed between:
        another person's screen must never open.
        """
        table = deferred_links
        base = sa.select(table.c.click_id, table.c.link_id, table.c.os_version).where(
            table.c.workspace_id == workspace_id, table.c.claimed_at.is_(None), table.c.created_at >= since)
        with self._writer.begin() as conn:
            if click_id is not None:
                found = conn.execute(base.where(table.c.click_id == click_id)).all()
            else:
                found = [row for row in conn.execute(base.where(table.c.fingerprint == fingerprint,
                                                                table.c.platform == platform).limit(20)).all()
                         if not versions or not row.os_version or row.os_version in versions]
            if len(found) != 1:
                return None
            claimed = conn.execute(table.update().where(table.c.click_id == found[0].click_id,
                                                        table.c.claimed_at.is_(None)).values(claimed_at=now)).rowcount
        return str(found[0].link_id) if claimed else None

    def forget_profile(self, *, workspace_id: str, profile_id: str) -> int:
        """Delete what tracking holds about a person's messages (erasure): their links, hits and deferred clicks.

        A stored destination may carry personal data a template put into it; return how many links went.
        """
        theirs = sa.select(sends.c.send_key).where(sends.c.workspace_id == workspace_id,
                                                   sends.c.profile_id == profile_id)
        with self._writer.begin() as conn:
            links = sa.select(tracked_links.c.id).where(tracked_links.c.workspace_id == workspace_id,
                                                        tracked_links.c.send_key.in_(theirs))
            conn.execute(deferred_links.delete().where(deferred_links.c.workspace_id == workspace_id,
                                                       deferred_links.c.link_id.in_(links)))
            conn.execute(link_hits.delete().where(link_hits.c.workspace_id == workspace_id,
                                                  link_hits.c.send_key.in_(theirs)))
            return int(conn.execute(tracked_links.delete().where(tracked_links.c.workspace_id == workspace_id,
                                                                 tracked_links.c.send_key.in_(theirs))).rowcount)

    # --- Link settings --------------------------------------------------------------------------------------

    def get_settings(self, *, workspace_id: str) -> dict[str, Any] | None:
        """Return the workspace's link settings document, or None when it never set one."""
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(link_settings.c.settings)
                                 .where(link_settings.c.workspace_id == workspace_id)).scalar()
        return dict(found) if found is not None else None

    def list_settings(self, *, workspace_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the link settings of these workspaces (those that set some)."""
        with self._engine.connect() as conn:
            return {row.workspace_id: dict(row.settings) for row in conn.execute(
                sa.select(link_settings.c.workspace_id, link_settings.c.settings).where(
                    one_of(conn, link_settings.c.workspace_id, sorted(set(workspace_ids)))))}

    def settings_for_host(self, *, host: str) -> list[dict[str, Any]]:
        """Return the settings a host's .well-known documents list: its workspace's, when it is one's link domain,
        else every workspace's that has no link domain of its own."""
        with self._engine.connect() as conn:
            own = conn.execute(sa.select(link_settings.c.settings).where(link_settings.c.link_domain == host)).all()
            if own:
                return [dict(row.settings) for row in own]
            shared = sa.select(link_settings.c.settings).where(link_settings.c.link_domain.is_(None))
            return [dict(row.settings) for row in conn.execute(shared.order_by(link_settings.c.workspace_id))]

    def put_settings(self, *, workspace_id: str, settings: dict[str, Any], link_domain: str | None,
                     now: datetime) -> None:
        """Replace the workspace's link settings; raise LinkDomainTaken when another workspace has the domain."""
        try:
            with self._writer.begin() as conn:
                upsert(conn, link_settings, [{"workspace_id": workspace_id, "settings": settings,
                                              "link_domain": link_domain, "updated_at": now}],
                       keys=("workspace_id",), update=("settings", "link_domain", "updated_at"))
        except sa.exc.IntegrityError:
            raise LinkDomainTaken(link_domain) from None
