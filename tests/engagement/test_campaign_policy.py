"""What a campaign sends to whom and when: caps, priorities, quiet hours, local time, windows, throttles,
channel fallback, offers, variants and control groups, recurring runs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.engagement.conftest import NOW, customers, person

EMAIL = {"subject": "Hi", "body": "Sale for {{ profile.user_id }}"}


def _content(*channels: str) -> list[dict[str, object]]:
    return [{"name": "A", "split": 100, "content": {
        c: {"body": f"{c} for {{{{ profile.user_id }}}}", **({"subject": "Hi"} if c == "email" else {})}
        for c in channels}}]


def _run(shop, segment, name, at=NOW, **definition):
    shop.clock.at = at  # scheduled when it runs: "now" at ``at``
    campaign = shop.campaign(segment, name=name, **definition)
    shop.move(campaign["id"], "schedule")
    shop.tick(at)
    return campaign["id"]


def test_a_frequency_cap_counts_marketing_across_campaigns_and_lets_service_messages_through(shop):
    shop.ingest(customers(3))
    shop.policy(opt_in_channels=[], caps=[{"limit": 2, "window_hours": 24 * 7}])
    segment = shop.segment()
    first = _run(shop, segment, "One")
    second = _run(shop, segment, "Two", NOW + timedelta(hours=1))
    third = _run(shop, segment, "Three", NOW + timedelta(hours=2))
    alert = _run(shop, segment, "Service notice", NOW + timedelta(hours=3), priority="service")
    assert shop.report(first)["totals"] == shop.report(second)["totals"] == {"sent": 3}
    assert shop.report(third)["by_state"] == {"skipped": {"frequency_cap": 3}}
    assert shop.report(alert)["totals"] == {"sent": 3}
    why = shop.sends("u-00000", source_id=third)[0]
    assert why["detail"] == "cap: at most 2 marketing messages per 7 days"
    # Eight days later the window has moved on.
    assert shop.report(_run(shop, segment, "Four", NOW + timedelta(days=8)))["totals"] == {"sent": 3}


def test_quiet_hours_hold_marketing_push_until_morning_where_the_customer_is(shop):
    shop.ingest(customers(2))
    shop.policy(opt_in_channels=[], quiet_hours={"start": "21:00", "end": "08:00", "channels": ["in_app"]})
    late = datetime(2026, 6, 15, 21, 30, tzinfo=UTC)  # 23:30 in Berlin
    campaign = _run(shop, shop.segment(), "Night owl", late, channels=["in_app"], variants=_content("in_app"))
    assert shop.outbox() == []
    (held,) = shop.sends("u-00000", source_id=campaign)
    assert (held["state"], held["reason"]) == ("queued", "quiet_hours")
    assert held["not_before"] == "2026-06-16T06:00:00Z"  # 08:00 in Berlin
    shop.tick(datetime(2026, 6, 16, 5, 59, tzinfo=UTC))
    assert shop.outbox() == []
    assert shop.report(campaign)["status"] == "running"  # not completed while sends wait
    shop.tick(datetime(2026, 6, 16, 6, 0, tzinfo=UTC))
    assert len(shop.outbox()) == 2
    assert shop.report(campaign)["status"] == "completed"


def test_an_unsubscribe_while_a_send_waits_wins_over_the_queued_send(shop):
    shop.ingest(customers(2))
    shop.policy(opt_in_channels=[], quiet_hours={"start": "21:00", "end": "08:00", "channels": ["email"]})
    campaign = _run(shop, shop.segment(), "Night", datetime(2026, 6, 15, 21, 30, tzinfo=UTC))
    shop.opt_in(["u-00001"], status="opted_out")
    shop.tick(datetime(2026, 6, 16, 6, 0, tzinfo=UTC))
    assert [m["address"] for m in shop.outbox()] == ["c00000@example.com"]
    (stopped,) = shop.sends("u-00001", source_id=campaign)
    assert (stopped["state"], stopped["reason"]) == ("skipped", "unsubscribed")


def test_a_local_time_campaign_reaches_each_customer_at_nine_on_their_own_clock(shop):
    shop.ingest([*customers(1), person("u-ny", email="ny@example.com", firstName="Ny", timezone="America/New_York")])
    shop.policy(opt_in_channels=[])
    campaign = _run(shop, shop.segment(), "Morning", NOW - timedelta(days=1),
                    schedule={"kind": "local_time", "at": "2026-06-15T09:00:00"})
    assert shop.report(campaign)["status"] == "scheduled"  # the first zone (UTC+14) reaches 09:00 at 19:00 UTC
    assert shop.tick(datetime(2026, 6, 14, 19, 0, tzinfo=UTC)).started == [campaign]
    (new_york,) = shop.sends("u-ny", source_id=campaign)
    assert new_york["not_before"] == "2026-06-15T13:00:00Z"
    assert shop.sends("u-00000", source_id=campaign)[0]["not_before"] == "2026-06-15T07:00:00Z"
    shop.tick(datetime(2026, 6, 15, 7, 0, tzinfo=UTC))
    assert [m["address"] for m in shop.outbox()] == ["c00000@example.com"]
    shop.tick(datetime(2026, 6, 15, 13, 0, tzinfo=UTC))
    assert len(shop.outbox()) == 2
    assert shop.report(campaign)["status"] == "completed"


def test_a_throttle_spreads_the_run_and_a_window_keeps_it_inside_local_hours(shop):
    shop.ingest(customers(5))
    shop.policy(opt_in_channels=[])
    segment = shop.segment()
    throttled = _run(shop, segment, "Slow", schedule={"kind": "now", "throttle_per_minute": 2})
    due = Counter(s["not_before"] for n in range(5) for s in shop.sends(f"u-{n:05d}", source_id=throttled))
    assert due == {"2026-06-15T10:00:00Z": 2, "2026-06-15T10:01:00Z": 2, "2026-06-15T10:02:00Z": 1}
    evening = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)  # 21:00 in Berlin, after the window
    windowed = _run(shop, segment, "Daytime", evening,
                    schedule={"kind": "now", "window": {"start": "09:00", "end": "20:00"}})
    assert {s["not_before"] for s in shop.sends("u-00000", source_id=windowed)} == {"2026-06-16T07:00:00Z"}


def test_channels_fall_back_in_order_and_an_offer_goes_out_on_one_channel_only(shop):
    shop.ingest(customers(2))
    shop.opt_in(["u-00000"], channel="sms")
    shop.opt_in(["u-00001"], channel="email")
    segment = shop.segment()
    fallback = _run(shop, segment, "Fallback", channels=["push", "sms", "email"],
                    variants=_content("push", "sms", "email"))
    picked = {m["profile_id"]: m["channel"] for m in shop.outbox(source_id=fallback)}
    assert sorted(picked.values()) == ["email", "sms"]  # no push tokens; each on their first usable channel
    (unreachable,) = shop.sends("u-00000", source_id=fallback)
    assert unreachable["channel"] == "sms"
    everywhere = _run(shop, segment, "Everywhere", NOW + timedelta(hours=30), channels=["sms", "email"],
                      every_channel=True, offer="summer-20", variants=_content("sms", "email"))
    states = {(s["channel"], s["state"], s["reason"]) for s in shop.sends("u-00000", source_id=everywhere)}
    assert states == {("sms", "sent", ""), ("email", "skipped", "no_consent")}
    again = _run(shop, segment, "Same offer", NOW + timedelta(hours=31), channels=["email", "sms"],
                 offer="summer-20", variants=_content("email", "sms"))
    assert {s["reason"] for n in range(2) for s in shop.sends(f"u-{n:05d}", source_id=again)} == {
        "offer_already_sent"}


def test_variants_split_the_treated_and_the_control_group_stays_the_same_on_every_run(shop):
    shop.ingest(customers(400))
    shop.policy(opt_in_channels=[])
    segment = shop.segment()
    weekly = shop.campaign(segment, name="Weekly", holdout_percent=20, schedule={
        "kind": "recurring", "cron": "0 9 * * MON", "time_zone": "Europe/Berlin"},
        variants=[{"name": "A", "split": 50, "content": {"email": {"subject": "A", "body": "a"}}},
                  {"name": "B", "split": 50, "content": {"email": {"subject": "B", "body": "b"}}}])
    scheduled = shop.move(weekly["id"], "schedule")
    assert scheduled["next_run_at"] == "2026-06-22T07:00:00Z"  # Monday 09:00 in Berlin (summer time)

    def run_on(monday: datetime) -> dict[str, tuple[str, str | None]]:
        shop.tick(monday)
        return {s["occurrence"] + user: (s["reason"] or "sent", s["variant"])
                for n in range(400) for user in [f"u-{n:05d}"] for s in shop.sends(user, source_id=weekly["id"])
                if s["occurrence"] == monday.strftime("%Y-%m-%dT%H:%MZ")}

    first = run_on(datetime(2026, 6, 22, 7, 0, tzinfo=UTC))
    second = run_on(datetime(2026, 6, 29, 7, 0, tzinfo=UTC))
    held_first = {key[-7:] for key, (reason, _) in first.items() if reason == "control_group"}
    held_second = {key[-7:] for key, (reason, _) in second.items() if reason == "control_group"}
    assert held_first == held_second
    assert 50 <= len(held_first) <= 110  # 20 % of 400, give or take chance
    variants = Counter(variant for reason, variant in first.values() if reason == "sent")
    assert set(variants) == {"A", "B"}
    assert abs(variants["A"] - variants["B"]) < 80
    # Winter time: the run after the clocks change is still 09:00 in Berlin.
    campaign = shop.client.get(f"/api/v1/campaigns/{weekly['id']}", headers=shop.headers).json()
    assert campaign["next_run_at"] == "2026-07-06T07:00:00Z"


def test_the_global_control_group_is_held_out_of_every_marketing_campaign(shop):
    shop.ingest(customers(300))
    shop.policy(opt_in_channels=[], global_control_percent=10)
    segment = shop.segment()
    one = _run(shop, segment, "One")
    two = _run(shop, segment, "Two", NOW + timedelta(hours=1))
    service = _run(shop, segment, "Service", NOW + timedelta(hours=2), priority="service")

    def held(campaign_id: str) -> set[str]:
        return {n for n in range(300) for s in shop.sends(f"u-{n:05d}", source_id=campaign_id)
                if s["reason"] == "global_control_group"}

    assert held(one) == held(two)
    assert 10 <= len(held(one)) <= 60
    assert held(service) == set()  # service messages reach everyone


def test_a_higher_ranked_marketing_message_takes_a_full_caps_place_from_a_lower_one_still_waiting(shop):
    shop.ingest(customers(1))
    shop.policy(opt_in_channels=[], caps=[{"limit": 1, "window_hours": 24}],
                quiet_hours={"start": "21:00", "end": "08:00", "channels": ["email"]})
    segment = shop.segment()
    night = datetime(2026, 6, 15, 21, 0, tzinfo=UTC)  # 23:00 in Berlin: everything waits for the morning
    newsletter = _run(shop, segment, "Newsletter", night, rank=3)
    sale = _run(shop, segment, "Flash sale", night + timedelta(minutes=30), rank=8)
    tips = _run(shop, segment, "Tips", night + timedelta(minutes=40), rank=2)
    assert {s["source_id"]: (s["state"], s["reason"]) for s in shop.sends("u-00000")} == {
        newsletter: ("skipped", "outranked"), sale: ("queued", "quiet_hours"), tips: ("skipped", "frequency_cap")}
    shop.tick(datetime(2026, 6, 16, 6, 0, tzinfo=UTC))
    assert [m["source_id"] for m in shop.outbox()] == [sale]
    # Once a message has gone out it is never taken back: a higher rank the next evening waits its turn.
    late = _run(shop, segment, "Late offer", datetime(2026, 6, 16, 7, 0, tzinfo=UTC), rank=10)
    (row,) = shop.sends("u-00000", source_id=late)
    assert (row["state"], row["reason"]) == ("skipped", "frequency_cap")
