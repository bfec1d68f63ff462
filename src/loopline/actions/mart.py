"""Keeping the mart's copy of profile facts current with the operational store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from loopline.ports import MartBatch
from loopline.query.mart import typed_computed
from loopline.services import Services

PAGE = 5_000
# Writers stamp rows with the time they began, and may commit a little later than a
# writer that began after them; re-reading this much before the watermark never misses
# such a row (copying a row twice is harmless).
OVERLAP = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class MartSyncReport:
    """What one sync copied."""

    profiles: int
    gone: int
    attributed: int
    consents: int
    suppressions_copied: bool
    sends: int = 0


def do_sync_mart(services: Services, *, progress: Callable[[int], None] | None = None) -> MartSyncReport:
    """Copy profiles, identities, devices, consents, suppressions and sends changed since the last sync."""
    mart, source = services.mart, services.mart_source
    marks = mart.watermarks()
    since = _since(marks.get("profiles"))
    copied = gone = 0
    after: tuple[datetime, str] | None = None
    while page := source.changed_profiles(since=since, after=after, limit=PAGE):
        batch = MartBatch()
        live = []
        for row in page:
            key = (row["workspace_id"], row["id"])
            if row["merged_into"] is not None:
                batch.gone.append(key)
                batch.merged.append((row["workspace_id"], row["id"], row["merged_into"]))
            else:
                batch.touched.append(key)
                batch.profiles.append(_profile_row(row))
                live.append(row["id"])
        facts = source.facts_of(live)
        batch.identities, batch.devices, batch.consents = facts["identities"], facts["devices"], facts["consents"]
        last = page[-1]
        after = (last["updated_at"], last["id"])
        batch.watermarks["profiles"] = last["updated_at"].isoformat()
        mart.apply(batch)
        copied += len(batch.profiles)
        gone += len(batch.gone)
        if progress is not None:
            progress(len(page))
    # After the identities: an event whose person was just created or merged gets its owner now.
    attributed = mart.attribute_events()
    consents = _sync_consents(services, marks)
    suppressed = _sync_suppressions(services, marks)
    sent = _sync_sends(services, marks)
    return MartSyncReport(
        profiles=copied, gone=gone, attributed=attributed, consents=consents, suppressions_copied=suppressed,
        sends=sent,
    )


def _since(mark: str | None) -> datetime | None:
    return datetime.fromisoformat(mark) - OVERLAP if mark else None


def _profile_row(row: dict[str, Any]) -> dict[str, Any]:
    computed = row["computed"] or {}
    known_since = row["created_at"]
    first_seen = computed.get("first_seen")
    if isinstance(first_seen, str):
        known_since = min(known_since, datetime.fromisoformat(first_seen))
    return {
        "workspace_id": row["workspace_id"],
        "profile_id": row["id"],
        "traits": orjson.dumps(row["traits"] or {}).decode(),
        "computed": orjson.dumps(computed).decode(),
        "created_at": row["created_at"],
        "known_since": known_since,
        "updated_at": row["updated_at"],
        **typed_computed(computed),
    }


def _sync_consents(services: Services, marks: dict[str, str]) -> int:
    # Consent choices change without touching the profile row; they are copied on their own.
    rows = services.mart_source.changed_consents(since=_since(marks.get("consents")))
    if not rows:
        return 0
    newest = max(row.pop("updated_at") for row in rows)
    services.mart.apply(MartBatch(consents=rows, watermarks={"consents": newest.isoformat()}))
    return len(rows)


def _sync_suppressions(services: Services, marks: dict[str, str]) -> bool:
    # Removals leave no trace to page through, so the list is copied whole whenever its
    # fingerprint (size and newest change) moves; it is small next to the profiles.
    fingerprint = services.mart_source.suppressions_fingerprint()
    if marks.get("suppressions") == fingerprint:
        return False
    rows = services.mart_source.suppressions()
    services.mart.apply(MartBatch(suppressions=rows, watermarks={"suppressions": fingerprint}))
    return True


def _sync_sends(services: Services, marks: dict[str, str]) -> int:
    """Copy the ledger rows changed since the last sync, a page at a time; return how many were copied.

    Every status change moves a row's ``updated_at`` (queued, sending, sent, failed, skipped),
    so paging on it brings each change across. Rows of erased customers come back without a
    profile and are passed over (their watermark still moves).
    """
    mart, source = services.mart, services.mart_source
    since, after, copied = _since(marks.get("sends")), None, 0
    while page := source.changed_sends(since=since, after=after, limit=PAGE):
        last = page[-1]
        after = (last["updated_at"], last["send_key"])
        rows = [_send_row(row) for row in page if row["profile_id"] is not None]
        mart.apply(MartBatch(sends=rows, watermarks={"sends": last["updated_at"].isoformat()}))
        copied += len(rows)
    return copied


def _send_row(row: dict[str, Any]) -> dict[str, Any]:
    kind = row["source_kind"]
    return {
        "workspace_id": row["workspace_id"], "send_key": row["send_key"], "profile_id": row["profile_id"],
        "source_kind": kind,
        "campaign_id": row["source_id"] if kind == "campaign" else None,
        "journey_id": row["source_id"] if kind == "journey" else None,
        "step": row["step"] or None, "variant": row["variant"], "channel": row["channel"], "status": row["state"],
        "reason": row["reason"] or "", "decided_at": row["created_at"], "sent_at": row["sent_at"],
        "updated_at": row["updated_at"],
    }
