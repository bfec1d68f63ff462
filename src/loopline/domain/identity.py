"""Identity resolution: which profile an identifier belongs to, and when two profiles merge.

Rules (documented in docs/identity.md):
- an event belongs to the profile of its userId when known, else of its anonymousId;
- ``identify`` links the anonymousId (a device) to the userId's profile, merging the
  anonymous profile into the known one; traits ``email`` and ``phone`` (normalised) match
  too;
- two profiles that each carry a different userId are never merged implicitly (a shared
  device or a shared family email); ``alias`` merges explicitly;
- every merge is recorded with snapshots of both sides so it can be undone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from loopline.domain.events import EventRecord
from loopline.domain.profiles import Profile, combine, merge_traits

Identifier = tuple[str, str]
IDENTIFIER_KINDS = ("user_id", "anonymous_id", "email", "phone")


def normalise_email(value: Any) -> str | None:
    """Return a comparable email address, or None when it is not one."""
    if not isinstance(value, str) or "@" not in value:
        return None
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return str(checked.normalized).lower()


def normalise_phone(value: Any, default_region: str | None = None) -> str | None:
    """Return a phone number in E.164, or None when it cannot be read as one."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        parsed = phonenumbers.parse(str(value), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def trait_identifiers(traits: dict[str, Any], default_region: str | None = None) -> list[Identifier]:
    """Return the external identifiers (email, phone) carried by a set of traits."""
    found: list[Identifier] = []
    email = normalise_email(traits.get("email"))
    if email:
        found.append(("email", email))
    phone = normalise_phone(traits.get("phone"), default_region)
    if phone:
        found.append(("phone", phone))
    return found


def record_identifiers(record: EventRecord) -> list[Identifier]:
    """Return every identifier a record asks to link: ids, alias target, email and phone."""
    found = record.identifiers()
    if record.type == "identify" and record.traits:
        region = _region_hint(record.context)
        found.extend(trait_identifiers(record.traits, region))
    return found


def _region_hint(context: dict[str, Any]) -> str | None:
    location = context.get("location")
    country = location.get("country") if isinstance(location, dict) else None
    if isinstance(country, str) and len(country) == 2:
        return country.upper()
    return None


@dataclass(frozen=True, slots=True)
class MergeDecision:
    """One merge, with what is needed to undo it."""

    winner_id: str
    loser_id: str
    reason: str
    at: datetime
    seq: int
    moved: list[Identifier]
    winner_snapshot: dict[str, Any]
    loser_snapshot: dict[str, Any]


@dataclass
class IdentityGraph:
    """The slice of the identity map and profiles a batch of events touches."""

    workspace_id: str
    owners: dict[Identifier, str] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    assigned: dict[Identifier, str] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    merges: list[MergeDecision] = field(default_factory=list)
    # The reverse of ``owners`` and its userIds alone, kept in step so per-event lookups
    # stay O(1).
    held: dict[str, set[Identifier]] = field(default_factory=dict)
    users: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for identifier, owner in self.owners.items():
            self._hold(identifier, owner)

    def _hold(self, identifier: Identifier, profile_id: str) -> None:
        self.held.setdefault(profile_id, set()).add(identifier)
        if identifier[0] == "user_id":
            self.users.setdefault(profile_id, set()).add(identifier[1])

    def load(self, identifier: Identifier, profile_id: str) -> None:
        """Record an identifier as stored (not a change to save)."""
        self.owners[identifier] = profile_id
        self._hold(identifier, profile_id)

    def owner(self, identifier: Identifier) -> str | None:
        """Return the profile an identifier belongs to, if any."""
        return self.owners.get(identifier)

    def identifiers_of(self, profile_id: str) -> list[Identifier]:
        """Return the identifiers the graph knows for a profile."""
        return sorted(self.held.get(profile_id, ()))

    def user_ids_of(self, profile_id: str) -> set[str]:
        """Return the userIds of a profile."""
        return self.users.get(profile_id, set())

    def assign(self, identifier: Identifier, profile_id: str) -> None:
        """Point an identifier at a profile."""
        previous = self.owners.get(identifier)
        if previous == profile_id:
            return
        if previous is not None:
            self.held[previous].discard(identifier)
            if identifier[0] == "user_id":
                self.users[previous].discard(identifier[1])
        self.owners[identifier] = profile_id
        self._hold(identifier, profile_id)
        self.assigned[identifier] = profile_id


def _conflicting(graph: IdentityGraph, a: str, b: str) -> bool:
    users_a, users_b = graph.user_ids_of(a), graph.user_ids_of(b)
    return bool(users_a) and bool(users_b) and users_a.isdisjoint(users_b)


def merge_profiles(
    graph: IdentityGraph, *, winner_id: str, loser_id: str, reason: str, record: EventRecord
) -> None:
    """Merge the loser into the winner inside the graph and record the decision."""
    winner, loser = graph.profiles[winner_id], graph.profiles[loser_id]
    moved = graph.identifiers_of(loser_id)
    graph.merges.append(
        MergeDecision(
            winner_id=winner_id,
            loser_id=loser_id,
            reason=reason,
            at=record.timestamp,
            seq=record.seq or 0,
            moved=moved,
            winner_snapshot=winner.snapshot(),
            loser_snapshot=loser.snapshot(),
        )
    )
    for identifier in moved:
        graph.assign(identifier, winner_id)
    merge_traits(winner, loser)
    winner.computed = combine(winner.computed, loser.computed)
    loser.merged_into = winner_id


def resolve(graph: IdentityGraph, record: EventRecord, new_profile_id: Callable[[], str]) -> str:
    """Return the profile a record belongs to, linking and merging identities as it says."""
    identifiers = record_identifiers(record)
    primary = _primary_owner(graph, identifiers)
    if primary is None:
        primary = new_profile_id()
        graph.profiles[primary] = Profile(workspace_id=graph.workspace_id, profile_id=primary)
        graph.created.add(primary)
    if record.type == "alias" and record.previous_id:
        _alias(graph, record, primary)
    for identifier in identifiers:
        _link(graph, identifier, primary, record)
    return primary


def _primary_owner(graph: IdentityGraph, identifiers: list[Identifier]) -> str | None:
    user_ids = {value for kind, value in identifiers if kind == "user_id"}
    by_kind = {kind: graph.owner((kind, value)) for kind, value in identifiers}
    for kind in IDENTIFIER_KINDS:
        owner = by_kind.get(kind)
        if owner is None:
            continue
        known_users = graph.user_ids_of(owner)
        # A profile that already belongs to another userId is not this user's profile.
        if user_ids and known_users and known_users.isdisjoint(user_ids):
            continue
        return owner
    return None


def _link(graph: IdentityGraph, identifier: Identifier, primary: str, record: EventRecord) -> None:
    owner = graph.owner(identifier)
    if owner is None:
        graph.assign(identifier, primary)
    elif owner != primary and not _conflicting(graph, primary, owner):
        merge_profiles(graph, winner_id=primary, loser_id=owner, reason=record.type, record=record)


def _alias(graph: IdentityGraph, record: EventRecord, primary: str) -> None:
    previous = record.previous_id or ""
    owners = {graph.owner((kind, previous)) for kind in ("user_id", "anonymous_id")}
    owners.discard(None)
    for owner in sorted(o for o in owners if o is not None):
        if owner != primary:
            merge_profiles(graph, winner_id=primary, loser_id=owner, reason="alias", record=record)
    if not owners:
        # The previous id is unknown; it may be either kind, so both now point here.
        graph.assign(("user_id", previous), primary)
        graph.assign(("anonymous_id", previous), primary)


def attributed_to(record: EventRecord, owners: dict[Identifier, str]) -> str | None:
    """Return the profile an event belongs to: its userId's, else its anonymousId's."""
    if record.user_id and ("user_id", record.user_id) in owners:
        return owners[("user_id", record.user_id)]
    if record.anonymous_id:
        return owners.get(("anonymous_id", record.anonymous_id))
    return None


def filed_as(identifiers: list[tuple[str, str]]) -> dict[str, str] | None:
    """Return the identifier a customer's events are filed under (a user id, else a device id), or None.

    Events the platform writes about someone (a trait a journey set, a delivery receipt) go
    in under it, like their app's own events, so they land on the same timeline.
    """
    found = dict(identifiers)
    if "user_id" in found:
        return {"userId": found["user_id"]}
    if "anonymous_id" in found:
        return {"anonymousId": found["anonymous_id"]}
    return None
