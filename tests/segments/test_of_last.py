"""Engagement with a customer's last messages (``of_last``): the language refuses what cannot be
meant, and a tiny hand-built ledger gives the documented members on every engine and the oracle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from loopline.domain.segments.definition import SegmentInvalid, parse_segment
from loopline.query.segments import compile_segment
from tests.segments.dataset import NOW, OTHER_WORKSPACE, Dataset, make_dataset
from tests.segments.engines import ENGINES, dialect_of, engine_or_skip
from tests.segments.oracle import evaluate

NONE_OF_LAST_3 = {"type": "engagement", "action": "opened", "channel": "email", "of_last": 3, "count": {"exactly": 0}}


def _problems(condition: dict[str, Any]) -> list[str]:
    with pytest.raises(SegmentInvalid) as raised:
        parse_segment({"name": "t", "condition": condition})
    return [f"{p['path']}: {p['message']}" for p in raised.value.problems]


def test_of_last_needs_a_channel_and_a_bounded_count_of_messages() -> None:
    assert _problems({**NONE_OF_LAST_3, "channel": None}) == [
        "condition: of_last needs a channel: the last messages are counted on one channel"]
    assert _problems({**NONE_OF_LAST_3, "of_last": 0}) == [
        "condition: of_last counts the customer's last 1 to 100 messages, got 0"]
    assert _problems({**NONE_OF_LAST_3, "of_last": 101}) == [
        "condition: of_last counts the customer's last 1 to 100 messages, got 101"]
    assert _problems({**NONE_OF_LAST_3, "count": {"at_least": 4}}) == [
        "condition: count 4 is more than the 3 messages of_last looks at"]
    assert _problems({**NONE_OF_LAST_3, "count": {"exactly": 0, "value": 1}})[0].startswith("condition.count.exactly")


def test_a_count_may_be_written_short() -> None:
    short = parse_segment({"name": "t", "condition": NONE_OF_LAST_3}).condition
    long = parse_segment({"name": "t", "condition": {**NONE_OF_LAST_3, "count": {"operator": "exactly", "value": 0}}})
    assert short == long.condition
    assert short.count.operator == "exactly"  # type: ignore[union-attr]
    assert short.count.value == 0  # type: ignore[union-attr]


def _sent(profile: str, key: str, hours_ago: float, **fields: Any) -> dict[str, Any]:
    return {"send_key": key, "profile_id": profile, "sent_at": NOW - timedelta(hours=hours_ago),
            "campaign_id": "cmp_1", **fields}


def _opened(user: str | None, key: str, hours_ago: float, event: str = "Email Opened") -> dict[str, Any]:
    return {"event": event, "user_id": user, "timestamp": NOW - timedelta(hours=hours_ago),
            "properties": {"send_key": key}}


def _ledger() -> Dataset:
    """Six customers whose last three emails are known by heart (see each line)."""
    profiles = [{"profile_id": p} for p in ("ANA", "BO", "CY", "DI", "ED", "FAY")]
    identities = [{"kind": "user_id", "value": p.lower(), "profile_id": p} for p in ("ANA", "BO", "CY", "DI", "ED")]
    sends = [
        # ANA opened her fourth-newest email only: none of her last three.
        *(_sent("ANA", f"a{k}", 10 * k) for k in range(1, 5)),
        # BO opened his newest; a failed email since does not count among his last.
        _sent("BO", "b1", 30), _sent("BO", "b2", 20), _sent("BO", "b3", 10),
        _sent("BO", "b4", 5, status="failed", sent_at=None),
        # CY has one email, unopened: judged over the one he has. His push tap answers a push.
        _sent("CY", "c1", 10), _sent("CY", "c2", 5, channel="push"),
        # DI's four emails went out at one instant; the tie is broken by send key, and she
        # opened the one that falls out of the last three (key d0 sorts first: the oldest).
        *(_sent("DI", f"d{k}", 10) for k in range(4)),
        # ED was sent nothing by email; FAY nothing at all.
        _sent("ED", "e1", 10, channel="sms"),
        # Another workspace's email with ANA's key, opened there.
        _sent("ANA", "a1", 10, workspace_id=OTHER_WORKSPACE),
    ]
    events = [
        _opened("ana", "a4", 1), _opened("bo", "b3", 1), _opened("cy", "c2", 1, "Push Notification Tapped"),
        _opened(None, "d0", 1),  # an open nobody's identity claims still answers its send
        _opened("ana", "a1", 1) | {"workspace_id": OTHER_WORKSPACE},
    ]
    return make_dataset(profiles=profiles, identities=identities, sends=sends, events=events)


CASES: list[tuple[dict[str, Any], set[str]]] = [
    (NONE_OF_LAST_3, {"ANA", "CY", "DI"}),
    ({**NONE_OF_LAST_3, "of_last": 4}, {"CY"}),
    ({**NONE_OF_LAST_3, "count": {"at_least": 1}}, {"BO"}),
    ({**NONE_OF_LAST_3, "of_last": 1, "count": {"exactly": 1}}, {"BO"}),
    ({**NONE_OF_LAST_3, "count": {"at_most": 3}}, {"ANA", "BO", "CY", "DI"}),
    ({**NONE_OF_LAST_3, "count": {"at_most": 3}, "campaign_id": "cmp_2"}, set()),
    ({**NONE_OF_LAST_3, "channel": "push", "count": {"at_least": 1}}, {"CY"}),
    ({**NONE_OF_LAST_3, "channel": "sms"}, {"ED"}),
    ({**NONE_OF_LAST_3, "window": {"last_days": 1}, "count": {"at_least": 0}}, {"ANA", "BO", "CY", "DI"}),
    ({"type": "not", "condition": NONE_OF_LAST_3}, {"BO", "ED", "FAY"}),
]


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_the_last_messages_give_the_documented_members(engine_name: str) -> None:
    data = _ledger()
    # DI's emails at one instant: d3, d2, d1 are the last three, and d0 (opened) is not.
    assert data.sends[data.sends["profile_id"] == "DI"]["sent_at"].nunique() == 1
    with engine_or_skip(engine_name, data) as run:
        for condition, expected in CASES:
            definition = parse_segment({"name": "t", "condition": condition})
            assert evaluate(definition, data, workspace_id="ws_a", now=NOW) == expected, condition
            compiled = compile_segment(definition, dialect=dialect_of(engine_name), workspace_id="ws_a", now=NOW)
            assert {row[0] for row in run(compiled.sql)} == expected, condition
