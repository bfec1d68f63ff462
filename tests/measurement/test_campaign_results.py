"""A campaign's results: the funnel from the ledger and the events, and the uplift over its control group,
with planted conversions whose counts and figures are known."""

from __future__ import annotations

import math
import statistics
from datetime import timedelta
from typing import Any

import pytest

from loopline.domain.experiments import Mean, Proportion, compare_means, compare_proportions
from loopline.store.sql.tables import sends
from tests.conftest import bearer
from tests.engagement.conftest import NOW, customers, shop  # noqa: F401 - the shop fixture serves these tests too

METRIC = {"event": "Order Completed", "within_days": 7, "revenue_property": "revenue"}


def _track(user: str, event: str, at: Any, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "properties": properties, "timestamp": at.isoformat()}


def _results(shop: Any, campaign_id: str) -> dict[str, Any]:  # noqa: F811
    response = shop.client.get(f"/api/v1/campaigns/{campaign_id}/results", headers=shop.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _close(found: Any, expected: Any) -> None:
    """Assert two JSON values are equal, floats to 1e-9 relative."""
    if isinstance(expected, dict):
        assert set(found) == set(expected)
        for key in expected:
            _close(found[key], expected[key])
    elif isinstance(expected, list):
        assert len(found) == len(expected)
        for one, other in zip(found, expected, strict=True):
            _close(one, other)
    elif isinstance(expected, float) and not isinstance(found, bool):
        assert found == pytest.approx(expected, rel=1e-9, abs=1e-12)
    else:
        assert found == expected


def _mean(values: list[float]) -> Mean:
    return Mean(len(values), statistics.fmean(values), statistics.variance(values) if len(values) > 1 else math.nan)


def test_results_count_the_funnel_and_measure_the_uplift_over_the_control_group(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(40))
    shop.policy(opt_in_channels=[])
    campaign = shop.campaign(shop.segment(), holdout_percent=50, success_metric=METRIC, variants=[
        {"name": "A", "split": 50, "content": {"email": {"subject": "A", "body": "a"}}},
        {"name": "B", "split": 50, "content": {"email": {"subject": "B", "body": "b"}}},
    ], costs={"fixed": 100, "per_message": 0.5})
    shop.move(campaign["id"], "schedule")
    shop.tick()
    rows = {f"u-{index:05d}": shop.sends(f"u-{index:05d}", source_id=campaign["id"]) for index in range(40)}
    assert all(len(own) == 1 for own in rows.values())
    row = {user: own[0] for user, own in rows.items()}
    treated = sorted(user for user, r in row.items() if r["state"] == "sent")
    control = sorted(user for user, r in row.items() if r["reason"] == "control_group")
    assert len(treated) + len(control) == 40
    assert len(treated) >= 12
    assert len(control) >= 5
    decided = NOW  # every decision was taken at the tick

    day = timedelta(days=1)
    events = []
    revenue: dict[str, float] = dict.fromkeys(row, 0.0)
    for index, user in enumerate(treated[:8]):  # 8 treated customers convert within the window
        events.append(_track(user, "Order Completed", decided + day * (index % 6 + 1), revenue=10.0 + index))
        revenue[user] += 10.0 + index
    events.append(_track(treated[0], "Order Completed", decided + 2 * day, revenue="5"))  # a second order
    revenue[treated[0]] += 5.0
    events.append(_track(treated[8], "Order Completed", decided - day, revenue=99))  # before the decision
    events.append(_track(treated[9], "Order Completed", decided + 8 * day, revenue=99))  # after the window
    events.append(_track(treated[10], "Product Viewed", decided + day, revenue=99))  # not the goal
    for user in control[:2]:  # 2 control customers convert within the window
        events.append(_track(user, "Order Completed", decided + 3 * day, revenue=20))
        revenue[user] += 20.0
    events.append(_track(control[2], "Order Completed", decided + 7 * day + timedelta(minutes=1), revenue=50))
    # Opens and clicks are found by the send key alone.
    for user in treated[:5]:
        events.append(_track(user, "Email Opened", decided + day, send_key=row[user]["send_key"]))
    for user in treated[:2]:
        events.append(_track(user, "Email Link Clicked", decided + day, send_key=row[user]["send_key"]))
    events.append(_track(treated[6], "Email Opened", decided + day, send_key="not-a-send-of-this-campaign"))
    shop.clock.at = NOW + 10 * day  # events are taken as they happened, ten days on
    shop.ingest(events)
    for user in treated[:10]:
        shop.runtime.services.send_ledger.record_receipt(workspace_id=shop.workspace.id,
                                                         send_key=row[user]["send_key"], status="delivered",
                                                         at=decided + timedelta(minutes=1))

    # Another campaign's message reached treated[1] after this one and before their order: the
    # funnel does not credit this campaign with that order (last touch); the arms still count it.
    later = decided + day
    profile_id = shop.client.get(f"/api/v1/profiles/{treated[1]}/sends", headers=shop.headers).json()["profile_id"]
    with shop.runtime.services.engine.begin() as conn:
        conn.execute(sends.insert().values(
            send_key="other-campaign-send", workspace_id=shop.workspace.id, source_kind="campaign",
            source_id="cmp_other", profile_id=profile_id, channel="email", priority="marketing",
            topic="promotions", state="sent", created_at=later, updated_at=later, sent_at=later))

    body = _results(shop, campaign["id"])
    assert body["attribution"] == {"model": "last_touch", "within_days": 7, "measured_from": "decision"}

    # The funnel per arm, variant and channel: the control rows have their own lines.
    expected_funnel = []
    lines = [(group, variant) for group, arm in (("treatment", treated), ("control_group", control))
             for variant in sorted({row[user]["variant"] for user in arm})]
    for group, variant in lines:
        users = [user for user in (treated if group == "treatment" else control) if row[user]["variant"] == variant]
        mine = [user for user in users if user in treated]
        converted = [user for user in users if revenue[user] > 0 and user != treated[1]]
        skipped = {"control_group": len(users)} if group == "control_group" else {}
        expected_funnel.append({
            "group": group, "variant": variant, "channel": "email", "audience": len(users), "sent": len(mine),
            "delivered": len(set(mine) & set(treated[:10])), "opened": len(set(mine) & set(treated[:5])),
            "clicked": len(set(mine) & set(treated[:2])), "converted": len(converted),
            "conversions": len(converted) + (treated[0] in users), "revenue": sum(revenue[user] for user in converted),
            "skipped": skipped,
        })
    assert {line["group"] for line in expected_funnel} == {"treatment", "control_group"}
    _close(body["funnel"], expected_funnel)
    assert body["skipped"] == {"control_group": len(control)}

    # The arms: intent to treat, one outcome per customer.
    assert body["arms"]["treatment"] == {"customers": len(treated), "converted": 8,
                                         "revenue": sum(revenue[user] for user in treated)}
    assert body["arms"]["control_group"] == {"customers": len(control), "converted": 2, "revenue": 40.0}
    assert "global_control_group" not in body["arms"]

    uplift = body["uplift"]
    assert uplift["treatment_vs_global_control"] is None
    result = uplift["treatment_vs_control"]
    assert result["control"] == "control_group"
    (base, treatment) = result["groups"]
    assert (base["group"], base["n"], treatment["group"], treatment["n"]) == (
        "control_group", len(control), "treatment", len(treated))
    _close(treatment["outcomes"]["conversion"],
           compare_proportions(Proportion(len(treated), 8), Proportion(len(control), 2)).as_json())
    _close(treatment["outcomes"]["revenue_per_customer"],
           compare_means(_mean([revenue[user] for user in treated]), _mean([revenue[user] for user in control]))
           .as_json())
    assert treatment["outcomes"]["conversion"]["lift"] > 0

    # What it cost and returned: per message, per click, per conversion; ROI on all revenue and
    # on the revenue over the holdout's.
    cost = 100 + 0.5 * len(treated)
    earned = sum(revenue[user] for user in treated)
    extra = (earned / len(treated) - 40.0 / len(control)) * len(treated)
    _close(body["costs"], {
        "currency": "EUR", "cost": cost, "cost_per_message": cost / len(treated), "cost_per_response": cost / 2,
        "cost_per_conversion": cost / 8, "revenue": earned, "roi": (earned - cost) / cost,
        "incremental_revenue": extra, "incremental_roi": (extra - cost) / cost})

    by_variant = {group["group"]: group for group in uplift["variants_vs_control"]["groups"]}
    for variant in ("A", "B"):
        mine = [user for user in treated if row[user]["variant"] == variant]
        _close(by_variant[variant]["outcomes"]["conversion"], compare_proportions(
            Proportion(len(mine), sum(revenue[user] > 0 for user in mine)), Proportion(len(control), 2)).as_json())


def test_results_of_another_workspaces_campaign_are_not_found(shop: Any, other_workspace: Any) -> None:  # noqa: F811
    shop.ingest(customers(2))
    campaign = shop.campaign(shop.segment(), success_metric=METRIC)
    missing = shop.client.get(f"/api/v1/campaigns/{campaign['id']}/results",
                              headers=bearer(other_workspace.secret_key))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "campaign_not_found"
    assert _results(shop, campaign["id"])["funnel"] == []  # its own workspace sees it, with nothing sent yet


def test_the_campaign_is_measured_against_the_global_control_group(
        shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(40))
    shop.policy(opt_in_channels=[], global_control_percent=20)
    campaign = shop.campaign(shop.segment(), holdout_percent=0, success_metric=METRIC)
    shop.move(campaign["id"], "schedule")
    shop.tick()
    row = {f"u-{index:05d}": shop.sends(f"u-{index:05d}", source_id=campaign["id"])[0] for index in range(40)}
    held = sorted(user for user, r in row.items() if r["reason"] == "global_control_group")
    treated = sorted(user for user, r in row.items() if r["state"] == "sent")
    assert held
    assert len(held) + len(treated) == 40
    shop.clock.at = NOW + timedelta(days=10)
    shop.ingest([_track(user, "Order Completed", NOW + timedelta(hours=5), revenue=30) for user in treated[:6]]
                + [_track(held[0], "Order Completed", NOW + timedelta(hours=5), revenue=30)])

    body = _results(shop, campaign["id"])
    assert body["uplift"]["treatment_vs_control"] is None
    assert body["uplift"]["variants_vs_control"] is None
    assert body["arms"]["global_control_group"] == {"customers": len(held), "converted": 1, "revenue": 30.0}
    (base, treatment) = body["uplift"]["treatment_vs_global_control"]["groups"]
    assert base["group"] == "global_control_group"
    _close(treatment["outcomes"]["conversion"],
           compare_proportions(Proportion(len(treated), 6), Proportion(len(held), 1)).as_json())
    revenue = [30.0] * 6 + [0.0] * (len(treated) - 6)
    _close(treatment["outcomes"]["revenue_per_customer"],
           compare_means(_mean(revenue), _mean([30.0] + [0.0] * (len(held) - 1))).as_json())
    assert body["skipped"] == {"global_control_group": len(held)}
