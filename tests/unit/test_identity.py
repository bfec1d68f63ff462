"""Identity resolution: linking, matching by email/phone, merging, and conflicts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from loopline.domain.events import EventRecord
from loopline.domain.identity import (
    IdentityGraph,
    normalise_email,
    normalise_phone,
    resolve,
)
from loopline.domain.profiles import apply_event, set_traits

T0 = datetime(2026, 3, 1, tzinfo=UTC)
_ids = itertools.count(1)


def new_id() -> str:
    return f"p{next(_ids)}"


def rec(kind: str = "track", seq: int = 1, **kw: Any) -> EventRecord:
    fields: dict[str, Any] = {
        "workspace_id": "ws", "message_id": f"m{seq}", "type": kind,
        "event": "x" if kind == "track" else None,
        "user_id": None, "anonymous_id": None, "timestamp": T0 + timedelta(minutes=seq),
        "received_at": T0, "sent_at": None, "original_timestamp": None, "timestamp_flag": None,
        "seq": seq,
    }
    fields.update(kw)
    return EventRecord(**fields)


def feed(graph: IdentityGraph, *records: EventRecord) -> list[str]:
    owners = []
    for record in records:
        pid = resolve(graph, record, new_id)
        if record.type == "identify":
            set_traits(graph.profiles[pid], record.traits, record.timestamp)
        apply_event(graph.profiles[pid].computed, record, session_timeout=timedelta(minutes=30))
        owners.append(pid)
    return owners


def test_identify_links_the_device_to_the_user_and_merges():
    graph = IdentityGraph("ws")
    anon, _, _ = feed(
        graph,
        rec(anonymous_id="dev1", seq=1),
        rec(user_id="u1", seq=2),
        rec("identify", seq=3, user_id="u1", anonymous_id="dev1", traits={"name": "Ana"}),
    )
    live = graph.owner(("user_id", "u1"))
    assert graph.owner(("anonymous_id", "dev1")) == live
    assert graph.profiles[anon].merged_into == live
    assert graph.profiles[live].computed.events == 3
    assert len(graph.merges) == 1
    assert graph.merges[0].loser_snapshot["computed"]["events"] == 1


def test_anonymous_first_then_identify_keeps_one_profile():
    graph = IdentityGraph("ws")
    a, b = feed(graph, rec(anonymous_id="d", seq=1),
                rec("identify", seq=2, user_id="u", anonymous_id="d"))
    assert a == b
    assert not graph.merges


def test_email_matches_an_imported_prospect():
    graph = IdentityGraph("ws")
    prospect, user = feed(
        graph,
        rec("identify", seq=1, anonymous_id="import:1", traits={"email": "Ana@Example.com"}),
        rec("identify", seq=2, user_id="u9", traits={"email": "ana@example.com "}),
    )
    assert prospect == user
    assert graph.owner(("user_id", "u9")) == prospect


def test_email_of_a_prospect_merges_into_a_known_user():
    graph = IdentityGraph("ws")
    prospect, user, same = feed(
        graph,
        rec("identify", seq=1, anonymous_id="import:1", traits={"email": "ana@example.com"}),
        rec("identify", seq=2, user_id="u9", anonymous_id="dev"),
        rec("identify", seq=3, user_id="u9", traits={"email": "ana@example.com"}),
    )
    assert user == same
    assert graph.profiles[prospect].merged_into == user


def test_two_known_users_sharing_a_device_are_not_merged():
    graph = IdentityGraph("ws")
    first, second = feed(
        graph,
        rec("identify", seq=1, user_id="u1", anonymous_id="shared"),
        rec("identify", seq=2, user_id="u2", anonymous_id="shared"),
    )
    assert first != second
    assert not graph.merges
    assert graph.profiles[first].merged_into is None


def test_alias_merges_explicitly():
    graph = IdentityGraph("ws")
    old, _ = feed(graph, rec(user_id="old-id", seq=1), rec(user_id="new-id", seq=2))
    (target,) = feed(graph, rec("alias", seq=3, user_id="new-id", previous_id="old-id"))
    assert graph.profiles[old].merged_into == target
    assert graph.owner(("user_id", "old-id")) == target


def test_traits_are_last_write_wins_by_event_time_not_arrival():
    graph = IdentityGraph("ws")
    (pid, _) = feed(
        graph,
        rec("identify", seq=1, user_id="u", traits={"plan": "v2"}, timestamp=T0 + timedelta(hours=2)),
        rec("identify", seq=2, user_id="u", traits={"plan": "v1"}, timestamp=T0 + timedelta(hours=1)),
    )
    assert graph.profiles[pid].traits["plan"] == "v2"


def test_normalisation():
    assert normalise_email(" Ana@EXAMPLE.com ") == "ana@example.com"
    assert normalise_email("not-an-email") is None
    assert normalise_phone("+49 30 1234567") == "+49301234567"
    assert normalise_phone("030 1234567", "DE") == "+49301234567"
    assert normalise_phone("hello") is None
