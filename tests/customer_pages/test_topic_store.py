"""The topic and theme store on SQLite and PostgreSQL: every call keeps to its workspace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from loopline.bootstrap import open_services
from loopline.config import Settings
from loopline.ports import TopicRow
from loopline.services import Services

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    opened = open_services(settings)
    yield opened
    opened.close()


def _row(workspace_id: str, key: str, label: str) -> TopicRow:
    return TopicRow(workspace_id, key, label, "", ["email"], "opted_out", T0, T0)


def test_topics_are_stored_per_workspace_and_a_key_once(services: Services) -> None:
    store = services.topics
    assert store.create_topic(_row("ws1", "news", "News"))
    assert store.create_topic(_row("ws1", "deals", "Deals"))
    assert store.create_topic(_row("ws2", "news", "Other news"))
    assert not store.create_topic(_row("ws1", "news", "Again"))
    assert [row.key for row in store.list_topics(workspace_id="ws1")] == ["deals", "news"]
    found = store.get_topic(workspace_id="ws1", key="news")
    assert found is not None
    assert (found.label, found.channels, found.created_at) == ("News", ["email"], T0)
    later = T0 + timedelta(hours=1)
    replaced = store.replace_topic(workspace_id="ws1", key="news", now=later, values={
        "label": "Newsletter", "description": "monthly", "channels": ["email", "sms"], "default_status": "opted_in"})
    assert replaced is not None
    assert (replaced.label, replaced.channels, replaced.created_at, replaced.updated_at) == (
        "Newsletter", ["email", "sms"], T0, later)
    assert store.replace_topic(workspace_id="ws3", key="news", now=later, values={"label": "x"}) is None
    other = store.get_topic(workspace_id="ws2", key="news")
    assert other is not None
    assert other.label == "Other news"
    assert not store.delete_topic(workspace_id="ws3", key="news")
    assert store.delete_topic(workspace_id="ws1", key="news")
    assert store.get_topic(workspace_id="ws1", key="news") is None
    assert store.get_topic(workspace_id="ws2", key="news") is not None


def test_a_theme_is_stored_once_per_workspace_and_replaced_whole(services: Services) -> None:
    store = services.topics
    assert store.get_theme(workspace_id="ws1") is None
    store.put_theme(workspace_id="ws1", settings={"brand_name": "One", "font": "serif"}, now=T0)
    store.put_theme(workspace_id="ws1", settings={"brand_name": "Two"}, now=T0)
    store.put_theme(workspace_id="ws2", settings={"brand_name": "Other"}, now=T0)
    assert store.get_theme(workspace_id="ws1") == {"brand_name": "Two"}
    assert store.get_theme(workspace_id="ws2") == {"brand_name": "Other"}
