"""The campaigns pages' data: the list with status and progress, and one campaign's results."""

from __future__ import annotations

from typing import Any

import orjson

from loopline.actions.campaign_results import ATTRIBUTION_MODELS, campaign_results
from loopline.actions.campaigns import CampaignNotFound, definition_of
from loopline.console.web import ConsoleError, instant_text
from loopline.services import Services

FUNNEL_STEPS = ("audience", "sent", "delivered", "opened", "clicked", "converted")


def campaign_list(services: Services, *, workspace_id: str) -> dict[str, Any]:
    """Return the workspace's campaigns, newest first, with status, progress and where their report is."""
    items = []
    for row in services.campaigns.in_workspace(workspace_id=workspace_id):
        definition = definition_of(row)
        items.append({
            "id": row.id, "name": row.name, "status": row.status, "status_reason": row.status_reason,
            "channels": list(definition.channels), "holdout_percent": definition.holdout_percent,
            "goal": definition.success_metric.event if definition.success_metric else None,
            "claimed": row.claimed, "next_run_at": instant_text(row.next_run_at),
            "created_at": instant_text(row.created_at),
            "href": f"/console/w/{workspace_id}/campaigns/{row.id}",
        })
    return {"workspace_id": workspace_id, "items": items}


def campaign_report(services: Services, *, workspace_id: str, campaign_id: str, attribution: str) -> dict[str, Any]:
    """Return one campaign's results (its funnel, uplift and costs) with its name, for the report page."""
    if attribution not in ATTRIBUTION_MODELS:
        raise ConsoleError(400, "invalid_attribution", f"attribution is one of {', '.join(ATTRIBUTION_MODELS)}")
    try:
        results = campaign_results(services, workspace_id, campaign_id, attribution=attribution)
    except CampaignNotFound:
        raise ConsoleError(404, "campaign_not_found", "this workspace has no such campaign") from None
    row = services.campaigns.get(workspace_id=workspace_id, campaign_id=campaign_id)
    name = row.name if row is not None else campaign_id
    # Through orjson and back: a figure that is not a number (NaN) becomes null, which the page's
    # JSON and its script can read (Jinja's tojson would write NaN, which JSON.parse refuses).
    report: dict[str, Any] = orjson.loads(orjson.dumps({"name": name, "funnel_steps": list(FUNNEL_STEPS), **results}))
    return report

