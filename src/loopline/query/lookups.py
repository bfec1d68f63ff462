"""Small queries around segments: estimates, member pages, identifiers, and name probes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from loopline.query.dialects import Dialect, in_sample
from loopline.query.segments import owned_events

CONTACT_KINDS = ("user_id", "anonymous_id", "email", "phone")


def _list(dialect: Dialect, values: Sequence[str]) -> str:
    return ", ".join(dialect.text(value) for value in values)


def profile_counts_sql(dialect: Dialect, *, workspace_id: str, sample_percent: int) -> str:
    """Return one row: a workspace's profiles, and how many of them are in the hash sample."""
    return (
        f"SELECT count(*), sum(CASE WHEN {in_sample(dialect, 'p.profile_id', sample_percent)} THEN 1 ELSE 0 END)"
        f" FROM mart_profiles p WHERE p.workspace_id = {dialect.text(workspace_id)}"
    )


def counted_sample_sql(dialect: Dialect, segment_sql: str, *, sample: int) -> str:
    """Return one row: the members' count and the ``sample`` smallest member ids (one evaluation)."""
    return f"SELECT count(*), {dialect.least_n('s.profile_id', sample)} FROM ({segment_sql}) s"


def profiles_sql(dialect: Dialect, *, workspace_id: str, profile_ids: Sequence[str]) -> str:
    """Return the traits of the given profiles."""
    return (
        f"SELECT p.profile_id, p.traits FROM mart_profiles p WHERE p.workspace_id = {dialect.text(workspace_id)}"
        f" AND p.profile_id IN ({_list(dialect, profile_ids)})"
    )


def identifiers_sql(dialect: Dialect, *, workspace_id: str, profile_ids: Sequence[str]) -> str:
    """Return (profile_id, kind, value) of the given profiles' user ids, device ids, emails and phones."""
    return (
        "SELECT i.profile_id, i.kind, i.value FROM mart_identities i"
        f" WHERE i.workspace_id = {dialect.text(workspace_id)} AND i.kind IN ({_list(dialect, CONTACT_KINDS)})"
        f" AND i.profile_id IN ({_list(dialect, profile_ids)})"
        " ORDER BY i.profile_id, i.kind, i.value"
    )


def members_sql(
    dialect: Dialect, *, workspace_id: str, segment_id: str, after: str | None = None, limit: int | None = None,
    changed_since: datetime | None = None,
) -> str:
    """Return a segment's stored members in id order: a page after ``after``, or all of them."""
    scope = f"m.workspace_id = {dialect.text(workspace_id)} AND m.segment_id = {dialect.text(segment_id)}"
    if after is not None:
        scope += f" AND m.profile_id > {dialect.text(after)}"
    if changed_since is not None:
        scope += (
            f" AND m.profile_id IN (SELECT p.profile_id FROM mart_profiles p WHERE p.workspace_id = m.workspace_id"
            f" AND p.updated_at >= {dialect.instant(changed_since)})"
        )
    query = f"SELECT m.profile_id FROM mart_segment_members m WHERE {scope} ORDER BY m.profile_id"
    return query + (f" LIMIT {int(limit)}" if limit is not None else "")


def member_count_sql(dialect: Dialect, *, workspace_id: str, segment_id: str) -> str:
    """Return a segment's stored member count."""
    return (
        f"SELECT count(*) FROM mart_segment_members m WHERE m.workspace_id = {dialect.text(workspace_id)}"
        f" AND m.segment_id = {dialect.text(segment_id)}"
    )


def event_seen_sql(dialect: Dialect, *, workspace_id: str, event: str, property_path: Sequence[str] = ()) -> str:
    """Return a query with a row when the workspace has the event (with that property, if given)."""
    test = f" AND {dialect.json_present('properties', property_path)}" if property_path else ""
    return (
        f"SELECT 1 FROM events WHERE workspace_id = {dialect.text(workspace_id)} AND event = {dialect.text(event)}"
        f"{test} LIMIT 1"
    )


def trait_seen_sql(dialect: Dialect, *, workspace_id: str, path: Sequence[str]) -> str:
    """Return a query with a row when some profile of the workspace has the trait."""
    return (
        f"SELECT 1 FROM mart_profiles p WHERE p.workspace_id = {dialect.text(workspace_id)}"
        f" AND {dialect.json_present('p.traits', path)} LIMIT 1"
    )


def audience_sql(
    dialect: Dialect, *, workspace_id: str, segment_ids: Sequence[str], exclude: Sequence[str], after: str,
    limit: int,
) -> str:
    """Return the next page of a campaign's audience: members of any segment, minus members of any excluded one."""
    def within(ids: Sequence[str]) -> str:
        return ", ".join(dialect.text(segment_id) for segment_id in ids)

    # A segment lists each member once (the mart's key); only a union of segments needs DISTINCT,
    # which hashes every member after the cursor to return one page (32 MB more at 1M members).
    # ClickHouse may hold a replaced row twice until it merges, so it always de-duplicates.
    distinct = "DISTINCT " if len(segment_ids) > 1 or dialect.name == "clickhouse" else ""
    query = (
        f"SELECT {distinct}m.profile_id FROM mart_segment_members m WHERE m.workspace_id = {dialect.text(workspace_id)}"
        f" AND m.segment_id IN ({within(segment_ids)}) AND m.profile_id > {dialect.text(after)}"
    )
    if exclude:
        query += (
            f" AND m.profile_id NOT IN (SELECT x.profile_id FROM mart_segment_members x"
            f" WHERE x.workspace_id = m.workspace_id AND x.segment_id IN ({within(exclude)}))"
        )
    return f"{query} ORDER BY m.profile_id LIMIT {int(limit)}"


def last_event_sql(dialect: Dialect, *, workspace_id: str, event: str, profile_ids: Sequence[str]) -> str:
    """Return each listed customer's latest ``event`` (profile id, properties): "the last product viewed"."""
    listed = ", ".join(dialect.text(profile_id) for profile_id in profile_ids)
    return (
        "SELECT profile_id, properties FROM (SELECT o.profile_id, o.properties, row_number() OVER"
        " (PARTITION BY o.profile_id ORDER BY o.ts DESC, o.seq DESC) AS latest"
        f" FROM ({owned_events(dialect, workspace_id)}) o"
        f" WHERE o.event = {dialect.text(event)} AND o.profile_id IN ({listed})) ranked WHERE latest = 1"
    )


def buyers_sql(
    dialect: Dialect, *, workspace_id: str, event: str, product_key: str, product: str, since: datetime | None,
    after: str, limit: int,
) -> str:
    """Return the next page of the customers who bought ``product``: a recall reaches them all.

    An order names the product in its own ``product_key`` property or in that key of any
    item of its ``products`` list; a number and its written text are the same product.
    """
    window = f" AND o.ts >= {dialect.instant(since)}" if since is not None else ""
    wanted = dialect.text(product)
    orders = (
        f"SELECT o.seq AS seq, o.profile_id AS profile_id, o.properties AS properties"
        f" FROM ({owned_events(dialect, workspace_id)}) o"
        f" WHERE o.event = {dialect.text(event)} AND o.profile_id IS NOT NULL{window}"
    )
    own_key = dialect.json_scalar_text("b.properties", [product_key])
    named = f"SELECT b.profile_id AS profile_id FROM orders b WHERE {own_key} = {wanted}"
    items = dialect.array_item_texts("orders", "s.properties", "products", product_key)
    listed = (
        "SELECT b.profile_id AS profile_id FROM orders b"
        f" WHERE b.seq IN (SELECT i.seq FROM ({items}) i WHERE i.item = {wanted})"
    )
    return (
        f"WITH orders AS ({orders}) SELECT DISTINCT bought.profile_id FROM ({named} UNION ALL {listed}) bought"
        f" WHERE bought.profile_id > {dialect.text(after)} ORDER BY bought.profile_id LIMIT {int(limit)}"
    )


def engaged_sql(dialect: Dialect, *, workspace_id: str, send_keys: Sequence[str], events: Sequence[str],
                key_property: str) -> str:
    """Return (event name, send key) of the engagement events that answer these sends.

    The send key names one customer's message, so the events are found by it alone, whoever's
    device reported them and whether or not the mart has attributed them yet.
    """
    key = dialect.json_text("e.properties", [key_property])
    return (
        f"SELECT DISTINCT e.event, {key} FROM events e WHERE e.workspace_id = {dialect.text(workspace_id)}"
        f" AND e.event IN ({_list(dialect, events)}) AND {key} IN ({_list(dialect, send_keys)})"
    )
