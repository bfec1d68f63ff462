"""What analytics.js 2.0 asks of the server: its settings document, its files, its short paths."""

from __future__ import annotations

import orjson
import pytest

from loopline.api.browser_sdk import settings_document
from tests.conftest import settle


def test_the_settings_document_points_the_library_at_this_server(client, workspace):
    answer = client.get(f"/v1/projects/{workspace.write_key}/settings")
    assert answer.status_code == 200, answer.text
    segment_io = answer.json()["integrations"]["Segment.io"]
    assert segment_io == {**segment_io, "apiKey": workspace.write_key, "apiHost": "testserver/v1", "protocol": "http"}
    assert answer.json()["metrics"]["sampleRate"] == 0  # nothing reported to anyone else
    assert answer.json()["remotePlugins"] == []


def test_a_configured_public_url_is_the_api_host(runtime, client, workspace, monkeypatch):
    monkeypatch.setattr(runtime.services.settings, "public_url", "https://track.example.com/loopline")
    segment_io = client.get(f"/v1/projects/{workspace.write_key}/settings").json()["integrations"]["Segment.io"]
    assert (segment_io["protocol"], segment_io["apiHost"]) == ("https", "track.example.com/loopline/v1")


@pytest.mark.parametrize("key", ["wk_unknown", "x" * 300])
def test_an_unknown_write_key_gets_no_settings(client, key):
    answer = client.get(f"/v1/projects/{key}/settings")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_write_key"


def test_the_library_and_its_chunks_are_served(client):
    library = client.get("/analytics-next/bundles/index.js")
    assert library.status_code == 200
    assert b"AnalyticsNext" in library.content
    assert client.get("/analytics-next/bundles/nothing-here.js").status_code == 404


@pytest.mark.parametrize(("path", "message"), [
    ("/v1/t", {"type": "track", "event": "Product Added", "anonymousId": "a-1"}),
    ("/v1/p", {"type": "page", "name": "Home", "anonymousId": "a-1"}),
    ("/v1/i", {"type": "identify", "userId": "u-1", "traits": {"email": "u1@example.com"}}),
])
def test_the_short_paths_take_text_plain_json_with_the_key_in_the_body(client, runtime, workspace, path, message):
    # As the library sends them: text/plain (no CORS preflight), the write key in the body.
    body = orjson.dumps({**message, "writeKey": workspace.write_key})
    answer = client.post(path, content=body, headers={"Content-Type": "text/plain", "Origin": "https://shop.example"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    settle(runtime)
    assert runtime.services.events.count(workspace_id=workspace.id) == 1


def test_a_short_path_refuses_what_the_long_one_refuses(client, workspace):
    answer = client.post("/v1/t", content=b"{not json", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 400
    missing = client.post("/v1/t", json={"type": "track", "event": "X", "anonymousId": "a"})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_write_key"


def test_the_document_names_only_the_segment_io_destination():
    document = settings_document(write_key="wk_1", protocol="https", host="h.example")
    assert list(document["integrations"]) == ["Segment.io"]
