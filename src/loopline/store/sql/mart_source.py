"""Reading what changed in the operational store, for the mart's copy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.rows import as_dict
from loopline.store.sql.tables import consents, contact_suppressions, devices, identities, profiles, sends

# A merge chain longer than this is not followed further (merges are rare, chains shorter still).
MAX_MERGE_HOPS = 8
_DEVICE_COLUMNS = ("workspace_id", "device_id", "profile_id", "platform", "os_name", "os_version",
                   "app_version", "model", "push_token")


class SqlMartSource:
    """Keyset-paged reads of changed profiles and the facts that hang off them."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def changed_profiles(
        self, *, since: datetime | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Return up to ``limit`` profiles updated at or after ``since``, in (updated_at, id) order."""
        query = sa.select(
            profiles.c.id, profiles.c.workspace_id, profiles.c.traits, profiles.c.computed,
            profiles.c.merged_into, profiles.c.created_at, profiles.c.updated_at,
        ).order_by(profiles.c.updated_at, profiles.c.id).limit(limit)
        if since is not None:
            query = query.where(profiles.c.updated_at >= since)
        if after is not None:
            at, profile_id = after
            query = query.where(sa.or_(
                profiles.c.updated_at > at, sa.and_(profiles.c.updated_at == at, profiles.c.id > profile_id)
            ))
        with self._engine.connect() as conn:
            return [as_dict(row) for row in conn.execute(query)]

    def changed_sends(
        self, *, since: datetime | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Return up to ``limit`` ledger rows changed at or after ``since``, in (updated_at, send_key) order.

        Each row's ``profile_id`` is the customer's live profile (a merged-away one is followed
        to the profile it merged into); a row whose customer was erased comes back with
        ``profile_id`` None, so its watermark still moves but it is not copied.
        """
        query = sa.select(
            sends.c.workspace_id, sends.c.send_key, sends.c.profile_id, sends.c.source_kind, sends.c.source_id,
            sends.c.step, sends.c.variant, sends.c.channel, sends.c.state, sends.c.reason, sends.c.created_at,
            sends.c.sent_at, sends.c.updated_at,
        ).order_by(sends.c.updated_at, sends.c.send_key).limit(limit)
        if since is not None:
            query = query.where(sends.c.updated_at >= since)
        if after is not None:
            at, send_key = after
            query = query.where(sa.or_(
                sends.c.updated_at > at, sa.and_(sends.c.updated_at == at, sends.c.send_key > send_key)
            ))
        with self._engine.connect() as conn:
            rows = [as_dict(row) for row in conn.execute(query)]
            live = self._live_profiles(conn, {row["profile_id"] for row in rows})
        for row in rows:
            row["profile_id"] = live.get(row["profile_id"])
        return rows

    @staticmethod
    def _live_profiles(conn: sa.Connection, profile_ids: set[str]) -> dict[str, str]:
        """Return the live profile each id stands for now (itself, or where its merges led); erased ids are absent."""
        resolved: dict[str, str] = {}
        pending = {profile_id: profile_id for profile_id in profile_ids}  # the id asked for → the id to look up
        for _ in range(MAX_MERGE_HOPS):
            if not pending:
                break
            found = {row.id: row.merged_into for row in conn.execute(
                sa.select(profiles.c.id, profiles.c.merged_into).where(profiles.c.id.in_(sorted(set(pending.values()))))
            )}
            following: dict[str, str] = {}
            for asked, current in pending.items():
                if current not in found:
                    continue  # erased (or never known): nobody to copy the send for
                if found[current] is None:
                    resolved[asked] = current
                else:
                    following[asked] = found[current]
            pending = following
        return resolved

    def facts_of(self, profile_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Return the identities, devices and consents of the given profiles."""
        found: dict[str, list[dict[str, Any]]] = {"identities": [], "devices": [], "consents": []}
        if not profile_ids:
            return found
        ids = list(profile_ids)
        with self._engine.connect() as conn:
            found["identities"] = [as_dict(row) for row in conn.execute(
                sa.select(identities.c.workspace_id, identities.c.kind, identities.c.value, identities.c.profile_id)
                .where(identities.c.profile_id.in_(ids))
            )]
            found["devices"] = [as_dict(row) for row in conn.execute(
                sa.select(*(devices.c[name] for name in _DEVICE_COLUMNS)).where(devices.c.profile_id.in_(ids))
            )]
            found["consents"] = [as_dict(row) for row in conn.execute(
                sa.select(consents.c.workspace_id, consents.c.profile_id, consents.c.channel, consents.c.topic,
                          consents.c.status).where(consents.c.profile_id.in_(ids))
            )]
        return found

    def changed_consents(self, *, since: datetime | None) -> list[dict[str, Any]]:
        """Return consent rows recorded at or after ``since`` (with their time, for the watermark)."""
        query = sa.select(consents.c.workspace_id, consents.c.profile_id, consents.c.channel, consents.c.topic,
                          consents.c.status, consents.c.updated_at)
        if since is not None:
            query = query.where(consents.c.updated_at >= since)
        with self._engine.connect() as conn:
            return [as_dict(row) for row in conn.execute(query)]

    def suppressions_fingerprint(self) -> str:
        """Return a value that changes whenever the suppression list does (additions, removals, edits)."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(
                sa.func.count(), sa.func.max(contact_suppressions.c.updated_at)
            )).one()
        return f"{row[0]}:{row[1]}"

    def suppressions(self) -> list[dict[str, Any]]:
        """Return the whole suppression list."""
        with self._engine.connect() as conn:
            return [as_dict(row) for row in conn.execute(sa.select(
                contact_suppressions.c.workspace_id, contact_suppressions.c.channel, contact_suppressions.c.address
            ))]
