"""The demo workspace's engagement set-up: a contact policy, consents, the template journeys, active,
and the paid media whose tagged traffic the generator simulated.

Customers who ticked the marketing box when they signed up (the generator's
``marketing_opt_in`` trait) get an email opt-in; the journeys then act on every event
that arrives after seeding — send one to the demo's write key and watch the outbox. Each
paid UTM campaign of the generator becomes a media buy with typical prices for its medium,
so its results (responses, credited revenue, ROI) come from the simulated visits.
"""

from __future__ import annotations

from datetime import datetime

from rich.progress import Progress

from loopline.actions.contact_policy import do_set_policy
from loopline.actions.journeys import do_create_journey, do_set_journey_status
from loopline.actions.media_buys import do_create_media_buy
from loopline.actions.segment_maintenance import ensure_builtin_segments
from loopline.actions.segments import do_create_segment
from loopline.demo.catalog import UTM_CAMPAIGNS
from loopline.domain.journey_templates import templates
from loopline.services import Services

POLICY = {
    "caps": [{"limit": 3, "window_hours": 24 * 7}, {"limit": 1, "window_hours": 24, "channel": "push"}],
    "quiet_hours": {"start": "21:00", "end": "08:00", "channels": ["push", "sms"]},
    "default_time_zone": "Europe/Berlin",
    "global_control_percent": 5,
}
AD_EXPIRING = {"name": "Ad expires within 3 days", "condition": {
    "type": "trait", "trait": "ad_expires_at", "operator": "within_next_days", "days": 3}}


# What a paid medium typically costs: (media buy channel, price per click, flat fee).
PAID_MEDIA: dict[str, tuple[str, float, float]] = {
    "cpc": ("search", 0.65, 0.0),
    "shopping": ("search", 0.45, 0.0),
    "paid_social": ("paid_social", 0.38, 150.0),
    "affiliate": ("affiliate", 0.12, 400.0),
}


def seed_engagement(services: Services, *, workspace_id: str, progress: Progress,
                    since: datetime | None = None) -> int:
    """Set the policy, record opt-ins, create and activate the template journeys; return how many journeys.

    With ``since`` (the start of the simulated history), the paid campaigns become media buys from then on.
    """
    do_set_policy(services, workspace_id=workspace_id, data=POLICY)
    profiles = services.lookups.list_profiles(workspace_id=workspace_id, limit=1_000_000).items
    task = progress.add_task("recording marketing opt-ins", total=len(profiles))
    now = services.clock.now()
    for profile in profiles:
        if profile.traits.get("marketing_opt_in") is True:
            services.privacy.set_consents(workspace_id=workspace_id, profile_id=profile.profile_id, now=now,
                                          choices=[{"channel": "email", "topic": "all", "status": "opted_in",
                                                    "source": "signup form"}])
        progress.advance(task)
    ensure_builtin_segments(services, workspace_id=workspace_id)
    at_risk = next(row.id for row in services.segments.in_workspace(workspace_id=workspace_id)
                   if row.builtin == "lifecycle_at_risk")
    ads = do_create_segment(services, workspace_id=workspace_id, data=AD_EXPIRING)
    created = 0
    for template in templates({"win_back": at_risk, "classified_ad_expiring": ads.id}):
        journey = do_create_journey(services, workspace_id=workspace_id,
                                    data={"name": template.name, "definition": template.definition})
        do_set_journey_status(services, workspace_id=workspace_id, journey_id=journey.id, status="active")
        created += 1
    if since is not None:
        seed_media_buys(services, workspace_id=workspace_id, since=since)
    return created


def seed_media_buys(services: Services, *, workspace_id: str, since: datetime) -> None:
    """Create a media buy for every paid UTM campaign of the generator (organic links are not bought)."""
    for source, medium, name, _content, _weight in UTM_CAMPAIGNS:
        if medium not in PAID_MEDIA:
            continue
        channel, per_click, fixed = PAID_MEDIA[medium]
        do_create_media_buy(services, workspace_id=workspace_id, data={
            "name": f"{name} ({source})", "definition": {
                "channel": channel, "publisher": source.replace("_", " ").title(),
                "utm": {"campaign": name, "source": source, "medium": medium},
                "starts_at": since.isoformat(),
                "costs": {"currency": "EUR", "fixed": fixed, "per_click": per_click},
                "success_metric": {"event": "Order Completed", "within_days": 7, "revenue_property": "revenue"},
            }})
