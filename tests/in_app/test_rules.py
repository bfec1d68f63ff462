"""The pure rules of in-app messages: which are due, in what order, how states move, which links pass."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from loopline.domain.in_app import (
    DEFAULT_LIFETIME,
    MAX_DUE,
    InAppOptions,
    InAppRejected,
    StoredMessage,
    due_messages,
    expires_at,
    interaction_event,
    is_due,
    message_json,
    moves_up,
    parse_identity,
    safe_link,
    states_below,
)

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def _message(key: str, *, state: str = "pending", age_min: int = 0, expires_in: timedelta = timedelta(days=1),
             **options: object) -> StoredMessage:
    created = NOW - timedelta(minutes=age_min)
    return StoredMessage(send_key=key, workspace_id="ws", profile_id="p", source_id="cmp_1", title="T", body="B",
                         url=None, options=options, state=state, created_at=created, expires_at=NOW + expires_in)


def test_pending_and_viewed_messages_are_due_until_they_expire_or_are_clicked_or_dismissed():
    assert is_due(_message("a"), screen=None, now=NOW)
    assert is_due(_message("a", state="viewed"), screen=None, now=NOW)
    for state in ("clicked", "dismissed"):
        assert not is_due(_message("a", state=state), screen=None, now=NOW)
    assert not is_due(_message("a", expires_in=timedelta(0)), screen=None, now=NOW)


def test_a_screen_rule_matches_its_screen_only_and_without_case_or_spaces():
    cart = _message("a", on_screen="Cart")
    assert is_due(cart, screen=" cart ", now=NOW)
    assert not is_due(cart, screen="home", now=NOW)
    assert not is_due(cart, screen=None, now=NOW)  # the device did not say where it is
    assert is_due(_message("b"), screen="anything", now=NOW)
    assert is_due(_message("c", on_event="Product Added"), screen=None, now=NOW)  # shown by the SDK on the event


def test_due_messages_come_best_first_and_capped():
    messages = [_message("old", age_min=30), _message("new", age_min=1), _message("urgent", age_min=60, priority=9),
                _message("tie-b", age_min=5), _message("tie-a", age_min=5), _message("gone", state="dismissed")]
    assert [m.send_key for m in due_messages(messages, screen=None, now=NOW)] == [
        "urgent", "new", "tie-a", "tie-b", "old"]
    assert [m.send_key for m in due_messages(messages, screen=None, now=NOW, limit=2)] == ["urgent", "new"]
    many = [_message(f"m{n:02d}", age_min=n) for n in range(50)]
    assert len(due_messages(many, screen=None, now=NOW, limit=1_000)) == MAX_DUE


def test_states_only_move_up_and_dismissed_is_final():
    assert moves_up("pending", "viewed")
    assert moves_up("viewed", "clicked")
    assert moves_up("clicked", "dismissed")
    assert not moves_up("dismissed", "viewed")
    assert not moves_up("clicked", "viewed")
    assert not moves_up("viewed", "viewed")
    assert states_below("dismissed") == ("pending", "viewed", "clicked")
    assert states_below("viewed") == ("pending",)


def test_a_message_without_until_lives_for_the_default_lifetime():
    assert expires_at(InAppOptions(), stored_at=NOW) == NOW + DEFAULT_LIFETIME
    until = NOW + timedelta(hours=3)
    assert expires_at(InAppOptions(until=until), stored_at=NOW) == until


@pytest.mark.parametrize("link", ["https://shop.example/sale", "http://shop.example", "/cart?x=1", "shop://sale",
                                  "HTTPS://SHOP.EXAMPLE"])
def test_links_a_page_or_app_may_follow(link):
    assert safe_link(link) == link


@pytest.mark.parametrize("link", ["javascript:alert(1)", "JavaScript:alert(1)", "java\tscript:alert(1)",
                                  " javascript:alert(1)", "data:text/html,<script>", "vbscript:x", "file:///etc",
                                  "//evil.example/", "/\\evil.example", "/\n/evil.example", "sale.html", "", "  ",
                                  "https://" + "a" * 2_000])
def test_links_that_are_never_followed(link):
    assert safe_link(link) is None


def test_options_are_checked():
    with pytest.raises(ValidationError, match="https"):
        InAppOptions(image_url="http://cdn.example/a.png")
    with pytest.raises(ValidationError, match="at most 3"):
        InAppOptions.model_validate({"buttons": [{"id": f"b{n}", "title": "B"} for n in range(4)]})
    with pytest.raises(ValidationError, match="UTC offset"):
        InAppOptions.model_validate({"until": "2026-07-01T00:00:00"})
    with pytest.raises(ValidationError):
        InAppOptions.model_validate({"layout": "modal", "colour": "red"})
    options = InAppOptions.model_validate({"layout": "fullscreen", "dismissible": False,
                                           "buttons": [{"id": "go", "title": "Go", "url": "/go"}]})
    assert options.model_dump(mode="json", exclude_defaults=True) == {
        "layout": "fullscreen", "dismissible": False, "buttons": [{"id": "go", "title": "Go", "url": "/go"}]}


def test_an_sdk_request_names_a_customer_by_user_or_anonymous_id():
    assert parse_identity("u-1", None).identifiers() == [("user_id", "u-1")]
    assert parse_identity("", "dev-1").identifiers() == [("anonymous_id", "dev-1")]
    both = parse_identity("u-1", "dev-1")
    assert both.identifiers() == [("user_id", "u-1"), ("anonymous_id", "dev-1")]
    assert both.as_message() == {"userId": "u-1", "anonymousId": "dev-1"}
    assert parse_identity(42, None).user_id == "42"
    for user, anonymous, code in [(None, None, "missing_identity"), ("", "", "missing_identity"),
                                  (" ", None, "invalid_identity"), ({"id": 1}, None, "invalid_identity"),
                                  (True, None, "invalid_identity"), ("u" * 257, None, "invalid_identity")]:
        with pytest.raises(InAppRejected) as refused:
            parse_identity(user, anonymous)
        assert refused.value.code == code


def test_the_sdk_sees_safe_links_only_and_events_are_named_by_send_key_and_action():
    message = StoredMessage(send_key="sk_1", workspace_id="ws", profile_id="p", source_id="cmp_1", title=None,
                            body="B", url="javascript:alert(1)", options={"on_event": "Product Added"},
                            state="pending", created_at=NOW, expires_at=NOW + timedelta(days=1))
    shown = message_json(message)
    assert shown["url"] is None
    assert shown["display"] == {"on_screen": None, "on_event": "Product Added", "until": "2026-06-16T10:00:00Z"}
    event = interaction_event(message, action="clicked", identity=parse_identity("u-1", None), at=NOW, button="go")
    assert event == {"type": "track", "event": "In-App Message Clicked", "userId": "u-1",
                     "timestamp": NOW.isoformat(), "messageId": "in-app-sk_1-clicked",
                     "properties": {"send_key": "sk_1", "channel": "in_app", "source_id": "cmp_1",
                                    "campaign_id": "cmp_1", "button": "go"}}
    journey = interaction_event(replace(message, source_id="jny_1"), action="dismissed",
                                identity=parse_identity(None, "dev"), at=NOW)
    assert "campaign_id" not in journey["properties"]
    assert (journey["event"], journey["anonymousId"]) == ("In-App Message Dismissed", "dev")
