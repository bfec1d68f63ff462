"""In-app messages for the SDK: the ones due on a customer's device, and what the customer did with them.

A write key is public — it ships in the shop's web pages and apps — so these actions reveal
the messages of one customer only: the one the request names by user id or anonymous id,
looked up by exactly that identifier (never by an email address or a phone number, which
are easier to guess), within the key's workspace. A stranger gets the same answer as a
customer with nothing due, and another customer's send key the same as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopline.actions.ingest import IngestPipeline
from loopline.domain.in_app import (
    DEFAULT_DUE,
    RANK,
    Identity,
    InAppRejected,
    StoredMessage,
    due_messages,
    interaction_event,
)
from loopline.services import Services

MAX_ABSORBED = 32  # merged-away profiles followed per customer (merges are rare and shallow)


class MessageNotFound(LookupError):
    """No such message for the customer named (it may exist for someone else: that is not said)."""


@dataclass(frozen=True, slots=True)
class DueMessages:
    """The messages due for a customer, and the live profile they were found under (None: a stranger)."""

    profile_id: str | None
    messages: list[StoredMessage]


@dataclass(frozen=True, slots=True)
class Interaction:
    """What reporting an interaction did: the message's state now, and whether the report raised it."""

    send_key: str
    action: str
    state: str
    moved: bool


def customer_profiles(services: Services, *, workspace_id: str, identity: Identity) -> tuple[str | None, list[str]]:
    """Return the customer's live profile and every profile their messages may be filed under.

    A message is stored under the profile it was sent to; when that profile was later merged
    into another (an anonymous visitor signed in), the survivor's customer still sees it.
    """
    wanted = identity.identifiers()
    owners = services.lookups.owners(workspace_id=workspace_id, identifiers=wanted)
    live = next((owners[identifier] for identifier in wanted if identifier in owners), None)
    if live is None:
        return None, []
    found, frontier = [live], [live]
    while frontier and len(found) < MAX_ABSORBED:
        winner = frontier.pop()
        for merge in services.lookups.list_merges(workspace_id=workspace_id, profile_id=winner):
            loser = merge["loser_id"]
            if merge["winner_id"] == winner and merge["undone_at"] is None and loser not in found:
                found.append(loser)
                frontier.append(loser)
    return live, found[:MAX_ABSORBED]


def list_due_messages(services: Services, *, workspace_id: str, identity: Identity, screen: str | None,
                      limit: int = DEFAULT_DUE) -> DueMessages:
    """Return the messages due now for the customer named, on ``screen``, best first."""
    now = services.clock.now()
    live, profile_ids = customer_profiles(services, workspace_id=workspace_id, identity=identity)
    stored = services.in_app.list_live(workspace_id=workspace_id, profile_ids=profile_ids, now=now)
    return DueMessages(live, due_messages(stored, screen=screen, now=now, limit=limit))


def do_record_interaction(services: Services, pipeline: IngestPipeline, *, workspace_id: str, identity: Identity,
                          send_key: str, action: str, button: str | None = None) -> Interaction:
    """Record that the customer viewed, clicked or dismissed one of their messages.

    The state only moves up; the event (``In-App Message Viewed``/``Clicked``/``Dismissed``)
    goes on the customer's timeline under the identifiers the SDK sent, once per message and
    action however often it is reported. Raise MessageNotFound unless the message is theirs.
    """
    _, profile_ids = customer_profiles(services, workspace_id=workspace_id, identity=identity)
    # A NUL cannot be in any stored key, and PostgreSQL refuses to compare text holding one.
    findable = profile_ids and "\x00" not in send_key
    message = services.in_app.get_message(workspace_id=workspace_id, send_key=send_key) if findable else None
    if message is None or message.profile_id not in profile_ids:
        raise MessageNotFound(send_key)
    if button is not None and (action != "clicked" or button not in _button_ids(message)):
        raise InAppRejected("unknown_button", "a click may name one of the message's buttons, by its id")
    now = services.clock.now()
    moved = services.in_app.raise_state(workspace_id=workspace_id, send_key=send_key, state=action, now=now)
    event = interaction_event(message, action=action, identity=identity, at=now, button=button)
    pipeline.record_platform_events(workspace_id=workspace_id, source="in_app", messages=[event])
    state = action if moved else max(message.state, action, key=lambda name: RANK[name])
    return Interaction(send_key, action, state, moved)


def _button_ids(message: StoredMessage) -> set[str]:
    buttons = message.options.get("buttons") or []
    return {str(button.get("id")) for button in buttons if isinstance(button, dict)}
