"""In-app messages: what one carries beyond its title and body, and which of a customer's are due.

An in-app message is stored for one customer when it is sent, and shown by the app or web
page they have open: the SDK asks for the messages due (or keeps a stream open) and reports
back what the customer did with each one. The content's ``subject`` is the title, ``body``
the text and ``url`` where tapping the message leads; these options add the layout, an
image, up to three buttons, whether it can be closed, and the display rules: on one screen
only, when the customer does something (the SDK shows it when the event happens), until a
date. A message with no ``until`` stays due for ``DEFAULT_LIFETIME`` after it was stored.

A message's state only moves up — pending < viewed < clicked < dismissed — so a late
"viewed" never brings back a message the customer closed. Pending and viewed messages are
due; a clicked one was acted on and a dismissed one was closed, and neither shows again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from loopline.domain.engagement import IN_APP_CLICKED, IN_APP_DISMISSED, IN_APP_VIEWED, SEND_KEY
from loopline.domain.events import MAX_ID_LENGTH
from loopline.domain.push import HttpsUrl

DEFAULT_LIFETIME = timedelta(days=30)
MAX_DUE = 20  # the most messages one request returns
DEFAULT_DUE = 10
CANDIDATES = 200  # the newest live messages of a customer the due rule looks at
Layout = Literal["modal", "banner", "fullscreen"]
Action = Literal["viewed", "clicked", "dismissed"]
PENDING = "pending"
RANK: dict[str, int] = {PENDING: 0, "viewed": 1, "clicked": 2, "dismissed": 3}
DUE_STATES = (PENDING, "viewed")
EVENTS: dict[str, str] = {"viewed": IN_APP_VIEWED, "clicked": IN_APP_CLICKED, "dismissed": IN_APP_DISMISSED}
"""The timeline event each interaction becomes."""

# Links a page may follow: http(s), a path on the page's own site, or an app's own scheme
# (``shop://sale``). Schemes that run code or read local files in a browser never pass.
_APP_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*:", re.IGNORECASE)
_UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about", "filesystem"})
Name = Annotated[str, Field(min_length=1, max_length=200)]


class InAppRejected(ValueError):
    """A request the in-app API cannot answer, with a machine-readable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def safe_link(url: str | None) -> str | None:
    """Return ``url`` when a page or app may follow it, else None (it is dropped, not shown)."""
    if url is None:
        return None
    text = url.strip()
    # Browsers drop tabs and line breaks inside a URL ("java\tscript:", "/\n/elsewhere"), so a link
    # is judged without them.
    squeezed = re.sub(r"[\x00-\x20]", "", text)
    if not squeezed or len(text) > 2_000:
        return None
    if squeezed.startswith("/"):
        # "//host" and "/\host" lead to another site; a path stays on the page's own.
        return None if squeezed[1:2] in ("/", "\\") else text
    match = _APP_SCHEME.match(squeezed)
    if match is None or match.group(0)[:-1].lower() in _UNSAFE_SCHEMES:
        return None
    return text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InAppButton(_Model):
    """A button: its id (reported back when clicked), its label and, optionally, where it leads."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    title: str = Field(min_length=1, max_length=60)
    url: str | None = Field(default=None, max_length=2_000)

    @field_validator("url")
    @classmethod
    def _followable(cls, value: str | None) -> str | None:
        if value is not None and safe_link(value) is None:
            raise ValueError("a button's url must be http(s), a path starting with '/', or an app's own scheme")
        return value


class InAppOptions(_Model):
    """How an in-app message looks and when it shows; every field is optional."""

    layout: Layout = "modal"
    on_screen: Name | None = None
    on_event: Name | None = None
    until: datetime | None = None
    image_url: HttpsUrl | None = None
    buttons: list[InAppButton] = Field(default_factory=list, max_length=3)
    dismissible: bool = True
    priority: int = Field(default=5, ge=1, le=10)

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("'until' needs a UTC offset, e.g. 2026-07-01T00:00:00Z")
        return value

    @field_validator("buttons")
    @classmethod
    def _distinct(cls, value: list[InAppButton]) -> list[InAppButton]:
        if len({button.id for button in value}) != len(value):
            raise ValueError("button ids must differ")
        return value


def in_app_options(options: InAppOptions | Mapping[str, Any] | None) -> InAppOptions:
    """Return a message's in-app options, the defaults when it has none (raise ValueError when not valid)."""
    if isinstance(options, InAppOptions):
        return options
    return InAppOptions.model_validate(dict(options or {}))


def expires_at(options: InAppOptions, *, stored_at: datetime) -> datetime:
    """Return when a message stops being due: its ``until``, else ``DEFAULT_LIFETIME`` after it was stored."""
    return options.until if options.until is not None else stored_at + DEFAULT_LIFETIME


@dataclass(frozen=True, slots=True)
class Identity:
    """The customer an SDK request names: a user id, an anonymous (device) id, or both."""

    user_id: str | None
    anonymous_id: str | None

    def identifiers(self) -> list[tuple[str, str]]:
        """Return the identifiers to look the customer up by, the user id first."""
        found = [("user_id", self.user_id), ("anonymous_id", self.anonymous_id)]
        return [(kind, value) for kind, value in found if value]

    def as_message(self) -> dict[str, str]:
        """Return the identity as the Segment fields of an event about this customer."""
        fields = {"userId": self.user_id, "anonymousId": self.anonymous_id}
        return {name: value for name, value in fields.items() if value}


def parse_identity(user_id: Any, anonymous_id: Any) -> Identity:
    """Return the identity an SDK request names; raise InAppRejected when it names no one or is malformed."""
    values: list[str | None] = []
    for name, value in (("userId", user_id), ("anonymousId", anonymous_id)):
        if value is None or value == "":
            values.append(None)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            values.append(str(value))  # Segment SDKs may send numeric ids; they are filed as text
        elif not isinstance(value, str) or len(value) > MAX_ID_LENGTH or not value.strip() or "\x00" in value:
            raise InAppRejected("invalid_identity", f"{name} must be text of at most {MAX_ID_LENGTH} characters")
        else:
            values.append(value)
    identity = Identity(values[0], values[1])
    if not identity.identifiers():
        raise InAppRejected("missing_identity", "name the customer with userId or anonymousId")
    return identity


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One customer's in-app message as stored."""

    send_key: str
    workspace_id: str
    profile_id: str
    source_id: str
    title: str | None
    body: str
    url: str | None
    options: Mapping[str, Any]
    state: str
    created_at: datetime
    expires_at: datetime


def _screen(name: Any) -> str | None:
    return name.strip().casefold() if isinstance(name, str) and name.strip() else None


def is_due(message: StoredMessage, *, screen: str | None, now: datetime) -> bool:
    """Return whether a message may be shown now on ``screen`` (None: the device did not say)."""
    if message.state not in DUE_STATES or message.expires_at <= now:
        return False
    wanted = _screen(message.options.get("on_screen"))
    return wanted is None or wanted == _screen(screen)


def due_messages(messages: Sequence[StoredMessage], *, screen: str | None, now: datetime,
                 limit: int = DEFAULT_DUE) -> list[StoredMessage]:
    """Return the messages due now on ``screen``: highest priority first, then newest, at most ``limit``."""
    due = [message for message in messages if is_due(message, screen=screen, now=now)]
    due.sort(key=lambda m: m.send_key)
    due.sort(key=lambda m: (int(m.options.get("priority", 5)), m.created_at), reverse=True)
    return due[: max(0, min(limit, MAX_DUE))]


def message_json(message: StoredMessage) -> dict[str, Any]:
    """Return a message as the SDK gets it: what to show, and the rules for when."""
    options = in_app_options(message.options)
    return {
        "send_key": message.send_key,
        "title": message.title,
        "body": message.body,
        "url": safe_link(message.url),
        "layout": options.layout,
        "image_url": options.image_url,
        "buttons": [button.model_dump() for button in options.buttons],
        "dismissible": options.dismissible,
        "priority": options.priority,
        "display": {"on_screen": options.on_screen, "on_event": options.on_event,
                    "until": message.expires_at.isoformat().replace("+00:00", "Z")},
        "state": message.state,
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }


def moves_up(current: str, action: str) -> bool:
    """Return whether ``action`` raises a message's state (it never moves down: dismissed is final)."""
    return RANK[action] > RANK.get(current, 0)


def states_below(action: str) -> tuple[str, ...]:
    """Return the states an ``action`` may replace."""
    return tuple(state for state, rank in RANK.items() if rank < RANK[action])


def interaction_event(message: StoredMessage, *, action: str, identity: Identity, at: datetime,
                      button: str | None = None) -> dict[str, Any]:
    """Return the track call recording what the customer did with a message.

    The message id is derived from the send key and the action, so a repeated report (a
    retry, a second tab) is one event on the timeline however often it arrives.
    """
    properties: dict[str, Any] = {SEND_KEY: message.send_key, "channel": "in_app", "source_id": message.source_id}
    if message.source_id.startswith("cmp_"):
        properties["campaign_id"] = message.source_id  # what segments' engagement conditions filter on
    if button is not None:
        properties["button"] = button
    return {"type": "track", "event": EVENTS[action], **identity.as_message(), "timestamp": at.isoformat(),
            "messageId": f"in-app-{message.send_key}-{action}", "properties": properties}
