"""The console's outbox: the sandbox's messages for the roles that may read them, as a page and as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from loopline.domain.links import with_pixel
from loopline.store.sql.tables import sandbox_outbox
from tests.console.conftest import member, sign_in

NOW = datetime(2026, 6, 15, 10, tzinfo=UTC)


def _deliver(runtime: Any, workspace_id: str, key: str, *, channel: str = "email", body: str = "<p>Hi</p>",
             source_id: str = "cmp_a", minutes: int = 0) -> None:
    with runtime.services.engine.begin() as conn:
        conn.execute(sandbox_outbox.insert().values(
            send_key=key, workspace_id=workspace_id, profile_id="p-1", channel=channel, address="kim@example.com",
            subject="Subject " + key, body=body, url=None, source_id=source_id,
            delivered_at=NOW + timedelta(minutes=minutes)))


def test_the_outbox_lists_the_workspaces_messages_newest_first(client, runtime, workspace, other_workspace):
    _deliver(runtime, workspace.id, "sk_old", minutes=1)
    _deliver(runtime, workspace.id, "sk_new", channel="sms", body="Code 4711", source_id="cmp_b", minutes=2)
    _deliver(runtime, other_workspace.id, "sk_foreign", minutes=3)
    assert sign_in(client, member(runtime, workspace.id, role="marketer")).status_code == 303
    data = client.get(f"/console/w/{workspace.id}/outbox", headers={"Accept": "application/json"}).json()
    assert [item["send_key"] for item in data["items"]] == ["sk_new", "sk_old"]
    assert data["items"][0] | {"delivered_at": None} == {
        "send_key": "sk_new", "channel": "sms", "address": "kim@example.com", "profile_id": "p-1",
        "source_id": "cmp_b", "subject": "Subject sk_new", "body": "Code 4711", "url": None, "html": False,
        "delivered_at": None}
    assert data["items"][1]["html"] is True
    assert data["items"][0]["delivered_at"] == "2026-06-15T10:02:00Z"
    only_a = client.get(f"/console/w/{workspace.id}/outbox?source_id=cmp_a", headers={"Accept": "application/json"})
    assert [item["send_key"] for item in only_a.json()["items"]] == ["sk_old"]
    page = client.get(f"/console/w/{workspace.id}/outbox")
    assert page.status_code == 200
    assert "sk_foreign" not in page.text
    assert "Code 4711" in page.text


def test_an_emails_markup_stays_inside_a_frame_that_runs_nothing(client, runtime, workspace):
    _deliver(runtime, workspace.id, "sk_mail", body='<h1>Hi</h1><script>alert("x")</script>"><img src=x>')
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    page = client.get(f"/console/w/{workspace.id}/outbox").text
    assert 'sandbox=""' in page
    assert "<script>alert" not in page  # escaped into the frame's srcdoc, never part of the console page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#34;&gt;&lt;img src=x&gt;" in page


def test_only_the_roles_that_read_messages_open_the_outbox(client, runtime, workspace, other_workspace):
    assert sign_in(client, member(runtime, workspace.id, role="analyst")).status_code == 303
    refused = client.get(f"/console/w/{workspace.id}/outbox", headers={"Accept": "application/json"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    client.cookies.clear()
    assert sign_in(client, member(runtime, workspace.id, role="agent", email="al@example.com")).status_code == 303
    assert client.get(f"/console/w/{workspace.id}/outbox").status_code == 200
    assert client.get(f"/console/w/{other_workspace.id}/outbox").status_code == 404


def test_looking_at_a_tracked_email_in_the_outbox_is_not_an_open(client, runtime, workspace):
    pixel = "https://shop.example/o/AbC_d-12.gif"
    _deliver(runtime, workspace.id, "sk_tracked", body=with_pixel("<html><body><p>Hello</p></body></html>", pixel))
    _deliver(runtime, workspace.id, "sk_picture", minutes=1,
             body='<p><img src="https://shop.example/o/photo.gif" alt="our shop"></p>')
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    items = client.get(f"/console/w/{workspace.id}/outbox", headers={"Accept": "application/json"}).json()["items"]
    bodies = {item["send_key"]: item["body"] for item in items}
    assert bodies["sk_tracked"] == "<html><body><p>Hello</p></body></html>"
    assert "photo.gif" in bodies["sk_picture"]  # an ordinary picture stays
    assert "AbC_d-12" not in client.get(f"/console/w/{workspace.id}/outbox").text
    # The management API still returns what was delivered, pixel included.
    raw = client.get("/api/v1/outbox", headers={"Authorization": f"Bearer {workspace.secret_key}"}).json()
    assert any(pixel in (item.get("body") or "") for item in raw["items"])
