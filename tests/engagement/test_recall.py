"""A product event reaches every past buyer of that product (a recall), once, on every store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loopline.actions.journeys import JourneyEngine
from tests.conftest import basic
from tests.engagement.conftest import NOW, customers
from tests.engagement.test_journeys import _enrollments, _journey

RECALL = {
    "trigger": {"type": "past_buyers", "event": "Product Recalled"},
    "entry": {"rule": "every_time"},
    "priority": "service",
    "steps": [{"id": "notice", "type": "send", "channels": ["email"], "content": {"email": {
        "subject": "Recall: {{ event.name }}", "body": "<p>Please stop using your {{ event.name }}.</p>"}}}],
}


@pytest.fixture
def engine(shop):
    shop.ingest(customers(5))
    shop.policy(opt_in_channels=[])
    return JourneyEngine(shop.runtime.services, shop.runtime.pipeline)


def _order(user, days_ago=3, **properties):
    return {"type": "track", "userId": user, "event": "Order Completed", "properties": properties,
            "timestamp": (NOW - timedelta(days=days_ago)).isoformat()}


def _recall(shop, message_id="recall-1", **properties):
    message = {"type": "track", "anonymousId": "back-office", "event": "Product Recalled", "messageId": message_id,
               "properties": properties, "timestamp": NOW.isoformat()}
    response = shop.client.post("/v1/batch", headers=basic(shop.workspace.write_key), json={"batch": [message]})
    assert response.status_code == 200, response.text
    shop.runtime.projector.catch_up()


def _recipients(shop):
    return sorted(message["address"] for message in shop.outbox())


def test_a_recall_reaches_every_buyer_of_the_product_and_no_one_else(shop, engine):
    shop.ingest([
        _order("u-00000", product_id="KETTLE-1", revenue=30),  # named on the order itself
        _order("u-00000", days_ago=1, product_id="KETTLE-1"),  # bought twice: still one notice
        _order("u-00001", products=[{"product_id": "MUG-2"}, {"product_id": "KETTLE-1"}]),  # one item of several
        _order("u-00002", products=[{"product_id": "MUG-2"}]),  # another product
        {"type": "track", "userId": "u-00003", "event": "Product Viewed", "timestamp": NOW.isoformat(),
         "properties": {"product_id": "KETTLE-1"}},  # looked, never bought
        _order("u-00004", product_id=77),  # a numeric id
    ])
    journey = _journey(shop, RECALL, name="Kettle recall")
    _recall(shop, product_id="KETTLE-1", name="Kettle K1")
    assert engine.process_events().entered == 2
    assert _recipients(shop) == ["c00000@example.com", "c00001@example.com"]
    assert {m["subject"] for m in shop.outbox()} == {"Recall: Kettle K1"}

    shop.runtime.services.journeys.set_cursor(0)  # the log replayed: nobody enters twice
    engine.process_events()
    assert len(_enrollments(shop, journey)) == 2
    assert len(shop.outbox()) == 2

    _recall(shop, message_id="recall-2", product_id="77", name="Toaster")  # text id, numeric on the order
    engine.process_events()
    assert _recipients(shop) == ["c00000@example.com", "c00001@example.com", "c00004@example.com"]
    _recall(shop, message_id="recall-3", name="Unnamed")  # no product named: nobody
    _recall(shop, message_id="recall-4", product_id="NOBODY-BOUGHT", name="Lamp")
    assert engine.process_events().entered == 0


def test_a_recall_window_and_custom_order_event_and_key_are_honoured(shop, engine):
    shop.ingest([
        _order("u-00000", days_ago=400, product_id="KETTLE-1"),  # too long ago for a 1-year window
        _order("u-00001", days_ago=100, product_id="KETTLE-1"),
        {"type": "track", "userId": "u-00002", "event": "Subscription Started", "timestamp": NOW.isoformat(),
         "properties": {"products": [{"sku": "PLAN-9"}]}},
    ])
    _journey(shop, RECALL | {"trigger": {"type": "past_buyers", "event": "Product Recalled",
                                          "buyers": {"within_days": 365}}}, name="Recent buyers")
    _journey(shop, RECALL | {"trigger": {"type": "past_buyers", "event": "Plan Withdrawn", "buyers": {
        "event": "Subscription Started", "product_property": "sku"}}}, name="Plan withdrawn")
    _recall(shop, product_id="KETTLE-1", name="Kettle K1")
    withdrawn = {"type": "track", "userId": "ops", "event": "Plan Withdrawn", "timestamp": NOW.isoformat(),
                 "properties": {"sku": "PLAN-9", "name": "Plan 9"}}
    shop.ingest([withdrawn])
    engine.process_events()
    assert sorted((m["address"], m["subject"]) for m in shop.outbox()) == [
        ("c00001@example.com", "Recall: Kettle K1"), ("c00002@example.com", "Recall: Plan 9")]


def test_a_past_buyers_trigger_is_checked_at_save(shop):
    for trigger, path in [
        ({"type": "past_buyers"}, "body.definition.trigger"),
        ({"type": "event", "event": "X", "buyers": {}}, "body.definition.trigger"),
        ({"type": "past_buyers", "event": "X", "buyers": {"product_property": "a.b"}},
         "body.definition.trigger.buyers.product_property"),
        ({"type": "past_buyers", "event": "X", "buyers": {"within_days": 0}},
         "body.definition.trigger.buyers.within_days"),
    ]:
        response = shop.client.post("/api/v1/journeys", headers=shop.headers,
                                    json={"name": "Bad", "definition": RECALL | {"trigger": trigger}})
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"]["code"] == "invalid_request", body
        assert path in {detail["location"] for detail in body["details"]}, body
