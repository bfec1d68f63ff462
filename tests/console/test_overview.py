"""The overview's figures against planted data: events per minute, DAU and MAU, new customers,
messages sent today by channel, and what is scheduled or running."""

from __future__ import annotations

from datetime import timedelta

from tests.console.conftest import member, sign_in
from tests.engagement.conftest import NOW, customers, shop  # noqa: F401 - the shop fixture

MINUTE = "2026-06-15T{}:00Z"


def _track(user, at, event="Product Viewed"):
    return {"type": "track", "userId": user, "event": event, "timestamp": at}


def test_the_overview_counts_what_happened(shop):  # noqa: F811 - the fixture
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    shop.ingest(customers(6))
    shop.ingest([
        _track("u-00000", "2026-06-15T09:58:10Z"), _track("u-00001", "2026-06-15T09:58:20Z"),
        _track("u-00002", "2026-06-15T09:58:59Z"),
        _track("u-00000", "2026-06-15T09:59:00Z"), {"type": "page", "userId": "u-00000", "name": "Home",
                                                     "timestamp": "2026-06-15T09:59:30Z"},
        _track("u-00001", "2026-06-15T10:00:00Z"),
        _track("u-00001", "2026-06-15T09:00:30Z"),  # today, but before the last hour
        _track("u-00002", "2026-06-10T12:00:00Z"),  # so u-00002 is a returning customer today
        _track("u-00003", "2026-06-01T12:00:00Z"),  # active within 30 days: counts in MAU only
        _track("u-00004", "2026-05-01T12:00:00Z"),  # longer ago: in neither
    ])
    shop.opt_in([f"u-{i:05d}" for i in range(4)])
    segment = shop.segment()
    sent = shop.campaign(segment)
    shop.move(sent["id"], "schedule")
    shop.tick()
    later = shop.campaign(segment, name="Autumn preview",
                          schedule={"kind": "at", "at": (NOW + timedelta(days=30)).isoformat()})
    shop.move(later["id"], "schedule")
    shop.record_sent("u-00005", NOW - timedelta(days=1), source_id="cmp_yesterday", send_key="sk_yesterday")

    assert sign_in(client, member(runtime, workspace.id, role="analyst")).status_code == 303
    data = client.get(f"/console/w/{workspace.id}/overview.json").json()
    assert data["generated_at"] == "2026-06-15T10:00:00Z"
    series = data["activity"]["series"]
    assert len(series) == 60
    assert series[0]["minute"] == MINUTE.format("09:01")
    assert series[-1]["minute"] == MINUTE.format(
        "10:00")
    counted = {point["minute"]: point["events"] for point in series if point["events"]}
    assert counted == {MINUTE.format("09:58"): 3, MINUTE.format("09:59"): 2, MINUTE.format("10:00"): 1}
    assert data["activity"]["total"] == 6
    assert data["users"] == {"date": "2026-06-15", "dau": 3, "mau": 4, "new_customers": 2}
    assert data["messages_today"] == {"date": "2026-06-15", "total": 4, "by_channel": {"email": 4}}
    assert [(c["name"], c["status"], c["api"]) for c in data["campaigns"]] == [
        ("Autumn preview", "scheduled", f"/api/v1/campaigns/{later['id']}")]
    assert data["journeys"] == []
    # The same figures through Accept, and on the page.
    same = client.get(f"/console/w/{workspace.id}/", headers={"Accept": "application/json"}).json()
    assert same == data
    page = client.get(f"/console/w/{workspace.id}/").text
    for figure, value in (("events-hour", 6), ("dau", 3), ("mau", 4), ("new-customers", 2), ("messages-today", 4)):
        assert f'data-testid="{figure}" x-text=' in page
        assert f">{value}</p>" in page.split(f'data-testid="{figure}"')[1]
    assert "Autumn preview" in page
    assert f"GET /api/v1/campaigns/{later['id']}" in page
    panel = client.get(f"/console/w/{workspace.id}/_running")
    assert panel.status_code == 200
    assert "Autumn preview" in panel.text
    assert "<html" not in panel.text


def test_an_empty_workspace_has_a_calm_overview(client, runtime, workspace):
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    data = client.get(f"/console/w/{workspace.id}/overview.json").json()
    assert data["activity"]["total"] == 0
    assert len(data["activity"]["series"]) == 60
    assert data["users"]["dau"] == 0
    assert data["messages_today"] == {
        "date": data["users"]["date"], "total": 0, "by_channel": {}}
    page = client.get(f"/console/w/{workspace.id}/").text
    assert "No campaign is running, scheduled or paused." in page
    assert "No journey is active." in page


def _order(user, at, **value):
    return {"type": "track", "userId": user, "event": "Order Completed", "properties": value,
            "timestamp": at.isoformat().replace("+00:00", "Z")}


def test_orders_of_the_week_are_credited_to_the_last_message_before_them(shop):  # noqa: F811 - the fixture
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    shop.ingest(customers(6))
    day = timedelta(days=1)
    shop.ingest([
        _order("u-00000", NOW - day / 2, revenue=30),  # after two messages: the later one gets it
        _order("u-00001", NOW - day, revenue=40),
        _order("u-00002", NOW - day, revenue=25),  # the only message came ten days earlier: not credited
        _order("u-00003", NOW - 2 * day, revenue=10),  # the message came after the order: not credited
        _order("u-00004", NOW - 9 * day, revenue=99),  # before the week the overview looks at
        _order("u-00005", NOW - day, total=15),  # no revenue named: the total is the value
    ])
    shop.record_sent("u-00000", NOW - 2 * day, source_id="cmp_spring", send_key="sk_0a")
    shop.record_sent("u-00000", NOW - day, source_id="cmp_summer", send_key="sk_0b")
    shop.record_sent("u-00001", NOW - 3 * day, source_id="cmp_spring", send_key="sk_1")
    shop.record_sent("u-00002", NOW - 10 * day, source_id="cmp_spring", send_key="sk_2")
    shop.record_sent("u-00003", NOW - day, source_id="cmp_spring", send_key="sk_3")
    shop.record_sent("u-00004", NOW - 10 * day, source_id="cmp_spring", send_key="sk_4")
    shop.record_sent("u-00005", NOW - 6 * day, source_id="cmp_spring", send_key="sk_5")

    assert sign_in(client, member(runtime, workspace.id, role="analyst")).status_code == 303
    conversions = client.get(f"/console/w/{workspace.id}/overview.json").json()["conversions"]
    assert conversions == {
        "days": 7, "attribution_days": 7, "model": "last_touch",
        "orders": 5, "revenue": 120.0, "attributed_orders": 3, "attributed_revenue": 85.0, "attributed_share": 0.6,
        "by_source": [
            {"kind": "campaign", "id": "cmp_spring", "name": "cmp_spring", "orders": 2, "revenue": 55.0},
            {"kind": "campaign", "id": "cmp_summer", "name": "cmp_summer", "orders": 1, "revenue": 30.0},
        ],
    }
    page = client.get(f"/console/w/{workspace.id}/").text
    assert ">3</p>" in page.split('data-testid="attributed-orders"')[1]
    assert "85.00" in page.split('data-testid="attributed-revenue"')[1]
    assert "cmp_summer" in page.split('data-testid="credited-sources"')[1]
