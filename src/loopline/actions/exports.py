"""Export profiles as CSV, with every cell safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from loopline.domain.privacy import neutralise_cell
from loopline.services import Services

PAGE = 500
FIXED_COLUMNS = ("profile_id", "user_id", "email", "phone")
COMPUTED_COLUMNS = ("first_seen", "last_seen", "sessions", "orders", "net_revenue", "return_rate",
                    "favourite_category")


def _line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([neutralise_cell(v) for v in values])
    return buffer.getvalue()


def iter_profiles_csv(services: Services, *, workspace_id: str, traits: list[str]) -> Iterator[str]:
    """Yield a CSV of live profiles page by page: ids, chosen traits and key computed properties."""
    yield _line([*FIXED_COLUMNS, *traits, *COMPUTED_COLUMNS])
    cursor: str | None = None
    while True:
        page = services.lookups.list_profiles(workspace_id=workspace_id, limit=PAGE, cursor=cursor)
        for profile in page.items:
            ids = dict(services.lookups.list_identities(
                workspace_id=workspace_id, profile_id=profile.profile_id))
            computed = profile.computed.as_json()
            yield _line([
                profile.profile_id, ids.get("user_id"), ids.get("email"), ids.get("phone"),
                *[profile.traits.get(name) for name in traits],
                *[computed.get(name) for name in COMPUTED_COLUMNS],
            ])
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
