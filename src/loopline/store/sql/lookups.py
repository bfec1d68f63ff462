"""Reading profiles for people and scripts: find by any identifier, list, details."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from loopline.domain.identity import normalise_email, normalise_phone
from loopline.domain.profiles import Profile
from loopline.store.sql.profiles import _profile
from loopline.store.sql.rows import as_dict, aware
from loopline.store.sql.tables import consents, devices, identities, merges, profiles

MAX_MERGE_HOPS = 32


@dataclass(frozen=True, slots=True)
class ProfilePage:
    """A page of profiles and the cursor for the next one."""

    items: list[Profile]
    next_cursor: str | None


def _candidates(reference: str) -> list[tuple[str, str]]:
    found = [("user_id", reference), ("anonymous_id", reference)]
    email = normalise_email(reference)
    if email:
        found.append(("email", email))
    phone = normalise_phone(reference) if reference.startswith("+") else None
    if phone:
        found.append(("phone", phone))
    return found


class SqlProfileLookups:
    """Read-only queries over profiles; every query is scoped to one workspace."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def find_profile(self, *, workspace_id: str, reference: str) -> Profile | None:
        """Return the live profile for a profile id, userId, anonymousId, email or phone."""
        with self._engine.connect() as conn:
            profile_id = conn.execute(
                sa.select(profiles.c.id).where(
                    profiles.c.workspace_id == workspace_id, profiles.c.id == reference
                )
            ).scalar()
            if profile_id is None:
                profile_id = conn.execute(
                    sa.select(identities.c.profile_id)
                    .where(
                        identities.c.workspace_id == workspace_id,
                        sa.tuple_(identities.c.kind, identities.c.value).in_(_candidates(reference)),
                    )
                    .limit(1)
                ).scalar()
            return self._follow(conn, workspace_id, profile_id)

    def owners(self, *, workspace_id: str, identifiers: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Return the profile owning each identifier found, for many identifiers in one query.

        Merges move identifiers to the surviving profile, so the identity map names the live owner.
        """
        wanted = sorted(set(identifiers))
        found: dict[tuple[str, str], str] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 400):
                chunk = wanted[start : start + 400]
                found.update(((r.kind, r.value), r.profile_id) for r in conn.execute(
                    sa.select(identities.c.kind, identities.c.value, identities.c.profile_id).where(
                        identities.c.workspace_id == workspace_id,
                        sa.tuple_(identities.c.kind, identities.c.value).in_(chunk))))
        return found

    def _follow(self, conn: sa.Connection, workspace_id: str, profile_id: str | None) -> Profile | None:
        for _ in range(MAX_MERGE_HOPS):
            if profile_id is None:
                return None
            row = conn.execute(
                profiles.select().where(
                    profiles.c.workspace_id == workspace_id, profiles.c.id == profile_id
                )
            ).first()
            if row is None:
                return None
            if row.merged_into is None:
                return _profile(row)
            profile_id = row.merged_into
        return None

    def list_identities(self, *, workspace_id: str, profile_id: str) -> list[tuple[str, str]]:
        """Return a profile's identifiers, sorted."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(identities.c.kind, identities.c.value)
                .where(identities.c.workspace_id == workspace_id,
                       identities.c.profile_id == profile_id)
                .order_by(identities.c.kind, identities.c.value)
            ).all()
        return [(r.kind, r.value) for r in rows]

    def list_devices(self, *, workspace_id: str, profile_id: str) -> list[dict[str, Any]]:
        """Return a profile's devices, most recently seen first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                devices.select()
                .where(devices.c.workspace_id == workspace_id, devices.c.profile_id == profile_id)
                .order_by(devices.c.last_seen.desc())
            ).all()
        result = []
        for r in rows:
            item = as_dict(r)
            item.pop("workspace_id")
            item["first_seen"], item["last_seen"] = aware(r.first_seen), aware(r.last_seen)
            result.append(item)
        return result

    def list_consents(self, *, workspace_id: str, profile_id: str) -> list[dict[str, Any]]:
        """Return a profile's consent choices per channel and topic."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                consents.select()
                .where(consents.c.workspace_id == workspace_id, consents.c.profile_id == profile_id)
                .order_by(consents.c.channel, consents.c.topic)
            ).all()
        return [
            {"channel": r.channel, "topic": r.topic, "status": r.status, "source": r.source,
             "updated_at": aware(r.updated_at)}
            for r in rows
        ]

    def list_merges(self, *, workspace_id: str, profile_id: str) -> list[dict[str, Any]]:
        """Return the merges a profile took part in, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                merges.select()
                .where(
                    merges.c.workspace_id == workspace_id,
                    sa.or_(merges.c.winner_id == profile_id, merges.c.loser_id == profile_id),
                )
                .order_by(merges.c.seq.desc())
            ).all()
        return [
            {"id": r.id, "winner_id": r.winner_id, "loser_id": r.loser_id, "reason": r.reason,
             "at": aware(r.at), "undone_at": aware(r.undone_at)}
            for r in rows
        ]

    def list_profiles(
        self, *, workspace_id: str, limit: int, cursor: str | None = None, search: str | None = None
    ) -> ProfilePage:
        """Return live profiles ordered by id, optionally only those matching an identifier prefix."""
        query = profiles.select().where(
            profiles.c.workspace_id == workspace_id, profiles.c.merged_into.is_(None)
        )
        if cursor:
            query = query.where(profiles.c.id > cursor)
        if search:
            owners = sa.select(identities.c.profile_id).where(
                identities.c.workspace_id == workspace_id,
                identities.c.value.like(search.replace("%", r"\%").replace("_", r"\_") + "%",
                                        escape="\\"),
            )
            query = query.where(profiles.c.id.in_(owners))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(profiles.c.id).limit(limit + 1)).all()
        items = [_profile(r) for r in rows[:limit]]
        return ProfilePage(items, items[-1].profile_id if len(rows) > limit else None)

    def count_profiles(self, *, workspace_id: str) -> int:
        """Return how many live profiles a workspace has."""
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        profiles.c.workspace_id == workspace_id, profiles.c.merged_into.is_(None)
                    )
                ).scalar_one()
            )
