"""Best send times: hours of the week, the prior for customers with little history, and the allowed hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.domain.contact_policy import QuietHours
from loopline.domain.events import EventRecord
from loopline.domain.profiles import Computed, apply_event, combine
from loopline.domain.send_times import (
    HOURS_OF_WEEK,
    best_send_time,
    hour_of_week,
    in_fixed_time_control,
    prior_of,
    scores,
)

MONDAY = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
FLAT = prior_of({})


def test_hours_of_the_week_start_on_monday_at_midnight_utc() -> None:
    assert hour_of_week(datetime(2026, 6, 15, 0, 30, tzinfo=UTC)) == 0
    assert hour_of_week(MONDAY) == 10
    assert hour_of_week(datetime(2026, 6, 21, 23, 59, tzinfo=UTC)) == 167
    # The same instant written in another zone is the same hour.
    assert hour_of_week(datetime(2026, 6, 15, 12, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))) == 12


def test_a_customer_with_a_habit_is_sent_at_it() -> None:
    habit = {str(hour_of_week(MONDAY.replace(hour=19))): 5}
    chosen = best_send_time(habit, FLAT, start=MONDAY, end=MONDAY + timedelta(hours=24))
    assert chosen == MONDAY.replace(hour=19)


def test_without_history_the_workspace_pattern_decides() -> None:
    prior = prior_of({hour_of_week(MONDAY.replace(hour=14)): 30.0, hour_of_week(MONDAY.replace(hour=20)): 10.0})
    assert best_send_time({}, prior, start=MONDAY, end=MONDAY + timedelta(hours=24)) == MONDAY.replace(hour=14)
    assert best_send_time(None, prior, start=MONDAY, end=MONDAY + timedelta(hours=24)) == MONDAY.replace(hour=14)


def test_a_single_observation_does_not_outweigh_a_strong_workspace_pattern_but_a_habit_does() -> None:
    prior = prior_of({hour_of_week(MONDAY.replace(hour=14)): 100.0})
    once = {str(hour_of_week(MONDAY.replace(hour=21))): 1}
    assert best_send_time(once, prior, start=MONDAY, end=MONDAY + timedelta(hours=24)) == MONDAY.replace(hour=14)
    habit = {str(hour_of_week(MONDAY.replace(hour=21))): 12}
    assert best_send_time(habit, prior, start=MONDAY, end=MONDAY + timedelta(hours=24)) == MONDAY.replace(hour=21)


def test_neighbouring_hours_support_each_other() -> None:
    # 3 opens at 18:00, 1 at 19:00 and 3 at 20:00 make 19:00 the best guess, over 3 at 09:00 tomorrow.
    hours = {str(hour_of_week(MONDAY.replace(hour=18))): 3, str(hour_of_week(MONDAY.replace(hour=19))): 1,
             str(hour_of_week(MONDAY.replace(hour=20))): 3,
             str(hour_of_week(MONDAY.replace(hour=9) + timedelta(days=1))): 3}
    assert best_send_time(hours, FLAT, start=MONDAY, end=MONDAY + timedelta(hours=24)) == MONDAY.replace(hour=19)


def test_the_span_bounds_the_choice_and_a_mid_hour_start_is_a_candidate() -> None:
    start = MONDAY.replace(minute=40)
    habit_now = {str(hour_of_week(MONDAY)): 6, str(hour_of_week(MONDAY.replace(hour=15))): 2}
    assert best_send_time(habit_now, FLAT, start=start, end=start + timedelta(hours=8)) == start
    late = {str(hour_of_week(MONDAY.replace(hour=23))): 6, str(hour_of_week(MONDAY.replace(hour=15))): 2}
    # 23:00 lies past the 8-hour span: the best hour inside it wins.
    assert best_send_time(late, FLAT, start=start, end=start + timedelta(hours=8)) == MONDAY.replace(hour=15)


def test_quiet_hours_win_over_the_best_hour() -> None:
    night = QuietHours(time(21), time(8), frozenset({"email"}))
    habit = {str(hour_of_week(MONDAY.replace(hour=22))): 9, str(hour_of_week(MONDAY.replace(hour=16))): 3}

    def allowed(moment: datetime) -> bool:
        return not night.holds(moment.astimezone(UTC).time())

    chosen = best_send_time(habit, FLAT, start=MONDAY, end=MONDAY + timedelta(hours=24), allowed=allowed)
    assert chosen == MONDAY.replace(hour=16)
    # Nothing allowed: the start stands and the contact policy defers as usual.
    assert best_send_time(habit, FLAT, start=MONDAY, end=MONDAY + timedelta(hours=24),
                          allowed=lambda _m: False) == MONDAY


def test_ties_go_to_the_earliest_hour_and_bad_slots_are_ignored() -> None:
    assert best_send_time({"nonsense": 5, "999": 4, "-3": 2}, FLAT, start=MONDAY,
                          end=MONDAY + timedelta(hours=24)) == MONDAY


@given(st.dictionaries(st.integers(0, HOURS_OF_WEEK - 1).map(str), st.integers(0, 50), max_size=30),
       st.integers(0, 200), st.integers(2, 168))
def test_the_choice_is_always_inside_the_span(hours: dict[str, int], offset: int, span: int) -> None:
    start = MONDAY + timedelta(minutes=17 * offset)
    end = start + timedelta(hours=span)
    chosen = best_send_time(hours, FLAT, start=start, end=end)
    assert start <= chosen < end
    assert chosen == start or (chosen.minute, chosen.second) == (0, 0)
    assert len(scores(hours, FLAT)) == HOURS_OF_WEEK


def test_the_prior_is_shares_of_the_week() -> None:
    prior = prior_of({0: 1.0, 5: 3.0, 200: 9.0})
    assert sum(prior) == pytest.approx(1.0)
    assert prior[5] == pytest.approx(0.75)
    assert FLAT == (1 / HOURS_OF_WEEK,) * HOURS_OF_WEEK


def test_the_fixed_time_control_is_a_stable_share_of_its_own() -> None:
    ids = [f"p{index}" for index in range(4_000)]
    chosen = [pid for pid in ids if in_fixed_time_control(campaign_id="cmp_1", profile_id=pid, percent=10)]
    assert 0.08 < len(chosen) / len(ids) < 0.12
    assert chosen == [pid for pid in ids if in_fixed_time_control(campaign_id="cmp_1", profile_id=pid, percent=10)]
    assert not any(in_fixed_time_control(campaign_id="cmp_1", profile_id=pid, percent=0) for pid in ids)
    other = [pid for pid in ids if in_fixed_time_control(campaign_id="cmp_2", profile_id=pid, percent=10)]
    assert chosen != other


def _record(kind: str, at: datetime, event: str | None = None) -> EventRecord:
    return EventRecord(workspace_id="ws", message_id=f"m-{at.isoformat()}-{event}", type=kind, event=event,
                       user_id="u", anonymous_id=None, timestamp=at, received_at=at, sent_at=None,
                       original_timestamp=None, timestamp_flag=None, source="test")


def test_attention_is_counted_from_opens_clicks_and_session_starts_not_from_receipts() -> None:
    computed = Computed()
    timeout = timedelta(minutes=30)
    monday_six = MONDAY.replace(hour=18)
    apply_event(computed, _record("identify", MONDAY - timedelta(days=7)), session_timeout=timeout)
    apply_event(computed, _record("track", monday_six, "Email Delivered"), session_timeout=timeout)
    apply_event(computed, _record("track", monday_six + timedelta(hours=3), "Email Opened"), session_timeout=timeout)
    apply_event(computed, _record("track", monday_six + timedelta(hours=3, minutes=5), "Email Link Clicked"),
                session_timeout=timeout)
    apply_event(computed, _record("track", monday_six + timedelta(hours=3, minutes=9), "Product Viewed"),
                session_timeout=timeout)  # inside the session the open started: no new attention
    apply_event(computed, _record("screen", monday_six + timedelta(days=1)), session_timeout=timeout)
    assert computed.active_hours == {"21": 2, str(24 + 18): 1}
    assert computed.as_json()["active_hours"] == computed.active_hours
    assert Computed.from_json(computed.as_json()).active_hours == computed.active_hours
    merged = combine(computed, Computed(active_hours={"21": 1, "100": 2}))
    assert merged.active_hours == {"21": 3, str(24 + 18): 1, "100": 2}
