"""The mart's copy of profile facts follows the operational store: changes, merges, erasure."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from loopline.actions.mart import do_sync_mart
from loopline.store.sql.tables import consents, contact_suppressions, devices, identities, profiles
from tests.conftest import basic, bearer, settle


def _mart(runtime: Any, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(row) for row in runtime.services.mart.fetch(sql, timeout_s=30)}


def _source(runtime: Any) -> dict[str, set[tuple[Any, ...]]]:
    """Return what the mart should hold, read straight from the operational store."""
    with runtime.services.engine.connect() as conn:
        rows = conn.execute(sa.select(profiles).where(profiles.c.merged_into.is_(None)))
        live = {(r.workspace_id, r.id): r for r in rows}
        return {
            "profiles": {(w, p, orjson.dumps(r.traits, option=orjson.OPT_SORT_KEYS).decode())
                         for (w, p), r in live.items()},
            "identities": {(r.workspace_id, r.kind, r.value, r.profile_id)
                           for r in conn.execute(sa.select(identities)) if (r.workspace_id, r.profile_id) in live},
            "devices": {(r.workspace_id, r.device_id, r.profile_id, r.push_token)
                        for r in conn.execute(sa.select(devices)) if (r.workspace_id, r.profile_id) in live},
            "consents": {(r.workspace_id, r.profile_id, r.channel, r.topic, r.status)
                         for r in conn.execute(sa.select(consents)) if (r.workspace_id, r.profile_id) in live},
            "suppressions": {(r.workspace_id, r.channel, r.address)
                             for r in conn.execute(sa.select(contact_suppressions))},
        }


def _copied(runtime: Any) -> dict[str, set[tuple[Any, ...]]]:
    rows = _mart(runtime, "SELECT workspace_id, profile_id, CAST(traits AS VARCHAR) FROM mart_profiles")
    return {
        "profiles": {(w, p, orjson.dumps(orjson.loads(t), option=orjson.OPT_SORT_KEYS).decode()) for w, p, t in rows},
        "identities": _mart(runtime, "SELECT workspace_id, kind, value, profile_id FROM mart_identities"),
        "devices": _mart(runtime, "SELECT workspace_id, device_id, profile_id, push_token FROM mart_devices"),
        "consents": _mart(runtime, "SELECT workspace_id, profile_id, channel, topic, status FROM mart_consents"),
        "suppressions": _mart(runtime, "SELECT workspace_id, channel, address FROM mart_suppressions"),
    }


def _misattributed(runtime: Any) -> tuple[int, int]:
    """Return how many events carry an owner, and how many an owner the identities no longer give."""
    if not runtime.services.mart.dialect.attributed_owners:
        return (0, 0)
    [(carrying, wrong)] = runtime.services.mart.fetch(
        "SELECT count(e.profile_id), count(*) FILTER (WHERE e.profile_id IS NOT NULL"
        " AND e.profile_id IS DISTINCT FROM coalesce(u.profile_id, a.profile_id)) FROM events e"
        " LEFT JOIN mart_identities u ON u.workspace_id = e.workspace_id AND u.kind = 'user_id'"
        " AND u.value = e.user_id LEFT JOIN mart_identities a ON a.workspace_id = e.workspace_id"
        " AND a.kind = 'anonymous_id' AND a.value = e.anonymous_id", timeout_s=30)
    return int(carrying), int(wrong)


def _owner_of_device_events(runtime: Any, device: str) -> set[Any]:
    return {row[0] for row in runtime.services.mart.fetch(
        f"SELECT profile_id FROM events WHERE anonymous_id = '{device}'", timeout_s=30)}


def test_the_mart_follows_changes_merges_and_erasure(client, runtime, workspace, other_workspace):
    write, secret = basic(workspace.write_key), bearer(workspace.secret_key)
    client.post("/v1/batch", headers=write, json={"batch": [
        {"type": "track", "anonymousId": "dev-1", "event": "Application Opened",
         "context": {"device": {"id": "dev-1", "type": "ios", "token": "apns-1"}, "os": {"name": "iOS"}}},
        {"type": "identify", "userId": "u-ana", "traits": {"email": "ana@example.com", "plan": "pro"}},
        {"type": "identify", "userId": "u-bo", "traits": {"phone": "+49 30 1234567", "name": "Bo"}},
    ]})
    client.post("/v1/batch", headers=basic(other_workspace.write_key), json={"batch": [
        {"type": "identify", "userId": "u-ana", "traits": {"email": "other@example.com"}},
    ]})
    settle(runtime)
    client.put("/api/v1/profiles/u-ana/consents", headers=secret,
               json={"choices": [{"channel": "email", "status": "opted_in"}]})
    client.post("/api/v1/suppressions", headers=secret,
                json={"entries": [{"channel": "sms", "address": "+49301234567", "reason": "complaint"}]})
    first = do_sync_mart(runtime.services)
    assert first.profiles == 4
    assert first.suppressions_copied
    assert _copied(runtime) == _source(runtime)
    assert len(_copied(runtime)["profiles"]) == 4
    attributed = runtime.services.mart.dialect.attributed_owners
    assert _misattributed(runtime) == ((4, 0) if attributed else (0, 0))
    if attributed:
        [device_owner] = _owner_of_device_events(runtime, "dev-1")

    # An anonymous device merging into Ana, a trait change, a consent change, a lifted suppression.
    client.post("/v1/batch", headers=write, json={"batch": [
        {"type": "identify", "anonymousId": "dev-1", "userId": "u-ana", "traits": {"plan": "team"}},
    ]})
    settle(runtime)
    client.put("/api/v1/profiles/u-bo/consents", headers=secret,
               json={"choices": [{"channel": "sms", "topic": "offers", "status": "opted_out"}]})
    assert client.delete("/api/v1/suppressions/sms/+49301234567", headers=secret).status_code == 204
    second = do_sync_mart(runtime.services)
    assert second.gone == 1
    assert second.suppressions_copied
    copied = _copied(runtime)
    assert copied == _source(runtime)
    ana = next(p for w, p, t in copied["profiles"] if w == workspace.id and '"team"' in t)
    assert (workspace.id, "dev-1", ana, "apns-1") in copied["devices"]
    if attributed:
        # The device's events moved with the merge: the anonymous profile is gone, Ana owns them.
        assert device_owner != ana
        assert _owner_of_device_events(runtime, "dev-1") == {ana}
        assert _misattributed(runtime) == (5, 0)

    # Nothing changed: nothing is copied but the overlap, and the copy stays equal.
    assert do_sync_mart(runtime.services).suppressions_copied is False
    assert _copied(runtime) == _source(runtime)

    # A new event of a known person: the identities stay, the event gets its owner.
    client.post("/v1/batch", headers=write, json={"batch": [{"type": "track", "userId": "u-bo", "event": "Login"}]})
    settle(runtime)
    assert do_sync_mart(runtime.services).attributed == (1 if attributed else 0)
    assert _misattributed(runtime) == ((6, 0) if attributed else (0, 0))

    # Erasure removes the person from the mart at once, with their identities and devices.
    assert client.post("/api/v1/profiles/u-ana/erase", headers=secret).status_code == 202
    copied = _copied(runtime)
    assert not any(p == ana for _, p, _ in copied["profiles"])
    assert not any(row[2] == ana for row in copied["devices"])
    do_sync_mart(runtime.services)
    assert _copied(runtime) == _source(runtime)
