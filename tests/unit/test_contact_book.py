"""A claim that sends on given channels reads only their addresses; push tokens only for push."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from loopline.store import migrations
from loopline.store.sql.contacts import SqlContactBook
from loopline.store.sql.engine import create_store_engine
from loopline.store.sql.tables import devices, identities, profiles, workspaces

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def test_push_tokens_are_read_when_a_push_channel_is_wanted_or_none_is_named(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(workspaces.insert(), {"id": "ws_1", "name": "Shop", "created_at": NOW})
        conn.execute(profiles.insert(), {"id": "p_1", "workspace_id": "ws_1", "traits": {}, "trait_times": {},
                                         "computed": {}, "merged_into": None, "created_at": NOW, "updated_at": NOW})
        conn.execute(identities.insert(), {"workspace_id": "ws_1", "kind": "email", "value": "ana@example.com",
                                           "profile_id": "p_1", "created_at": NOW})
        conn.execute(devices.insert(), {"workspace_id": "ws_1", "device_id": "d_1", "profile_id": "p_1",
                                        "platform": "ios", "push_token": "tok-1", "first_seen": NOW, "last_seen": NOW})
        book = SqlContactBook()

        def reach(channels: list[str] | None) -> dict[str, tuple[str, ...]]:
            found = book.load(conn, workspace_id="ws_1", profile_ids=["p_1"], channels=channels)
            return dict(found["p_1"].contact.addresses)

        assert reach(None) == {"email": ("ana@example.com",), "push": ("tok-1",), "in_app": ("p_1",)}
        assert reach(["push", "email"]) == reach(None)
        assert reach(["email"]) == {"email": ("ana@example.com",), "in_app": ("p_1",)}
    engine.dispose()
