"""Undo a wrong merge: both profiles come back, and their events follow their identifiers."""

from __future__ import annotations

from typing import Any

from loopline.domain.identity import Identifier, attributed_to
from loopline.domain.profiles import Profile, rebuild
from loopline.services import Services


class MergeNotFound(LookupError):
    """No merge with this id in this workspace."""


class UnmergeRefused(ValueError):
    """The merge cannot be undone as things stand; the message says why."""


def _rebuild(services: Services, workspace_id: str, profile_id: str,
             owners: dict[Identifier, str]) -> Profile:
    mine = [i for i, owner in owners.items() if owner == profile_id]
    records = [
        r for r in services.events.iter_for_identifiers(
            workspace_id=workspace_id, identifiers=[i for i in mine if i[0] != "email" and i[0] != "phone"])
        if attributed_to(r, owners) == profile_id
    ]
    return rebuild(workspace_id, profile_id, records, session_timeout=services.session_timeout)


def do_unmerge(services: Services, *, workspace_id: str, merge_id: str) -> dict[str, Any]:
    """Split a merge: give the loser back its identifiers, devices and consents; recompute both."""
    merge = services.profiles.get_merge(workspace_id=workspace_id, merge_id=merge_id)
    if merge is None:
        raise MergeNotFound(merge_id)
    if merge["undone_at"] is not None:
        raise UnmergeRefused("this merge has already been undone")
    winner = services.lookups.find_profile(workspace_id=workspace_id, reference=merge["winner_id"])
    if winner is None or winner.profile_id != merge["winner_id"]:
        raise UnmergeRefused("the surviving profile was merged again since; undo that merge first")
    owners = dict.fromkeys(
        services.lookups.list_identities(workspace_id=workspace_id, profile_id=winner.profile_id),
        winner.profile_id,
    )
    moved = [tuple(i) for i in merge["moved"]["identities"]]
    for identifier in moved:
        if identifier in owners:
            owners[identifier] = merge["loser_id"]  # type: ignore[index]
    restored_winner = _rebuild(services, workspace_id, winner.profile_id, owners)
    restored_loser = _rebuild(services, workspace_id, merge["loser_id"], owners)
    services.profiles.save_unmerge(
        workspace_id=workspace_id, merge_id=merge_id, winner=restored_winner, loser=restored_loser,
        identities=[i for i in moved if owners.get(i) == merge["loser_id"]],  # type: ignore[arg-type]
        devices=list(merge["moved"]["devices"]),
        loser_consents=list(merge["loser_snapshot"].get("consents", [])),
        now=services.clock.now(),
    )
    return {"merge_id": merge_id, "winner_id": winner.profile_id, "loser_id": merge["loser_id"]}
