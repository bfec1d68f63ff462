"""Journeys end to end: triggers from ingest, durable waits, goals, versions, idempotent entry (F10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from loopline.actions.journeys import JourneyEngine
from loopline.bootstrap import build_runtime
from loopline.domain.send_ledger import first_format_key, send_key
from loopline.store.sql.tables import enrollments, sends
from tests.conftest import basic
from tests.engagement.conftest import NOW, customers

CART = {
    "trigger": {"type": "event", "event": "Product Added"},
    "entry": {"rule": "every_time"},
    "topic": "cart",
    "steps": [
        {"id": "wait", "type": "wait", "minutes": 60,
         "until_event": {"event": "Order Completed"}, "next": "nudge", "on_event": "bought"},
        {"id": "nudge", "type": "send", "channels": ["email"], "content": {"email": {
            "subject": "Still want the {{ event.name | default('item') }}?", "body": "<p>Code CART10</p>"}}},
        {"id": "bought", "type": "exit"},
    ],
}


def _journey(shop, definition, name="Cart abandonment"):
    created = shop.client.post("/api/v1/journeys", headers=shop.headers, json={"name": name, "definition": definition})
    assert created.status_code == 201, created.text
    activated = shop.client.post(f"/api/v1/journeys/{created.json()['id']}/activate", headers=shop.headers)
    assert activated.json()["status"] == "active"
    return created.json()["id"]


def _track(shop, user, event, message_id=None, at=None, **properties):
    message = {"type": "track", "userId": user, "event": event, "properties": properties,
               "timestamp": (at or shop.clock.at).isoformat()}
    if message_id:
        message["messageId"] = message_id
    response = shop.client.post("/v1/batch", headers=basic(shop.workspace.write_key), json={"batch": [message]})
    assert response.status_code == 200, response.text
    shop.runtime.projector.catch_up()


def _enrollments(shop, journey_id):
    response = shop.client.get(f"/api/v1/journeys/{journey_id}/enrollments", headers=shop.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture
def engine(shop):
    shop.ingest(customers(2))
    shop.policy(opt_in_channels=[])
    return JourneyEngine(shop.runtime.services, shop.runtime.pipeline)


def test_cart_abandonment_nudges_only_those_who_did_not_order_within_the_hour(shop, engine):
    journey = _journey(shop, CART)
    _track(shop, "u-00000", "Product Added", name="Trail shoes")
    _track(shop, "u-00001", "Product Added", name="Rain jacket")
    assert engine.process_events().entered == 2
    shop.clock.at = NOW + timedelta(minutes=20)
    _track(shop, "u-00001", "Order Completed", revenue=120)
    assert engine.process_events().woken == 1
    assert engine.wake_due(now=NOW + timedelta(minutes=59)) == 0
    assert engine.wake_due(now=NOW + timedelta(minutes=61)) == 1
    (message,) = shop.outbox()
    assert (message["address"], message["subject"]) == ("c00000@example.com", "Still want the Trail shoes?")
    states = {e["profile_id"]: (e["state"], e["done_reason"]) for e in _enrollments(shop, journey)}
    assert sorted(states.values()) == [("done", "completed"), ("done", "exited")]
    (why,) = shop.sends("u-00000")
    assert (why["source_kind"], why["step"], why["state"]) == ("journey", "nudge", "sent")


def test_a_redelivered_trigger_enters_once_and_a_once_only_journey_never_twice(shop, engine):
    once = _journey(shop, CART | {"entry": {"rule": "once"}}, name="Once")
    every = _journey(shop, CART, name="Every time")
    same = {"type": "track", "userId": "u-00000", "event": "Product Added", "messageId": "msg-1",
            "timestamp": NOW.isoformat()}
    batch = shop.client.post("/v1/batch", headers=basic(shop.workspace.write_key), json={"batch": [same] * 3})
    assert batch.status_code == 200, batch.text  # three times in one batch
    for _ in range(2):  # and again in separate requests: the event store keeps one
        _track(shop, "u-00000", "Product Added", message_id="msg-1")
    engine.process_events()
    shop.runtime.services.journeys.set_cursor(0)  # a restart that replays the log from the start
    engine.process_events()
    assert len(_enrollments(shop, once)) == len(_enrollments(shop, every)) == 1
    engine.wake_due(now=NOW + timedelta(hours=2))  # both finish
    _track(shop, "u-00000", "Product Added", message_id="msg-2", at=NOW + timedelta(hours=3))
    engine.process_events()
    assert len(_enrollments(shop, once)) == 1  # never re-entered
    assert len(_enrollments(shop, every)) == 2


def test_a_goal_ends_the_journey_wherever_it_is(shop, engine):
    welcome = {
        "trigger": {"type": "event", "event": "Signed Up"}, "goal": {"event": "Order Completed"},
        "steps": [
            {"id": "hello", "type": "send", "channels": ["email"], "next": "later",
             "content": {"email": {"subject": "Welcome", "body": "Hello {{ traits.firstName }}"}}},
            {"id": "later", "type": "wait", "minutes": 2_880, "next": "tips"},
            {"id": "tips", "type": "send", "channels": ["email"],
             "content": {"email": {"subject": "Tips", "body": "Three tips"}}},
        ],
    }
    journey = _journey(shop, welcome, name="Welcome")
    _track(shop, "u-00000", "Signed Up")
    _track(shop, "u-00001", "Signed Up")
    engine.process_events()
    assert sorted(m["subject"] for m in shop.outbox()) == ["Welcome", "Welcome"]
    _track(shop, "u-00000", "Order Completed")
    assert engine.process_events().goals == 1
    engine.wake_due(now=NOW + timedelta(days=3))
    tips = [m["address"] for m in shop.outbox() if m["subject"] == "Tips"]
    assert tips == ["c00001@example.com"]
    reasons = sorted(e["done_reason"] for e in _enrollments(shop, journey))
    assert reasons == ["completed", "goal_reached"]


def test_running_enrolments_keep_their_version_and_waits_survive_a_restart(shop, engine):
    journey = _journey(shop, CART)
    _track(shop, "u-00000", "Product Added", name="Boots")
    engine.process_events()
    changed = CART | {"steps": [CART["steps"][0], {**CART["steps"][1], "content": {"email": {
        "subject": "Version two", "body": "v2"}}}, CART["steps"][2]]}
    updated = shop.client.put(f"/api/v1/journeys/{journey}", headers=shop.headers,
                              json={"name": "Cart abandonment", "definition": changed})
    assert updated.json()["version"] == 2
    _track(shop, "u-00001", "Product Added", name="Hat")
    engine.process_events()

    # The platform stops and starts again on the same data.
    settings = shop.runtime.services.settings
    shop.runtime.stop()
    restarted = build_runtime(settings)
    try:
        restarted.services.clock = shop.clock
        JourneyEngine(restarted.services, restarted.pipeline).wake_due(now=NOW + timedelta(hours=2))
        subjects = {m["address"]: m["subject"] for m in restarted.services.sandbox.list_outbox(
            workspace_id=shop.workspace.id)}
    finally:
        restarted.services.close()
    assert subjects == {"c00000@example.com": "Still want the Boots?", "c00001@example.com": "Version two"}


def test_entering_a_segment_starts_a_win_back_journey(shop, engine):
    segment = shop.segment()  # both customers enter it on this first refresh
    shop.clock.at = NOW + timedelta(minutes=1)
    journey = _journey(shop, {"trigger": {"type": "segment_entered", "segment_id": segment}, "steps": [
        {"id": "miss", "type": "send", "channels": ["email"],
         "content": {"email": {"subject": "We miss you", "body": "Come back"}}}]}, name="Win-back")
    shop.client.post(f"/api/v1/segments/{segment}/refresh", headers=shop.headers)
    assert engine.process_events().entered == 0  # joined before the journey was active: no entry now
    shop.ingest(customers(3)[2:])
    shop.client.post(f"/api/v1/segments/{segment}/refresh", headers=shop.headers)
    shop.runtime.projector.catch_up()
    while engine.process_events().events:
        pass
    (enrolment,) = _enrollments(shop, journey)
    assert enrolment["done_reason"] == "completed"
    assert [m["subject"] for m in shop.outbox()] == ["We miss you"]


def test_bad_journeys_are_refused_with_where_and_why(shop):
    broken = CART | {"steps": [{"id": "a", "type": "send", "channels": ["email"], "next": "nowhere",
                                "content": {"email": {"body": "x"}}}]}
    response = shop.client.post("/api/v1/journeys", headers=shop.headers, json={"name": "Bad", "definition": broken})
    assert response.status_code == 422
    bad_template = CART | {"steps": [{"id": "a", "type": "send", "channels": ["email"],
                                      "content": {"email": {"body": "{{ evnt.x }}"}}}]}
    response = shop.client.post("/api/v1/journeys", headers=shop.headers,
                                json={"name": "Bad", "definition": bad_template})
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "definition.steps.0.content.email.body"
    missing = shop.client.post("/api/v1/journeys/jny_nothing/activate", headers=shop.headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "journey_not_found")


def test_a_trigger_is_acted_on_right_after_projection_without_the_scheduler(tmp_path):
    import time

    from fastapi.testclient import TestClient

    from loopline.actions.workspaces import do_create_workspace
    from loopline.api.app import create_app
    from loopline.config import Settings
    from tests.conftest import ADMIN_TOKEN
    from tests.engagement.conftest import Shop

    runtime = build_runtime(Settings(data_dir=tmp_path, scheduler_interval_s=3_600, segment_refresh_interval_s=3_600,
                                     projection_interval_ms=10))
    with TestClient(create_app(runtime, admin_token=ADMIN_TOKEN)) as client:
        shop = Shop(client, runtime, do_create_workspace(runtime.services, name="Live"))
        shop.ingest(customers(1))
        shop.policy(opt_in_channels=[])
        _journey(shop, {"trigger": {"type": "event", "event": "Signed Up"}, "steps": [
            {"id": "hi", "type": "send", "channels": ["email"], "content": {"email": {"body": "Welcome"}}}]},
            name="Welcome")
        shop.clock.at = NOW + timedelta(seconds=1)
        response = client.post("/v1/track", headers=basic(shop.workspace.write_key),
                               json={"userId": "u-00000", "event": "Signed Up"})
        assert response.status_code == 200
        deadline = time.monotonic() + 30
        while not shop.outbox():  # nobody calls the engine: the projector's follow-up does
            assert time.monotonic() < deadline, "the trigger was not acted on after projection"
            time.sleep(0.02)


def test_a_burst_of_events_becomes_one_digest_message_holding_them_all(shop, engine):
    journey = _journey(shop, {
        "trigger": {"type": "event", "event": "Comment Posted"}, "entry": {"rule": "digest"},
        "steps": [
            {"id": "gather", "type": "wait", "minutes": 5, "next": "digest"},
            {"id": "digest", "type": "send", "channels": ["email"], "content": {"email": {
                "subject": "{{ digest | length }} new comments",
                "body": "{% for comment in digest %}{{ comment.n }} {% endfor %}"}}},
        ],
    }, name="Comment digest")
    burst = [{"type": "track", "userId": "u-00000", "event": "Comment Posted", "messageId": f"c-{n}",
              "timestamp": NOW.isoformat(), "properties": {"n": n}} for n in range(20)]
    response = shop.client.post("/v1/batch", headers=basic(shop.workspace.write_key), json={"batch": burst})
    assert response.status_code == 200, response.text
    shop.runtime.projector.catch_up()
    engine.process_events()
    shop.runtime.services.journeys.set_cursor(0)  # the burst read again (a restart): nothing joins twice
    engine.process_events()
    assert len(_enrollments(shop, journey)) == 1
    assert engine.wake_due(now=NOW + timedelta(minutes=4)) == 0
    engine.wake_due(now=NOW + timedelta(minutes=5))
    engine.wake_due(now=NOW + timedelta(minutes=6))  # a second wake finds nothing left to send
    (message,) = shop.outbox()
    assert message["subject"] == "20 new comments"
    assert sorted(int(n) for n in message["body"].split()) == list(range(20))


FOLLOW_UP = {
    "trigger": {"type": "event", "event": "Signed Up"},
    "steps": [
        {"id": "hello", "type": "send", "channels": ["email"], "next": "later",
         "content": {"email": {"subject": "Welcome", "body": "<p>Hello</p>"}}},
        {"id": "later", "type": "wait", "minutes": 2_880, "next": "opened"},
        {"id": "opened", "type": "branch", "condition": {"source": "engagement", "step": "hello", "action": "opened"},
         "then": "thanks", "otherwise": "nudge"},
        {"id": "thanks", "type": "update_trait", "trait": "welcome_read", "value": True},
        {"id": "nudge", "type": "send", "channels": ["sms"], "content": {"sms": {"body": "Did you see our welcome?"}}},
    ],
}


def test_a_branch_follows_engagement_with_an_earlier_message(shop, engine):
    _journey(shop, FOLLOW_UP, name="Follow-up")
    for user in ("u-00000", "u-00001"):
        _track(shop, user, "Signed Up")
    engine.process_events()
    sent = {m["address"]: m["send_key"] for m in shop.outbox()}
    assert set(sent) == {"c00000@example.com", "c00001@example.com"}
    # u-00000 opens the welcome; u-00001 only opens a message it was never sent (another's key
    # would be someone else's message: here a made-up one) and clicks nothing.
    _track(shop, "u-00000", "Email Opened", send_key=sent["c00000@example.com"])
    _track(shop, "u-00001", "Email Opened", send_key="not-a-send-of-this-journey")
    engine.process_events()
    shop.clock.at = NOW + timedelta(days=2, minutes=1)
    assert engine.wake_due(now=shop.clock.at) == 2
    nudges = [m for m in shop.outbox() if m["channel"] == "sms"]
    assert [m["address"] for m in nudges] == ["+491511200001"]
    shop.runtime.projector.catch_up()
    opened = shop.client.get("/api/v1/profiles/u-00000", headers=shop.headers).json()
    assert opened["traits"]["welcome_read"] is True


def test_an_engagement_branch_must_name_a_send_step(shop):
    broken = FOLLOW_UP | {"steps": [
        {**step, "condition": {"source": "engagement", "step": "later", "action": "clicked"}}
        if step["id"] == "opened" else step for step in FOLLOW_UP["steps"]]}
    response = shop.client.post("/api/v1/journeys", headers=shop.headers, json={"name": "Bad", "definition": broken})
    assert response.status_code == 422, response.text
    assert "not a send step" in response.text


def test_one_batch_of_events_acts_as_the_events_would_one_by_one(shop, engine):
    """Entries gather and walk together, yet caps, repeats and same-batch goals come out as in order."""
    shop.policy(opt_in_channels=[], caps=[{"limit": 1, "window_hours": 24}])
    browse = {"trigger": {"type": "event", "event": "Product Viewed"}, "entry": {"rule": "every_time"},
              "steps": [{"id": "mail", "type": "send", "channels": ["email"],
                         "content": {"email": {"subject": "{{ event.sku }}", "body": "<p>{{ event.sku }}</p>"}}}]}
    _journey(shop, browse, name="Browse")
    cart = _journey(shop, CART)
    batch = [{"type": "track", "userId": user, "event": event, "properties": properties, "timestamp": NOW.isoformat()}
             for user, event, properties in [
                 ("u-00000", "Product Viewed", {"sku": "A"}), ("u-00001", "Product Added", {"name": "Hat"}),
                 ("u-00000", "Product Viewed", {"sku": "B"}), ("u-00001", "Order Completed", {})]]
    response = shop.client.post("/v1/batch", headers=basic(shop.workspace.write_key), json={"batch": batch})
    assert response.status_code == 200, response.text
    shop.runtime.projector.catch_up()
    report = engine.process_events()
    assert (report.entered, report.woken) == (3, 1)
    # u-00000 entered twice (the first enrolment had ended); the cap of one let the first through only.
    states = sorted((row["state"], row["reason"], row["step"]) for row in shop.sends("u-00000"))
    assert states == [("sent", "", "mail"), ("skipped", "frequency_cap", "mail")]
    assert [m["subject"] for m in shop.outbox()] == ["A"]
    # u-00001 ordered in the same batch as the cart: the wait ended on it, no nudge ever.
    assert [(e["state"], e["done_reason"]) for e in _enrollments(shop, cart)] == [("done", "exited")]
    engine.wake_due(now=NOW + timedelta(hours=2))
    assert [m["subject"] for m in shop.outbox()] == ["A"]


def test_a_walk_begun_before_the_key_format_changed_and_repeated_after_sends_nothing_twice(shop, engine):
    journey = _journey(shop, {"trigger": {"type": "event", "event": "Signed Up"}, "steps": [
        {"id": "greet", "type": "send", "channels": ["email"], "content": {"email": {
            "subject": "Welcome", "body": "<p>Hello</p>"}}}]}, name="Welcome")
    _track(shop, "u-00000", "Signed Up")
    assert engine.process_events().entered == 1
    assert len(shop.outbox()) == 1
    services = shop.runtime.services
    # As code before revision 0017 would leave a walk stopped for the upgrade after its claim
    # and before its position was saved: a first-format key, the enrolment still at the step.
    with services.engine.begin() as conn:
        (enrollment_id, profile_id), = conn.execute(sa.select(enrollments.c.id, enrollments.c.profile_id).where(
            enrollments.c.journey_id == journey)).all()
        parts = {"workspace_id": shop.workspace.id, "source": f"{journey}/greet", "profile_id": profile_id,
                 "channel": "*", "occurrence": f"{enrollment_id}:1"}
        assert conn.execute(sends.update().where(sends.c.send_key == send_key(**parts)).values(
            send_key=first_format_key(**parts))).rowcount == 1
        conn.execute(enrollments.update().where(enrollments.c.id == enrollment_id).values(
            state="active", step_id="greet", visits=0, done_reason="", key_format=None))
    (stale,) = services.journeys.list_for_journey(workspace_id=shop.workspace.id, journey_id=journey)
    engine.walker.walk([stale], now=shop.clock.at)
    assert len(shop.outbox()) == 1  # found claimed under its first-format key: not sent again
    assert [row["state"] for row in shop.sends("u-00000")] == ["sent"]
