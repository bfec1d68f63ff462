"""Reading what changed in the operational store, for the mart's copy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.rows import as_dict
from loopline.store.sql.tables import consents, contact_suppressions, devices, identities, profiles

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
