"""GDPR rights: export everything about one person, and erase them for good."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

import orjson
from ulid import ULID

from loopline.actions.profiles import event_json, find_profile
from loopline.actions.suppression_list import profile_suppressions
from loopline.domain.privacy import suppression_digest
from loopline.services import Services
from loopline.store.sql.privacy import ErasureRow


def _json(value: object) -> bytes:
    return orjson.dumps(value, default=str)


def iter_export(services: Services, *, workspace_id: str, reference: str) -> Iterator[bytes]:
    """Yield one JSON document about a person, chunk by chunk, events streamed from the store."""
    profile = find_profile(services, workspace_id=workspace_id, reference=reference)
    pid = profile.profile_id
    identities = services.lookups.list_identities(workspace_id=workspace_id, profile_id=pid)
    devices = services.lookups.list_devices(workspace_id=workspace_id, profile_id=pid)
    head = {
        "workspace_id": workspace_id,
        "profile_id": pid,
        "traits": profile.traits,
        "computed": profile.computed.as_json(),
        "identities": [{"kind": k, "value": v} for k, v in identities],
        "devices": devices,
        "consents": services.lookups.list_consents(workspace_id=workspace_id, profile_id=pid),
        "suppressions": profile_suppressions(
            services, workspace_id=workspace_id, identities=identities, devices=devices
        ),
        "merges": services.lookups.list_merges(workspace_id=workspace_id, profile_id=pid),
    }
    yield _json(head)[:-1] + b',"events":['
    first = True
    for record in services.events.iter_for_identifiers(
        workspace_id=workspace_id,
        identifiers=[i for i in identities if i[0] in ("user_id", "anonymous_id")],
    ):
        yield (b"" if first else b",") + _json(event_json(record))
        first = False
    yield b"]}"


def do_erase(services: Services, *, workspace_id: str, reference: str) -> ErasureRow:
    """Erase a person: profile, identities, devices, consents, events, sends, messages; suppress their ids.

    Repeating a request for the same reference returns the job it started.
    """
    existing = services.privacy.find_erasure(workspace_id=workspace_id, reference=reference)
    if existing is not None:
        return existing
    now = services.clock.now()
    profile = find_profile(services, workspace_id=workspace_id, reference=reference)
    job = services.privacy.start_erasure(
        erasure_id="er_" + str(ULID()).lower(), workspace_id=workspace_id,
        reference=reference, now=now,
    )
    identities = services.lookups.list_identities(
        workspace_id=workspace_id, profile_id=profile.profile_id
    )
    services.privacy.add_suppressions(
        workspace_id=workspace_id,
        digests=[(k, suppression_digest(workspace_id, k, v)) for k, v in identities],
        reason="erased",
        now=now,
    )
    deleted = services.events.delete_for_identifiers(
        workspace_id=workspace_id,
        identifiers=[i for i in identities if i[0] in ("user_id", "anonymous_id")],
    )
    merged_away = [
        m["loser_id"]
        for m in services.lookups.list_merges(workspace_id=workspace_id, profile_id=profile.profile_id)
    ]
    services.privacy.delete_profiles(
        workspace_id=workspace_id, profile_ids=[profile.profile_id, *merged_away]
    )
    # The mart's copy goes too: an erased person must not stay in any segment or export.
    services.mart.forget_profiles(workspace_id=workspace_id, profile_ids=[profile.profile_id, *merged_away])
    # Nothing goes out after the erasure is accepted, and the messages they got (rendered
    # with their data) go with them.
    services.journeys.forget_profiles(workspace_id=workspace_id, profile_ids=[profile.profile_id, *merged_away],
                                      now=now)
    for gone in (profile.profile_id, *merged_away):
        services.tracking.forget_profile(workspace_id=workspace_id, profile_id=gone)  # reads the sends: first
        services.send_ledger.forget_profile(workspace_id=workspace_id, profile_id=gone, now=now)
        services.sandbox.forget_profile(workspace_id=workspace_id, profile_id=gone)
        services.in_app.forget_profile(workspace_id=workspace_id, profile_id=gone)
    services.privacy.finish_erasure(erasure_id=job.id, deleted_events=deleted, now=services.clock.now())
    finished = services.privacy.get_erasure(workspace_id=workspace_id, erasure_id=job.id)
    assert finished is not None  # written just above in this workspace
    return finished


def erasure_json(row: ErasureRow) -> dict[str, object]:
    """Return an erasure job as the API shows it."""
    data = asdict(row)
    for key in ("requested_at", "completed_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return data
