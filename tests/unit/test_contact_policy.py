"""The contact policy decides send / defer / skip: caps, priorities, quiet hours, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.domain.contact_policy import (
    Cap,
    Decision,
    Message,
    Policy,
    Priority,
    QuietHours,
    Sent,
    decide,
)

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday, midday in UTC
THREE_A_WEEK = Cap(limit=3, window=timedelta(days=7))
ONE_PUSH_A_DAY = Cap(limit=1, window=timedelta(days=1), channel="push")
NIGHTS = QuietHours(start=time(21, 0), end=time(8, 0), channels=frozenset({"push", "sms"}))


def _marketing(channel: str = "push", campaign: str = "cmp_b", expires: datetime | None = None) -> Message:
    return Message(channel=channel, priority=Priority.MARKETING, campaign_id=campaign, expires_at=expires)


def _sent(hours_ago: float, channel: str = "email", priority: Priority = Priority.MARKETING,
          campaign: str = "cmp_a") -> Sent:
    return Sent(at=NOW - timedelta(hours=hours_ago), channel=channel, priority=priority, campaign_id=campaign)


def _decide(message: Message, history: list[Sent], policy: Policy, zone: str | None = "UTC",
            now: datetime = NOW) -> Decision:
    return decide(message, history=history, policy=policy, time_zone=zone, now=now)


def test_a_cap_counts_marketing_across_channels_and_campaigns():
    policy = Policy(caps=(THREE_A_WEEK,))
    two = [_sent(5), _sent(30, channel="sms", campaign="cmp_c")]
    assert _decide(_marketing(), two, policy).send
    three = [*two, _sent(100, channel="push")]
    capped = _decide(_marketing(), three, policy)
    assert (capped.action, capped.reason) == ("skip", "frequency_cap")
    assert capped.details["cap"] == "at most 3 marketing messages per 7 days"


def test_sends_out_of_the_window_and_service_messages_do_not_count():
    policy = Policy(caps=(THREE_A_WEEK,))
    history = [_sent(5), _sent(24 * 7 + 1), _sent(1, priority=Priority.TRANSACTIONAL),
               _sent(2, priority=Priority.SERVICE), _sent(3)]
    assert _decide(_marketing(), history, policy).send


def test_service_and_transactional_messages_bypass_caps_and_quiet_hours():
    policy = Policy(caps=(Cap(limit=0, window=timedelta(days=1)),), quiet_hours=NIGHTS)
    night = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)
    for priority in (Priority.SERVICE, Priority.TRANSACTIONAL):
        alert = Message(channel="push", priority=priority, campaign_id="cmp_alert")
        assert _decide(alert, [_sent(1)], policy, now=night).send


def test_a_channel_cap_binds_that_channel_only():
    policy = Policy(caps=(ONE_PUSH_A_DAY,))
    history = [_sent(3, channel="push")]
    assert _decide(_marketing("push"), history, policy).action == "skip"
    assert _decide(_marketing("email"), history, policy).send


def test_a_per_campaign_cap_counts_that_campaigns_sends_only():
    policy = Policy(caps=(Cap(limit=1, window=timedelta(days=30), per_campaign=True),))
    history = [_sent(48, campaign="cmp_a")]
    assert _decide(_marketing(campaign="cmp_a"), history, policy).action == "skip"
    assert _decide(_marketing(campaign="cmp_b"), history, policy).send


def test_a_capped_message_waits_until_the_window_opens_unless_it_expires_first():
    policy = Policy(caps=(ONE_PUSH_A_DAY,), defer_when_capped=True)
    history = [_sent(20, channel="push")]  # the window reopens 4 hours from now
    waiting = _decide(_marketing("push"), history, policy)
    assert (waiting.action, waiting.reason, waiting.until) == ("defer", "frequency_cap", NOW + timedelta(hours=4))
    too_late = _decide(_marketing("push", expires=NOW + timedelta(hours=2)), history, policy)
    assert (too_late.action, too_late.reason) == ("skip", "frequency_cap_until_expiry")
    assert _decide(_marketing("push", expires=NOW - timedelta(seconds=1)), [], policy).reason == "expired"


def test_a_deferral_waits_for_the_last_of_several_sends_to_age_out():
    policy = Policy(caps=(Cap(limit=2, window=timedelta(days=1)),), defer_when_capped=True)
    history = [_sent(23), _sent(10), _sent(2)]  # three in the window: two must leave
    assert _decide(_marketing(), history, policy).until == NOW + timedelta(hours=14)


@pytest.mark.parametrize(("local_now", "zone", "until"), [
    # 23:30 in Berlin (UTC+2 in June): held until 08:00 Berlin, 06:00 UTC the next day.
    (datetime(2026, 6, 10, 21, 30, tzinfo=UTC), "Europe/Berlin", datetime(2026, 6, 11, 6, 0, tzinfo=UTC)),
    # 05:00 in New York: held until 08:00 the same morning.
    (datetime(2026, 6, 10, 9, 0, tzinfo=UTC), "America/New_York", datetime(2026, 6, 10, 12, 0, tzinfo=UTC)),
    # An unknown zone falls back to the workspace default (UTC here): 23:00 UTC waits for 08:00.
    (datetime(2026, 6, 10, 23, 0, tzinfo=UTC), "Mars/Olympus", datetime(2026, 6, 11, 8, 0, tzinfo=UTC)),
    # Spring forward in Berlin (29 March 2026, 02:00 → 03:00): quiet hours ending at 02:30,
    # a time that night does not have, end half an hour after the jump.
    (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), "Europe/Berlin", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
])
def test_quiet_hours_hold_marketing_until_morning_where_the_customer_is(local_now, zone, until):
    quiet = NIGHTS if local_now.month != 3 else QuietHours(time(22, 0), time(2, 30), frozenset({"push"}))
    decision = _decide(_marketing("push"), [], Policy(quiet_hours=quiet), zone=zone, now=local_now)
    assert (decision.action, decision.reason, decision.until) == ("defer", "quiet_hours", until)


def test_quiet_hours_leave_other_channels_and_daytime_alone():
    policy = Policy(quiet_hours=NIGHTS)
    night = datetime(2026, 6, 10, 23, 0, tzinfo=UTC)
    assert _decide(_marketing("email"), [], policy, now=night).send
    assert _decide(_marketing("push"), [], policy, now=datetime(2026, 6, 10, 8, 0, tzinfo=UTC)).send


def test_a_cap_that_reopens_at_night_waits_for_the_morning():
    policy = Policy(caps=(ONE_PUSH_A_DAY,), quiet_hours=NIGHTS, defer_when_capped=True)
    history = [_sent(14, channel="push")]  # reopens at 22:00 UTC, inside the quiet hours
    decision = _decide(_marketing("push"), history, policy)
    assert (decision.action, decision.reason, decision.until) == (
        "defer", "quiet_hours", datetime(2026, 6, 11, 8, 0, tzinfo=UTC))


def test_the_clock_must_know_its_time_zone_and_caps_must_make_sense():
    with pytest.raises(ValueError, match="time zone"):
        decide(_marketing(), history=[], policy=Policy(), time_zone=None, now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="cap"):
        Cap(limit=1, window=timedelta(0))
    with pytest.raises(ValueError, match="differ"):
        QuietHours(time(8), time(8), frozenset())


@given(history_hours=st.lists(st.floats(min_value=0, max_value=400), max_size=12),
       limit=st.integers(min_value=1, max_value=5), days=st.integers(min_value=1, max_value=14))
def test_a_deferred_message_is_never_capped_when_it_comes_due(history_hours, limit, days):
    """Deferral lands exactly where the window has room again (and no earlier)."""
    cap = Cap(limit=limit, window=timedelta(days=days))
    policy = Policy(caps=(cap,), defer_when_capped=True)
    history = [_sent(hours) for hours in history_hours]
    decision = _decide(_marketing(), history, policy)
    if decision.send:
        return
    assert decision.action == "defer"
    assert decision.until is not None
    assert _decide(_marketing(), history, policy, now=decision.until).send
    assert not _decide(_marketing(), history, policy, now=decision.until - timedelta(microseconds=1)).send
