"""Operational store contract, run on SQLite and PostgreSQL: projection, merges, privacy, suppression list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from tests.factories import make_record

from loopline.actions.projection import CURSOR, do_project_once
from loopline.actions.workspaces import do_create_workspace
from loopline.bootstrap import open_services
from loopline.domain.devices import DeviceSeen
from loopline.domain.identity import IdentityGraph
from loopline.domain.profiles import Profile
from loopline.domain.suppression_list import SuppressionEntry
from loopline.store import migrations
from loopline.store.sql.profiles import ProjectionBatch
from loopline.store.sql.tables import metadata

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def services(settings):
    svc = open_services(settings)
    yield svc
    svc.close()


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


def _alembic(engine, operation, revision):
    config = Config()
    config.set_main_option("script_location", str(migrations.HERE))
    with engine.execution_options(write=True).begin() as connection:
        config.attributes["connection"] = connection
        operation(config, revision)


def test_the_migrated_schema_is_the_one_the_code_declares(services):
    # On PostgreSQL the event store's tables share the schema; they are not this store's.
    def ours(name, kind, _parent):
        return kind != "table" or name in metadata.tables

    with services.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": ours})
        assert compare_metadata(context, metadata) == []


def test_the_suppression_list_migration_is_safe_to_re_run(services):
    store = services.suppression_list
    store.upsert_entries(workspace_id="ws1", entries=[_entry("email", "kept@example.com")], now=T0)
    # The table exists but the stamp says it does not: upgrading again must keep the rows.
    _alembic(services.engine, command.stamp, "0001")
    migrations.upgrade(services.engine)
    assert migrations.current_revision(services.engine) == migrations.head_revision()
    assert store.is_suppressed(workspace_id="ws1", channel="email", address="kept@example.com")
    _alembic(services.engine, command.downgrade, "0001")
    assert not sa.inspect(services.engine).has_table("contact_suppressions")
    migrations.upgrade(services.engine)
    assert not store.is_suppressed(workspace_id="ws1", channel="email", address="kept@example.com")


def _entry(channel, address, reason="manual", note=None, source="api"):
    return SuppressionEntry(channel=channel, address=address, reason=reason, note=note, source=source)


def test_suppression_entries_are_upserted_keeping_created_at(services):
    store = services.suppression_list
    new = store.upsert_entries(workspace_id="ws1", now=T0, entries=[
        _entry("email", "ana@example.com", "hard_bounce", note="550"), _entry("sms", "+491701234567")])
    assert new == 2
    later = T0 + timedelta(hours=5)
    new = store.upsert_entries(workspace_id="ws1", now=later, entries=[
        _entry("email", "ana@example.com", "complaint", source="fbl"), _entry("push", "tok")])
    assert new == 1
    row = store.get_entry(workspace_id="ws1", channel="email", address="ana@example.com")
    assert row is not None
    assert (row.reason, row.note, row.source) == ("complaint", None, "fbl")
    assert (row.created_at, row.updated_at) == (T0, later)
    assert store.get_entry(workspace_id="ws2", channel="email", address="ana@example.com") is None
    assert store.get_entry(workspace_id="ws1", channel="sms", address="ana@example.com") is None
    assert store.delete_entry(workspace_id="ws2", channel="email", address="ana@example.com") is False
    assert store.delete_entry(workspace_id="ws1", channel="email", address="ana@example.com") is True
    assert store.delete_entry(workspace_id="ws1", channel="email", address="ana@example.com") is False
    assert store.get_entry(workspace_id="ws1", channel="email", address="ana@example.com") is None


def test_suppression_entries_are_listed_by_keyset_with_filters(services):
    store = services.suppression_list
    entries = [_entry("email", f"u{i}@example.com") for i in range(4)]
    entries += [_entry("push", "Tok-A"), _entry("push", "tok-b"), _entry("sms", "+491701234567")]
    store.upsert_entries(workspace_id="ws1", entries=entries, now=T0)
    store.upsert_entries(workspace_id="ws2", entries=[_entry("email", "u0@example.com")], now=T0)
    seen, after = [], None
    while True:
        page = store.list_entries(workspace_id="ws1", limit=3, after=after)
        seen += [(r.channel, r.address) for r in page.items]
        after = page.next_after
        if after is None:
            break
    assert seen == sorted(e.key for e in entries)
    only_push = store.list_entries(workspace_id="ws1", limit=10, channel="push")
    assert [r.address for r in only_push.items] == ["Tok-A", "tok-b"]
    # Prefixes compare exactly on both dialects (SQLite's LIKE would ignore case).
    assert [r.address for r in store.list_entries(workspace_id="ws1", limit=10, prefixes=["tok"]).items] == ["tok-b"]
    found = store.list_entries(workspace_id="ws1", limit=10, prefixes=["u1", "+4917"]).items
    assert [r.address for r in found] == ["u1@example.com", "+491701234567"]
    assert store.list_entries(workspace_id="ws1", limit=10, prefixes=["%"]).items == []
    assert store.list_entries(workspace_id="ws3", limit=10).items == []


def test_suppressed_addresses_are_checked_in_bulk_and_inside_a_transaction(services):
    store = services.suppression_list
    listed = [f"u{i}@example.com" for i in range(0, 2500, 2)]
    store.upsert_entries(workspace_id="ws1", entries=[_entry("email", a) for a in listed], now=T0)
    asked = [f"u{i}@example.com" for i in range(2500)]
    assert store.list_suppressed(workspace_id="ws1", channel="email", addresses=asked) == set(listed)
    assert store.list_suppressed(workspace_id="ws1", channel="sms", addresses=asked) == set()
    assert store.list_suppressed(workspace_id="ws2", channel="email", addresses=asked) == set()
    assert store.is_suppressed(workspace_id="ws1", channel="email", address="u2@example.com")
    assert not store.is_suppressed(workspace_id="ws1", channel="email", address="u3@example.com")
    with services.engine.execution_options(write=True).begin() as conn:
        assert store.is_suppressed(workspace_id="ws1", channel="email", address="u4@example.com", conn=conn)
        assert store.list_suppressed(workspace_id="ws1", channel="email", addresses=["u4@example.com", "x@y.de"],
                                     conn=conn) == {"u4@example.com"}
        assert not conn.closed  # the caller's transaction is left open for the caller
    rows = store.list_entries_for(workspace_id="ws1", keys=[("email", "u4@example.com"), ("sms", "u4@example.com"),
                                                            ("email", "u5@example.com"), ("email", "u0@example.com")])
    assert [(r.channel, r.address) for r in rows] == [("email", "u0@example.com"), ("email", "u4@example.com")]
