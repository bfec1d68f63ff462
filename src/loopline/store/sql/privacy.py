"""Consents, suppressions, erasure jobs and profile deletion in the operational store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.engine import writer
from loopline.store.sql.members import unindexed
from loopline.store.sql.rows import aware
from loopline.store.sql.tables import (
    consents,
    devices,
    erasures,
    identities,
    imports,
    merges,
    profiles,
    suppressions,
)
from loopline.store.sql.upsert import upsert


@dataclass(frozen=True, slots=True)
class ErasureRow:
    """An erasure request and how it went."""

    id: str
    workspace_id: str
    reference: str
    status: str
    deleted_events: int
    requested_at: datetime
    completed_at: datetime | None


def _erasure(row: Any) -> ErasureRow:
    return ErasureRow(
        row.id, row.workspace_id, row.reference, row.status, int(row.deleted_events),
        aware(row.requested_at), aware(row.completed_at),  # type: ignore[arg-type]
    )


@dataclass(frozen=True, slots=True)
class ImportRow:
    """Progress of a CSV import, kept so a restarted import resumes where it stopped."""

    id: str
    status: str
    rows_done: int
    rows_failed: int
    errors: list[dict[str, Any]]


class SqlPrivacyStore:
    """Writes that concern a person's choices and rights."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def set_consents(
        self, *, workspace_id: str, profile_id: str, choices: Sequence[dict[str, Any]], now: datetime
    ) -> None:
        """Record consent choices (channel, topic, status, source) for a profile."""
        rows = [
            {"workspace_id": workspace_id, "profile_id": profile_id, "channel": c["channel"],
             "topic": c["topic"], "status": c["status"], "source": c["source"], "updated_at": now}
            for c in choices
        ]
        with self._writer.begin() as conn:
            upsert(conn, consents, rows, keys=["workspace_id", "profile_id", "channel", "topic"],
                   update=["status", "source", "updated_at"])

    def add_suppressions(
        self, *, workspace_id: str, digests: Sequence[tuple[str, str]], reason: str, now: datetime
    ) -> None:
        """Remember digests of erased identifiers so their events are not ingested again."""
        rows = [
            {"workspace_id": workspace_id, "kind": kind, "value_hash": digest, "reason": reason,
             "created_at": now}
            for kind, digest in digests
        ]
        with self._writer.begin() as conn:
            upsert(conn, suppressions, rows, keys=["workspace_id", "kind", "value_hash"])

    def list_suppressions(self) -> dict[str, set[tuple[str, str]]]:
        """Return every workspace's suppression digests."""
        found: dict[str, set[tuple[str, str]]] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(sa.select(suppressions.c.workspace_id, suppressions.c.kind,
                                              suppressions.c.value_hash)):
                found.setdefault(row.workspace_id, set()).add((row.kind, row.value_hash))
        return found

    def delete_profiles(self, *, workspace_id: str, profile_ids: Sequence[str]) -> None:
        """Delete profiles with their identities, devices, consents and merge history."""
        ids = list(profile_ids)
        with self._writer.begin() as conn:
            for table in (identities, devices, consents):
                conn.execute(table.delete().where(
                    table.c.workspace_id == workspace_id, table.c.profile_id.in_(ids)))
            conn.execute(merges.delete().where(
                merges.c.workspace_id == workspace_id,
                sa.or_(merges.c.winner_id.in_(ids), merges.c.loser_id.in_(ids))))
            conn.execute(profiles.delete().where(
                unindexed(conn, profiles.c.workspace_id) == workspace_id, profiles.c.id.in_(ids)))

    def start_erasure(
        self, *, erasure_id: str, workspace_id: str, reference: str, now: datetime
    ) -> ErasureRow:
        """Record an erasure request; a repeated request returns the existing one."""
        with self._writer.begin() as conn:
            upsert(conn, erasures, [{
                "id": erasure_id, "workspace_id": workspace_id, "reference": reference,
                "status": "pending", "deleted_events": 0, "requested_at": now,
            }], keys=["workspace_id", "reference"])
            row = conn.execute(erasures.select().where(
                erasures.c.workspace_id == workspace_id, erasures.c.reference == reference)).one()
        return _erasure(row)

    def finish_erasure(self, *, erasure_id: str, deleted_events: int, now: datetime) -> None:
        """Mark an erasure completed with what it deleted."""
        with self._writer.begin() as conn:
            conn.execute(erasures.update().where(erasures.c.id == erasure_id).values(
                status="completed", deleted_events=deleted_events, completed_at=now))

    def find_erasure(self, *, workspace_id: str, reference: str) -> ErasureRow | None:
        """Return this workspace's erasure requested for a reference, if any."""
        with self._engine.connect() as conn:
            row = conn.execute(erasures.select().where(
                erasures.c.workspace_id == workspace_id, erasures.c.reference == reference)).first()
        return _erasure(row) if row else None

    def get_erasure(self, *, workspace_id: str, erasure_id: str) -> ErasureRow | None:
        """Return an erasure of this workspace by id."""
        with self._engine.connect() as conn:
            row = conn.execute(erasures.select().where(
                erasures.c.workspace_id == workspace_id, erasures.c.id == erasure_id)).first()
        return _erasure(row) if row else None

    def start_import(
        self, *, import_id: str, workspace_id: str, file_sha256: str, filename: str, now: datetime
    ) -> ImportRow:
        """Record an import of a file, or return the earlier import of the same file."""
        with self._writer.begin() as conn:
            upsert(conn, imports, [{
                "id": import_id, "workspace_id": workspace_id, "file_sha256": file_sha256,
                "filename": filename, "status": "running", "rows_done": 0, "rows_failed": 0,
                "errors": [], "created_at": now, "updated_at": now,
            }], keys=["workspace_id", "file_sha256"])
            row = conn.execute(imports.select().where(
                imports.c.workspace_id == workspace_id, imports.c.file_sha256 == file_sha256)).one()
        if row.status == "completed":
            # A completed file uploaded again is imported again (idempotently), from the top.
            return ImportRow(row.id, row.status, 0, 0, [])
        return ImportRow(row.id, row.status, row.rows_done, row.rows_failed, list(row.errors))

    def advance_import(
        self, *, import_id: str, rows_done: int, rows_failed: int, errors: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        """Move an import's durable cursor after a chunk was stored."""
        with self._writer.begin() as conn:
            conn.execute(imports.update().where(imports.c.id == import_id).values(
                rows_done=rows_done, rows_failed=rows_failed, errors=errors, updated_at=now,
                status="running"))

    def finish_import(self, *, import_id: str, now: datetime) -> None:
        """Mark an import completed."""
        with self._writer.begin() as conn:
            conn.execute(imports.update().where(imports.c.id == import_id).values(
                status="completed", updated_at=now))
