"""Last touch and first touch: which message a conversion is credited to when several reached the customer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.engagement.conftest import NOW, customers, shop  # noqa: F401 - the shop fixture serves these tests too

DAY = timedelta(days=1)


def _other_send(shop: Any, user: str, at: datetime) -> None:  # noqa: F811
    """Record a message of another campaign sent to ``user`` at ``at``."""
    shop.record_sent(user, at, source_id="cmp_other", send_key=f"other-{user}")


def _results(shop: Any, campaign_id: str, **params: str) -> dict[str, Any]:  # noqa: F811
    response = shop.client.get(f"/api/v1/campaigns/{campaign_id}/results", headers=shop.headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _credited(body: dict[str, Any]) -> tuple[int, float]:
    treated = [line for line in body["funnel"] if line["group"] == "treatment"]
    return sum(line["conversions"] for line in treated), sum(line["revenue"] for line in treated)


def test_last_and_first_touch_credit_different_messages(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(3))
    shop.policy(opt_in_channels=[])
    campaign = shop.campaign(shop.segment(), success_metric={
        "event": "Order Completed", "within_days": 7, "revenue_property": "revenue"})
    shop.move(campaign["id"], "schedule")
    shop.tick()  # every decision at NOW
    _other_send(shop, "u-00000", NOW + DAY)      # after ours, before the order: the last touch
    _other_send(shop, "u-00001", NOW - 2 * DAY)  # before ours, within the week before the order: the first touch
    _other_send(shop, "u-00002", NOW - 30 * DAY)  # long before: touches nothing
    orders = [("u-00000", 10.0), ("u-00001", 20.0), ("u-00002", 40.0)]
    shop.clock.at = NOW + 5 * DAY
    shop.ingest([{"type": "track", "userId": user, "event": "Order Completed", "properties": {"revenue": revenue},
                  "timestamp": (NOW + 3 * DAY).isoformat()} for user, revenue in orders])

    last = _results(shop, campaign["id"])
    assert last["attribution"]["model"] == "last_touch"
    assert _credited(last) == (2, 60.0)  # u-00001 and u-00002: another campaign came last for u-00000
    first = _results(shop, campaign["id"], attribution="first_touch")
    assert first["attribution"]["model"] == "first_touch"
    assert _credited(first) == (2, 50.0)  # u-00000 and u-00002: another campaign came first for u-00001
    # The uplift is intent to treat: the same whatever the credit.
    assert first["arms"] == last["arms"]
    assert first["arms"]["treatment"] == {"customers": 3, "converted": 3, "revenue": 70.0}


def test_first_touch_takes_the_earliest_run_whose_window_holds_the_conversion(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(1))
    shop.policy(opt_in_channels=[])
    campaign = shop.campaign(shop.segment(), success_metric={"event": "Order Completed", "within_days": 7},
                             schedule={"kind": "recurring", "cron": "0 10 * * *", "time_zone": "UTC"})
    shop.move(campaign["id"], "schedule")
    shop.tick(at=NOW + DAY)  # the first run: Tuesday 10:00
    shop.tick(at=NOW + DAY + timedelta(minutes=1))  # settles the run and schedules the next
    shop.tick(at=NOW + 2 * DAY)  # the second run: Wednesday 10:00
    assert len(shop.sends("u-00000", source_id=campaign["id"])) == 2
    # Another campaign's message on Tuesday 15:00, between the two runs. The order on Thursday
    # lies in both runs' windows. Last touch credits Wednesday's run (nothing came between it
    # and the order); had it taken Tuesday's, the other message would have come between.
    # First touch credits Tuesday's run (nothing came before it in the week before the order);
    # had it taken Wednesday's, the other message would have come first.
    _other_send(shop, "u-00000", NOW + DAY + timedelta(hours=5))
    shop.clock.at = NOW + 4 * DAY
    shop.ingest([{"type": "track", "userId": "u-00000", "event": "Order Completed", "properties": {},
                  "timestamp": (NOW + 3 * DAY).isoformat()}])
    for model in ("last_touch", "first_touch"):
        body = _results(shop, campaign["id"], attribution=model)
        assert sum(line["conversions"] for line in body["funnel"]) == 1, (model, body["funnel"])
    # Without the other message in between, the credit would not depend on which run took it.
    assert body["arms"]["treatment"]["converted"] == 1


def test_an_unknown_attribution_model_is_refused(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(1))
    campaign = shop.campaign(shop.segment())
    response = shop.client.get(f"/api/v1/campaigns/{campaign['id']}/results", headers=shop.headers,
                               params={"attribution": "linear"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
