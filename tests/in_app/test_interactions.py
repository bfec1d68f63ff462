"""What customers do with in-app messages comes back as events: one per message and action,
however often it is reported, on the timeline of the customer named and no one else's — where
segments, journeys and the erasure of a person find them."""

from __future__ import annotations

from datetime import timedelta

from loopline.actions.journeys import JourneyEngine
from loopline.domain.engagement import IN_APP_CLICKED, IN_APP_DISMISSED, IN_APP_VIEWED
from tests.conftest import basic
from tests.engagement.conftest import NOW

BUTTONS = {"buttons": [{"id": "shop", "title": "Shop now", "url": "https://shop.example/sale"}]}


def test_viewed_clicked_and_dismissed_are_one_event_each_however_often_reported(shop):
    campaign = shop.in_app_campaign(shop.segment(), options=BUTTONS)
    (message,) = shop.messages(userId="u-00000")
    key = message["send_key"]
    for _ in range(3):  # a retry, a second tab, a page reloaded
        shop.interact(key, "viewed", userId="u-00000")
        shop.interact(key, "clicked", userId="u-00000", button="shop")
        shop.interact(key, "dismissed", userId="u-00000")
    events = shop.timeline("u-00000")
    assert sorted(e["event"] for e in events) == sorted([IN_APP_VIEWED, IN_APP_CLICKED, IN_APP_DISMISSED])
    for event in events:
        assert event["userId"] == "u-00000"
        assert event["properties"]["send_key"] == key
        assert (event["properties"]["channel"], event["properties"]["campaign_id"]) == ("in_app", campaign)
        assert event["timestamp"].startswith("2026-06-15T10:00:00")
    (clicked,) = [e for e in events if e["event"] == IN_APP_CLICKED]
    assert clicked["properties"]["button"] == "shop"
    assert shop.timeline("u-00001") == []


def test_the_events_are_filed_under_the_ids_the_sdk_sent(shop):
    assert shop.client.post("/v1/identify", headers=basic(shop.workspace.write_key), json={
        "userId": "u-00001", "anonymousId": "phone-1"}).status_code == 200
    shop.runtime.projector.catch_up()
    shop.in_app_campaign(shop.segment())
    (message,) = shop.messages(anonymousId="phone-1")
    shop.interact(message["send_key"], "viewed", anonymousId="phone-1")
    (viewed,) = shop.timeline("u-00001")
    assert (viewed["anonymousId"], viewed["userId"]) == ("phone-1", None)


def test_another_customers_send_key_is_not_found_like_one_that_does_not_exist(shop):
    shop.in_app_campaign(shop.segment(), options=BUTTONS)
    (theirs,) = shop.messages(userId="u-00001")
    for action in ("viewed", "clicked", "dismissed"):
        refused = shop.interact(theirs["send_key"], action, userId="u-00000", status=404)
        made_up = shop.interact("sk_" + "0" * 40, action, userId="u-00000", status=404)
        assert refused["code"] == made_up["code"] == "message_not_found"
        assert refused["message"] == made_up["message"]
        assert shop.interact(theirs["send_key"], action, userId="nobody", status=404)["code"] == "message_not_found"
    assert shop.messages(userId="u-00001") == [theirs]
    assert shop.timeline("u-00000") == shop.timeline("u-00001") == []


def test_bad_interaction_reports_are_4xx_with_a_code(shop):
    shop.in_app_campaign(shop.segment(), options=BUTTONS)
    key = shop.messages(userId="u-00000")[0]["send_key"]
    assert shop.interact(key, "clicked", userId="u-00000", button="nope", status=400)["code"] == "unknown_button"
    assert shop.interact(key, "viewed", userId="u-00000", button="shop", status=400)["code"] == "unknown_button"
    assert shop.interact(key, "clicked", userId="u-00000", button=7, status=400)["code"] == "unknown_button"
    assert shop.interact(key, "opened", userId="u-00000", status=422)["code"] == "invalid_request"
    assert shop.interact(key, "viewed", status=400)["code"] == "missing_identity"
    assert shop.interact(key, "viewed", userId=["u-00000"], status=400)["code"] == "invalid_identity"
    assert shop.interact(key, "viewed", userId="u-\x00", status=400)["code"] == "invalid_identity"
    assert shop.interact("sk_%00", "viewed", userId="u-00000", status=404)["code"] == "message_not_found"
    for content, kind, status, code in [(b"[1]", "application/json", 400, "invalid_body"),
                                        (b"{", "application/json", 400, "malformed_json"),
                                        (b"", "application/json", 400, "empty_body"),
                                        (b"a=b", "application/x-www-form-urlencoded", 415, "unsupported_content_type"),
                                        (b"{}" + b" " * 20_000, "application/json", 413, "batch_too_large")]:
        response = shop.client.post(f"/v1/in-app/messages/{key}/viewed", content=content,
                                    headers={**basic(shop.workspace.write_key), "Content-Type": kind})
        assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert shop.timeline("u-00000") == []


def test_a_segment_on_engagement_finds_who_clicked_the_campaigns_message(shop):
    campaign = shop.in_app_campaign(shop.segment(), options=BUTTONS)
    for user in ("u-00000", "u-00001"):
        key = shop.messages(userId=user)[0]["send_key"]
        shop.interact(key, "viewed", userId=user)
    shop.interact(shop.messages(userId="u-00001")[0]["send_key"], "clicked", userId="u-00001", button="shop")
    shop.runtime.projector.catch_up()
    clicked = shop.client.post("/api/v1/segments", headers=shop.headers, json={
        "name": "Clicked the sale",
        "condition": {"type": "engagement", "action": "clicked", "channel": "in_app", "campaign_id": campaign}})
    assert clicked.status_code == 201, clicked.text
    refreshed = shop.client.post(f"/api/v1/segments/{clicked.json()['id']}/refresh", headers=shop.headers)
    assert refreshed.json()["members"] == 1, refreshed.text
    members = shop.client.get(f"/api/v1/segments/{clicked.json()['id']}/members", headers=shop.headers).json()
    profile = shop.client.get("/api/v1/profiles/u-00001", headers=shop.headers).json()["id"]
    assert [m["profile_id"] for m in members["items"]] == [profile]
    opened = shop.client.post("/api/v1/segments/estimate", headers=shop.headers, json={
        "name": "Saw it", "condition": {"type": "engagement", "action": "opened", "channel": "in_app"}})
    assert opened.json()["count"] == 2, opened.text


WELCOME = {
    "trigger": {"type": "event", "event": "Signed Up"},
    "steps": [
        {"id": "hello", "type": "send", "channels": ["in_app"], "next": "later", "content": {"in_app": {
            "subject": "Welcome, {{ traits.firstName }}", "body": "Here is 10 % off your first order",
            "in_app": {"layout": "modal", "on_screen": "home", **BUTTONS}}}},
        {"id": "later", "type": "wait", "minutes": 60, "next": "clicked"},
        {"id": "clicked", "type": "branch", "condition": {"source": "engagement", "step": "hello", "action": "clicked"},
         "then": "thanks", "otherwise": "nudge"},
        {"id": "thanks", "type": "update_trait", "trait": "welcome_clicked", "value": True},
        {"id": "nudge", "type": "send", "channels": ["in_app"],
         "content": {"in_app": {"body": "Your 10 % are waiting", "in_app": {"layout": "banner"}}}},
    ],
}


def test_a_journey_step_sends_in_app_and_branches_on_the_click(shop):
    created = shop.client.post("/api/v1/journeys", headers=shop.headers,
                               json={"name": "Welcome", "definition": WELCOME})
    assert created.status_code == 201, created.text
    shop.client.post(f"/api/v1/journeys/{created.json()['id']}/activate", headers=shop.headers)
    engine = JourneyEngine(shop.runtime.services, shop.runtime.pipeline)
    batch = [{"type": "track", "userId": user, "event": "Signed Up", "timestamp": NOW.isoformat()}
             for user in ("u-00000", "u-00001")]
    assert shop.client.post("/v1/batch", headers=basic(shop.workspace.write_key),
                            json={"batch": batch}).status_code == 200
    shop.runtime.projector.catch_up()
    engine.process_events()
    assert shop.messages(userId="u-00000") == []  # the welcome shows on the home screen only
    (hello,) = shop.messages(userId="u-00000", screen="home")
    assert (hello["title"], hello["layout"], hello["buttons"][0]["id"]) == ("Welcome, Kim0", "modal", "shop")
    (why,) = shop.sends("u-00000")
    assert (why["source_kind"], why["step"], why["send_key"]) == ("journey", "hello", hello["send_key"])
    shop.interact(hello["send_key"], "clicked", userId="u-00000", button="shop")
    shop.runtime.projector.catch_up()
    engine.process_events()
    shop.clock.at = NOW + timedelta(minutes=61)
    assert engine.wake_due(now=shop.clock.at) == 2
    shop.runtime.projector.catch_up()
    assert shop.client.get("/api/v1/profiles/u-00000", headers=shop.headers).json()["traits"]["welcome_clicked"]
    assert shop.messages(userId="u-00000", screen="home") == []  # clicked: done
    (nudge,) = shop.messages(userId="u-00001")
    assert (nudge["body"], nudge["layout"]) == ("Your 10 % are waiting", "banner")


def test_a_merged_away_profiles_messages_follow_the_customer(shop):
    """An anonymous visitor got a message, then signed in: the signed-in customer still sees it."""
    visitor = shop.client.post("/v1/identify", headers=basic(shop.workspace.write_key), json={
        "anonymousId": "browser-9", "traits": {"plan": "pro"}})
    assert visitor.status_code == 200
    shop.runtime.projector.catch_up()
    shop.in_app_campaign(shop.segment(), content={"body": "Welcome back"})
    (message,) = shop.messages(anonymousId="browser-9")
    assert shop.client.post("/v1/identify", headers=basic(shop.workspace.write_key), json={
        "userId": "u-00002", "anonymousId": "browser-9"}).status_code == 200
    shop.runtime.projector.catch_up()
    view = shop.client.get("/api/v1/profiles/u-00002", headers=shop.headers).json()
    assert view["merges"], view  # the visitor's profile went into the customer's
    mine = {m["send_key"] for m in shop.messages(userId="u-00002")}
    assert message["send_key"] in mine
    assert len(mine) == 2  # and the customer's own message
    assert shop.interact(message["send_key"], "dismissed", userId="u-00002")["state"] == "dismissed"


def test_erasing_a_person_deletes_their_in_app_messages(shop):
    shop.in_app_campaign(shop.segment())
    (message,) = shop.messages(userId="u-00000")
    erased = shop.client.post("/api/v1/profiles/u-00000/erase", headers=shop.headers)
    assert erased.status_code == 202, erased.text
    assert shop.runtime.services.in_app.received([message["send_key"]]) == set()
    assert shop.messages(userId="u-00000") == []
    assert shop.interact(message["send_key"], "viewed", userId="u-00000", status=404)["code"] == "message_not_found"
    assert len(shop.messages(userId="u-00001")) == 1  # the others keep theirs
