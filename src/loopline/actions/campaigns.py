"""Campaign actions: save, schedule, pause, resume, cancel, preview for a profile, and test sends."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from ulid import ULID

from loopline.actions.claims import LedgerSource, decide_and_record
from loopline.actions.contact_policy import get_policy, rules_for
from loopline.actions.delivery import do_hand_over_taken
from loopline.actions.landing_pages import unknown_landing_pages
from loopline.actions.messages import (
    compile_contents,
    context_for,
    customer_links,
    last_viewed,
    render_content,
    render_limits,
    uses_recommendations,
)
from loopline.actions.send_times import workspace_prior
from loopline.domain.campaign_sends import Run, plan
from loopline.domain.campaigns import (
    EDITABLE,
    CampaignConflict,
    CampaignDefinition,
    CampaignInvalid,
    Status,
    check_move,
    first_run,
    parse_campaign,
)
from loopline.domain.contact_policy import Policy
from loopline.domain.recipients import Intent, choose
from loopline.domain.send_ledger import send_key
from loopline.domain.templates import RenderFailed
from loopline.services import Services
from loopline.store.sql.campaigns import CampaignNameTaken, CampaignRow

MAX_NAME = 200


class CampaignRejected(ValueError):
    """A campaign request that cannot be carried out, with a machine-readable code and the problems."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.problems = problems or [{"path": "", "message": message}]


class CampaignNotFound(LookupError):
    """No such campaign in this workspace."""


def get_campaign(services: Services, *, workspace_id: str, campaign_id: str) -> CampaignRow:
    """Return one campaign of the workspace; raise CampaignNotFound otherwise."""
    row = services.campaigns.get(workspace_id=workspace_id, campaign_id=campaign_id)
    if row is None:
        raise CampaignNotFound(campaign_id)
    return row


def definition_of(row: CampaignRow) -> CampaignDefinition:
    """Return a stored campaign's definition (validated when it was saved)."""
    return CampaignDefinition.model_validate(row.definition)


def _checked(services: Services, workspace_id: str, data: Any) -> tuple[str, CampaignDefinition]:
    if not isinstance(data, dict):
        raise CampaignRejected("invalid_campaign", "the body must be an object with 'name' and 'definition'")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise CampaignRejected("invalid_campaign", f"'name' must be a text of 1 to {MAX_NAME} characters",
                               [{"path": "name", "message": "required, 1 to 200 characters"}])
    try:
        definition = parse_campaign(data.get("definition"))
    except CampaignInvalid as error:
        raise CampaignRejected("invalid_campaign", str(error), [
            {"path": f"definition.{p['path']}".rstrip("."), "message": p["message"]} for p in error.problems
        ]) from None
    _, problems = compile_contents(definition)
    if problems:
        raise CampaignRejected(problems[0]["code"], "; ".join(p["message"] for p in problems),
                               [{"path": f"definition.{p['path']}", "message": p["message"]} for p in problems])
    missing = unknown_landing_pages(services, workspace_id=workspace_id, texts={
        f"definition.variants.{index}.content.{channel}": [content.body, content.url]
        for index, variant in enumerate(definition.variants) for channel, content in variant.content.items()})
    if missing:
        raise CampaignRejected("unknown_landing_page", "; ".join(p["message"] for p in missing),
                               [{"path": p["path"], "message": p["message"]} for p in missing])
    known = {row.id for row in services.segments.in_workspace(workspace_id=workspace_id)}
    unknown = sorted(set(definition.audience.segments + definition.audience.exclude) - known)
    if unknown:
        raise CampaignRejected("unknown_segment", f"the audience names segments this workspace does not have: "
                               f"{', '.join(unknown)}", [{"path": "definition.audience", "message": "unknown segment"}])
    return name.strip(), definition


def do_create_campaign(services: Services, *, workspace_id: str, data: Any) -> CampaignRow:
    """Save a new campaign as a draft."""
    name, definition = _checked(services, workspace_id, data)
    now = services.clock.now()
    row = CampaignRow(
        id="cmp_" + str(ULID()).lower(), workspace_id=workspace_id, name=name,
        definition=definition.model_dump(mode="json"), version=1, status=Status.DRAFT, status_reason="",
        next_run_at=None, occurrence=None, run_started_at=None, cursor="", audience_done=False, claimed=0,
        lease_owner=None, lease_until=None, created_at=now, updated_at=now, completed_at=None,
    )
    try:
        services.campaigns.create(row)
    except CampaignNameTaken:
        raise CampaignRejected("name_taken", f"a campaign named {name!r} already exists") from None
    return row


def do_update_campaign(services: Services, *, workspace_id: str, campaign_id: str, data: Any) -> CampaignRow:
    """Replace a draft, scheduled or paused campaign's definition; a running one must be paused first."""
    current = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    name, definition = _checked(services, workspace_id, data)
    values: dict[str, Any] = {"name": name, "definition": definition.model_dump(mode="json"),
                              "version": current.version + 1}
    now = services.clock.now()
    if current.status == Status.SCHEDULED:
        values["next_run_at"] = first_run(definition.schedule, now=now)
    try:
        changed = services.campaigns.change(workspace_id=workspace_id, campaign_id=campaign_id,
                                            expect=tuple(EDITABLE), now=now, **values)
    except CampaignNameTaken:
        raise CampaignRejected("name_taken", f"a campaign named {name!r} already exists") from None
    if changed is None:
        raise CampaignRejected("campaign_not_editable", f"a {current.status} campaign cannot be edited; pause it first")
    return changed


def _move(services: Services, row: CampaignRow, target: Status, **values: Any) -> CampaignRow:
    try:
        check_move(Status(row.status), target)
    except CampaignConflict as error:
        raise CampaignRejected("campaign_state", str(error)) from None
    changed = services.campaigns.change(workspace_id=row.workspace_id, campaign_id=row.id, expect=(row.status,),
                                        now=services.clock.now(), status=target, **values)
    if changed is None:  # someone moved it in between: report the state it is in now
        latest = get_campaign(services, workspace_id=row.workspace_id, campaign_id=row.id)
        raise CampaignRejected("campaign_state", f"the campaign is {latest.status} now; try again")
    return changed


def do_schedule_campaign(services: Services, *, workspace_id: str, campaign_id: str) -> CampaignRow:
    """Schedule a draft: it runs when its schedule says (at once for 'now')."""
    row = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    due = first_run(definition_of(row).schedule, now=services.clock.now())
    return _move(services, row, Status.SCHEDULED, next_run_at=due, status_reason="")


def do_unschedule_campaign(services: Services, *, workspace_id: str, campaign_id: str) -> CampaignRow:
    """Take a scheduled campaign back to draft."""
    row = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    return _move(services, row, Status.DRAFT, next_run_at=None, status_reason="")


def do_pause_campaign(services: Services, *, workspace_id: str, campaign_id: str) -> CampaignRow:
    """Stop claiming and hold queued sends; nothing is lost or resent on resume."""
    row = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    return _move(services, row, Status.PAUSED, status_reason="paused by a person")


def do_resume_campaign(services: Services, *, workspace_id: str, campaign_id: str) -> CampaignRow:
    """Resume a paused campaign at its cursor, or start a run that missed its time now."""
    row = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    if row.status != Status.PAUSED:
        raise CampaignRejected("campaign_state", f"only a paused campaign can be resumed; this one is {row.status}")
    if row.occurrence is not None:
        return _move(services, row, Status.RUNNING, status_reason="", lease_owner=None, lease_until=None)
    return _move(services, row, Status.SCHEDULED, status_reason="", next_run_at=services.clock.now())


def do_cancel_campaign(services: Services, *, workspace_id: str, campaign_id: str) -> CampaignRow:
    """Cancel a campaign for good; its queued sends are skipped with the reason campaign_cancelled."""
    row = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    cancelled = _move(services, row, Status.CANCELLED, status_reason="cancelled by a person",
                      completed_at=services.clock.now())
    services.send_ledger.skip_pending(workspace_id=workspace_id, source_id=campaign_id, reason="campaign_cancelled",
                                      now=services.clock.now())
    return cancelled


@dataclass(frozen=True, slots=True)
class Preview:
    """What a campaign would do for one customer, and the messages rendered for them."""

    profile_id: str
    variant: str
    held_out: str | None
    decision: dict[str, Any]
    messages: dict[str, dict[str, Any]]


def preview_campaign(services: Services, *, workspace_id: str, campaign_id: str, reference: str) -> Preview:
    """Render a campaign for a named profile and say what the claim would decide for them now."""
    row = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    definition = definition_of(row)
    profile = services.lookups.find_profile(workspace_id=workspace_id, reference=reference)
    if profile is None:
        raise CampaignRejected("profile_not_found", "no profile in this workspace has that id or identifier")
    policy = get_policy(services, workspace_id=workspace_id)
    now = services.clock.now()
    history, recipients = services.send_ledger.peek(workspace_id=workspace_id, profile_ids=[profile.profile_id],
                                                    since=now - policy.lookback())
    recipient = recipients[profile.profile_id]
    prior = workspace_prior(services, workspace_id=workspace_id, now=now) \
        if definition.schedule.best_time is not None else ()
    run = Run(workspace_id, row.id, definition, "preview", now, policy.global_control_percent,
              policy.default_time_zone, prior, policy.rules().policy.quiet_hours)
    planned = plan(run, profile_id=profile.profile_id, time_zone=recipient.contact.time_zone, position=0, now=now,
                   active_hours=recipient.computed.get("active_hours"))
    first = planned[0]
    outcome = choose(first.intent, recipient.contact, history=history.get(profile.profile_id, []),
                     rules=rules_for(services, workspace_id=workspace_id, policy=policy), now=now)
    compiled, _ = compile_contents(definition)
    viewed = last_viewed(services, workspace_id=workspace_id, profile_ids=[profile.profile_id]) \
        if uses_recommendations(compiled) else {}
    context = context_for(recipient, campaign={"id": row.id, "name": row.name}, viewed=viewed.get(profile.profile_id),
                          links=customer_links(services, workspace_id=workspace_id, profile_id=profile.profile_id))
    messages: dict[str, dict[str, Any]] = {}
    for channel in definition.channels:
        try:
            messages[channel] = render_content(compiled[(first.variant, channel)], context,
                                               limits=render_limits(services))
        except RenderFailed as error:
            messages[channel] = {"error": error.reason, "message": error.message}
    decision = {"action": "queue" if outcome.queued else "skip", "channel": outcome.channel,
                "reason": outcome.reason, "detail": outcome.detail,
                "not_before": outcome.not_before.isoformat() if outcome.not_before else None}
    return Preview(profile.profile_id, definition.variants[first.variant].name, first.intent.held_out, decision,
                   messages)


def do_test_send(services: Services, *, workspace_id: str, campaign_id: str, reference: str,
                 channel: str | None = None) -> dict[str, Any]:
    """Send the campaign's message to one profile now, past caps, quiet hours and control groups.

    A test send is its own ledger source (``test``), so it never takes the place of the
    campaign's real send to that customer; consent and suppression hold as for the campaign.
    """
    row = get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    definition = definition_of(row)
    if channel is not None and channel not in definition.channels:
        raise CampaignRejected("unknown_channel", f"the campaign has no content for {channel!r}")
    profile = services.lookups.find_profile(workspace_id=workspace_id, reference=reference)
    if profile is None:
        raise CampaignRejected("profile_not_found", "no profile in this workspace has that id or identifier")
    now = services.clock.now()
    occurrence = "test_" + str(ULID()).lower()
    channels = (channel,) if channel else tuple(definition.channels)
    key = send_key(workspace_id=workspace_id, source=row.id, profile_id=profile.profile_id, channel="*",
                   occurrence=occurrence)
    intent = Intent(key, profile.profile_id, channels, definition.priority, row.id, definition.topic)
    compiled, _ = compile_contents(definition)
    policy = get_policy(services, workspace_id=workspace_id)
    # The workspace's consent rules, without its caps and quiet hours: a tester wants it now.
    rules = replace(rules_for(services, workspace_id=workspace_id, policy=policy),
                    policy=Policy(default_time_zone=policy.default_time_zone))
    limits = render_limits(services)
    viewed = last_viewed(services, workspace_id=workspace_id, profile_ids=[profile.profile_id]) \
        if uses_recommendations(compiled) else {}
    with services.send_ledger.claiming(workspace_id=workspace_id, profile_ids=[profile.profile_id],
                                       send_keys=[key], since=now - timedelta(days=1), now=now,
                                       hand_over=True) as claim:
        recipient = claim.recipients[profile.profile_id]
        context = context_for(recipient, campaign={"id": row.id, "name": row.name},
                              viewed=viewed.get(profile.profile_id),
                              links=customer_links(services, workspace_id=workspace_id, profile_id=profile.profile_id))
        decide_and_record(
            claim, source=LedgerSource("test", row.id, occurrence), intent=intent,
            variant=definition.variants[0].name, rules=rules, now=now,
            render=lambda picked: render_content(compiled[(0, picked)], context, limits=limits),
        )
    do_hand_over_taken(services, claim.taken, now=now)
    found = services.send_ledger.list_for_profile(workspace_id=workspace_id, profile_id=profile.profile_id,
                                                  source_id=row.id, limit=20)
    return next(item for item in found if item["send_key"] == key)

