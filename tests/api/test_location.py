"""IP-derived and explicit locations through the ingest API, into events and profiles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from loopline.actions.workspaces import WorkspaceCreated, do_create_workspace
from loopline.api.app import create_app
from loopline.bootstrap import Runtime, build_runtime
from loopline.config import Settings
from tests.conftest import ADMIN_TOKEN, basic, bearer, settle
from tests.geoip import write_city_database

BROWSER = {"library": {"name": "analytics.js", "version": "4.1.0"}}
SERVER = {"library": {"name": "analytics-python", "version": "2.3.0"}}


@pytest.fixture
def geo_runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime whose settings name a GeoIP database."""
    database = write_city_database(settings.data_dir / "city.mmdb")
    runtime = build_runtime(settings.model_copy(update={"geoip_database": database}))
    yield runtime
    runtime.services.engine.dispose()


@pytest.fixture
def shop(geo_runtime: Runtime) -> WorkspaceCreated:
    return do_create_workspace(geo_runtime.services, name="Geo shop")


def _client(runtime: Runtime, address: str) -> TestClient:
    # The client tuple is the peer address the server sees, as behind no proxy.
    return TestClient(create_app(runtime, admin_token=ADMIN_TOKEN), client=(address, 50000))


def _stored(runtime: Runtime, workspace_id: str, user: str) -> list[dict[str, object]]:
    records = runtime.services.events.list_for_identifiers(
        workspace_id=workspace_id, identifiers=[("user_id", user)])
    return [record.context for record in records]


def test_a_browser_event_is_placed_by_the_request_address(geo_runtime, shop):
    with _client(geo_runtime, "81.200.16.7") as client:
        response = client.post("/v1/track", headers=basic(shop.write_key),
                               json={"userId": "u-web", "event": "Page Viewed", "context": BROWSER})
        assert response.status_code == 200, response.text
        settle(geo_runtime)
        [context] = _stored(geo_runtime, shop.id, "u-web")
        assert context["ip"] == "81.200.16.7"
        assert context["geoip"] == {"source": "ip", "country": "DE", "region": "BE", "city": "Berlin",
                                    "postal_code": "10115", "latitude": 52.5244, "longitude": 13.4105,
                                    "time_zone": "Europe/Berlin", "accuracy_km": 20.0}
        profile = client.get("/api/v1/profiles/u-web", headers=bearer(shop.secret_key)).json()
        assert profile["computed"]["location"]["city"] == "Berlin"
        assert profile["computed"]["location"]["source"] == "ip"


def test_a_server_side_event_uses_only_the_ip_it_names(geo_runtime, shop):
    with _client(geo_runtime, "81.200.16.7") as client:
        client.post("/v1/batch", headers=basic(shop.write_key), json={"batch": [
            {"type": "track", "userId": "u-srv", "event": "Order Completed", "context": SERVER},
            {"type": "track", "userId": "u-v6", "event": "Order Completed",
             "context": {**SERVER, "ip": "2a01:cb00:77::1"}},
        ]}).raise_for_status()
        settle(geo_runtime)
        [unplaced] = _stored(geo_runtime, shop.id, "u-srv")
        assert "ip" not in unplaced
        assert "geoip" not in unplaced
        [paris] = _stored(geo_runtime, shop.id, "u-v6")
        assert paris["geoip"]["city"] == "Paris"


def test_a_client_cannot_forge_the_derived_location(geo_runtime, shop):
    with _client(geo_runtime, "10.1.2.3") as client:
        client.post("/v1/track", headers=basic(shop.write_key), json={
            "userId": "u-forge", "event": "Page Viewed",
            "context": {**BROWSER, "geoip": {"country": "KP", "city": "Pyongyang"}},
        }).raise_for_status()
        settle(geo_runtime)
        [context] = _stored(geo_runtime, shop.id, "u-forge")
        assert "geoip" not in context  # dropped, and a private peer address is not looked up
        assert context["ip"] == "10.1.2.3"
        profile = client.get("/api/v1/profiles/u-forge", headers=bearer(shop.secret_key)).json()
        assert profile["computed"]["location"] is None


def test_an_explicit_location_wins_and_the_latest_event_decides(geo_runtime, shop):
    with _client(geo_runtime, "81.200.16.7") as client:
        client.post("/v1/batch", headers=basic(shop.write_key), json={"batch": [
            {"type": "track", "userId": "u-app", "event": "Application Opened",
             "timestamp": "2026-06-02T10:00:00Z",
             "context": {**BROWSER, "location": {"country": "Spain", "city": "Madrid",
                                                 "latitude": 40.4168, "longitude": -3.7038}}},
            {"type": "track", "userId": "u-app", "event": "Application Opened",
             "timestamp": "2026-06-01T10:00:00Z", "context": BROWSER},
        ]}).raise_for_status()
        settle(geo_runtime)
        location = client.get("/api/v1/profiles/u-app", headers=bearer(shop.secret_key)).json()["computed"]["location"]
        assert location == {"source": "explicit", "country": "ES", "city": "Madrid",
                            "latitude": 40.4168, "longitude": -3.7038}


def test_without_a_database_events_keep_only_what_they_sent(client, runtime, workspace):
    client.post("/v1/track", headers=basic(workspace.write_key), json={
        "userId": "u-plain", "event": "Page Viewed",
        "context": {**SERVER, "ip": "81.200.16.7", "geoip": {"country": "KP"}},
    }).raise_for_status()
    settle(runtime)
    [context] = _stored(runtime, workspace.id, "u-plain")
    assert context == {**SERVER, "ip": "81.200.16.7"}
