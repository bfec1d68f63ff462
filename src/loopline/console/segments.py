"""The segments pages' data: the list with counts and trends, one segment, the builder and its live estimate.

Everything comes from the segment actions and the segment store, as the API's segment routes do;
the definition is also given in words (``domain.segments.wording``) so a person can read it.
"""

from __future__ import annotations

from typing import Any

import orjson

from loopline.actions.segments import SegmentNotFound, estimate_segment, get_segment, members_page
from loopline.console.web import ConsoleError, instant_text
from loopline.domain.consent import CHANNELS
from loopline.domain.segments.definition import COMPUTED_TYPES, MAX_DAYS, MAX_OF_LAST, Operator
from loopline.domain.segments.wording import in_words, lines
from loopline.services import Services
from loopline.store.sql.segments import SegmentRow

MEMBERS_SHOWN = 20
TREND_POINTS = 30
SPARK_WIDTH, SPARK_HEIGHT = 120, 28
PREVIEW_NAME = "Preview"  # the language needs a name; an unsaved, unnamed definition is still estimated
BUILTIN_REASON = ("Built-in segments cannot be changed or deleted: every workspace has them as they are. "
                  "Copy the definition into a new segment to change it.")


def segment_list(services: Services, *, workspace_id: str) -> dict[str, Any]:
    """Return the workspace's segments (built-in ones included) with counts, last refresh and a trend."""
    rows = services.segments.in_workspace(workspace_id=workspace_id)
    names = {row.id: row.name for row in rows}
    items = []
    for row in rows:
        counts = services.segments.counts(workspace_id=workspace_id, segment_id=row.id)[-TREND_POINTS:]
        trend = [point.members for point in counts]
        items.append({
            "id": row.id, "name": row.name, "description": row.description, "builtin": row.builtin,
            "member_count": row.member_count, "refreshed_at": instant_text(row.refreshed_at),
            "outdated": row.refreshed_at is not None and row.refreshed_version != row.version,
            "words": in_words(row.definition["condition"], names), "trend": trend,
            "sparkline": sparkline(trend), "href": f"/console/w/{workspace_id}/segments/{row.id}",
        })
    # Own segments first, then the built-in ones every workspace has; each part by name (a stable sort).
    items.sort(key=lambda item: item["builtin"] is not None)
    return {"workspace_id": workspace_id, "items": items}


def sparkline(values: list[int]) -> str:
    """Return an SVG polyline's points drawing ``values`` in a small box (empty under two points)."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    spread = (high - low) or 1
    step = SPARK_WIDTH / (len(values) - 1)
    return " ".join(f"{index * step:.1f},{SPARK_HEIGHT - 2 - (value - low) / spread * (SPARK_HEIGHT - 4):.1f}"
                    for index, value in enumerate(values))


def stored_segment(services: Services, *, workspace_id: str, segment_id: str) -> SegmentRow:
    """Return a segment of the workspace, or ConsoleError 404."""
    try:
        return get_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    except SegmentNotFound:
        raise ConsoleError(404, "segment_not_found", "this workspace has no such segment") from None


def segment_view(services: Services, *, workspace_id: str, segment_id: str) -> dict[str, Any]:
    """Return one segment: its definition in words, count, members over time and a sample of members."""
    row = stored_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    all_rows = services.segments.in_workspace(workspace_id=workspace_id)
    names = {other.id: other.name for other in all_rows}
    counts = services.segments.counts(workspace_id=workspace_id, segment_id=segment_id)
    members, more = members_page(services, workspace_id=workspace_id, segment_id=segment_id, after=None,
                                 limit=MEMBERS_SHOWN)
    used_by = [{"id": other.id, "name": other.name, "href": f"/console/w/{workspace_id}/segments/{other.id}"}
               for other in all_rows if other.id != row.id and _uses(other.definition["condition"], row.id)]
    data = {
        "id": row.id, "name": row.name, "description": row.description, "builtin": row.builtin,
        "version": row.version, "member_count": row.member_count, "refreshed_at": instant_text(row.refreshed_at),
        "outdated": row.refreshed_at is not None and row.refreshed_version != row.version,
        "created_at": instant_text(row.created_at), "updated_at": instant_text(row.updated_at),
        "definition": row.definition,
        "lines": [{"depth": line.depth, "text": line.text} for line in lines(row.definition["condition"], names)],
        "counts": [{"at": instant_text(point.at), "members": point.members, "entered": point.entered,
                    "exited": point.exited, "full": point.full} for point in counts],
        "members": [member_of(workspace_id, profile) for profile in members],
        "more_members": more is not None,
        "used_by": used_by,
        "editable": row.builtin is None,
        "builtin_reason": BUILTIN_REASON if row.builtin is not None else "",
    }
    result: dict[str, Any] = orjson.loads(orjson.dumps(data))
    return result


def _uses(condition: Any, segment_id: str) -> bool:
    """Return whether a condition (JSON) names the segment in an ``in_segment`` anywhere inside."""
    if isinstance(condition, dict):
        if condition.get("type") == "in_segment" and condition.get("segment_id") == segment_id:
            return True
        return any(_uses(value, segment_id) for value in condition.values())
    if isinstance(condition, list):
        return any(_uses(value, segment_id) for value in condition)
    return False


def member_of(workspace_id: str, profile: dict[str, Any]) -> dict[str, Any]:
    """Return a profile of a member or an estimate's sample as the pages show it: name, contact, link."""
    traits, identifiers = profile.get("traits") or {}, profile.get("identifiers") or {}
    first = traits.get("firstName") or traits.get("first_name")
    last = traits.get("lastName") or traits.get("last_name")
    email = traits.get("email") or next(iter(identifiers.get("email", [])), None)
    user_id = next(iter(identifiers.get("user_id", [])), None)
    name = " ".join(str(part) for part in (first, last) if part) or str(traits.get("name") or email or user_id or "")
    return {"profile_id": profile["profile_id"], "name": name or profile["profile_id"], "email": email,
            "user_id": user_id, "href": f"/console/w/{workspace_id}/customers/{profile['profile_id']}"}


def builder_data(services: Services, *, workspace_id: str, segment: SegmentRow | None, name: str,
                 description: str, condition_text: str, problems: list[dict[str, str]] | None = None,
                 ) -> dict[str, Any]:
    """Return the builder's data: what is being edited (as typed) and the choices its fields offer."""
    base = f"/console/w/{workspace_id}/segments"
    others = [{"id": row.id, "name": row.name} for row in services.segments.in_workspace(workspace_id=workspace_id)
              if segment is None or row.id != segment.id]
    try:
        condition = orjson.loads(condition_text) if condition_text.strip() else None
    except orjson.JSONDecodeError:
        condition = None  # kept as text: the builder shows it in its JSON box with the parser's message
    return {
        "workspace_id": workspace_id, "segment_id": segment.id if segment else None,
        "mode": "edit" if segment else "new",
        "action": f"{base}/{segment.id}/edit" if segment else f"{base}/new",
        "cancel": f"{base}/{segment.id}" if segment else base,
        "estimate_url": f"{base}/estimate",
        "name": name, "description": description, "condition": condition, "condition_text": condition_text,
        "problems": problems or [],
        "choices": builder_choices(others),
    }


def builder_choices(segments: list[dict[str, str]]) -> dict[str, Any]:
    """Return the values the builder's selects offer, from the segment language itself."""
    return {
        "operators": [operator.value for operator in Operator],
        "computed": COMPUTED_TYPES,
        "channels": list(CHANNELS),
        "device_fields": ["platform", "os_name", "os_version", "app_version", "model", "has_push_token"],
        "activities": ["session", "purchase", "event"],
        "actions": ["received", "opened", "clicked"],
        "segments": segments,
        "max_days": MAX_DAYS, "max_of_last": MAX_OF_LAST,
    }


def definition_of(name: str, description: str, condition: Any) -> dict[str, Any]:
    """Return the definition the builder's fields make (checked by the segment language, not here)."""
    return {"name": name.strip(), "description": description.strip(), "condition": condition}


def estimate(services: Services, *, workspace_id: str, name: str, condition: Any) -> dict[str, Any]:
    """Return how many match a (possibly unsaved) condition now, with a sample linking to each customer."""
    found = estimate_segment(services, workspace_id=workspace_id,
                             data=definition_of(name or PREVIEW_NAME, "", condition))
    return {"count": found.count, "count_low": found.low, "count_high": found.high,
            "exact": found.sample_percent is None, "sample_percent": found.sample_percent,
            "sample": [member_of(workspace_id, profile) for profile in found.sample],
            "warnings": found.warnings, "words": in_words(condition, _names(services, workspace_id))}


def _names(services: Services, workspace_id: str) -> dict[str, str]:
    return {row.id: row.name for row in services.segments.in_workspace(workspace_id=workspace_id)}
