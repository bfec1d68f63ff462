"""Segment message validation, limits and clock-skew correction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopline.domain.events import (
    IngestLimits,
    MessageRejected,
    correct_timestamp,
    parse_message,
    parse_timestamp,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LIMITS = IngestLimits()


def parse(raw: Any, kind: str | None = "track", **kw: Any):
    return parse_message(
        raw, workspace_id="ws", default_type=kind, batch_sent_at=kw.get("sent_at"),
        batch_context=None, received_at=NOW, new_message_id=lambda: "fallback", limits=LIMITS,
    )


def rejected(raw: Any, kind: str | None = "track") -> str:
    with pytest.raises(MessageRejected) as info:
        parse(raw, kind)
    return info.value.code


def test_track_keeps_ids_properties_and_context():
    record = parse({"userId": "u1", "event": "Order Completed", "messageId": "m1",
                    "properties": {"total": 10}, "context": {"os": {"name": "iOS"}}})
    assert (record.user_id, record.event, record.message_id) == ("u1", "Order Completed", "m1")
    assert record.properties == {"total": 10}
    assert record.context["os"]["name"] == "iOS"


def test_missing_message_id_gets_the_fallback():
    assert parse({"anonymousId": "a", "event": "x"}).message_id == "fallback"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"event": "x"}, "missing_id"),
        ({"userId": "u", "event": ""}, "missing_event"),
        ({"userId": "u", "event": "   "}, "missing_event"),
        ({"userId": "u"}, "missing_event"),
        ({"userId": "u", "event": "x", "timestamp": "yesterday"}, "invalid_timestamp"),
        ({"userId": "u", "event": "x", "properties": {"a": "\x00"}}, "nul_character"),
        ({"userId": "u", "event": "x", "properties": {"a\x00": 1}}, "nul_character"),
        ({"userId": "u", "event": "x", "properties": {"n": float("nan")}}, "not_finite"),
        ({"userId": "u", "event": "x", "properties": {"n": float("inf")}}, "not_finite"),
        ({"userId": "u", "event": "x", "properties": [1]}, "invalid_field"),
        ({"userId": {"a": 1}, "event": "x"}, "invalid_id"),
        ("not an object", "invalid_message"),
    ],
)
def test_bad_fields_are_rejected_with_a_code(raw, code):
    assert rejected(raw) == code


def test_deep_nesting_is_rejected():
    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(200):
        cursor["a"] = {}
        cursor = cursor["a"]
    assert rejected({"userId": "u", "event": "x", "properties": nested}) == "too_deep"


def test_ten_thousand_keys_are_rejected():
    props = {f"k{i}": 1 for i in range(10_000)}
    # The size limit would catch this too; raising it proves the key limit works alone.
    with pytest.raises(MessageRejected) as info:
        parse_message({"userId": "u", "event": "x", "properties": props}, workspace_id="ws",
                      default_type="track", batch_sent_at=None, batch_context=None,
                      received_at=NOW, new_message_id=lambda: "f",
                      limits=IngestLimits(max_event_bytes=10**7))
    assert info.value.code == "too_many_keys"


def test_oversize_event_names_the_limit():
    with pytest.raises(MessageRejected) as info:
        parse({"userId": "u", "event": "x", "properties": {"p": "a" * 33_000}})
    assert info.value.code == "event_too_large"
    assert "32768" in info.value.message


def test_batch_message_needs_a_known_type():
    assert rejected({"userId": "u", "type": "bogus"}, kind=None) == "invalid_type"


def test_alias_needs_previous_and_user_id():
    assert rejected({"userId": "u"}, kind="alias") == "missing_id"
    assert parse({"userId": "u", "previousId": "a"}, kind="alias").previous_id == "a"


def test_page_name_falls_back_to_properties_name():
    assert parse({"userId": "u", "properties": {"name": "Home"}}, kind="page").event == "Home"


def test_skew_correction_uses_received_minus_sent_offset():
    original = NOW + timedelta(days=3) - timedelta(seconds=5)
    sent = NOW + timedelta(days=3)
    when, flag = correct_timestamp(timestamp=None, original_timestamp=original, sent_at=sent,
                                   received_at=NOW, limits=LIMITS)
    assert when == NOW - timedelta(seconds=5)
    assert flag is None


def test_skew_correction_is_exact_to_the_millisecond():
    record = parse({"userId": "u", "event": "x",
                    "originalTimestamp": "2026-05-04T12:00:00.123Z",
                    "sentAt": "2026-05-04T12:00:01.000Z"})
    assert record.timestamp == NOW - timedelta(milliseconds=877)


def test_timestamp_without_sent_at_is_used_as_sent():
    record = parse({"userId": "u", "event": "x", "timestamp": "2026-04-30T10:00:00Z"})
    assert record.timestamp == datetime(2026, 4, 30, 10, tzinfo=UTC)
    assert record.timestamp_flag is None


@pytest.mark.parametrize(("stamp", "flag"), [("1970-01-01T00:00:00Z", "past"),
                                             ("2100-01-01T00:00:00Z", "future")])
def test_absurd_timestamps_are_flagged_and_clamped(stamp, flag):
    record = parse({"userId": "u", "event": "x", "timestamp": stamp})
    assert record.timestamp_flag == flag
    assert record.timestamp == NOW
    assert record.original_timestamp == parse_timestamp(stamp, "t")


def test_naive_timestamps_are_taken_as_utc():
    assert parse_timestamp("2026-01-01T00:00:00", "t") == datetime(2026, 1, 1, tzinfo=UTC)


def test_literal_backslash_u0000_text_is_not_a_nul():
    record = parse({"userId": "u", "event": "x", "properties": {"path": "C:\\u0000dir"}})
    assert record.properties["path"] == "C:\\u0000dir"
