"""The live stream (Server-Sent Events): the messages due when it opens, then each message stored
while it is open, heartbeats in between, and an end — after its lifetime, or when the client goes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

from loopline.api import in_app as in_app_api
from loopline.config import Settings
from loopline.ports import Outbound
from tests.conftest import basic, bearer
from tests.e2e.conftest import LiveServer, run_live_server

LIFETIME_S = 6.0


@pytest.fixture
def stream_server(settings: Settings) -> Iterator[LiveServer]:
    """A live server whose streams last a few seconds and whose feed polls five times a second."""
    bounded = settings.model_copy(update={"in_app_stream_max_seconds": LIFETIME_S, "in_app_stream_poll_s": 0.2})
    with run_live_server(bounded) as server:
        yield server


def _customer(server: LiveServer, user_id: str) -> str:
    response = httpx.post(f"{server.url}/v1/identify", headers=basic(server.workspace.write_key),
                          json={"userId": user_id, "traits": {"firstName": "Kim"}}, timeout=10)
    assert response.status_code == 200, response.text
    server.settle()
    view = httpx.get(f"{server.url}/api/v1/profiles/{user_id}", headers=bearer(server.workspace.secret_key), timeout=10)
    return str(view.json()["id"])


def _store(services: Any, workspace_id: str, profile_id: str, key: str, body: str) -> None:
    (answer,) = services.channels["in_app"].deliver([Outbound(
        key, workspace_id, "cmp_stream", profile_id, "in_app", profile_id, "Live", body, None, {"layout": "banner"})])
    assert answer.accepted


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Yield each event of an SSE stream as {"fields": {...}, "comments": [...]}."""
    fields: dict[str, str] = {}
    comments: list[str] = []
    for line in lines:
        if line == "":
            yield {"fields": fields, "comments": comments}
            fields, comments = {}, []
        elif line.startswith(":"):
            comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def test_the_stream_sends_what_is_due_then_a_message_stored_after_it_opened(stream_server: LiveServer) -> None:
    server, services = stream_server, stream_server.runtime.services
    workspace = server.workspace.id
    profile = _customer(server, "u-live")
    _store(services, workspace, profile, "sk_live_due", "Already due")
    params = {"userId": "u-live", "writeKey": server.workspace.write_key}
    opened = time.monotonic()
    with httpx.stream("GET", f"{server.url}/v1/in-app/stream", params=params,
                      headers={"Origin": "https://shop.example"}, timeout=15) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["cache-control"] == "no-store"
        events = _events(response.iter_lines())
        hello = next(events)
        assert (hello["fields"], hello["comments"]) == ({"retry": "3000"}, ["connected"])
        first = next(events)
        assert first["fields"]["id"] == "sk_live_due"
        assert orjson.loads(first["fields"]["data"])["body"] == "Already due"
        stored_at = time.monotonic()
        _store(services, workspace, profile, "sk_live_new", "Sent while you looked")
        second = next(events)
        arrived = time.monotonic() - stored_at
        message = orjson.loads(second["fields"]["data"])
        assert (second["fields"]["id"], message["body"], message["layout"]) == (
            "sk_live_new", "Sent while you looked", "banner")
        assert arrived < 3.0, arrived
        rest = list(events)  # nothing more, and the stream ends by itself
    lasted = time.monotonic() - opened
    assert all("data" not in event["fields"] for event in rest)
    assert LIFETIME_S - 0.5 < lasted < LIFETIME_S + 4, lasted


def test_a_stream_of_another_workspaces_key_or_a_stranger_stays_empty(stream_server: LiveServer) -> None:
    server, services = stream_server, stream_server.runtime.services
    profile = _customer(server, "u-private")
    _store(services, server.workspace.id, profile, "sk_private", "For u-private only")
    other = httpx.post(f"{server.url}/api/v1/workspaces", headers=bearer(server.admin_token),
                       json={"name": "Other shop"}, timeout=10).json()
    asks = ((other["write_key"], "u-private"), (server.workspace.write_key, "u-stranger"))
    with ThreadPoolExecutor(len(asks)) as pool:  # both streams at once: each lasts its whole lifetime
        bodies = list(pool.map(lambda ask: httpx.get(f"{server.url}/v1/in-app/stream", timeout=15, params={
            "userId": ask[1], "writeKey": ask[0]}).text, asks))
    for body in bodies:
        assert body.startswith("retry: 3000")
        assert "data:" not in body
        assert "For u-private only" not in body


def test_bad_stream_requests_get_a_code_not_a_stream(stream_server: LiveServer) -> None:
    url = f"{stream_server.url}/v1/in-app/stream"
    missing = httpx.get(url, params={"writeKey": stream_server.workspace.write_key}, timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (400, "missing_identity")
    unknown = httpx.get(url, params={"userId": "u", "writeKey": "llw_nope"}, timeout=10)
    assert unknown.status_code == 401
    assert unknown.headers["content-type"].startswith("application/json")


def test_the_stream_beats_finds_a_newcomer_and_ends_when_the_client_goes(client, runtime, workspace,
                                                                        monkeypatch) -> None:
    """In one process: heartbeats as comments, a visitor unknown when the stream opened gets the
    message stored once they are known, and closing the connection ends the stream at once."""
    monkeypatch.setattr(in_app_api, "HEARTBEAT_S", 0.3)
    monkeypatch.setattr(in_app_api, "LOOKUP_UNKNOWN_S", 0.3)
    services = runtime.services
    services.settings = services.settings.model_copy(update={"in_app_stream_max_seconds": 30.0,
                                                             "in_app_stream_poll_s": 0.2})
    params = {"anonymousId": "new-visitor", "writeKey": workspace.write_key}
    with client.stream("GET", "/v1/in-app/stream", params=params) as response:
        events = _events(response.iter_lines())
        assert next(events)["comments"] == ["connected"]
        assert next(events)["comments"] == ["ping"]  # nothing to send yet: a heartbeat
        feed = client.app.state.in_app_feed  # type: ignore[attr-defined]
        assert feed.watching == 0  # a stranger: nobody to watch yet
        assert client.post("/v1/track", headers=basic(workspace.write_key), json={
            "anonymousId": "new-visitor", "event": "Product Viewed"}).status_code == 200
        runtime.projector.catch_up()
        profile = client.get("/api/v1/profiles/new-visitor", headers=bearer(workspace.secret_key)).json()["id"]
        _store(services, workspace.id, profile, "sk_welcome", "Welcome!")
        found = next(event for event in events if "data" in event["fields"])
        assert orjson.loads(found["fields"]["data"])["body"] == "Welcome!"
        assert feed.watching == 1
    deadline = time.monotonic() + 5
    while feed.watching and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed.watching == 0
