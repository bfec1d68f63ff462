"""A campaign's results, computed on request: the funnel per variant and channel, and the uplift over its control.

The ledger says who was in the campaign and what was decided for them (sent, skipped and why,
held out in the control group); the mart says what they did afterwards. Treatment and control
are measured the same way, from the decision time (control customers get no message, so a
send time would measure the two arms differently): intent to treat, one outcome per customer.
The funnel credits a conversion by last touch: to this campaign's latest decision before it,
unless another campaign's or journey's message was sent to the customer in between; or, by
first touch, to this campaign's earliest decision whose window holds it, unless another
message reached the customer earlier within the window. A best-time campaign is also
measured against its fixed-time control: the treated customers sent at the run's own time.
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
from loopline.domain.economics import economics, revenue_of
from loopline.domain.engagement import SEND_KEY, engagement_events
from loopline.domain.experiments import Mean, Proportion, Summary, analyze
from loopline.domain.send_times import in_fixed_time_control
from loopline.query.campaign_results import CHUNK, goal_events_sql
from loopline.query.lookups import engaged_sql
from loopline.services import Services

CONTROL = "control_group"
GLOBAL_CONTROL = "global_control_group"
TREATMENT = "treatment"
LAST_TOUCH, FIRST_TOUCH = "last_touch", "first_touch"
ATTRIBUTION_MODELS = (LAST_TOUCH, FIRST_TOUCH)
BEST_TIME, FIXED_TIME = "best_time", "fixed_time"
DELIVERED = ("delivered", "complained")  # a complaint is about a message that arrived
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OPENED, _CLICKED = frozenset(engagement_events("opened", None)), frozenset(engagement_events("clicked", None))


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
    opened: int = 0
    clicked: int = 0

    def add(self, converted: bool, revenue: float, *, opened: bool = False, clicked: bool = False) -> None:
        self.customers += 1
        self.converted += int(converted)
        self.revenue += revenue
        self.revenue_squares += revenue * revenue
        self.opened += int(opened)
        self.clicked += int(clicked)

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


def campaign_results(services: Services, workspace_id: str, campaign_id: str, *,
                     attribution: str = LAST_TOUCH) -> dict[str, Any]:
    """Return the campaign's funnel, its uplift over the control groups, and how conversions were attributed.

    ``attribution`` is ``last_touch`` or ``first_touch`` (the funnel's credit; the uplift is
    intent to treat whatever the model). Raise ``CampaignNotFound`` for a campaign of another
    workspace.
    """
    if attribution not in ATTRIBUTION_MODELS:
        raise ValueError(f"unknown attribution model {attribution!r}")
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
    others = _other_messages(services, workspace_id, campaign_id, by_profile, window,
                             before=window if attribution == FIRST_TOUCH else timedelta(0)) if goals else {}
    best_time = definition.schedule.best_time
    send_times: dict[str, _Arm] = defaultdict(_Arm)

    funnels = _funnels(rows, engaged)
    arms: dict[str, _Arm] = defaultdict(_Arm)
    variants: dict[str, _Arm] = defaultdict(_Arm)
    for profile_id, own in by_profile.items():
        own.sort(key=lambda r: (r.created_at, r.send_key))
        counted = []
        for goal in goals.get(profile_id, []):
            touch = _touch(own, goal.at, window, attribution)
            if touch is None:
                continue
            counted.append(goal)
            if _credited_elsewhere(touch, goal.at, others.get(profile_id, ()), window, attribution):
                continue  # another campaign's or journey's message holds the touch
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
            if best_time is not None:
                fixed = in_fixed_time_control(campaign_id=campaign_id, profile_id=profile_id,
                                              percent=best_time.fixed_time_control_percent)
                answered = set().union(*(engaged.get(r.send_key, set()) for r in own if r.state == "sent"))
                send_times[FIXED_TIME if fixed else BEST_TIME].add(
                    bool(counted), revenue, opened=bool(answered & _OPENED), clicked=bool(answered & _CLICKED))

    with_revenue = metric is not None and metric.revenue_property is not None
    skipped: dict[str, int] = defaultdict(int)
    for reason, count in ((r, c) for funnel in funnels.values() for r, c in funnel.skipped.items()):
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
            "model": attribution,
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
        "send_time": None if best_time is None else _send_time_report(send_times, metric is not None, with_revenue),
    }


def _funnels(rows: Sequence[_Row], engaged: dict[str, set[str]]) -> dict[tuple[str, str | None, str], _Funnel]:
    """Return the funnel per arm, variant and channel, before conversions are credited."""
    funnels: dict[tuple[str, str | None, str], _Funnel] = defaultdict(_Funnel)
    for item in rows:
        funnel = funnels[(item.group, item.variant, item.channel)]
        funnel.audience.add(item.profile_id)
        if item.state == "sent":
            answered = engaged.get(item.send_key, set())
            funnel.sent += 1
            funnel.delivered += int(item.receipt in DELIVERED)
            funnel.opened += int(bool(answered & _OPENED))
            funnel.clicked += int(bool(answered & _CLICKED))
        elif item.state == "skipped":
            funnel.skipped[item.reason] = funnel.skipped.get(item.reason, 0) + 1
    return funnels


def _send_time_report(arms: dict[str, _Arm], with_goal: bool, with_revenue: bool) -> dict[str, Any]:
    """Return best-time against fixed-time sending among the treated: opens, clicks and, with a goal, conversion."""
    def outcomes(arm: _Arm) -> dict[str, Summary]:
        found: dict[str, Summary] = {"opened": Proportion(arm.customers, arm.opened),
                                     "clicked": Proportion(arm.customers, arm.clicked)}
        if with_goal:
            found.update(arm.outcomes(with_revenue))
        return found

    best, fixed = arms.get(BEST_TIME, _Arm()), arms.get(FIXED_TIME, _Arm())
    counts = {name: {"customers": arm.customers, "opened": arm.opened, "clicked": arm.clicked,
                     "converted": arm.converted, "revenue": arm.revenue}
              for name, arm in ((BEST_TIME, best), (FIXED_TIME, fixed))}
    comparison = analyze({FIXED_TIME: outcomes(fixed), BEST_TIME: outcomes(best)}, control=FIXED_TIME).as_json() \
        if fixed.customers else None
    return {"arms": counts, "best_time_vs_fixed_time": comparison}


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


def _touch(rows: Sequence[_Row], at: datetime, window: timedelta, model: str) -> _Row | None:
    """Return the decision of this campaign credited with a conversion at ``at``, or None.

    Last touch: the latest decision at or before ``at``, when its window holds ``at``. First
    touch: the earliest decision whose window holds ``at``.
    """
    holding = [item for item in rows if item.created_at <= at <= item.created_at + window]  # in decision order
    if model == FIRST_TOUCH:
        return holding[0] if holding else None
    latest = [item for item in rows if item.created_at <= at]
    return latest[-1] if latest and latest[-1] in holding else None


def _credited_elsewhere(touch: _Row, at: datetime, others: Sequence[datetime], window: timedelta,
                        model: str) -> bool:
    """Return whether another campaign's or journey's message takes the credit from ``touch``.

    Last touch: one sent after the decision and by the conversion. First touch: one sent
    within the window before the conversion and before the decision.
    """
    if model == FIRST_TOUCH:
        return any(at - window <= sent < touch.created_at for sent in others)
    return any(touch.created_at < sent <= at for sent in others)


def _ledger(services: Services, workspace_id: str, campaign_id: str) -> list[_Row]:
    """Return the campaign's ledger rows (its runs, not its test sends)."""
    return [_Row(r["send_key"], r["profile_id"], r["channel"], r["variant"], r["state"], r["reason"],
                 _utc(r["created_at"]), r["receipt"])
            for r in services.send_ledger.campaign_decisions(workspace_id=workspace_id, campaign_id=campaign_id)]


def _other_messages(services: Services, workspace_id: str, campaign_id: str, by_profile: dict[str, list[_Row]],
                    window: timedelta, *, before: timedelta) -> dict[str, list[datetime]]:
    """Return when each customer was sent a message of another campaign or journey, around this campaign's.

    ``before`` reaches back past the first decision (first touch looks for earlier messages).
    """
    found: dict[str, list[datetime]] = defaultdict(list)
    for chunk in _chunks(sorted(by_profile)):
        decided = [r.created_at for profile_id in chunk for r in by_profile[profile_id]]
        for profile_id, sent_at in services.send_ledger.sent_elsewhere(
                workspace_id=workspace_id, profile_ids=chunk, other_than=campaign_id, since=min(decided) - before,
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
            found[str(profile_id)].append(_Goal(int(seq), at, revenue_of(revenue)))
    return found


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
