"""Campaigns in the operational store: definitions, lifecycle, and the durable progress of a run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.engine import writer
from loopline.store.sql.rows import as_dict
from loopline.store.sql.tables import campaigns, contact_policies
from loopline.store.sql.upsert import upsert


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """A stored campaign."""

    id: str
    workspace_id: str
    name: str
    definition: dict[str, Any]
    version: int
    status: str
    status_reason: str
    next_run_at: datetime | None
    occurrence: str | None
    run_started_at: datetime | None
    cursor: str
    audience_done: bool
    claimed: int
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    key_format: int | None = None  # the send-key format of the current run; None: begun before it was kept


class CampaignNameTaken(ValueError):
    """Another campaign of the workspace has this name."""


def _row(row: Any) -> CampaignRow:
    return CampaignRow(**as_dict(row))


class SqlCampaignStore:
    """Campaigns per workspace; lifecycle moves are compare-and-set on the current status."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def create(self, row: CampaignRow) -> None:
        """Store a new campaign; raise CampaignNameTaken when the name is in use."""
        try:
            with self._writer.begin() as conn:
                conn.execute(campaigns.insert().values(**{k: getattr(row, k) for k in CampaignRow.__slots__}))
        except sa.exc.IntegrityError:
            raise CampaignNameTaken(row.name) from None

    def get(self, *, workspace_id: str, campaign_id: str) -> CampaignRow | None:
        """Return one campaign of a workspace, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(campaigns.select().where(
                campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id)).first()
        return _row(row) if row else None

    def in_workspace(self, *, workspace_id: str) -> list[CampaignRow]:
        """Return the workspace's campaigns, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(campaigns.select().where(campaigns.c.workspace_id == workspace_id)
                                .order_by(campaigns.c.created_at.desc(), campaigns.c.id)).all()
        return [_row(r) for r in rows]

    def change(self, *, workspace_id: str, campaign_id: str, expect: tuple[str, ...], now: datetime,
               **values: Any) -> CampaignRow | None:
        """Update a campaign if its status is one of ``expect``; return it, or None when it was not."""
        try:
            with self._writer.begin() as conn:
                done = conn.execute(campaigns.update().where(
                    campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id,
                    campaigns.c.status.in_(expect),
                ).values(**values, updated_at=now).returning(*campaigns.c)).first()
        except sa.exc.IntegrityError:
            raise CampaignNameTaken(str(values.get("name"))) from None
        return _row(done) if done else None

    def due(self, *, now: datetime, lease_free_before: datetime | None = None) -> list[CampaignRow]:
        """Return campaigns to look at: scheduled ones whose time came, and running ones nobody holds."""
        with self._engine.connect() as conn:
            rows = conn.execute(campaigns.select().where(sa.or_(
                sa.and_(campaigns.c.status == "scheduled", campaigns.c.next_run_at <= now),
                sa.and_(campaigns.c.status == "running",
                        sa.or_(campaigns.c.lease_until.is_(None), campaigns.c.lease_until < now)),
            )).order_by(campaigns.c.next_run_at, campaigns.c.id)).all()
        return [_row(r) for r in rows]

    def take_lease(self, *, campaign_id: str, owner: str, until: datetime, now: datetime) -> bool:
        """Hold a campaign for ``owner`` until ``until`` unless someone else holds it; return whether it worked."""
        with self._writer.begin() as conn:
            taken = conn.execute(campaigns.update().where(
                campaigns.c.id == campaign_id,
                sa.or_(campaigns.c.lease_owner.is_(None), campaigns.c.lease_owner == owner,
                       campaigns.c.lease_until < now),
            ).values(lease_owner=owner, lease_until=until)).rowcount
        return bool(taken)

    def release_lease(self, *, campaign_id: str, owner: str) -> None:
        """Let go of a campaign's lease."""
        with self._writer.begin() as conn:
            conn.execute(campaigns.update().where(campaigns.c.id == campaign_id, campaigns.c.lease_owner == owner)
                         .values(lease_owner=None, lease_until=None))

    def advance(self, *, campaign_id: str, owner: str, cursor: str, claimed: int, audience_done: bool,
                until: datetime, now: datetime) -> bool:
        """Move a running campaign's cursor and renew the lease; False when it is not ours or not running."""
        with self._writer.begin() as conn:
            return bool(conn.execute(campaigns.update().where(
                campaigns.c.id == campaign_id, campaigns.c.status == "running", campaigns.c.lease_owner == owner,
            ).values(cursor=cursor, claimed=campaigns.c.claimed + claimed, audience_done=audience_done,
                     lease_until=until, updated_at=now)).rowcount)


class SqlContactPolicyStore:
    """Each workspace's contact policy document."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def get(self, *, workspace_id: str) -> dict[str, Any] | None:
        """Return the stored policy document, or None when the workspace kept the defaults."""
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(contact_policies.c.policy)
                                 .where(contact_policies.c.workspace_id == workspace_id)).scalar()
        return dict(found) if found is not None else None

    def put(self, *, workspace_id: str, policy: dict[str, Any], now: datetime) -> None:
        """Replace the workspace's policy document."""
        with self._writer.begin() as conn:
            upsert(conn, contact_policies, [{"workspace_id": workspace_id, "policy": policy, "updated_at": now}],
                   keys=("workspace_id",), update=("policy", "updated_at"))
