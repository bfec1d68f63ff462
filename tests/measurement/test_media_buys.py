"""Media buys: saved with their UTM tags, costs and goal; their traffic's responses, credited conversions,
cost and ROI, with other campaigns' tagged traffic and our own messages competing for the credit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import bearer
from tests.engagement.conftest import NOW, customers, shop  # noqa: F401 - the shop fixture serves these tests too

DAY = timedelta(days=1)
START = NOW - 20 * DAY
BUY = {
    "channel": "paid_social", "publisher": "Meta",
    "utm": {"campaign": "summer-sale", "source": "instagram"},
    "starts_at": START.isoformat(), "ends_at": (NOW - DAY).isoformat(),
    "costs": {"currency": "EUR", "fixed": 100, "per_click": 0.5, "per_thousand_impressions": 2,
              "impressions": 10_000},
    "success_metric": {"event": "Order Completed", "within_days": 7, "revenue_property": "revenue"},
}


def _create(shop: Any, name: str = "Instagram summer", **changes: Any) -> dict[str, Any]:  # noqa: F811
    response = shop.client.post("/api/v1/media-buys", headers=shop.headers,
                                json={"name": name, "definition": {**BUY, **changes}})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _visit(at: datetime, *, user: str | None = None, anonymous: str | None = None, name: str = "Summer-Sale",
           source: str = "instagram") -> dict[str, Any]:
    who = {"userId": user} if user else {"anonymousId": anonymous}
    return {"type": "page", **who, "name": "Landing", "timestamp": at.isoformat(),
            "context": {"campaign": {"name": name, "source": source, "medium": "paid_social"}}}


def _order(user: str, at: datetime, revenue: float) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": "Order Completed", "timestamp": at.isoformat(),
            "properties": {"revenue": revenue}}


def _sent(shop: Any, user: str, at: datetime) -> None:  # noqa: F811
    shop.record_sent(user, at, source_id="cmp_newsletter", send_key=f"newsletter-{user}")


def _results(shop: Any, buy_id: str, **params: str) -> dict[str, Any]:  # noqa: F811
    response = shop.client.get(f"/api/v1/media-buys/{buy_id}/results", headers=shop.headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_media_buy_is_credited_what_its_traffic_converted_and_its_roi_follows(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(7))
    day1 = START + DAY
    _sent(shop, "u-00002", day1 - DAY)  # our newsletter reached u-00002 before the ad did
    shop.ingest([
        _visit(day1, user="u-00000"), _order("u-00000", day1 + DAY, 30),                # the ad's, both ways
        _visit(day1, user="u-00001"), _visit(day1 + DAY, user="u-00001", name="winter-teaser"),
        _order("u-00001", day1 + 2 * DAY, 20),                                          # first touch only
        _visit(day1, user="u-00002"), _order("u-00002", day1 + DAY, 50),                # last touch only
        _visit(day1, user="u-00003", source="facebook"), _order("u-00003", day1 + DAY, 70),  # another source
        _visit(day1, user="u-00004"), _order("u-00004", day1 + 10 * DAY, 90),           # past the window
        _visit(START - DAY, user="u-00005"), _order("u-00005", START, 15),              # before the buy ran
        _visit(day1, anonymous="anon-visitor"),                                       # a visitor not known by name
        _visit(NOW - DAY / 2, user="u-00006"),                                          # after the buy ended
    ])
    buy = _create(shop)

    last = _results(shop, buy["id"])
    assert last["responses"] == 5
    assert last["people_reached"] == 5  # the anonymous visitor has a profile of their own
    assert (last["converted"], last["conversions"], last["revenue"]) == (2, 2, 80.0)
    cost = 100 + 0.5 * 5 + 2 * 10_000 / 1000
    assert last["costs"] == {
        "currency": "EUR", "cost": cost, "impressions": 10_000, "cost_per_response": cost / 5,
        "cost_per_conversion": cost / 2, "revenue": 80.0, "roi": pytest.approx((80 - cost) / cost),
        "response_rate": 5 / 10_000,
    }
    assert last["attribution"]["model"] == "last_touch"

    first = _results(shop, buy["id"], attribution="first_touch")
    assert (first["converted"], first["revenue"]) == (2, 50.0)  # u-00000 and u-00001
    assert first["responses"] == last["responses"]


def test_media_buys_are_saved_listed_replaced_and_removed(shop: Any) -> None:  # noqa: F811
    buy = _create(shop)
    assert buy["id"].startswith("mb_")
    assert buy["definition"]["utm"]["campaign"] == "summer-sale"
    listed = shop.client.get("/api/v1/media-buys", headers=shop.headers).json()["items"]
    assert [item["id"] for item in listed] == [buy["id"]]
    billed = {**BUY, "costs": {**BUY["costs"], "impressions": 55_000}}
    replaced = shop.client.put(f"/api/v1/media-buys/{buy['id']}", headers=shop.headers,
                               json={"name": "Instagram summer (billed)", "definition": billed})
    assert replaced.status_code == 200, replaced.text
    assert shop.client.get(f"/api/v1/media-buys/{buy['id']}", headers=shop.headers).json()["definition"][
        "costs"]["impressions"] == 55_000
    assert shop.client.delete(f"/api/v1/media-buys/{buy['id']}", headers=shop.headers).status_code == 204
    gone = shop.client.get(f"/api/v1/media-buys/{buy['id']}", headers=shop.headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "media_buy_not_found"
    assert shop.client.delete(f"/api/v1/media-buys/{buy['id']}", headers=shop.headers).status_code == 404


def test_bad_media_buys_are_refused_with_the_problem_and_where_it_is(shop: Any) -> None:  # noqa: F811
    _create(shop, name="Taken")
    cases = [
        ({"name": "A", "definition": {**BUY, "utm": {}}}, "invalid_media_buy", "definition.utm.campaign"),
        ({"name": "A", "definition": {**BUY, "ends_at": START.isoformat()}}, "invalid_media_buy", "ends_at"),
        ({"name": "A", "definition": {**BUY, "starts_at": "2026-06-01T00:00:00"}}, "invalid_media_buy", "UTC offset"),
        ({"name": "A", "definition": {**BUY, "channel": "carrier_pigeon"}}, "invalid_media_buy", "definition.channel"),
        ({"name": "A", "definition": {**BUY, "costs": {"fixed": -5}}}, "invalid_media_buy", "definition.costs.fixed"),
        ({"name": "A", "definition": {**BUY, "success_metric": None}}, "invalid_media_buy", "success_metric"),
        ({"name": "", "definition": BUY}, "invalid_media_buy", "name"),
        ({"definition": BUY}, "invalid_media_buy", "name"),
        ({"name": "Taken", "definition": BUY}, "name_taken", "Taken"),
    ]
    for body, code, fragment in cases:
        response = shop.client.post("/api/v1/media-buys", headers=shop.headers, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == code, response.text
        assert fragment in response.text, (fragment, response.text)
    assert len(shop.client.get("/api/v1/media-buys", headers=shop.headers).json()["items"]) == 1
    bad_model = shop.client.get("/api/v1/media-buys/mb_x/results", headers=shop.headers,
                                params={"attribution": "linear"})
    assert bad_model.status_code == 422


def test_another_workspaces_media_buy_is_not_there(shop: Any, other_workspace: Any) -> None:  # noqa: F811
    buy = _create(shop)
    foreign = bearer(other_workspace.secret_key)
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/results")):
        response = shop.client.request(method, f"/api/v1/media-buys/{buy['id']}{path}", headers=foreign,
                                       json={"name": "Mine now", "definition": BUY} if method == "PUT" else None)
        assert response.status_code == 404, (method, path, response.text)
    assert shop.client.get("/api/v1/media-buys", headers=foreign).json()["items"] == []
    assert shop.client.get(f"/api/v1/media-buys/{buy['id']}", headers=shop.headers).json()["name"] == buy["name"]
