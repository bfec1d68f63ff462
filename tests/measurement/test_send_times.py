"""Best-time sending through the API: each customer's send waits for their own best hour, quiet hours win,
a fixed-time control goes at the run's time, and the results compare the two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.engagement.conftest import NOW, customers, shop  # noqa: F401 - the shop fixture serves these tests too

WEEK = timedelta(days=7)


def _opens(user: str, at: datetime, weeks: int, event: str = "Email Opened") -> list[dict[str, Any]]:
    """Return ``weeks`` opens by ``user`` at the same hour of the week in the weeks before ``at``."""
    return [{"type": "track", "userId": user, "event": event, "properties": {},
             "timestamp": (at - WEEK * (week + 1) + timedelta(minutes=7 * week)).isoformat()}
            for week in range(weeks)]


def _not_before(shop: Any, user: str, campaign_id: str) -> datetime | None:  # noqa: F811
    rows = shop.sends(user, source_id=campaign_id)
    assert len(rows) == 1, rows
    value = rows[0]["not_before"]
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _best_time_campaign(shop: Any, *, control: float, **extra: Any) -> dict[str, Any]:  # noqa: F811
    schedule = {"kind": "now", "best_time": {"within_hours": 24, "fixed_time_control_percent": control}}
    return dict(shop.campaign(shop.segment(), schedule=schedule, **extra))


def test_each_customer_is_sent_at_their_own_best_hour_and_quiet_hours_win(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(6))
    shop.policy(opt_in_channels=[], quiet_hours={"start": "21:00", "end": "08:00", "channels": ["email"]})
    at = NOW.replace  # Monday 15 June 2026, 10:00 UTC; the customers live in Berlin (UTC+2)
    tuesday_six = NOW.replace(hour=6) + timedelta(days=1)
    shop.ingest([
        *_opens("u-00000", at(hour=17, minute=5), 4),                               # evenings, 19:00 in Berlin
        *_opens("u-00001", tuesday_six, 4, event="Email Link Clicked"),             # Tuesday 08:00 in Berlin
        *_opens("u-00003", at(hour=13, minute=2), 3), *_opens("u-00004", at(hour=13, minute=2), 3),
        *_opens("u-00005", at(hour=20, minute=30), 5),                              # 22:30 in Berlin: quiet
        *_opens("u-00005", at(hour=15, minute=10), 4),                              # its second habit
    ])  # u-00002 has no history at all
    campaign = _best_time_campaign(shop, control=0)
    shop.move(campaign["id"], "schedule")
    shop.tick()

    assert _not_before(shop, "u-00000", campaign["id"]) == at(hour=17)
    assert _not_before(shop, "u-00001", campaign["id"]) == tuesday_six
    # No history: the workspace's busiest hour (six opens at 13:00 from two customers).
    assert _not_before(shop, "u-00002", campaign["id"]) == at(hour=13)
    assert _not_before(shop, "u-00003", campaign["id"]) == at(hour=13)
    # The quiet-hours habit gives way to the customer's best hour outside them.
    quiet_one = _not_before(shop, "u-00005", campaign["id"])
    assert quiet_one == at(hour=15)
    assert not shop.outbox(), "nothing is due before the customers' hours"

    # Each message goes out when its hour comes, and not before.
    shop.tick(at=at(hour=13, minute=1))
    assert sorted(item["address"] for item in shop.outbox()) == ["c00002@example.com", "c00003@example.com",
                                                             "c00004@example.com"]
    shop.tick(at=tuesday_six + timedelta(minutes=1))
    assert len(shop.outbox()) == 6
    for row in (shop.sends(f"u-{index:05d}", source_id=campaign["id"])[0] for index in range(6)):
        assert row["state"] == "sent"
        local = datetime.fromisoformat(row["not_before"]).astimezone(ZoneInfo("Europe/Berlin"))
        assert 8 <= local.hour < 21, "never inside quiet hours"


def test_a_customer_whose_best_hour_is_now_is_sent_at_once(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(1))
    shop.policy(opt_in_channels=[])
    shop.ingest(_opens("u-00000", NOW + timedelta(minutes=5), 5))
    campaign = _best_time_campaign(shop, control=0)
    shop.move(campaign["id"], "schedule")
    shop.tick()
    assert _not_before(shop, "u-00000", campaign["id"]) == NOW
    assert len(shop.outbox()) == 1


def test_the_fixed_time_control_goes_at_the_run_time_and_the_results_compare_the_two(
        shop: Any) -> None:  # noqa: F811
    count = 60
    shop.ingest(customers(count))
    shop.policy(opt_in_channels=[])
    evening = NOW.replace(hour=18)
    shop.ingest([call for index in range(count) for call in _opens(f"u-{index:05d}", evening, 3)])
    campaign = _best_time_campaign(shop, control=40, success_metric={"event": "Order Completed", "within_days": 3})
    shop.move(campaign["id"], "schedule")
    shop.tick()
    rows = {f"u-{index:05d}": shop.sends(f"u-{index:05d}", source_id=campaign["id"])[0] for index in range(count)}
    fixed = sorted(user for user, row in rows.items() if row["state"] == "sent")
    best = sorted(user for user, row in rows.items() if row["state"] == "queued")
    assert len(fixed) + len(best) == count
    assert 12 <= len(fixed) <= 36, "about 40 % at the run's time"
    assert all(datetime.fromisoformat(rows[u]["not_before"]).astimezone(UTC) == evening for u in best)
    shop.tick(at=evening + timedelta(minutes=1))
    rows = {user: shop.sends(user, source_id=campaign["id"])[0] for user in rows}
    assert all(row["state"] == "sent" for row in rows.values())

    # Plant the answers: half the best-time customers open and a third click and buy; a fifth of the others open.
    opened = best[: len(best) // 2] + fixed[: len(fixed) // 5]
    clicked = best[: len(best) // 3]
    bought = best[: len(best) // 3] + fixed[:1]
    answer_at = evening + timedelta(hours=2)
    events = [{"type": "track", "userId": user, "event": "Email Opened", "timestamp": answer_at.isoformat(),
               "properties": {"send_key": rows[user]["send_key"]}} for user in opened]
    events += [{"type": "track", "userId": user, "event": "Email Link Clicked", "timestamp": answer_at.isoformat(),
                "properties": {"send_key": rows[user]["send_key"]}} for user in clicked]
    events += [{"type": "track", "userId": user, "event": "Order Completed", "timestamp": answer_at.isoformat(),
                "properties": {}} for user in bought]
    shop.clock.at = evening + timedelta(days=1)
    shop.ingest(events)

    response = shop.client.get(f"/api/v1/campaigns/{campaign['id']}/results", headers=shop.headers)
    assert response.status_code == 200, response.text
    report = response.json()["send_time"]
    assert report["arms"] == {
        "best_time": {"customers": len(best), "opened": len(best) // 2, "clicked": len(best) // 3,
                      "converted": len(best) // 3, "revenue": 0.0},
        "fixed_time": {"customers": len(fixed), "opened": len(fixed) // 5, "clicked": 0, "converted": 1,
                       "revenue": 0.0},
    }
    comparison = report["best_time_vs_fixed_time"]
    assert comparison["control"] == "fixed_time"
    groups = {group["group"]: group for group in comparison["groups"]}
    opened_lift = groups["best_time"]["outcomes"]["opened"]
    assert opened_lift["value"] == (len(best) // 2) / len(best)
    assert opened_lift["lift"] == (len(best) // 2) / len(best) - (len(fixed) // 5) / len(fixed)
    assert set(groups["best_time"]["outcomes"]) == {"opened", "clicked", "conversion"}
    assert groups["fixed_time"]["outcomes"]["opened"]["lift"] is None


def test_a_campaign_without_best_time_has_no_send_time_report(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(2))
    shop.policy(opt_in_channels=[])
    campaign = shop.campaign(shop.segment())
    shop.move(campaign["id"], "schedule")
    shop.tick()
    response = shop.client.get(f"/api/v1/campaigns/{campaign['id']}/results", headers=shop.headers)
    assert response.status_code == 200
    assert response.json()["send_time"] is None


def test_best_time_refuses_a_local_time_schedule_and_spans_out_of_range(shop: Any) -> None:  # noqa: F811
    segment = shop.segment()
    base = {"name": "Best", "definition": {
        "audience": {"segments": [segment]}, "channels": ["email"],
        "variants": [{"name": "A", "split": 100, "content": {"email": {"subject": "s", "body": "b"}}}]}}
    for schedule, fragment in (
        ({"kind": "local_time", "at": "2026-06-16T09:00:00", "best_time": {}}, "best_time"),
        ({"kind": "now", "best_time": {"within_hours": 1}}, "within_hours"),
        ({"kind": "now", "best_time": {"within_hours": 169}}, "within_hours"),
        ({"kind": "now", "best_time": {"fixed_time_control_percent": 60}}, "fixed_time_control_percent"),
    ):
        body = {**base, "definition": {**base["definition"], "schedule": schedule}}
        response = shop.client.post("/api/v1/campaigns", headers=shop.headers, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_request"
        assert fragment in response.text


def test_the_preview_shows_the_customers_best_time(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(1))
    shop.policy(opt_in_channels=[])
    shop.ingest(_opens("u-00000", NOW.replace(hour=16), 4))
    campaign = _best_time_campaign(shop, control=0)
    response = shop.client.post(f"/api/v1/campaigns/{campaign['id']}/preview", headers=shop.headers,
                                json={"profile": "u-00000"})
    assert response.status_code == 200, response.text
    assert response.json()["decision"]["not_before"] == NOW.replace(hour=16).isoformat()
