"""The console's campaign pages: the list, and a campaign's report with the same figures as its results API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.console.conftest import member, sign_in
from tests.engagement.conftest import NOW, customers, shop  # noqa: F401 - the shop fixture serves these tests too

JSON = {"Accept": "application/json"}


def _run(shop: Any) -> dict[str, Any]:  # noqa: F811
    shop.ingest(customers(30))
    shop.policy(opt_in_channels=[])
    campaign = shop.campaign(shop.segment(), holdout_percent=50, success_metric={
        "event": "Order Completed", "within_days": 7, "revenue_property": "revenue"}, costs={"fixed": 10})
    shop.move(campaign["id"], "schedule")
    shop.tick()
    buyers = [f"u-{index:05d}" for index in range(0, 30, 3)]
    shop.clock.at = NOW + timedelta(days=2)
    shop.ingest([{"type": "track", "userId": user, "event": "Order Completed", "properties": {"revenue": 20},
                  "timestamp": (NOW + timedelta(days=1)).isoformat()} for user in buyers])
    return campaign


def test_the_report_shows_the_results_the_api_computes(shop: Any) -> None:  # noqa: F811
    campaign = _run(shop)
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    api = client.get(f"/api/v1/campaigns/{campaign['id']}/results", headers=shop.headers).json()
    assert sign_in(client, member(runtime, workspace.id, role="analyst")).status_code == 303
    listed = client.get(f"/console/w/{workspace.id}/campaigns", headers=JSON).json()["items"]
    assert [(item["name"], item["status"], item["holdout_percent"]) for item in listed] == [
        ("Summer sale", campaign_status(shop, campaign["id"]), 50)]
    report = client.get(f"/console/w/{workspace.id}/campaigns/{campaign['id']}", headers=JSON).json()
    assert report["name"] == "Summer sale"
    for key in ("funnel", "arms", "uplift", "costs", "skipped", "attribution"):
        assert report[key] == api[key], key
    page = client.get(f"/console/w/{workspace.id}/campaigns/{campaign['id']}")
    assert page.status_code == 200
    treated = next(g for g in api["uplift"]["treatment_vs_control"]["groups"] if not g["is_control"])
    assert f"{treated['outcomes']['conversion']['lift'] * 100:+.1f} points" in page.text
    assert 'id="uplift-chart"' in page.text
    assert 'id="funnel-chart"' in page.text
    first = client.get(f"/console/w/{workspace.id}/campaigns/{campaign['id']}?attribution=first_touch", headers=JSON)
    assert first.json()["attribution"]["model"] == "first_touch"


def campaign_status(shop: Any, campaign_id: str) -> str:  # noqa: F811
    return str(shop.client.get(f"/api/v1/campaigns/{campaign_id}", headers=shop.headers).json()["status"])


def test_campaign_pages_answer_bad_requests_and_keep_to_their_roles_and_workspace(
        shop: Any, other_workspace: Any) -> None:  # noqa: F811
    campaign = _run(shop)
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    assert sign_in(client, member(runtime, workspace.id, role="marketer")).status_code == 303
    base = f"/console/w/{workspace.id}/campaigns"
    assert client.get(f"{base}/cmp_nothing", headers=JSON).status_code == 404
    bad = client.get(f"{base}/{campaign['id']}?attribution=linear", headers=JSON)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_attribution"
    assert client.get(f"/console/w/{other_workspace.id}/campaigns", headers=JSON).status_code == 404
    client.cookies.clear()
    assert sign_in(client, member(runtime, workspace.id, role="agent", email="al@example.com")).status_code == 303
    assert client.get(base, headers=JSON).status_code == 403
    assert client.get(f"{base}/{campaign['id']}", headers=JSON).status_code == 403
