"""The console's customer pages: find anyone by an identifier, and see who they are, what they did,
and what was sent to them or not, and why."""

from __future__ import annotations

from typing import Any

from tests.console.conftest import member, sign_in
from tests.engagement.conftest import customers, shop  # noqa: F401 - the shop fixture serves these tests too

JSON = {"Accept": "application/json"}


def test_search_and_the_360_view_with_why_a_message_was_not_sent(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(3))
    shop.opt_in(["u-00001"])  # u-00000 never opted in to email: the campaign skips them
    campaign = shop.campaign(shop.segment())
    shop.move(campaign["id"], "schedule")
    shop.tick()
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    assert sign_in(client, member(runtime, workspace.id, role="agent")).status_code == 303
    base = f"/console/w/{workspace.id}/customers"
    found = client.get(f"{base}?q=c00001@", headers=JSON).json()
    assert [(item["name"], item["email"]) for item in found["items"]] == [("Kim1", "c00001@example.com")]
    assert len(client.get(base, headers=JSON).json()["items"]) == 3

    skipped = client.get(f"{base}/u-00000", headers=JSON).json()
    assert skipped["traits"]["firstName"] == "Kim0"
    (message,) = skipped["messages"]
    assert (message["state"], message["reason"], message["source_id"]) == ("skipped", "no_consent", campaign["id"])
    entry = next(entry for entry in skipped["timeline"] if entry["kind"] == "message")
    assert entry["detail"] == "skipped: no_consent"
    sent = client.get(f"{base}/c00001@example.com", headers=JSON).json()
    assert [m["state"] for m in sent["messages"]] == ["sent"]
    assert {"channel": "email", "topic": "all", "status": "opted_in"}.items() <= sent["consents"][0].items()

    page = client.get(f"{base}/u-00000")
    assert page.status_code == 200
    assert "no consent" in page.text
    assert "Kim0" in page.text
    listing = client.get(f"{base}?q=u-0000")
    assert listing.text.count('data-testid="customer-link"') == 3


def test_customer_pages_keep_to_their_roles_and_workspace(shop: Any, other_workspace: Any) -> None:  # noqa: F811
    shop.ingest(customers(1))
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    assert sign_in(client, member(runtime, workspace.id, role="marketer")).status_code == 303
    missing = client.get(f"/console/w/{workspace.id}/customers/nobody@example.com", headers=JSON)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "profile_not_found"
    assert client.get(f"/console/w/{other_workspace.id}/customers/u-00000", headers=JSON).status_code == 404
    empty = client.get(f"/console/w/{workspace.id}/customers?q=zzz")
    assert "Nobody has an identifier starting with" in empty.text
    client.cookies.clear()
    assert sign_in(client, member(runtime, workspace.id, role="analyst", email="an@example.com")).status_code == 303
    assert client.get(f"/console/w/{workspace.id}/customers/u-00000", headers=JSON).status_code == 403
