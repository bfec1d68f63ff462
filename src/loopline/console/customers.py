"""The customers pages' data: search by any identifier, and one customer's 360° view.

The view is the profile API's (traits, identities, devices, consents, suppressions, computed
properties, recent events) plus the customer's send-ledger rows, and one timeline that
interleaves what the customer did with what was sent, skipped or queued for them and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from loopline.actions.profiles import ProfileNotFound, get_profile_view
from loopline.console.web import ConsoleError, instant_text
from loopline.services import Services

SEARCH_LIMIT = 50
SENDS_SHOWN = 50


def customer_search(services: Services, *, workspace_id: str, query: str | None) -> dict[str, Any]:
    """Return up to ``SEARCH_LIMIT`` customers with an identifier starting with ``query`` (the latest without one)."""
    text = (query or "").strip()[:320] or None
    page = services.lookups.list_profiles(workspace_id=workspace_id, limit=SEARCH_LIMIT, search=text)
    items = []
    for profile in page.items:
        traits, computed = profile.traits, profile.computed
        items.append({
            "id": profile.profile_id, "name": _name(traits), "email": traits.get("email"),
            "last_seen": instant_text(computed.last_seen), "orders": computed.orders,
            "href": f"/console/w/{workspace_id}/customers/{profile.profile_id}",
        })
    return {"workspace_id": workspace_id, "query": text, "items": items}


def customer_view(services: Services, *, workspace_id: str, reference: str) -> dict[str, Any]:
    """Return a customer's 360° view with their messages and one timeline; ConsoleError 404 when not found."""
    try:
        view = get_profile_view(services, workspace_id=workspace_id, reference=reference)
    except ProfileNotFound:
        raise ConsoleError(404, "profile_not_found", "no customer here has that id or identifier") from None
    rows = services.send_ledger.list_for_profile(workspace_id=workspace_id, profile_id=view["id"], limit=SENDS_SHOWN)
    messages = [_message(row) for row in rows]
    timeline = [{"at": instant_text(datetime.fromisoformat(event["timestamp"])), "kind": "event",
                 "title": event["event"] or event["type"],
                 "detail": _event_detail(event)} for event in view["recent_events"]]
    timeline += [{"at": message["decided_at"], "kind": "message",
                  "title": f"{message['channel']} from {message['source_kind']} {message['source_id']}",
                  "detail": message["state"] + (f": {message['reason']}" if message["reason"] else "")}
                 for message in messages if message["decided_at"]]
    timeline.sort(key=lambda entry: str(entry["at"]), reverse=True)
    data = {**view, "name": _name(view["traits"]), "messages": messages, "timeline": timeline}
    # Through orjson and back: datetimes become text the page's JSON and template both read alike.
    result: dict[str, Any] = orjson.loads(orjson.dumps(data, default=str))
    return result


def _message(row: dict[str, Any]) -> dict[str, Any]:
    return {"send_key": row["send_key"], "source_kind": row["source_kind"], "source_id": row["source_id"],
            "step": row.get("step") or None, "variant": row.get("variant"), "channel": row["channel"],
            "state": row["state"], "reason": row.get("reason") or "", "detail": row.get("detail") or "",
            "receipt": row.get("receipt"), "decided_at": instant_text(row.get("created_at")),
            "sent_at": instant_text(row.get("sent_at"))}


def _event_detail(event: dict[str, Any]) -> str:
    properties = event.get("properties") or {}
    shown = [f"{key}: {value}" for key, value in list(properties.items())[:4] if isinstance(value, str | int | float)]
    return ", ".join(shown)


def _name(traits: dict[str, Any]) -> str:
    first, last = traits.get("firstName") or traits.get("first_name"), traits.get("lastName") or traits.get("last_name")
    parts = [str(part) for part in (first, last) if part]
    return " ".join(parts) or str(traits.get("name") or traits.get("email") or "")

