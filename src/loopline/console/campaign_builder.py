"""The campaign builder's data: the form with the segments to pick from, the audience's size,
and each channel's message rendered for one customer as the campaign would render it.

The preview takes the form as it is now, saved or not: its content is compiled and rendered
with the same functions a campaign run uses (sandboxed templates, the same names), so what
the page shows is what the customer would get. A template that cannot be compiled or
rendered is shown as its message, never as an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from loopline.actions.campaigns import CampaignNotFound, get_campaign
from loopline.actions.contact_policy import get_policy
from loopline.actions.messages import (
    CAMPAIGN_NAMES,
    HTML_CHANNELS,
    compile_content,
    context_for,
    customer_links,
    last_viewed,
    render_content,
    render_limits,
    uses_recommendations,
)
from loopline.console.web import ConsoleError, instant_text
from loopline.domain.campaign_forms import CHANNEL_ORDER, CHANNEL_PARTS, PRIORITIES, field_errors
from loopline.domain.campaigns import EDITABLE, Content, Status
from loopline.domain.templates import RenderFailed
from loopline.query.lookups import audience_sql
from loopline.services import Services
from loopline.store.sql.campaigns import CampaignRow

CHANNEL_LABELS = {"email": "Email", "push": "Push", "sms": "SMS", "in_app": "In-app", "web_push": "Web push"}
PART_LABELS = {
    "email": {"subject": "Subject", "body": "HTML body"},
    "push": {"subject": "Title", "body": "Text", "url": "Opens (link)"},
    "sms": {"body": "Text"},
    "in_app": {"subject": "Title", "body": "Text", "url": "Opens (link)"},
    "web_push": {"subject": "Title", "body": "Text", "url": "Opens (link)"},
}
AUDIENCE_COUNT_LIMIT = 10_000_000  # far above any workspace: the count is exact


def segment_choices(services: Services, *, workspace_id: str) -> list[dict[str, Any]]:
    """Return the workspace's segments to pick from, by name, with their member count at the last refresh."""
    rows = sorted(services.segments.in_workspace(workspace_id=workspace_id), key=lambda row: row.name.lower())
    return [{"id": row.id, "name": row.name, "member_count": row.member_count,
             "refreshed_at": instant_text(row.refreshed_at)} for row in rows]


def audience_size(services: Services, *, workspace_id: str, include: list[str], exclude: list[str],
                  ) -> dict[str, Any]:
    """Return how many customers the audience has now: members of any included segment, minus the excluded.

    Counted over the segments' stored members, exactly as a run reads them; segments never
    refreshed have no members yet, which the answer says.
    """
    known = {row.id: row for row in services.segments.in_workspace(workspace_id=workspace_id)}
    included = [segment_id for segment_id in include if segment_id in known]
    excluded = [segment_id for segment_id in exclude if segment_id in known]
    unrefreshed = [known[segment_id].name for segment_id in included + excluded
                   if known[segment_id].refreshed_at is None]
    size = 0
    if included:
        members = audience_sql(services.mart.dialect, workspace_id=workspace_id, segment_ids=included,
                               exclude=excluded, after="", limit=AUDIENCE_COUNT_LIMIT)
        # The inner query quotes every value through the dialect; only its count is asked for here.
        found = services.mart.fetch(f"SELECT count(*) FROM ({members}) audience",  # noqa: S608
                                    timeout_s=services.settings.segment_query_timeout_s)
        size = int(found[0][0]) if found else 0
    return {"include": included, "exclude": excluded, "size": size, "picked": bool(included),
            "unrefreshed": unrefreshed}


def builder_data(services: Services, *, workspace_id: str, form: dict[str, Any], row: CampaignRow | None = None,
                 problems: list[dict[str, str]] | None = None, saved: bool = False) -> dict[str, Any]:
    """Return what the builder page shows: the form as typed, its problems by field, and the choices."""
    found = list(problems or [])
    return {
        "workspace_id": workspace_id,
        "campaign": None if row is None else {
            "id": row.id, "name": row.name, "status": row.status, "version": row.version,
            "editable": Status(row.status) in EDITABLE,
            "href": f"/console/w/{workspace_id}/campaigns/{row.id}",
        },
        "action": (f"/console/w/{workspace_id}/campaigns/new" if row is None
                   else f"/console/w/{workspace_id}/campaigns/{row.id}/edit"),
        "form": form,
        "problems": found,
        "errors": field_errors(found),
        "saved": saved,
        "segments": segment_choices(services, workspace_id=workspace_id),
        "audience": audience_size(services, workspace_id=workspace_id, include=form["include"],
                                  exclude=form["exclude"]),
        "channels": [{"id": channel, "label": CHANNEL_LABELS[channel], "parts": list(CHANNEL_PARTS[channel]),
                      "part_labels": PART_LABELS[channel]} for channel in CHANNEL_ORDER],
        "priorities": list(PRIORITIES),
        "global_control_percent": get_policy(services, workspace_id=workspace_id).global_control_percent,
    }


def stored_campaign(services: Services, *, workspace_id: str, campaign_id: str) -> CampaignRow:
    """Return the campaign being edited, or answer 404."""
    try:
        return get_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    except CampaignNotFound:
        raise ConsoleError(404, "campaign_not_found", "this workspace has no such campaign") from None


def _customer(services: Services, workspace_id: str, reference: str, form: Mapping[str, Any]) -> str | None:
    """Return the profile id to preview for: the one named, else the audience's first member, else any customer."""
    if reference:
        profile = services.lookups.find_profile(workspace_id=workspace_id, reference=reference)
        if profile is None:
            raise ConsoleError(422, "profile_not_found", "no customer in this workspace has that id or identifier")
        return profile.profile_id
    known = {row.id for row in services.segments.in_workspace(workspace_id=workspace_id)}
    included = [segment_id for segment_id in form["include"] if segment_id in known]
    if included:
        sql = audience_sql(services.mart.dialect, workspace_id=workspace_id, segment_ids=included,
                           exclude=[segment_id for segment_id in form["exclude"] if segment_id in known],
                           after="", limit=1)
        first = services.mart.fetch(sql, timeout_s=services.settings.segment_query_timeout_s)
        if first:
            return str(first[0][0])
    page = services.lookups.list_profiles(workspace_id=workspace_id, limit=1)
    return page.items[0].profile_id if page.items else None


def _message(services: Services, workspace_id: str, channel: str, typed: Mapping[str, str], *,
             context: dict[str, Any] | None, profile_id: str) -> dict[str, Any]:
    """Render one channel's content for the customer; a problem becomes the message shown instead."""
    shown: dict[str, Any] = {"channel": channel, "label": CHANNEL_LABELS[channel], "subject": None, "body": "",
                             "url": None, "html": channel in HTML_CHANNELS, "error": None}
    parts = {part: value for part, value in typed.items() if part == "body" or value.strip()}
    try:
        content = Content.model_validate(parts)
    except ValidationError:
        return shown | {"error": "Write the message to see it here."}
    compiled, problems = compile_content(content, channel=channel, names=CAMPAIGN_NAMES, path=channel)
    if compiled is None:
        return shown | {"error": "; ".join(problem["message"] for problem in problems)}
    if context is None:
        return shown | {"error": "There is no customer to show this message for yet."}
    if uses_recommendations({channel: compiled}):
        viewed = last_viewed(services, workspace_id=workspace_id, profile_ids=[profile_id]).get(profile_id)
        context = context | {"recommendations": {**context["recommendations"], "last_viewed_product": viewed}}
    try:
        rendered = render_content(compiled, context, limits=render_limits(services))
    except RenderFailed as error:
        return shown | {"error": f"{error.message} ({error.reason})"}
    return shown | {"subject": rendered["subject"], "body": rendered["body"], "url": rendered["url"]}


def preview(services: Services, *, workspace_id: str, form: dict[str, Any], reference: str, variant_index: int,
            campaign: dict[str, str]) -> dict[str, Any]:
    """Return the chosen variant's message on each chosen channel, rendered for one customer."""
    variants = form["variants"]
    index = variant_index if 0 <= variant_index < len(variants) else 0
    profile_id = _customer(services, workspace_id, reference.strip(), form)
    context: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None
    if profile_id is not None:
        now = services.clock.now()
        _, recipients = services.send_ledger.peek(workspace_id=workspace_id, profile_ids=[profile_id], since=now)
        recipient = recipients.get(profile_id)
        if recipient is not None:
            context = context_for(recipient, campaign=campaign,
                                  links=customer_links(services, workspace_id=workspace_id, profile_id=profile_id))
            customer = {"profile_id": profile_id, "email": recipient.identifiers.get("email"),
                        "named": bool(reference.strip()),
                        "href": f"/console/w/{workspace_id}/customers/{profile_id}"}
    messages = [_message(services, workspace_id, channel, variants[index]["content"][channel],
                         context=context, profile_id=profile_id or "")
                for channel in form["channels"] if channel in CHANNEL_PARTS]
    return {"customer": customer, "variant": {"index": index, "name": variants[index]["name"]},
            "messages": messages, "by_channel": {message["channel"]: message for message in messages}}
