"""Add addresses to a workspace's suppression list, remove them, and read the list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from loopline.domain.suppression_list import (
    check_channel,
    check_entries,
    decode_cursor,
    deduplicate,
    encode_cursor,
    normalise_address,
    profile_addresses,
    search_prefixes,
)
from loopline.services import Services
from loopline.store.sql.suppression_list import SuppressionRow


class SuppressionNotFound(LookupError):
    """The address is not on this workspace's suppression list for the channel."""


@dataclass(frozen=True, slots=True)
class SuppressionReport:
    """What a call to add entries did."""

    received: int
    created: int
    updated: int
    duplicates: int

    def as_json(self) -> dict[str, int]:
        """Return the report as the API shows it."""
        return asdict(self)


def suppression_json(row: SuppressionRow) -> dict[str, Any]:
    """Return an entry as the API shows it."""
    return {
        "channel": row.channel,
        "address": row.address,
        "reason": row.reason,
        "note": row.note,
        "source": row.source,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def do_suppress_contacts(services: Services, *, workspace_id: str, entries: Sequence[Any]) -> SuppressionReport:
    """Validate every entry, then add or update them all; an invalid entry stores none.

    Raises ``SuppressionBatchRejected`` with one error per invalid entry, or
    ``SuppressionRejected`` for an empty or too large batch. Adding an address that is
    already listed updates its reason, note and source and keeps ``created_at``.
    """
    checked = check_entries(entries)
    unique = deduplicate(checked)
    created = services.suppression_list.upsert_entries(
        workspace_id=workspace_id, entries=unique, now=services.clock.now()
    )
    return SuppressionReport(
        received=len(checked), created=created, updated=len(unique) - created, duplicates=len(checked) - len(unique)
    )


def _key(channel: str, address: str) -> tuple[str, str]:
    checked = check_channel(channel)
    return checked, normalise_address(channel=checked, address=address)


def do_unsuppress_contact(services: Services, *, workspace_id: str, channel: str, address: str) -> None:
    """Remove an address from the list, or raise SuppressionNotFound when it is not on it."""
    channel, address = _key(channel, address)
    if not services.suppression_list.delete_entry(workspace_id=workspace_id, channel=channel, address=address):
        raise SuppressionNotFound(channel)


def get_suppression(services: Services, *, workspace_id: str, channel: str, address: str) -> dict[str, Any]:
    """Return the entry for an address as typed (normalised first), or raise SuppressionNotFound."""
    channel, address = _key(channel, address)
    row = services.suppression_list.get_entry(workspace_id=workspace_id, channel=channel, address=address)
    if row is None:
        raise SuppressionNotFound(channel)
    return suppression_json(row)


def list_suppressions(
    services: Services,
    *,
    workspace_id: str,
    limit: int,
    cursor: str | None = None,
    channel: str | None = None,
    search: str | None = None,
) -> dict[str, Any]:
    """Return a page of entries by channel and address, optionally one channel's or matching a search."""
    page = services.suppression_list.list_entries(
        workspace_id=workspace_id,
        limit=limit,
        after=decode_cursor(cursor) if cursor else None,
        channel=check_channel(channel) if channel is not None else None,
        prefixes=search_prefixes(search) if search else (),
    )
    return {
        "items": [suppression_json(row) for row in page.items],
        "next_cursor": encode_cursor(page.next_after) if page.next_after else None,
    }


def profile_suppressions(
    services: Services,
    *,
    workspace_id: str,
    identities: Iterable[tuple[str, str]],
    devices: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Return the entries of a profile's own emails, phone numbers and push tokens, in one query."""
    tokens = [device["push_token"] for device in devices if device.get("push_token")]
    keys = profile_addresses(identities=identities, push_tokens=tokens)
    if not keys:
        return []
    rows = services.suppression_list.list_entries_for(workspace_id=workspace_id, keys=keys)
    return [suppression_json(row) for row in rows]
