"""Operational store contract, run on SQLite and PostgreSQL: projection, merges, privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from tests.factories import make_record

from loopline.actions.projection import CURSOR, do_project_once
from loopline.actions.workspaces import do_create_workspace
from loopline.bootstrap import open_services
from loopline.domain.devices import DeviceSeen
from loopline.domain.identity import IdentityGraph
from loopline.domain.profiles import Profile
from loopline.store import migrations
from loopline.store.sql.profiles import ProjectionBatch

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def services(settings):
    svc = open_services(settings)
    yield svc
    svc.events.close()
    svc.engine.dispose()


def test_migrations_are_idempotent(services):
    migrations.upgrade(services.engine)
    migrations.upgrade(services.engine)
    assert migrations.current_revision(services.engine) == migrations.head_revision()


def test_projection_round_trip_and_cursor(services):
    graph = IdentityGraph("ws1")
    profile = Profile(workspace_id="ws1", profile_id="p1", traits={"name": "Ana"},
                      trait_times={"name": T0.isoformat()})
    graph.profiles["p1"] = profile
    graph.assign(("user_id", "u1"), "p1")
    graph.assign(("email", "ana@example.com"), "p1")
    device = DeviceSeen(device_id="d1", profile_id="p1", seen_at=T0, platform="ios", push_token="tok")
    services.profiles.save_projection(ProjectionBatch([graph], [("ws1", device)], [], CURSOR, 42), now=T0)
    assert services.profiles.get_cursor(name=CURSOR) == 42
    loaded = services.profiles.load_graph(workspace_id="ws1", identifiers=[("user_id", "u1")])
    assert loaded.owner(("email", "ana@example.com")) == "p1"
    assert loaded.profiles["p1"].traits == {"name": "Ana"}
    assert services.profiles.load_graph(workspace_id="ws2", identifiers=[("user_id", "u1")]).owners == {}
    (stored,) = services.lookups.list_devices(workspace_id="ws1", profile_id="p1")
    assert stored["push_token"] == "tok"
    assert stored["last_seen"] == T0


def test_an_older_device_sighting_does_not_overwrite_a_newer_one(services):
    graph = IdentityGraph("ws1")
    graph.profiles["p1"] = Profile(workspace_id="ws1", profile_id="p1")
    newer = DeviceSeen(device_id="d1", profile_id="p1", seen_at=T0 + timedelta(days=1), app_version="2.0")
    older = DeviceSeen(device_id="d1", profile_id="p1", seen_at=T0, app_version="1.0", model="Pixel 8")
    services.profiles.save_projection(ProjectionBatch([graph], [("ws1", newer)], [], CURSOR, 1), now=T0)
    services.profiles.save_projection(ProjectionBatch([], [("ws1", older)], [], CURSOR, 2), now=T0)
    (stored,) = services.lookups.list_devices(workspace_id="ws1", profile_id="p1")
    assert stored["app_version"] == "2.0"
    assert stored["model"] == "Pixel 8"
    assert stored["first_seen"] == T0


def test_projection_is_exactly_once_across_a_failed_save(services, monkeypatch):
    ws = do_create_workspace(services, name="w").id
    services.events.append([make_record(workspace_id=ws, message_id=f"m{i}", user_id="u1", type="track",
                                        event="Order Completed", properties={"revenue": 10})
                            for i in range(3)])
    original = services.profiles.save_projection

    def crash(*args, **kwargs):
        raise sa.exc.OperationalError("save", {}, Exception("disk full"))

    monkeypatch.setattr(services.profiles, "save_projection", crash)
    with pytest.raises(sa.exc.OperationalError):
        do_project_once(services)
    monkeypatch.setattr(services.profiles, "save_projection", original)
    assert services.profiles.get_cursor(name=CURSOR) == 0
    while do_project_once(services):
        pass
    while do_project_once(services):
        pass
    profile = services.lookups.find_profile(workspace_id=ws, reference="u1")
    assert profile is not None
    assert profile.computed.orders == 3
    assert profile.computed.gross_revenue == 30


def test_merge_moves_devices_and_keeps_the_newest_consent(services):
    ws = do_create_workspace(services, name="w").id
    services.events.append([
        make_record(workspace_id=ws, message_id="a", anonymous_id="dev", user_id=None, type="track",
                    event="Application Opened", context={"device": {"id": "dev", "type": "android"}}),
    ])
    do_project_once(services)
    anon = services.lookups.find_profile(workspace_id=ws, reference="dev")
    assert anon is not None
    services.privacy.set_consents(workspace_id=ws, profile_id=anon.profile_id, now=T0 + timedelta(days=2),
                                  choices=[{"channel": "email", "topic": "all", "status": "opted_out",
                                            "source": "app"}])
    services.events.append([
        make_record(workspace_id=ws, message_id="b", user_id="u1", anonymous_id=None, type="track", event="x",
                    context={}),
    ])
    do_project_once(services)
    known = services.lookups.find_profile(workspace_id=ws, reference="u1")
    assert known is not None
    services.privacy.set_consents(workspace_id=ws, profile_id=known.profile_id, now=T0,
                                  choices=[{"channel": "email", "topic": "all", "status": "opted_in",
                                            "source": "signup"}])
    services.events.append([
        make_record(workspace_id=ws, message_id="c", user_id="u1", anonymous_id="dev", type="identify",
                    event=None, context={}),
    ])
    do_project_once(services)
    merged = services.lookups.find_profile(workspace_id=ws, reference="dev")
    assert merged is not None
    assert merged.profile_id == known.profile_id
    (device,) = services.lookups.list_devices(workspace_id=ws, profile_id=known.profile_id)
    assert device["platform"] == "android"
    (consent,) = services.lookups.list_consents(workspace_id=ws, profile_id=known.profile_id)
    assert consent["status"] == "opted_out"
