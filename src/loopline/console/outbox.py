"""The outbox page's data: the latest messages the sandbox channel delivered, newest first.

Messages of one campaign batch share their delivery instant, so the page shows the latest
``OUTBOX_PAGE`` (optionally of one campaign or journey) rather than paging by time; the
management API's ``GET /api/v1/outbox`` filters further.
"""

from __future__ import annotations

from typing import Any

from loopline.console.web import instant_text
from loopline.domain.links import without_pixel
from loopline.services import Services

OUTBOX_PAGE = 100


def outbox_page(services: Services, *, workspace_id: str, source_id: str | None) -> dict[str, Any]:
    """Return the workspace's latest sandbox messages (of one campaign or journey when ``source_id`` is given)."""
    rows = services.sandbox.list_outbox(workspace_id=workspace_id, limit=OUTBOX_PAGE, source_id=source_id or None)
    return {"workspace_id": workspace_id, "source_id": source_id or None, "limit": OUTBOX_PAGE,
            "items": [_item(row) for row in rows]}


def _item(row: dict[str, Any]) -> dict[str, Any]:
    # Without its open pixel: a person looking at the outbox is not the customer opening the mail.
    body = without_pixel(str(row.get("body") or "")) if row["channel"] == "email" else str(row.get("body") or "")
    return {
        "send_key": row["send_key"], "channel": row["channel"], "address": row.get("address"),
        "profile_id": row.get("profile_id"), "source_id": row.get("source_id"), "subject": row.get("subject"),
        "body": body, "url": row.get("url"),
        # An email with markup is shown as the customer's mail client would: in a frame that runs nothing.
        "html": row["channel"] == "email" and "<" in body and ">" in body,
        "delivered_at": instant_text(row.get("delivered_at")),
    }

