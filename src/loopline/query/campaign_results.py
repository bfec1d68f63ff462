"""Queries behind a campaign's results: the goal events of its customers, and the engagement with its sends.

The send ledger lives in the operational database and the events in the mart, so the two are
joined in the caller: the ledger rows are read in chunks (``CHUNK`` customers or send keys a
query) and each chunk asks the mart for just those customers' goal events and those sends'
engagement events. The attribution (which decision a conversion belongs to) is done over the
returned rows.

What it costs: a campaign of 1M customers takes 1,000 queries of each kind, each reading the
workspace's goal events for 1,000 customers (an index or a sorted scan on the owner), and
holds the campaign's ledger rows in memory: minutes and a few hundred megabytes. What would
make it fast is mirroring the ``sends`` rows into the mart (as the profiles are mirrored by
the mart sync) and answering the whole report with one grouped join there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from loopline.domain.segments.definition import PropertyFilter
from loopline.query.dialects import Dialect
from loopline.query.segments import owned_events, property_condition

CHUNK = 1_000


def _list(dialect: Dialect, values: Sequence[str]) -> str:
    return ", ".join(dialect.text(value) for value in values)


def goal_events_sql(
    dialect: Dialect, *, workspace_id: str, event: str, where: Sequence[PropertyFilter], profile_ids: Sequence[str],
    since: datetime, until: datetime, revenue_property: str | None, now: datetime,
) -> str:
    """Return (profile id, event seq, microseconds since the epoch, revenue text) of the customers' goal events.

    Only events at or after ``since`` and at or before ``until`` are read (the caller passes the
    earliest decision and the latest decision plus the window); each row is then matched to the
    decisions it follows. ``where`` is the success metric's property filters, compiled as the
    segment compiler compiles an event's filters. The revenue is the property's text (NULL
    when absent), read as a number by the caller.
    """
    revenue = dialect.json_scalar_text("o.properties", revenue_property.split(".")) if revenue_property else "NULL"
    filters = "".join(f" AND {property_condition(dialect, 'o.properties', item, now=now)}" for item in where)
    return (
        f"SELECT o.profile_id, o.seq, {dialect.epoch_us('o.ts')}, {revenue}"
        f" FROM ({owned_events(dialect, workspace_id)}) o"
        f" WHERE o.event = {dialect.text(event)} AND o.profile_id IN ({_list(dialect, profile_ids)})"
        f" AND o.ts >= {dialect.instant(since)} AND o.ts <= {dialect.instant(until)}{filters}"
        " ORDER BY o.profile_id, o.ts, o.seq"
    )

