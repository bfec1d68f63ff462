"""The mart's copy of the send ledger: status changes come across, merges move sends, erasure drops them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from loopline.actions.mart import do_sync_mart
from loopline.domain.send_ledger import SendState
from loopline.store.sql.tables import sends
from tests.conftest import basic, bearer, settle

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
COPIED = "SELECT workspace_id, send_key, profile_id, campaign_id, journey_id, step, variant, channel, status, reason"


def _profile(client: Any, secret: dict[str, str], user: str) -> str:
    response = client.get(f"/api/v1/profiles/{user}/sends", headers=secret)
    assert response.status_code == 200, response.text
    return str(response.json()["profile_id"])


def _record(runtime: Any, workspace_id: str, key: str, profile_id: str, *, state: str = SendState.QUEUED,
            kind: str = "journey", at: datetime = T0) -> None:
    """Write a ledger row as a claim does (a campaign or journey step's decision)."""
    with runtime.services.engine.begin() as conn:
        conn.execute(sends.insert().values(
            send_key=key, workspace_id=workspace_id, source_kind=kind, source_id=f"{kind[:3]}_1",
            step="welcome" if kind == "journey" else "", profile_id=profile_id, channel="email", variant="A",
            priority="marketing", topic="all", state=state, created_at=at, updated_at=at, not_before=at,
            sent_at=at if state == SendState.SENT else None))


def _copied(runtime: Any) -> dict[str, tuple[Any, ...]]:
    # The sent time as epoch seconds: both engines read it so, without a time zone module.
    rows = runtime.services.mart.fetch(
        f"{COPIED}, CAST(extract(epoch FROM sent_at) AS BIGINT) FROM mart_sends", timeout_s=30)
    return {str(row[1]): tuple(row) for row in rows}


def _ledger(runtime: Any) -> dict[str, tuple[Any, ...]]:
    """Return what the mart should hold of the ledger: the rows of customers that still exist."""
    with runtime.services.engine.connect() as conn:
        rows = conn.execute(sa.select(sends)).all()
    copied = {}
    for row in rows:
        campaign = row.source_id if row.source_kind == "campaign" else None
        journey = row.source_id if row.source_kind == "journey" else None
        copied[row.send_key] = (row.workspace_id, row.send_key, row.profile_id, campaign, journey, row.step or None,
                                row.variant, row.channel, row.state, row.reason)
    return copied


def test_sends_follow_the_ledger_into_the_mart(client: Any, runtime: Any, workspace: Any, other_workspace: Any) -> None:
    write, secret = basic(workspace.write_key), bearer(workspace.secret_key)
    client.post("/v1/batch", headers=write, json={"batch": [
        {"type": "identify", "userId": "u-ana", "traits": {"email": "ana@example.com"}},
        {"type": "identify", "userId": "u-bo", "traits": {"email": "bo@example.com"}},
        {"type": "track", "anonymousId": "dev-1", "event": "Application Opened"},
    ]})
    client.post("/v1/batch", headers=basic(other_workspace.write_key), json={"batch": [
        {"type": "identify", "userId": "u-ana", "traits": {"email": "other@example.com"}},
    ]})
    settle(runtime)
    ana, bo, device = (_profile(client, secret, user) for user in ("u-ana", "u-bo", "dev-1"))
    elsewhere = _profile(client, bearer(other_workspace.secret_key), "u-ana")
    _record(runtime, workspace.id, "k-ana-1", ana)
    _record(runtime, workspace.id, "k-ana-2", ana, state=SendState.SENT, kind="campaign")
    _record(runtime, workspace.id, "k-bo", bo, state=SendState.SENT, kind="campaign")
    _record(runtime, workspace.id, "k-device", device, state=SendState.SENT)
    _record(runtime, other_workspace.id, "k-elsewhere", elsewhere, state=SendState.SENT, kind="campaign")

    first = do_sync_mart(runtime.services)
    assert first.sends == 5
    assert {key: row[:10] for key, row in _copied(runtime).items()} == _ledger(runtime)
    assert _copied(runtime)["k-ana-1"][8:] == ("queued", "", None)
    assert _copied(runtime)["k-ana-2"][3:5] == ("cam_1", None)
    assert _copied(runtime)["k-ana-1"][3:6] == (None, "jou_1", "welcome")

    # Handed over, then sent: each change stamps the row, and the next sync brings it across.
    ledger = runtime.services.send_ledger
    assert [due.send_key for due in ledger.take_due(now=T0 + MINUTE, limit=10)] == ["k-ana-1"]
    do_sync_mart(runtime.services)
    assert _copied(runtime)["k-ana-1"][8] == "sending"
    ledger.settle(outcomes=[("k-ana-1", SendState.SENT, "", "")], now=T0 + 2 * MINUTE)
    second = do_sync_mart(runtime.services)
    assert second.sends >= 1
    status, _, sent_at = _copied(runtime)["k-ana-1"][8:]
    assert (status, sent_at) == ("sent", int((T0 + 2 * MINUTE).timestamp()))
    assert {key: row[:10] for key, row in _copied(runtime).items()} == _ledger(runtime)
    # Copying again changes nothing (each row is keyed by workspace and send key).
    do_sync_mart(runtime.services)
    assert len(_copied(runtime)) == 5

    # The anonymous device becomes Bo's: its send moves with it to the surviving profile.
    client.post("/v1/batch", headers=write, json={"batch": [{"type": "identify", "anonymousId": "dev-1",
                                                             "userId": "u-bo"}]})
    settle(runtime)
    assert do_sync_mart(runtime.services).gone == 1
    assert _copied(runtime)["k-device"][2] == bo
    # A row still naming the merged-away profile (written by a step that began before the merge)
    # is copied for the survivor too.
    _record(runtime, workspace.id, "k-device-2", device, state=SendState.SENT, at=T0 + 4 * MINUTE)
    assert do_sync_mart(runtime.services).sends >= 1
    assert _copied(runtime)["k-device-2"][2] == bo

    # Erasure drops Ana's sends from the mart at once, and later syncs do not bring them back
    # (the erasure itself skips her queued sends, which stamps them as changed).
    _record(runtime, workspace.id, "k-ana-3", ana, at=T0 + 5 * MINUTE)
    do_sync_mart(runtime.services)
    assert "k-ana-3" in _copied(runtime)
    assert client.post("/api/v1/profiles/u-ana/erase", headers=secret).status_code == 202
    assert not any(row[2] == ana for row in _copied(runtime).values())
    do_sync_mart(runtime.services)
    assert set(_copied(runtime)) == {"k-bo", "k-device", "k-device-2", "k-elsewhere"}
    assert _copied(runtime)["k-elsewhere"][:3] == (other_workspace.id, "k-elsewhere", elsewhere)
