"""A campaign's results, computed on request: the funnel per variant and channel, and the uplift over its control.

The ledger says who was in the campaign and what was decided for them (sent, skipped and why,
held out in the control group); the mart says what they did afterwards. Treatment and control
are measured the same way, from the decision time (control customers get no message, so a
send time would measure the two arms differently): intent to treat, one outcome per customer.
The funnel credits a conversion by last touch: to this campaign's latest decision before it,
unless another campaign's or journey's message was sent to the customer in between.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from loopline.actions.campaigns import definition_of, get_campaign
from loopline.actions.mart import do_sync_mart
from loopline.domain.campaigns import SuccessMetric
from loopline.domain.economics import economics
from loopline.domain.engagement import SEND_KEY, engagement_events
from loopline.domain.experiments import Mean, Proportion, Summary, analyze
from loopline.query.campaign_results import CHUNK, goal_events_sql
from loopline.query.lookups import engaged_sql
from loopline.services import Services

CONTROL = "control_group"
GLOBAL_CONTROL = "global_control_group"
TREATMENT = "treatment"
ATTRIBUTION = "last_touch"
DELIVERED = ("delivered", "complained")  # a complaint is about a message that arrived
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OPENED, _CLICKED = engagement_events("opened", None), engagement_events("clicked", None)


@dataclass(slots=True)
class _Row:
    send_key: str
    profile_id: str
    channel: str
    variant: str | None
    state: str
    reason: str
    created_at: datetime
    receipt: str | None

    @property
    def group(self) -> str:
        """Return the arm the row puts its customer in: a control group, or the treatment."""
        return self.reason if self.state == "skipped" and self.reason in (CONTROL, GLOBAL_CONTROL) else TREATMENT


@dataclass(slots=True)
class _Goal:
    seq: int
    at: datetime
    revenue: float


@dataclass(slots=True)
class _Funnel:
    audience: set[str] = field(default_factory=set)
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    converted: set[str] = field(default_factory=set)
    conversions: int = 0
    revenue: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Arm:
    customers: int = 0
    converted: int = 0
    revenue: float = 0.0
    revenue_squares: float = 0.0

    def add(self, converted: bool, revenue: float) -> None:
        self.customers += 1
        self.converted += int(converted)
        self.revenue += revenue
        self.revenue_squares += revenue * revenue

    def outcomes(self, with_revenue: bool) -> dict[str, Summary]:
        """Return the conversion rate, and the revenue per customer from its count and sums of squares."""
        result: dict[str, Summary] = {"conversion": Proportion(self.customers, self.converted)}
        if with_revenue:
            n = self.customers
            mean = self.revenue / n if n else math.nan
            variance = (self.revenue_squares - self.revenue * mean) / (n - 1) if n > 1 else math.nan
            result["revenue_per_customer"] = Mean(n, mean, variance)
        return result

    def as_json(self) -> dict[str, Any]:
        return {"customers": self.customers, "converted": self.converted, "revenue": self.revenue}


def campaign_results(services: Services, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """Return the campaign's funnel, its uplift over the control groups, and how conversions were attributed.

    Raise ``CampaignNotFound`` for a campaign of another workspace.
    """
    row = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    definition = definition_of(row)
    metric = definition.success_metric
    rows = _ledger(services, workspace_id, campaign_id)
    by_profile: dict[str, list[_Row]] = defaultdict(list)
    for item in rows:
        by_profile[item.profile_id].append(item)
    do_sync_mart(services)  # so that recent events have their owner
    engaged = _engaged(services, workspace_id, [r.send_key for r in rows if r.state == "sent"])
    goals = _goals(services, workspace_id, metric, by_profile) if metric is not None else {}
    window = timedelta(days=metric.within_days) if metric is not None else timedelta(0)
    others = _other_messages(services, workspace_id, campaign_id, by_profile, window) if goals else {}

    funnels: dict[tuple[str, str | None, str], _Funnel] = defaultdict(_Funnel)
    for item in rows:
        funnel = funnels[(item.group, item.variant, item.channel)]
        funnel.audience.add(item.profile_id)
        if item.state == "sent":
            funnel.sent += 1
            funnel.delivered += int(item.receipt in DELIVERED)
            funnel.opened += int(bool(engaged.get(item.send_key, set()) & set(_OPENED)))
            funnel.clicked += int(bool(engaged.get(item.send_key, set()) & set(_CLICKED)))
        elif item.state == "skipped":
            funnel.skipped[item.reason] = funnel.skipped.get(item.reason, 0) + 1

    arms: dict[str, _Arm] = defaultdict(_Arm)
    variants: dict[str, _Arm] = defaultdict(_Arm)
    for profile_id, own in by_profile.items():
        own.sort(key=lambda r: (r.created_at, r.send_key))
        counted = []
        for goal in goals.get(profile_id, []):
            touch = _last_touch(own, goal.at, window)
            if touch is None:
                continue
            counted.append(goal)
            if any(touch.created_at < sent <= goal.at for sent in others.get(profile_id, ())):
                continue  # another message came later: the last touch is not this campaign's
            funnel = funnels[(touch.group, touch.variant, touch.channel)]
            funnel.converted.add(touch.send_key)
            funnel.conversions += 1
            funnel.revenue += goal.revenue
        revenue = sum(goal.revenue for goal in counted)
        groups = {r.group for r in own}
        arm = CONTROL if CONTROL in groups else GLOBAL_CONTROL if GLOBAL_CONTROL in groups else TREATMENT
        arms[arm].add(bool(counted), revenue)
        if arm == TREATMENT:
            variants[own[0].variant or ""].add(bool(counted), revenue)

    with_revenue = metric is not None and metric.revenue_property is not None
    skipped: dict[str, int] = defaultdict(int)
    for funnel in funnels.values():
        for reason, count in funnel.skipped.items():
            skipped[reason] += count
    treated = [f for (group, _, _), f in funnels.items() if group == TREATMENT]
    return {
        "costs": None if definition.costs is None else economics(
            definition.costs, sent=sum(f.sent for f in treated), responded=sum(f.clicked for f in treated),
            converted=arms[TREATMENT].converted, revenue=arms[TREATMENT].revenue,
            incremental_revenue=_incremental_revenue(arms, with_revenue)),
        "campaign_id": row.id,
        "status": row.status,
        "holdout_percent": definition.holdout_percent,
        "success_metric": metric.model_dump(mode="json") if metric is not None else None,
        "attribution": {
            "model": ATTRIBUTION,
            "within_days": metric.within_days if metric is not None else None,
            "measured_from": "decision",
        },
        "funnel": [_funnel_json(key, funnel) for key, funnel in sorted(funnels.items(), key=_funnel_order)],
        "skipped": dict(sorted(skipped.items())),
        "arms": {name: arms[name].as_json() for name in (TREATMENT, CONTROL, GLOBAL_CONTROL) if name in arms},
        "uplift": None if metric is None else {
            "treatment_vs_control": _compare({TREATMENT: arms.get(TREATMENT, _Arm())}, arms.get(CONTROL), CONTROL,
                                             with_revenue),
            "variants_vs_control": _compare(dict(sorted(variants.items())), arms.get(CONTROL), CONTROL, with_revenue),
            "treatment_vs_global_control": _compare({TREATMENT: arms.get(TREATMENT, _Arm())},
                                                    arms.get(GLOBAL_CONTROL), GLOBAL_CONTROL, with_revenue),
        },
    }


def _incremental_revenue(arms: dict[str, _Arm], with_revenue: bool) -> float | None:
    """Return the revenue over what the holdout's rate would have brought (None without revenue or holdout)."""
    treated, control = arms.get(TREATMENT), arms.get(CONTROL) or arms.get(GLOBAL_CONTROL)
    if not with_revenue or treated is None or not treated.customers or control is None or not control.customers:
        return None
    return (treated.revenue / treated.customers - control.revenue / control.customers) * treated.customers


def _compare(groups: dict[str, _Arm], control: _Arm | None, name: str, with_revenue: bool) -> dict[str, Any] | None:
    """Return every group against the control arm via the experiments module; None without control customers."""
    if control is None or not control.customers:
        return None
    summaries = {name: control.outcomes(with_revenue)}
    summaries.update({group: arm.outcomes(with_revenue) for group, arm in groups.items()})
    return analyze(summaries, control=name).as_json()


def _funnel_order(item: tuple[tuple[str, str | None, str], _Funnel]) -> tuple[int, str, str]:
    group, variant, channel = item[0]
    return ((TREATMENT, CONTROL, GLOBAL_CONTROL).index(group), variant or "", channel)


def _funnel_json(key: tuple[str, str | None, str], funnel: _Funnel) -> dict[str, Any]:
    group, variant, channel = key
    return {"group": group, "variant": variant, "channel": channel, "audience": len(funnel.audience),
            "sent": funnel.sent, "delivered": funnel.delivered, "opened": funnel.opened, "clicked": funnel.clicked,
            "converted": len(funnel.converted), "conversions": funnel.conversions, "revenue": funnel.revenue,
            "skipped": dict(sorted(funnel.skipped.items()))}


def _last_touch(rows: Sequence[_Row], at: datetime, window: timedelta) -> _Row | None:
    """Return the customer's latest decision of this campaign at or before ``at`` whose window holds ``at``."""
    touch = None
    for item in rows:  # in decision order
        if item.created_at <= at:
            touch = item
    return touch if touch is not None and at <= touch.created_at + window else None


def _ledger(services: Services, workspace_id: str, campaign_id: str) -> list[_Row]:
    """Return the campaign's ledger rows (its runs, not its test sends)."""
    return [_Row(r["send_key"], r["profile_id"], r["channel"], r["variant"], r["state"], r["reason"],
                 _utc(r["created_at"]), r["receipt"])
            for r in services.send_ledger.campaign_decisions(workspace_id=workspace_id, campaign_id=campaign_id)]


def _other_messages(services: Services, workspace_id: str, campaign_id: str, by_profile: dict[str, list[_Row]],
                    window: timedelta) -> dict[str, list[datetime]]:
    """Return when each customer was sent a message of another campaign or journey, around this campaign's."""
    found: dict[str, list[datetime]] = defaultdict(list)
    for chunk in _chunks(sorted(by_profile)):
        decided = [r.created_at for profile_id in chunk for r in by_profile[profile_id]]
        for profile_id, sent_at in services.send_ledger.sent_elsewhere(
                workspace_id=workspace_id, profile_ids=chunk, other_than=campaign_id, since=min(decided),
                until=max(decided) + window):
            found[profile_id].append(_utc(sent_at))
    return found


def _engaged(services: Services, workspace_id: str, send_keys: list[str]) -> dict[str, set[str]]:
    """Return, per send key, the engagement events that answer it."""
    mart = services.mart
    found: dict[str, set[str]] = defaultdict(set)
    for chunk in _chunks(send_keys):
        sql = engaged_sql(mart.dialect, workspace_id=workspace_id, send_keys=chunk,
                          events=sorted({*_OPENED, *_CLICKED}), key_property=SEND_KEY)
        for event, key in mart.fetch(sql + mart.dialect.settings, timeout_s=services.settings.segment_query_timeout_s):
            found[str(key)].add(str(event))
    return found


def _goals(services: Services, workspace_id: str, metric: SuccessMetric,
           by_profile: dict[str, list[_Row]]) -> dict[str, list[_Goal]]:
    """Return each customer's goal events from their first decision to the end of their last one's window."""
    mart = services.mart
    window = timedelta(days=metric.within_days)
    found: dict[str, list[_Goal]] = defaultdict(list)
    for chunk in _chunks(sorted(by_profile)):
        decided = [r.created_at for profile_id in chunk for r in by_profile[profile_id]]
        sql = goal_events_sql(
            mart.dialect, workspace_id=workspace_id, event=metric.event, where=metric.where, profile_ids=chunk,
            since=min(decided), until=max(decided) + window, revenue_property=metric.revenue_property,
            now=services.clock.now())
        for profile_id, seq, epoch_us, revenue in mart.fetch(
                sql + mart.dialect.settings, timeout_s=services.settings.segment_query_timeout_s):
            at = EPOCH + timedelta(microseconds=int(epoch_us))
            found[str(profile_id)].append(_Goal(int(seq), at, _number(revenue)))
    return found


def _number(text: Any) -> float:
    """Return a revenue property as a number; absent or unreadable revenue is 0."""
    try:
        value = float(text) if text is not None else 0.0
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
