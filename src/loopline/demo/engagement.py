"""The demo workspace's engagement set-up: a contact policy, consents, and the template journeys, active.

Customers who ticked the marketing box when they signed up (the generator's
``marketing_opt_in`` trait) get an email opt-in; the journeys then act on every event
that arrives after seeding — send one to the demo's write key and watch the outbox.
"""

from __future__ import annotations

from rich.progress import Progress

from loopline.actions.contact_policy import do_set_policy
from loopline.actions.journeys import do_create_journey, do_set_journey_status
from loopline.actions.segment_maintenance import ensure_builtin_segments
from loopline.actions.segments import do_create_segment
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


def seed_engagement(services: Services, *, workspace_id: str, progress: Progress) -> int:
    """Set the policy, record opt-ins, create and activate the template journeys; return how many journeys."""
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
    return created
