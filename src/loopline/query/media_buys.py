"""Queries behind a media buy's results: the events that arrived through UTM-tagged links.

Touches are read from each event's ``context.campaign`` (``name``, ``source``, ``medium``:
what the browser and app SDKs parse from the landing URL's ``utm_*`` parameters). The name is
matched in SQL (ignoring case) so only the buy's traffic is read; the caller checks source and
medium and tells the buy's touches from other campaigns' ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from loopline.query.dialects import Dialect
from loopline.query.segments import owned_events

_CAMPAIGN = ("campaign",)


def _tags(dialect: Dialect) -> str:
    return ", ".join(dialect.json_text("o.context", [*_CAMPAIGN, key]) for key in ("name", "source", "medium"))


def buy_touches_sql(dialect: Dialect, *, workspace_id: str, campaign_name: str, since: datetime,
                    until: datetime) -> str:
    """Return (owner or NULL, microseconds since the epoch, name, source, medium) of events tagged with the name.

    Anonymous visitors' events are included (owner NULL): they are responses to the buy even
    when the visitor never becomes a known customer.
    """
    name = dialect.json_text("o.context", [*_CAMPAIGN, "name"])
    return (
        f"SELECT o.profile_id, {dialect.epoch_us('o.ts')}, {_tags(dialect)}"
        f" FROM ({owned_events(dialect, workspace_id)}) o"
        f" WHERE {dialect.lower(name)} = {dialect.lower(dialect.text(campaign_name.strip()))}"
        f" AND o.ts >= {dialect.instant(since)} AND o.ts <= {dialect.instant(until)}"
        " ORDER BY o.ts, o.seq"
    )


def customer_touches_sql(dialect: Dialect, *, workspace_id: str, profile_ids: Sequence[str], since: datetime,
                         until: datetime) -> str:
    """Return (owner, microseconds since the epoch, name, source, medium) of the customers' UTM-tagged events."""
    ids = ", ".join(dialect.text(value) for value in profile_ids)
    return (
        f"SELECT o.profile_id, {dialect.epoch_us('o.ts')}, {_tags(dialect)}"
        f" FROM ({owned_events(dialect, workspace_id)}) o"
        f" WHERE o.profile_id IN ({ids}) AND {dialect.json_present('o.context', [*_CAMPAIGN, 'name'])}"
        f" AND o.ts >= {dialect.instant(since)} AND o.ts <= {dialect.instant(until)}"
        " ORDER BY o.profile_id, o.ts"
    )
