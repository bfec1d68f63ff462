"""The SDK endpoint: a campaign on in_app puts each customer's message in the store, and
``GET /v1/in-app/messages`` returns the ones due on the device, with their display rules,
to whoever holds the write key and names that customer — and to no one else."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import basic, bearer
from tests.engagement.conftest import NOW


def test_a_campaign_on_in_app_stores_each_customers_message_and_the_sdk_returns_it(shop):
    options = {"layout": "banner", "image_url": "https://cdn.shop.example/sale.png", "priority": 7,
               "buttons": [{"id": "shop", "title": "Shop now", "url": "https://shop.example/sale"},
                           {"id": "later", "title": "Later"}]}
    campaign = shop.in_app_campaign(shop.segment(), options=options)
    (message,) = shop.messages(userId="u-00001")
    (send,) = shop.sends("u-00001")
    assert (send["state"], send["channel"], send["source_id"]) == ("sent", "in_app", campaign)
    assert message == {
        "send_key": send["send_key"], "title": "Hi Kim1", "body": "20% off for u-00001",
        "url": "https://shop.example/sale", "layout": "banner", "image_url": "https://cdn.shop.example/sale.png",
        "buttons": [{"id": "shop", "title": "Shop now", "url": "https://shop.example/sale"},
                    {"id": "later", "title": "Later", "url": None}],
        "dismissible": True, "priority": 7, "state": "pending", "created_at": "2026-06-15T10:00:00Z",
        # No ``until``: the message stays due for 30 days.
        "display": {"on_screen": None, "on_event": None, "until": "2026-07-15T10:00:00Z"},
    }
    # Each customer sees their own message only; the console's outbox lists all three.
    assert shop.messages(userId="u-00002")[0]["body"] == "20% off for u-00002"
    assert {m["channel"] for m in shop.outbox()} == {"in_app"}
    assert len(shop.outbox()) == 3


def test_display_rules_filter_by_screen_keep_event_triggers_and_end_at_until(shop):
    segment = shop.segment()
    shop.in_app_campaign(segment, name="Cart only", options={"on_screen": "Cart", "priority": 9},
                         content={"body": "Free shipping over 50 €"})
    shop.in_app_campaign(segment, name="On add", options={"on_event": "Product Added", "priority": 3},
                         content={"body": "Add a second item for 10 % off"})
    shop.in_app_campaign(segment, name="Two days", options={"until": (NOW + timedelta(days=2)).isoformat()},
                         content={"body": "Weekend sale"})
    everywhere = [m["body"] for m in shop.messages(userId="u-00000")]
    # Highest priority first; the event-triggered one comes with its trigger, for the SDK to hold.
    assert everywhere == ["Weekend sale", "Add a second item for 10 % off"]
    on_cart = shop.messages(userId="u-00000", screen="cart")  # screen names match without case
    assert [m["body"] for m in on_cart] == ["Free shipping over 50 €", "Weekend sale",
                                            "Add a second item for 10 % off"]
    assert on_cart[0]["display"] == {"on_screen": "Cart", "on_event": None, "until": "2026-07-15T10:00:00Z"}
    assert on_cart[2]["display"]["on_event"] == "Product Added"
    assert on_cart[1]["display"]["until"] == "2026-06-17T10:00:00Z"
    assert [m["body"] for m in shop.messages(userId="u-00000", screen="home")] == [
        "Weekend sale", "Add a second item for 10 % off"]
    assert len(shop.messages(userId="u-00000", screen="cart", limit=1)) == 1
    shop.clock.at = NOW + timedelta(days=2)  # ``until`` has come
    assert "Weekend sale" not in [m["body"] for m in shop.messages(userId="u-00000", screen="cart")]
    shop.clock.at = NOW + timedelta(days=31)  # and the default lifetime has passed for the others
    assert shop.messages(userId="u-00000", screen="cart") == []


def test_a_dismissed_message_is_gone_and_a_viewed_one_stays_until_clicked(shop):
    segment = shop.segment()
    shop.in_app_campaign(segment, name="First", content={"body": "First"})
    shop.in_app_campaign(segment, name="Second", content={"body": "Second"})
    first, second = sorted(shop.messages(userId="u-00000"), key=lambda m: m["body"])
    assert shop.interact(first["send_key"], "viewed", userId="u-00000")["state"] == "viewed"
    assert shop.interact(second["send_key"], "dismissed", userId="u-00000")["state"] == "dismissed"
    (left,) = shop.messages(userId="u-00000")
    assert (left["body"], left["state"]) == ("First", "viewed")
    # A late "viewed" never brings a dismissed message back.
    assert shop.interact(second["send_key"], "viewed", userId="u-00000")["state"] == "dismissed"
    assert [m["body"] for m in shop.messages(userId="u-00000")] == ["First"]
    assert shop.interact(first["send_key"], "clicked", userId="u-00000")["state"] == "clicked"
    assert shop.messages(userId="u-00000") == []


def test_the_write_key_may_travel_in_the_query_for_browsers_and_cors_lets_any_site_read(shop):
    shop.in_app_campaign(shop.segment())
    key = shop.workspace.write_key
    response = shop.client.get("/v1/in-app/messages", params={"userId": "u-00000", "writeKey": key},
                               headers={"Origin": "https://shop.example"})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert len(response.json()["messages"]) == 1
    # A preflight for a page that sends the key as Basic auth instead.
    preflight = shop.client.options("/v1/in-app/messages", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200, preflight.text
    # A body sent as text/plain (a beacon, or a fetch kept simple) is read as JSON.
    send_key = response.json()["messages"][0]["send_key"]
    beacon = shop.client.post(f"/v1/in-app/messages/{send_key}/viewed", headers={"Content-Type": "text/plain"},
                              content=f'{{"userId": "u-00000", "writeKey": "{key}"}}')
    assert beacon.status_code == 200, beacon.text


def test_a_stranger_gets_an_empty_list_and_bad_requests_get_a_code(shop, other_workspace):
    shop.in_app_campaign(shop.segment())
    assert shop.messages(userId="nobody-knows-me") == []
    assert shop.messages(anonymousId="no-such-device") == []
    assert shop.messages(status=400)["code"] == "missing_identity"
    assert shop.messages(status=400, userId="  ")["code"] == "invalid_identity"
    assert shop.messages(status=400, anonymousId="dev\x00ice")["code"] == "invalid_identity"
    assert shop.messages(status=422, userId="u" * 300)["code"] == "invalid_request"
    assert shop.messages(status=422, userId="u-00000", limit=0)["code"] == "invalid_request"
    no_key = shop.client.get("/v1/in-app/messages", params={"userId": "u-00000"})
    assert (no_key.status_code, no_key.json()["code"]) == (401, "missing_write_key")
    secret = shop.client.get("/v1/in-app/messages", params={"userId": "u-00000"},
                             headers=bearer(shop.workspace.secret_key))
    assert secret.status_code == 401
    wrong_kind = shop.client.get("/v1/in-app/messages", params={"userId": "u-00000"},
                                 headers=basic(shop.workspace.secret_key))
    assert (wrong_kind.status_code, wrong_kind.json()["code"]) == (401, "invalid_write_key")
    mixed = shop.client.get("/v1/in-app/messages", headers=basic(shop.workspace.write_key),
                            params={"userId": "u-00000", "writeKey": other_workspace.write_key})
    assert (mixed.status_code, mixed.json()["code"]) == (401, "mixed_write_keys")


def test_a_write_key_of_another_workspace_sees_nothing_of_this_one(shop, other_workspace):
    shop.in_app_campaign(shop.segment())
    (message,) = shop.messages(userId="u-00000")
    # The other shop has a customer with the same user id: its key still reads its own workspace only.
    assert shop.client.post("/v1/identify", headers=basic(other_workspace.write_key),
                            json={"userId": "u-00000", "traits": {"plan": "pro"}}).status_code == 200
    shop.runtime.projector.catch_up()
    for params in ({"userId": "u-00000"}, {"anonymousId": "u-00000"}):
        assert shop.messages(other_workspace.write_key, **params) == []
    for action in ("viewed", "clicked", "dismissed"):
        refused = shop.interact(message["send_key"], action, key=other_workspace.write_key, status=404,
                                userId="u-00000")
        assert refused["code"] == "message_not_found"
    assert shop.messages(userId="u-00000") == [message]  # nothing changed
    assert shop.timeline("u-00000") == []


def test_customers_are_named_by_user_or_anonymous_id_only_never_by_email_or_profile_id(shop):
    assert shop.client.post("/v1/identify", headers=basic(shop.workspace.write_key), json={
        "userId": "u-00000", "anonymousId": "device-kim"}).status_code == 200
    shop.runtime.projector.catch_up()
    shop.in_app_campaign(shop.segment())
    (message,) = shop.messages(userId="u-00000")
    assert shop.messages(anonymousId="device-kim") == [message]
    profile_id = shop.client.get("/api/v1/profiles/u-00000", headers=shop.headers).json()["id"]
    # Guessable references that the management API accepts are strangers here.
    for reference in ("c00000@example.com", "+491511200000", profile_id):
        assert shop.messages(userId=reference) == []
        assert shop.messages(anonymousId=reference) == []
