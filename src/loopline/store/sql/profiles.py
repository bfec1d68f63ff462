"""Profiles, the identity map, devices and merges in the operational store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.domain.devices import DeviceSeen
from loopline.domain.identity import Identifier, IdentityGraph, MergeDecision
from loopline.domain.profiles import Computed, Profile
from loopline.store.sql.engine import writer
from loopline.store.sql.members import unindexed
from loopline.store.sql.rows import as_dict, aware
from loopline.store.sql.tables import (
    consents,
    devices,
    identities,
    merges,
    profiles,
    projection_cursors,
)
from loopline.store.sql.upsert import upsert

# Aliases for methods whose keyword arguments share the tables' names.
identities_table, devices_table = identities, devices

CHUNK = 500
DEVICE_COLUMNS = tuple(name for name in DeviceSeen.__dataclass_fields__ if name != "seen_at")


@dataclass(frozen=True, slots=True)
class ProjectionBatch:
    """Everything one projection step changes, written in one transaction."""

    graphs: Sequence[IdentityGraph]
    devices: Sequence[tuple[str, DeviceSeen]]
    merge_ids: Sequence[str]
    cursor_name: str
    cursor_seq: int


def _profile(row: Any) -> Profile:
    return Profile(
        workspace_id=row.workspace_id,
        profile_id=row.id,
        traits=dict(row.traits),
        trait_times=dict(row.trait_times),
        computed=Computed.from_json(row.computed),
        merged_into=row.merged_into,
    )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class SqlProfileStore:
    """Profile state on SQLite or PostgreSQL; the projector is its only writer of profiles."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def forget_push_tokens(self, *, workspace_id: str, tokens: Sequence[str]) -> int:
        """Remove push tokens the push service says are gone from the devices holding them; return how many."""
        if not tokens:
            return 0
        with self._writer.begin() as conn:
            return int(conn.execute(devices.update().where(
                devices.c.workspace_id == workspace_id, devices.c.push_token.in_(list(tokens)),
            ).values(push_token=None)).rowcount or 0)

    # -- the projection ---------------------------------------------------------------
    def get_cursor(self, *, name: str) -> int:
        """Return how far a projection has read the event log."""
        with self._engine.connect() as conn:
            value = conn.execute(
                sa.select(projection_cursors.c.seq).where(projection_cursors.c.name == name)
            ).scalar()
        return int(value or 0)

    def load_graph(self, *, workspace_id: str, identifiers: Iterable[Identifier]) -> IdentityGraph:
        """Load the profiles owning any of the identifiers, with all their identifiers."""
        graph = IdentityGraph(workspace_id=workspace_id)
        wanted = sorted(set(identifiers))
        owner_ids: set[str] = set()
        with self._engine.connect() as conn:
            for part in _chunks(wanted):
                rows = conn.execute(
                    sa.select(identities.c.profile_id).where(
                        identities.c.workspace_id == workspace_id,
                        sa.tuple_(identities.c.kind, identities.c.value).in_(list(part)),
                    )
                ).scalars()
                owner_ids.update(rows)
            owners = sorted(owner_ids)
            for part in _chunks(owners):
                for row in conn.execute(
                    sa.select(identities.c.kind, identities.c.value, identities.c.profile_id).where(
                        identities.c.workspace_id == workspace_id,
                        identities.c.profile_id.in_(list(part)),
                    )
                ):
                    graph.load((row.kind, row.value), row.profile_id)
                for row in conn.execute(
                    profiles.select().where(
                        unindexed(conn, profiles.c.workspace_id) == workspace_id, profiles.c.id.in_(list(part))
                    )
                ):
                    graph.profiles[row.id] = _profile(row)
        return graph

    def save_projection(self, batch: ProjectionBatch, *, now: datetime) -> None:
        """Write profiles, identities, merges, devices and the cursor atomically."""
        with self._writer.begin() as conn:
            # Devices first, on the profile each was seen on: a merge later in the same
            # slice then moves them with the loser's other devices and records the move,
            # so an unmerge puts them back.
            self._save_devices(conn, batch.devices)
            merge_ids = iter(batch.merge_ids)  # one id per merge, across every workspace's graph
            for graph in batch.graphs:
                self._save_graph(conn, graph, now=now, merge_ids=merge_ids)
            upsert(
                conn,
                projection_cursors,
                [{"name": batch.cursor_name, "seq": batch.cursor_seq}],
                keys=["name"],
                update=["seq"],
            )

    def _save_graph(
        self, conn: sa.Connection, graph: IdentityGraph, *, now: datetime, merge_ids: Any
    ) -> None:
        rows = [
            {
                "id": p.profile_id,
                "workspace_id": graph.workspace_id,
                "traits": p.traits,
                "trait_times": p.trait_times,
                "computed": p.computed.as_json(),
                "merged_into": p.merged_into,
                "created_at": now,
                "updated_at": now,
            }
            for p in graph.profiles.values()
        ]
        upsert(
            conn,
            profiles,
            rows,
            keys=["id"],
            update=["traits", "trait_times", "computed", "merged_into", "updated_at"],
        )
        assigned = [
            {"workspace_id": graph.workspace_id, "kind": k, "value": v, "profile_id": owner,
             "created_at": now}
            for (k, v), owner in graph.assigned.items()
        ]
        upsert(conn, identities, assigned, keys=["workspace_id", "kind", "value"],
               update=["profile_id"])
        for decision in graph.merges:
            self._save_merge(conn, graph.workspace_id, decision, next(merge_ids))

    def _save_merge(
        self, conn: sa.Connection, workspace_id: str, decision: MergeDecision, merge_id: str
    ) -> None:
        moved_devices = list(
            conn.execute(
                sa.select(devices.c.device_id).where(
                    devices.c.workspace_id == workspace_id,
                    devices.c.profile_id == decision.loser_id,
                )
            ).scalars()
        )
        conn.execute(
            devices.update()
            .where(devices.c.workspace_id == workspace_id, devices.c.profile_id == decision.loser_id)
            .values(profile_id=decision.winner_id)
        )
        loser_consents = self._move_consents(conn, workspace_id, decision)
        conn.execute(
            merges.insert().values(
                id=merge_id,
                workspace_id=workspace_id,
                winner_id=decision.winner_id,
                loser_id=decision.loser_id,
                reason=decision.reason,
                at=decision.at,
                seq=decision.seq,
                moved={
                    "identities": [list(i) for i in decision.moved],
                    "devices": moved_devices,
                },
                winner_snapshot=decision.winner_snapshot,
                loser_snapshot={**decision.loser_snapshot, "consents": loser_consents},
            )
        )

    def _move_consents(
        self, conn: sa.Connection, workspace_id: str, decision: MergeDecision
    ) -> list[dict[str, Any]]:
        rows = [
            as_dict(r)
            for r in conn.execute(
                consents.select().where(
                    consents.c.workspace_id == workspace_id,
                    consents.c.profile_id == decision.loser_id,
                )
            )
        ]
        winners = {
            (r.channel, r.topic): aware(r.updated_at)
            for r in conn.execute(
                consents.select().where(
                    consents.c.workspace_id == workspace_id,
                    consents.c.profile_id == decision.winner_id,
                )
            )
        }
        conn.execute(
            consents.delete().where(
                consents.c.workspace_id == workspace_id, consents.c.profile_id == decision.loser_id
            )
        )
        # The most recent choice per channel and topic wins; an opt-out is never lost
        # to an older opt-in.
        newer = [
            {**r, "profile_id": decision.winner_id}
            for r in rows
            if winners.get((r["channel"], r["topic"])) is None
            or r["updated_at"] > winners[(r["channel"], r["topic"])]
        ]
        upsert(conn, consents, newer, keys=["workspace_id", "profile_id", "channel", "topic"],
               update=["status", "source", "updated_at"])
        for row in rows:
            row["updated_at"] = row["updated_at"].isoformat()
        return rows

    def _save_devices(self, conn: sa.Connection, seen: Sequence[tuple[str, DeviceSeen]]) -> None:
        rows = []
        for workspace_id, device in seen:
            row = {name: getattr(device, name) for name in DEVICE_COLUMNS}
            seen_at = device.seen_at
            rows.append({**row, "workspace_id": workspace_id, "first_seen": seen_at,
                         "last_seen": seen_at})
        if not rows:
            return
        existing = self._existing_devices(conn, rows)
        merged = []
        for row in rows:
            old = existing.get((row["workspace_id"], row["device_id"]))
            if old is not None:
                first = min(old["first_seen"], row["first_seen"])
                last = max(old["last_seen"], row["last_seen"])
                if row["last_seen"] >= old["last_seen"]:
                    # A newer sighting wins, keeping older details it does not repeat.
                    row.update({k: v for k, v in old.items() if row.get(k) is None})
                else:
                    row.update({k: v for k, v in old.items() if v is not None})
                row["first_seen"], row["last_seen"] = first, last
            merged.append(row)
        columns = [c for c in merged[0] if c not in {"workspace_id", "device_id"}]
        upsert(conn, devices, merged, keys=["workspace_id", "device_id"], update=columns)

    def _existing_devices(
        self, conn: sa.Connection, rows: list[dict[str, Any]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        keys = sorted({(r["workspace_id"], r["device_id"]) for r in rows})
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for part in _chunks(keys):
            for r in conn.execute(
                devices.select().where(
                    sa.tuple_(devices.c.workspace_id, devices.c.device_id).in_(list(part))
                )
            ):
                row = as_dict(r)
                row["first_seen"], row["last_seen"] = aware(r.first_seen), aware(r.last_seen)
                found[(r.workspace_id, r.device_id)] = row
        return found

    # -- undoing a merge ----------------------------------------------------------------
    def get_merge(self, *, workspace_id: str, merge_id: str) -> dict[str, Any] | None:
        """Return a merge record of this workspace."""
        with self._engine.connect() as conn:
            row = conn.execute(merges.select().where(
                merges.c.workspace_id == workspace_id, merges.c.id == merge_id)).first()
        if row is None:
            return None
        data = as_dict(row)
        data["undone_at"] = aware(row.undone_at)
        return data

    def save_unmerge(
        self, *, workspace_id: str, merge_id: str, winner: Profile, loser: Profile,
        identities: Sequence[Identifier], devices: Sequence[str],
        loser_consents: Sequence[dict[str, Any]], now: datetime,
    ) -> None:
        """Write both restored profiles and move identifiers, devices and consents back."""
        with self._writer.begin() as conn:
            for profile in (winner, loser):
                conn.execute(profiles.update().where(
                    profiles.c.workspace_id == workspace_id, profiles.c.id == profile.profile_id,
                ).values(traits=profile.traits, trait_times=profile.trait_times,
                         computed=profile.computed.as_json(), merged_into=None, updated_at=now))
            for kind, value in identities:
                conn.execute(identities_table.update().where(
                    identities_table.c.workspace_id == workspace_id,
                    identities_table.c.kind == kind, identities_table.c.value == value,
                ).values(profile_id=loser.profile_id))
            if devices:
                conn.execute(devices_table.update().where(
                    devices_table.c.workspace_id == workspace_id,
                    devices_table.c.profile_id == winner.profile_id,
                    devices_table.c.device_id.in_(list(devices)),
                ).values(profile_id=loser.profile_id))
            rows = [{**c, "workspace_id": workspace_id, "profile_id": loser.profile_id,
                     "updated_at": datetime.fromisoformat(c["updated_at"])} for c in loser_consents]
            upsert(conn, consents, rows, keys=["workspace_id", "profile_id", "channel", "topic"],
                   update=["status", "source", "updated_at"])
            conn.execute(merges.update().where(merges.c.id == merge_id).values(undone_at=now))
