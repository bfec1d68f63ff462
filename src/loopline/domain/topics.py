"""A workspace's topic catalogue: what customers may subscribe to, on which channels, and the default.

A topic is the ``topic`` a campaign names and a consent choice is recorded for; the catalogue
gives it a label and a description a customer reads in the preference center, the channels it
is sent on, and whether a customer who never chose is shown as subscribed (``opted_in``) or not.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loopline.domain.consent import ALL_TOPICS, CHANNELS, TOPIC
from loopline.domain.segments.definition import problems_of, unstorable_text

ConsentChannel = Literal["email", "sms", "push", "in_app", "web_push"]
assert set(ConsentChannel.__args__) == set(CHANNELS)  # type: ignore[attr-defined]
MAX_TOPICS = 100  # a preference center with more rows than this is one nobody reads


class TopicRejected(ValueError):
    """A topic that cannot be saved; ``problems`` say what is wrong and where."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems))
        self.problems = problems


class TopicDefinition(BaseModel):
    """What a topic is: its key (as campaigns name it), label, description, channels and default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)
    channels: list[ConsentChannel] = Field(min_length=1, max_length=len(CHANNELS))
    default_status: Literal["opted_in", "opted_out"] = "opted_out"

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not TOPIC.match(value):
            raise ValueError("a key is lowercase letters, digits, '_', '.' or '-', starting with a letter or digit")
        if value == ALL_TOPICS:
            raise ValueError(f"'{ALL_TOPICS}' means every topic of a channel and cannot be a topic's key")
        return value

    @field_validator("label", "description")
    @classmethod
    def _text(cls, value: str) -> str:
        return value.strip()

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not value:
            raise ValueError("a label is needed: it is what customers read")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[ConsentChannel]) -> list[ConsentChannel]:
        if len(set(value)) != len(value):
            raise ValueError("each channel may be named once")
        return sorted(value, key=CHANNELS.index)


def parse_topic(data: Any) -> TopicDefinition:
    """Validate a topic; raise TopicRejected naming each problem and where."""
    if problems := unstorable_text(data):
        raise TopicRejected(problems)
    try:
        return TopicDefinition.model_validate(data)
    except ValidationError as error:
        raise TopicRejected(problems_of(error)) from None
