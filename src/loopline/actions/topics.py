"""The topic catalogue: listing, creating, replacing and deleting a workspace's topics.

Deleting a topic keeps the consents customers recorded for it: a campaign may still name the
topic, and a customer's "no" must keep holding even when the preference center stops showing it.
"""

from __future__ import annotations

from typing import Any

from loopline.domain.topics import TopicDefinition, TopicRejected, parse_topic
from loopline.ports import TopicRow
from loopline.services import Services

__all__ = ["TopicNotFound", "TopicRejected", "TopicTaken", "definition_of", "do_create_topic", "do_delete_topic",
           "do_replace_topic", "get_topic", "list_topics"]


class TopicNotFound(LookupError):
    """No topic with this key in the workspace."""


class TopicTaken(ValueError):
    """The workspace has a topic with this key already."""


def definition_of(row: TopicRow) -> TopicDefinition:
    """Return a stored topic as its definition."""
    return TopicDefinition.model_validate({"key": row.key, "label": row.label, "description": row.description,
                                           "channels": row.channels, "default_status": row.default_status})


def list_topics(services: Services, *, workspace_id: str) -> list[TopicRow]:
    """Return the workspace's topics by label."""
    return services.topics.list_topics(workspace_id=workspace_id)


def get_topic(services: Services, *, workspace_id: str, key: str) -> TopicRow:
    """Return one topic; raise TopicNotFound."""
    row = services.topics.get_topic(workspace_id=workspace_id, key=key)
    if row is None:
        raise TopicNotFound(key)
    return row


def do_create_topic(services: Services, *, workspace_id: str, data: Any) -> TopicRow:
    """Validate and store a new topic; raise TopicRejected or TopicTaken."""
    topic = parse_topic(data)
    now = services.clock.now()
    row = TopicRow(workspace_id, topic.key, topic.label, topic.description, list(topic.channels),
                   topic.default_status, now, now)
    if not services.topics.create_topic(row):
        raise TopicTaken(topic.key)
    return row


def do_replace_topic(services: Services, *, workspace_id: str, key: str, data: Any) -> TopicRow:
    """Replace a topic's label, description, channels and default (its key stays); raise TopicRejected or NotFound."""
    if isinstance(data, dict):
        data = {**data, "key": data.get("key", key)}
    topic = parse_topic(data)
    if topic.key != key:
        raise TopicRejected([{"path": "key", "message": "a topic's key cannot change: campaigns and consents name "
                                                        "it; create a new topic instead"}])
    row = services.topics.replace_topic(workspace_id=workspace_id, key=key, now=services.clock.now(), values={
        "label": topic.label, "description": topic.description, "channels": list(topic.channels),
        "default_status": topic.default_status})
    if row is None:
        raise TopicNotFound(key)
    return row


def do_delete_topic(services: Services, *, workspace_id: str, key: str) -> None:
    """Remove a topic from the catalogue; raise TopicNotFound."""
    if not services.topics.delete_topic(workspace_id=workspace_id, key=key):
        raise TopicNotFound(key)
