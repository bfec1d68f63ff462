"""The Segment-compatible ingest API: every endpoint, auth, dedupe, limits and bad input."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest

from tests.conftest import basic, settle, track


def stored(runtime, workspace) -> int:
    return runtime.services.events.count(workspace_id=workspace.id)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/identify", {"userId": "u1", "traits": {"email": "a@example.com"}}),
        ("/v1/track", {"userId": "u1", "event": "Signed Up"}),
        ("/v1/page", {"anonymousId": "a1", "name": "Home"}),
        ("/v1/screen", {"anonymousId": "a1", "name": "Cart"}),
        ("/v1/group", {"userId": "u1", "groupId": "g1", "traits": {"name": "Acme"}}),
        ("/v1/alias", {"userId": "u1", "previousId": "a1"}),
    ],
)
def test_each_endpoint_stores_its_message(client, runtime, workspace, path, body):
    response = client.post(path, json=body, headers=basic(workspace.write_key))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    assert stored(runtime, workspace) == 1


def test_write_key_in_the_body_is_accepted(client, runtime, workspace):
    body = {"writeKey": workspace.write_key,
            "batch": [{"type": "track", **track("u1")}, {"type": "track", **track("u2")}]}
    response = client.post("/v1/batch", json=body)
    assert response.status_code == 200
    assert stored(runtime, workspace) == 2


def test_import_endpoint_takes_a_batch(client, runtime, workspace):
    body = {"batch": [{"type": "track", **track("u1", timestamp="2024-01-01T00:00:00Z")}]}
    assert client.post("/v1/import", json=body, headers=basic(workspace.write_key)).status_code == 200
    assert stored(runtime, workspace) == 1


def test_gzip_bodies_are_accepted(client, runtime, workspace):
    body = gzip.compress(orjson.dumps({"batch": [{"type": "track", **track("u1")}]}))
    headers = {**basic(workspace.write_key), "Content-Encoding": "gzip",
               "Content-Type": "application/json"}
    assert client.post("/v1/batch", content=body, headers=headers).status_code == 200
    assert stored(runtime, workspace) == 1


def test_message_ids_are_deduplicated_per_workspace(client, runtime, workspace, other_workspace):
    message = {"type": "track", **track("u1", messageId="same")}
    for key in (workspace.write_key, workspace.write_key, other_workspace.write_key):
        client.post("/v1/batch", json={"batch": [message, message]}, headers=basic(key))
    assert stored(runtime, workspace) == 1
    assert stored(runtime, other_workspace) == 1


def test_events_show_up_on_the_profile(client, runtime, workspace):
    headers = basic(workspace.write_key)
    client.post("/v1/track", json={"anonymousId": "dev-1", "event": "Application Opened"},
                headers=headers)
    client.post("/v1/identify", json={"anonymousId": "dev-1", "userId": "u-1",
                                      "traits": {"email": "Ana@Example.com", "name": "Ana"}},
                headers=headers)
    client.post("/v1/track", json={"userId": "u-1", "event": "Order Completed",
                                   "properties": {"order_id": "o1", "revenue": 42.5}},
                headers=headers)
    settle(runtime)
    profile = runtime.services.lookups.find_profile(workspace_id=workspace.id, reference="dev-1")
    assert profile is not None
    assert profile.traits["name"] == "Ana"
    assert profile.computed.orders == 1
    assert profile.computed.events == 3
    same = runtime.services.lookups.find_profile(workspace_id=workspace.id, reference="ana@example.com")
    assert same is not None
    assert same.profile_id == profile.profile_id


# -- bad input: a clear 4xx and nothing stored --------------------------------------------


def post_raw(client, workspace, content, content_type="application/json", **headers):
    return client.post("/v1/batch", content=content,
                       headers={**basic(workspace.write_key), "Content-Type": content_type, **headers})


@pytest.mark.parametrize(
    ("content", "content_type", "extra", "status", "code"),
    [
        (b"{not json", "application/json", {}, 400, "malformed_json"),
        (b'{"batch": [{"type": "track", "userId": "u", "event": "x", "n": NaN}]}',
         "application/json", {}, 400, "malformed_json"),
        (b'{"batch": [{"type": "track", "userId": "u", "event": "x", "n": Infinity}]}',
         "application/json", {}, 400, "malformed_json"),
        (b'{"batch": [{"type": "track", "userId": "\\ud800", "event": "x"}]}',
         "application/json", {}, 400, "malformed_json"),
        (b'{"batch": [{"type": "track", "userId": "u", "event": "\xff\xfe"}]}',
         "application/json", {}, 400, "malformed_json"),
        (gzip.compress(b'{"batch": []}', mtime=0)[:-6], "application/json", {"Content-Encoding": "gzip"},
         400, "invalid_gzip"),
        (b"<xml/>", "application/xml", {}, 415, "unsupported_content_type"),
        (b'{"batch": []}', "application/json", {}, 400, "empty_batch"),
        (b"[]", "application/json", {}, 400, "invalid_body"),
        (b"", "application/json", {}, 400, "empty_body"),
        (b'{"batch": {}}', "application/json", {}, 400, "invalid_batch"),
    ],
)
def test_malformed_requests(client, runtime, workspace, content, content_type, extra, status, code):
    response = post_raw(client, workspace, content, content_type, **extra)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert stored(runtime, workspace) == 0


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "track", "event": "x"}, "missing_id"),
        ({"type": "track", "userId": "u", "event": ""}, "missing_event"),
        ({"type": "track", "userId": "u", "event": "x", "timestamp": "yesterday"}, "invalid_timestamp"),
        ({"type": "track", "userId": "u", "event": "x", "properties": {"a": "nul\u0000"}}, "nul_character"),
        ({"type": "track", "userId": "u", "event": "x",
          "properties": {f"k{i}": 1 for i in range(10_000)}}, "too_many_keys"),
    ],
)
def test_invalid_messages_are_rejected_with_their_reason(client, runtime, workspace, message, code):
    response = client.post("/v1/batch", json={"batch": [message]}, headers=basic(workspace.write_key))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code
    assert stored(runtime, workspace) == 0


def test_deep_nesting_is_rejected(client, runtime, workspace):
    nested = '{"a":' * 200 + "1" + "}" * 200
    body = '{"batch":[{"type":"track","userId":"u","event":"x","properties":' + nested + "}]}"
    response = post_raw(client, workspace, body.encode())
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_deep"
    assert stored(runtime, workspace) == 0


def test_mixed_batch_stores_the_valid_and_lists_the_invalid(client, runtime, workspace):
    batch = [{"type": "track", **track(f"u{i}", messageId=f"m{i}")} for i in range(99)]
    batch.insert(7, {"type": "track", "event": "no ids", "messageId": "bad"})
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(workspace.write_key))
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 99
    assert body["errors"] == [{"index": 7, "messageId": "bad", "code": "missing_id",
                               "message": "every message needs a userId or an anonymousId"}]
    assert stored(runtime, workspace) == 99


def test_oversize_event_names_the_limit(client, runtime, workspace):
    big = {"type": "track", **track("u", properties={"blob": "x" * 33 * 1024})}
    response = client.post("/v1/batch", json={"batch": [big]}, headers=basic(workspace.write_key))
    assert response.status_code == 400
    assert "32768 bytes" in response.json()["errors"][0]["message"]
    assert stored(runtime, workspace) == 0


def test_oversize_batch_is_413_naming_the_limit(client, runtime, workspace):
    batch = [{"type": "track", **track("u", properties={"blob": "x" * 20_000})} for _ in range(26)]
    response = post_raw(client, workspace, json.dumps({"batch": batch}).encode())
    assert response.status_code == 413
    assert "500 KB" in response.json()["error"]["message"]
    assert stored(runtime, workspace) == 0


def test_gzip_bomb_is_stopped_at_the_limit(client, runtime, workspace):
    bomb = gzip.compress(b'{"batch": [' + b" " * 50_000_000 + b"]}")
    response = post_raw(client, workspace, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413


@pytest.mark.parametrize("key", ["", "llw_nokey_nosecret", "garbage", "lls_x_y"])
def test_wrong_keys_get_401(client, runtime, workspace, key):
    headers = basic(key) if key else {}
    response = client.post("/v1/track", json=track("u"), headers=headers)
    assert response.status_code == 401
    assert stored(runtime, workspace) == 0


def test_secret_key_cannot_ingest(client, workspace):
    response = client.post("/v1/track", json=track("u"), headers=basic(workspace.secret_key))
    assert response.status_code == 401


def test_revoked_key_fails_immediately(client, runtime, workspace):
    key_id = workspace.write_key.split("_")[1]
    assert client.post("/v1/track", json=track("u"), headers=basic(workspace.write_key)).status_code == 200
    response = client.delete(f"/api/v1/keys/{key_id}",
                             headers={"Authorization": f"Bearer {workspace.secret_key}"})
    assert response.status_code == 204
    assert client.post("/v1/track", json=track("u"), headers=basic(workspace.write_key)).status_code == 401


def test_batch_mixing_two_workspaces_keys_is_rejected_whole(client, runtime, workspace, other_workspace):
    batch = [{"type": "track", **track("u1")},
             {"type": "track", **track("u2"), "writeKey": other_workspace.write_key}]
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(workspace.write_key))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "mixed_write_keys"
    assert stored(runtime, workspace) == 0
    assert stored(runtime, other_workspace) == 0


def test_header_and_body_keys_must_agree(client, runtime, workspace, other_workspace):
    body = {"writeKey": other_workspace.write_key, "batch": [{"type": "track", **track("u")}]}
    response = client.post("/v1/batch", json=body, headers=basic(workspace.write_key))
    assert response.status_code == 401
    assert stored(runtime, workspace) == stored(runtime, other_workspace) == 0


def test_clock_skew_is_corrected(client, runtime, workspace):
    body = {"sentAt": "2100-01-01T00:00:10.000Z",
            "batch": [{"type": "track", **track("u"), "originalTimestamp": "2100-01-01T00:00:00.000Z"}]}
    before = runtime.services.clock.now()
    assert client.post("/v1/batch", json=body, headers=basic(workspace.write_key)).status_code == 200
    (record,) = runtime.services.events.list_for_identifiers(
        workspace_id=workspace.id, identifiers=[("user_id", "u")])
    skew = record.received_at - record.timestamp
    assert abs(skew.total_seconds() - 10.0) < 0.001
    assert record.received_at >= before


def test_browsers_may_send_tracking_calls_from_any_origin(client, workspace):
    origin = {"Origin": "https://shop.example.com"}
    preflight = client.options("/v1/batch", headers={
        **origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    accepted = client.post("/v1/track", headers={**origin, **basic(workspace.write_key)}, json=track("u-web"))
    assert accepted.status_code == 200
    assert accepted.headers["access-control-allow-origin"] == "*"
    refused = client.post("/v1/track", headers={**origin, **basic("llw_" + "x" * 40)}, json=track("u-web"))
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"  # the page's script can read why
    assert "access-control-allow-origin" not in client.post(
        "/v1/track", headers=basic(workspace.write_key), json=track("u-web")).headers
