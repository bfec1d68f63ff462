"""The suppression list over the management API: add, re-add, list, get, remove, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.conftest import basic, bearer, settle

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class SteppingClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def suppress(client, workspace, *entries, expect=200):
    response = client.post(
        "/api/v1/suppressions", headers=bearer(workspace.secret_key), json={"entries": list(entries)}
    )
    assert response.status_code == expect, response.text
    return response.json()


def entry(channel, address, reason="manual", **extra):
    return {"channel": channel, "address": address, "reason": reason, **extra}


def listing(client, workspace, **params):
    response = client.get("/api/v1/suppressions", headers=bearer(workspace.secret_key), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def keys(items):
    return [(item["channel"], item["address"]) for item in items]


@pytest.fixture
def clock(runtime, monkeypatch):
    stepping = SteppingClock(T0)
    monkeypatch.setattr(runtime.services, "clock", stepping)
    return stepping


def test_entries_are_added_normalised_and_read_back(client, workspace, clock):
    report = suppress(
        client,
        workspace,
        entry("email", "  Ana@Example.COM ", "hard_bounce", source="ses"),
        entry("sms", "+49 170 1234567", "carrier_opt_out", note="STOP received"),
        entry("push", "apns-0f1e2d", "invalid_address"),
        entry("web_push", "https://push.example.com/send/abc:def", "unsubscribe"),
    )
    assert report == {"received": 4, "created": 4, "updated": 0, "duplicates": 0}
    secret = bearer(workspace.secret_key)
    email = client.get("/api/v1/suppressions/email/ana@example.com", headers=secret)
    assert email.status_code == 200, email.text
    assert email.json() == {
        "channel": "email",
        "address": "ana@example.com",
        "reason": "hard_bounce",
        "note": None,
        "source": "ses",
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T09:00:00Z",
    }
    sms = client.get("/api/v1/suppressions/sms/+491701234567", headers=secret).json()
    assert (sms["address"], sms["reason"], sms["note"]) == ("+491701234567", "carrier_opt_out", "STOP received")
    # A web push endpoint holds slashes; the path runs to its end.
    web = client.get("/api/v1/suppressions/web_push/https://push.example.com/send/abc:def", headers=secret)
    assert web.status_code == 200, web.text
    assert web.json()["reason"] == "unsubscribe"


def test_adding_again_updates_the_entry_and_keeps_created_at(client, workspace, clock):
    suppress(client, workspace, entry("email", "ana@example.com", "hard_bounce", note="550 no such user"))
    clock.current = T0 + timedelta(days=2)
    report = suppress(client, workspace, entry("email", "ANA@example.com", "complaint", source="fbl"))
    assert report == {"received": 1, "created": 0, "updated": 1, "duplicates": 0}
    (item,) = listing(client, workspace)["items"]
    assert item == {
        "channel": "email",
        "address": "ana@example.com",
        "reason": "complaint",
        "note": None,
        "source": "fbl",
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-03T09:00:00Z",
    }


def test_two_spellings_of_a_phone_number_are_one_entry(client, workspace, clock):
    report = suppress(
        client,
        workspace,
        entry("sms", "+49 170 1234567", "carrier_opt_out"),
        entry("sms", "+491701234567", "complaint"),
    )
    assert report == {"received": 2, "created": 1, "updated": 0, "duplicates": 1}
    again = suppress(client, workspace, entry("sms", "+49 (170) 123-4567", "manual"))
    assert again == {"received": 1, "created": 0, "updated": 1, "duplicates": 0}
    assert [(i["address"], i["reason"]) for i in listing(client, workspace)["items"]] == [("+491701234567", "manual")]
    spaced = client.get("/api/v1/suppressions/sms/+49 170 1234567", headers=bearer(workspace.secret_key))
    assert spaced.json()["address"] == "+491701234567"


def test_email_addresses_are_compared_in_lower_case(client, workspace):
    suppress(client, workspace, entry("email", "Ana.Lopez@Example.COM"))
    secret = bearer(workspace.secret_key)
    assert client.get("/api/v1/suppressions/email/ana.lopez@example.com", headers=secret).status_code == 200
    assert client.delete("/api/v1/suppressions/email/ANA.LOPEZ@EXAMPLE.COM", headers=secret).status_code == 204
    gone = client.get("/api/v1/suppressions/email/Ana.Lopez@Example.COM", headers=secret)
    assert gone.status_code == 404
    assert gone.json()["code"] == "suppression_not_found"
    assert listing(client, workspace)["items"] == []


def test_the_list_pages_by_cursor_and_filters_by_channel_and_search(client, workspace):
    added = [entry("email", f"user{i}@example.com") for i in range(5)]
    added += [entry("sms", "+491701234567"), entry("sms", "+4930123456"), entry("push", "token-a")]
    suppress(client, workspace, *added)
    pages, cursor = [], None
    while True:
        page = listing(client, workspace, limit=3, **({"cursor": cursor} if cursor else {}))
        pages.append(keys(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    seen = [key for page in pages for key in page]
    assert seen == sorted(seen)
    assert sorted(seen) == sorted((e["channel"], e["address"]) for e in added)

    sms = listing(client, workspace, channel="sms")["items"]
    assert keys(sms) == [("sms", "+491701234567"), ("sms", "+4930123456")]
    assert keys(listing(client, workspace, search="USER3")["items"]) == [("email", "user3@example.com")]
    assert keys(listing(client, workspace, search="+49 170")["items"]) == [("sms", "+491701234567")]
    assert keys(listing(client, workspace, channel="email", search="+49")["items"]) == []
    first = listing(client, workspace, channel="email", limit=2)
    rest = listing(client, workspace, channel="email", limit=10, cursor=first["next_cursor"])
    assert len(first["items"]) + len(rest["items"]) == 5
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"channel": "pigeon"}, "invalid_channel"),
        ({"channel": "in_app"}, "invalid_channel"),
    ],
)
def test_invalid_listing_parameters_are_a_400(client, workspace, params, code):
    response = client.get("/api/v1/suppressions", headers=bearer(workspace.secret_key), params=params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


def test_an_absent_entry_is_a_404_to_get_and_to_delete(client, workspace):
    secret = bearer(workspace.secret_key)
    suppress(client, workspace, entry("push", "token-a"))
    for method in ("GET", "DELETE"):
        response = client.request(method, "/api/v1/suppressions/push/token-b", headers=secret)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["code"] == "suppression_not_found"
        assert "token-b" not in response.text
    assert client.delete("/api/v1/suppressions/push/token-a", headers=secret).status_code == 204
    assert client.delete("/api/v1/suppressions/push/token-a", headers=secret).status_code == 404


@pytest.mark.parametrize(
    ("bad", "field", "code"),
    [
        (entry("pigeon", "ana@example.com"), "channel", "invalid_channel"),
        (entry("in_app", "ana@example.com"), "channel", "invalid_channel"),
        (entry("email", "not-an-email"), "address", "invalid_address"),
        (entry("email", "ana@localhost"), "address", "invalid_address"),
        (entry("sms", "0170 1234567"), "address", "invalid_address"),
        (entry("sms", "+1 555"), "address", "invalid_address"),
        (entry("push", "token with spaces"), "address", "invalid_address"),
        (entry("push", "   "), "address", "invalid_address"),
        (entry("push", "t" * 513), "address", "invalid_address"),
        (entry("push", "nul\x00token"), "address", "invalid_address"),
        (entry("email", "ana@example.com", "bounced"), "reason", "invalid_reason"),
        (entry("email", "ana@example.com", note="n" * 501), "note", "invalid_note"),
        (entry("email", "ana@example.com", note="nul \x00"), "note", "invalid_note"),
        (entry("email", "ana@example.com", source="s" * 101), "source", "invalid_source"),
    ],
)
def test_an_invalid_entry_refuses_the_whole_batch(client, workspace, bad, field, code):
    good = entry("email", "good@example.com")
    body = suppress(client, workspace, good, entry("sms", "+491701234567"), bad, expect=400)
    assert body["code"] == "invalid_entries"
    assert body["errors"] == [{"index": 2, "field": field, "code": code, "message": body["errors"][0]["message"]}]
    assert body["errors"][0]["message"]
    assert listing(client, workspace)["items"] == []
    found = client.get("/api/v1/suppressions/email/good@example.com", headers=bearer(workspace.secret_key))
    assert found.status_code == 404


def test_every_invalid_entry_is_reported_with_its_index(client, workspace):
    body = suppress(
        client,
        workspace,
        entry("sms", "12345"),
        entry("email", "ok@example.com"),
        entry("fax", "+491701234567"),
        expect=400,
    )
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(0, "invalid_address"), (2, "invalid_channel")]


@pytest.mark.parametrize(
    "body",
    [
        {"entries": []},
        {"entries": [entry("email", f"u{i}@example.com") for i in range(1001)]},
        {"entries": [{"channel": "email", "address": 42}]},
        {"entries": [{"address": "ana@example.com"}]},
        {"entry": [entry("email", "ana@example.com")]},
    ],
)
def test_a_body_that_does_not_match_the_api_is_a_422(client, workspace, body):
    response = client.post("/api/v1/suppressions", headers=bearer(workspace.secret_key), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"
    assert listing(client, workspace)["items"] == []


def test_a_thousand_entries_are_taken_in_one_call(client, workspace):
    report = suppress(client, workspace, *[entry("email", f"u{i}@example.com", "import") for i in range(1000)])
    assert report["created"] == 1000
    assert listing(client, workspace, limit=500)["next_cursor"] is not None


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/suppressions/pigeon/ana@example.com", "invalid_channel"),
        ("/api/v1/suppressions/sms/0170-1234567", "invalid_address"),
        ("/api/v1/suppressions/email/not-an-email", "invalid_address"),
    ],
)
def test_an_invalid_path_is_a_400(client, workspace, path, code):
    for method in ("GET", "DELETE"):
        response = client.request(method, path, headers=bearer(workspace.secret_key))
        assert response.status_code == 400, (method, response.text)
        assert response.json()["code"] == code


def test_another_workspace_neither_sees_nor_removes_an_entry(client, workspace, other_workspace):
    suppress(client, workspace, entry("email", "ana@example.com", note="sentinel-note"))
    foreign = bearer(other_workspace.secret_key)
    assert client.get("/api/v1/suppressions/email/ana@example.com", headers=foreign).status_code == 404
    assert client.delete("/api/v1/suppressions/email/ana@example.com", headers=foreign).status_code == 404
    assert client.get("/api/v1/suppressions", headers=foreign).json()["items"] == []
    assert keys(listing(client, workspace)["items"]) == [("email", "ana@example.com")]
    suppress(client, other_workspace, entry("email", "ana@example.com", "complaint"))
    assert listing(client, workspace)["items"][0]["reason"] == "manual"


@pytest.fixture
def ana(client, runtime, workspace):
    client.post(
        "/v1/batch",
        headers=basic(workspace.write_key),
        json={
            "batch": [
                {
                    "type": "track",
                    "anonymousId": "dev-1",
                    "event": "Application Installed",
                    "context": {"device": {"id": "dev-1", "type": "ios", "token": "apns-token-1"}},
                },
                {
                    "type": "identify",
                    "anonymousId": "dev-1",
                    "userId": "u-ana",
                    "traits": {"email": "Ana@Example.com", "phone": "+49 30 1234567"},
                },
            ]
        },
    )
    settle(runtime)
    return "u-ana"


def test_the_profile_view_shows_the_entries_of_its_own_addresses(client, workspace, other_workspace, ana):
    suppress(
        client,
        workspace,
        entry("email", "ANA@example.com", "complaint"),
        entry("sms", "+49 30 123 4567", "carrier_opt_out"),
        entry("push", "apns-token-1", "invalid_address"),
        entry("email", "someone-else@example.com", "hard_bounce"),
        entry("sms", "+4930999999"),
    )
    suppress(client, other_workspace, entry("web_push", "apns-token-1", "unsubscribe"))
    secret = bearer(workspace.secret_key)
    view = client.get("/api/v1/profiles/u-ana", headers=secret).json()
    assert [(s["channel"], s["address"], s["reason"]) for s in view["suppressions"]] == [
        ("email", "ana@example.com", "complaint"),
        ("push", "apns-token-1", "invalid_address"),
        ("sms", "+49301234567", "carrier_opt_out"),
    ]
    assert client.delete("/api/v1/suppressions/push/apns-token-1", headers=secret).status_code == 204
    again = client.get("/api/v1/profiles/ana@example.com", headers=secret).json()
    assert keys(again["suppressions"]) == [("email", "ana@example.com"), ("sms", "+49301234567")]
    export = orjson.loads(client.get("/api/v1/profiles/u-ana/export", headers=secret).content)
    assert keys(export["suppressions"]) == keys(again["suppressions"])


def test_a_profile_without_listed_addresses_shows_none(client, workspace, ana):
    suppress(client, workspace, entry("email", "someone-else@example.com"))
    view = client.get("/api/v1/profiles/u-ana", headers=bearer(workspace.secret_key)).json()
    assert view["suppressions"] == []


def test_erasing_a_person_leaves_their_addresses_suppressed(client, workspace, ana):
    suppress(client, workspace, entry("email", "ana@example.com", "complaint"))
    secret = bearer(workspace.secret_key)
    assert client.post("/api/v1/profiles/u-ana/erase", headers=secret).status_code == 202
    assert client.get("/api/v1/profiles/u-ana", headers=secret).status_code == 404
    assert client.get("/api/v1/suppressions/email/ana@example.com", headers=secret).json()["reason"] == "complaint"
