"""Segment-spec messages: validation, limits, clock-skew correction, and the stored record."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MESSAGE_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
MAX_DEPTH = 32
MAX_KEYS_PER_OBJECT = 1_000
MAX_ID_LENGTH = 256
MAX_NAME_LENGTH = 512
# Device clocks reset to 1970 or set decades ahead are common; anything outside
# this range is flagged and clamped rather than trusted.
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)


# Not frozen: a frozen dataclass sets each of these fields through object.__setattr__,
# six times slower, and records are built once per event on the ingest hot path. They are
# still treated as immutable (change one with dataclasses.replace).
@dataclass(slots=True)
class EventRecord:
    """One validated message as the event store keeps it."""

    workspace_id: str
    message_id: str
    type: str
    event: str | None
    user_id: str | None
    anonymous_id: str | None
    timestamp: datetime
    received_at: datetime
    sent_at: datetime | None
    original_timestamp: datetime | None
    timestamp_flag: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    group_id: str | None = None
    previous_id: str | None = None
    source: str = "api"
    seq: int | None = None
    # The message's JSON as validated, and the id() of each object field (properties,
    # traits, context) that is still the very object parsed from it. An event store can
    # cut those fields out of this text natively instead of serialising them again in the
    # interpreter (under load that was a tenth of its time). A field replaced by another
    # object (dataclasses.replace) no longer matches its id; code that changes one in
    # place calls ``forget_source`` first.
    source_json: tuple[bytes, dict[str, int]] | None = field(default=None, compare=False, repr=False)

    def in_source_json(self, name: str) -> bool:
        """Return whether ``source_json`` holds this field's current value unchanged."""
        source = self.source_json
        return source is not None and source[1].get(name) == id(getattr(self, name))

    def forget_source(self, name: str) -> None:
        """Mark a field as no longer equal to the one in ``source_json`` (before changing it in place)."""
        if self.source_json is not None:
            self.source_json[1].pop(name, None)

    def identifiers(self) -> list[tuple[str, str]]:
        """Return the (kind, value) identifiers this message carries."""
        found: list[tuple[str, str]] = []
        if self.user_id:
            found.append(("user_id", self.user_id))
        if self.anonymous_id:
            found.append(("anonymous_id", self.anonymous_id))
        return found


@dataclass(frozen=True, slots=True)
class EventError:
    """Why one message of a request was rejected."""

    index: int
    code: str
    message: str
    message_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the error as it appears in an ingest response."""
        return {
            "index": self.index,
            "messageId": self.message_id,
            "code": self.code,
            "message": self.message,
        }


class MessageRejected(ValueError):
    """Raised inside validation with a machine-readable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Limits applied to each message; defaults follow Segment's published limits."""

    max_event_bytes: int = 32 * 1024
    future_tolerance: timedelta = timedelta(days=1)


def parse_timestamp(value: Any, field_name: str) -> datetime | None:
    """Parse an ISO-8601 timestamp into aware UTC, or raise with a readable reason."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MessageRejected(
            "invalid_timestamp", f"{field_name} must be an ISO-8601 string, got {type(value).__name__}"
        )
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MessageRejected(
            "invalid_timestamp",
            f"{field_name} {value[:40]!r} is not an ISO-8601 date-time such as 2024-05-01T12:00:00Z",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise MessageRejected(
            "invalid_timestamp", f"{field_name} {value[:40]!r} lies outside the years 1 to 9999 in UTC"
        ) from None


def correct_timestamp(
    *,
    timestamp: datetime | None,
    original_timestamp: datetime | None,
    sent_at: datetime | None,
    received_at: datetime,
    limits: IngestLimits,
) -> tuple[datetime, str | None]:
    """Return the event time, corrected for device clock skew, and a flag if it was absurd."""
    if original_timestamp is not None and sent_at is not None:
        # Segment's formula: the device clock's offset is (sentAt - receivedAt).
        try:
            chosen = received_at - (sent_at - original_timestamp)
        except OverflowError:
            # A skew larger than the calendar: the device clock is meaningless.
            return received_at, "past" if original_timestamp < sent_at else "future"
    elif timestamp is not None:
        chosen = timestamp
    elif original_timestamp is not None:
        chosen = original_timestamp
    else:
        return received_at, None
    if chosen > received_at + limits.future_tolerance:
        return received_at, "future"
    if chosen < EARLIEST_PLAUSIBLE:
        return received_at, "past"
    return chosen, None


def check_json_value(value: Any, depth: int = 0) -> None:
    """Reject structures that are too deep or too wide, and non-finite numbers.

    Only containers are visited (most values are scalars); NUL characters are found
    in the serialised form, which is much cheaper than visiting every string.
    """
    if depth > MAX_DEPTH:
        raise MessageRejected("too_deep", f"nesting deeper than {MAX_DEPTH} levels")
    items = value.values() if type(value) is dict else value
    if len(items) > MAX_KEYS_PER_OBJECT:
        noun = "keys" if type(value) is dict else "items"
        raise MessageRejected(
            "too_many_keys", f"an object has {len(items)} {noun}; at most {MAX_KEYS_PER_OBJECT}"
        )
    for item in items:
        kind = type(item)
        if kind is dict or kind is list:
            check_json_value(item, depth + 1)
        elif kind is float and not math.isfinite(item):
            raise MessageRejected("not_finite", "NaN and Infinity are not valid JSON numbers")


def _may_break_shape_limits(encoded: bytes) -> bool:
    """Return whether the serialised message could be too deep, too wide or hold NaN/Infinity.

    Walking every container in Python was half the cost of validating a typical event.
    Counting bytes in C bounds the walk's findings: nesting cannot be deeper than the
    number of brackets, no container can hold more items than there are commas plus one,
    and a non-finite float serialises as ``null``. Only a message failing a bound is walked.
    """
    return (
        encoded.count(b"{") + encoded.count(b"[") > MAX_DEPTH
        # An item takes at least two bytes ("1,"), so a short message cannot be too wide.
        or (len(encoded) > 2 * MAX_KEYS_PER_OBJECT and encoded.count(b",") >= MAX_KEYS_PER_OBJECT)
        or b"null" in encoded
    )


def _has_nul_escape(encoded: bytes) -> bool:
    """Return whether serialised JSON holds an escaped NUL (not a literal backslash-u0000 text)."""
    start = encoded.find(b"\\u0000")
    while start != -1:
        backslashes = len(encoded[:start]) - len(encoded[:start].rstrip(b"\\"))
        if backslashes % 2 == 0:
            return True
        start = encoded.find(b"\\u0000", start + 1)
    return False


def _optional_id(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageRejected("invalid_id", f"{key} must be a string")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise MessageRejected("invalid_id", f"{key} is longer than {MAX_ID_LENGTH} characters")
    return text


def _object(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageRejected("invalid_field", f"{key} must be a JSON object")
    return value


def _name(raw: dict[str, Any], kind: str) -> str | None:
    key = "event" if kind == "track" else "name"
    value = raw.get(key)
    if kind == "track":
        if not isinstance(value, str) or not value.strip():
            raise MessageRejected("missing_event", "track messages need a non-empty event name")
    elif value is None or value == "":
        # page and screen names are optional in the spec; Segment falls back to
        # properties.name, and so do we.
        value = _object(raw, "properties").get("name")
        if value is None or value == "":
            return None
    if not isinstance(value, str):
        raise MessageRejected("invalid_field", f"{key} must be a string")
    if len(value) > MAX_NAME_LENGTH:
        raise MessageRejected("invalid_field", f"{key} is longer than {MAX_NAME_LENGTH} characters")
    return value.strip()


def parse_message(
    raw: Any,
    *,
    workspace_id: str,
    default_type: str | None,
    batch_sent_at: datetime | None,
    batch_context: dict[str, Any] | None,
    received_at: datetime,
    new_message_id: Callable[[], str],
    limits: IngestLimits,
) -> EventRecord:
    """Validate one Segment message and turn it into a record, or raise MessageRejected."""
    if not isinstance(raw, dict):
        raise MessageRejected("invalid_message", "each message must be a JSON object")
    kind = raw.get("type", default_type)
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        raise MessageRejected(
            "invalid_type", f"type must be one of {', '.join(sorted(MESSAGE_TYPES))}"
        )
    try:
        encoded = orjson.dumps(raw)
    except orjson.JSONEncodeError:
        check_json_value(raw)  # names the problem when it is depth (orjson stops at 254 levels)
        raise MessageRejected("invalid_message", "the message cannot be encoded as JSON") from None
    if _may_break_shape_limits(encoded):
        check_json_value(raw)
    if len(encoded) > limits.max_event_bytes:
        raise MessageRejected(
            "event_too_large",
            f"the message is {len(encoded)} bytes; the limit is {limits.max_event_bytes} bytes per event",
        )
    if _has_nul_escape(encoded):
        raise MessageRejected("nul_character", "a key or string contains a NUL character")
    user_id = _optional_id(raw, "userId")
    anonymous_id = _optional_id(raw, "anonymousId")
    previous_id = _optional_id(raw, "previousId")
    if kind == "alias" and (previous_id is None or user_id is None):
        raise MessageRejected("missing_id", "alias messages need both previousId and userId")
    if user_id is None and anonymous_id is None:
        raise MessageRejected("missing_id", "every message needs a userId or an anonymousId")
    name = _name(raw, kind) if kind in {"track", "page", "screen"} else None
    sent_at = parse_timestamp(raw.get("sentAt"), "sentAt") or batch_sent_at
    original = parse_timestamp(raw.get("originalTimestamp"), "originalTimestamp")
    explicit = parse_timestamp(raw.get("timestamp"), "timestamp")
    timestamp, flag = correct_timestamp(
        timestamp=explicit,
        original_timestamp=original,
        sent_at=sent_at,
        received_at=received_at,
        limits=limits,
    )
    context = _object(raw, "context")
    if batch_context:
        context = {**batch_context, **context}
    traits = _object(raw, "traits")
    if kind == "identify" and not traits:
        # analytics.js nests identify traits in context.traits on some paths.
        traits = _object(context, "traits")
    properties = _object(raw, "properties")
    unchanged = {
        name: id(value)
        for name, value in (("properties", properties), ("traits", traits), ("context", context))
        if value is raw.get(name)
    }
    return EventRecord(
        workspace_id=workspace_id,
        message_id=_optional_id(raw, "messageId") or new_message_id(),
        type=kind,
        event=name,
        user_id=user_id,
        anonymous_id=anonymous_id,
        timestamp=timestamp,
        received_at=received_at,
        sent_at=sent_at,
        original_timestamp=original or explicit,
        timestamp_flag=flag,
        properties=properties,
        traits=traits,
        context=context,
        group_id=_optional_id(raw, "groupId"),
        previous_id=previous_id,
        source_json=(encoded, unchanged),
    )
