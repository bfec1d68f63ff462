"""The preference center: its links, what it shows a customer, and saving their choices.

A save records consents through ``do_update_consents``, the same action the management API's
consent route uses, so an opt-out made here skips what already waits in the queue and is
seen by every later send exactly like one made through the API.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from loopline.actions.contact_policy import get_policy
from loopline.actions.profiles import ProfileNotFound, do_update_consents, find_profile
from loopline.actions.themes import theme_of
from loopline.actions.topics import definition_of
from loopline.domain.preferences import (
    BadPreferenceLink,
    Consents,
    PreferenceLink,
    choices_from_form,
    preference_grid,
    read_token,
    toggled,
    token_for,
)
from loopline.domain.themes import Theme
from loopline.domain.topics import TopicDefinition
from loopline.services import Services

__all__ = ["BadPreferenceLink", "PreferenceView", "do_save_preferences", "preferences_url", "read_preferences"]
PURPOSE = "preference center links"
PATH = "/preferences/"


@dataclass(frozen=True, slots=True)
class PreferenceView:
    """What the preference center shows one customer, and how it looks."""

    link: PreferenceLink
    workspace_name: str
    theme: Theme
    grid: dict[str, Any]
    changed: int = 0  # how many boxes the customer changed in the form just saved


def preferences_url(services: Services, *, workspace_id: str, profile_id: str) -> str:
    """Return the address of a customer's preference center (for a message, or the unsubscribe page)."""
    token = token_for(services.secrets.signing_key(PURPOSE), PreferenceLink(workspace_id, profile_id))
    return f"{services.settings.resolved_public_url}{PATH}{token}"


@dataclass(frozen=True, slots=True)
class _State:
    """What the page is built from: the catalogue, the customer's choices, the channels that need an opt-in."""

    topics: list[TopicDefinition]
    consents: Consents
    opt_in_channels: frozenset[str]


def _state(services: Services, link: PreferenceLink) -> _State:
    topics = [definition_of(row) for row in services.topics.list_topics(workspace_id=link.workspace_id)]
    opt_in = frozenset(get_policy(services, workspace_id=link.workspace_id).opt_in_channels)
    try:  # the customer may have been merged into another profile since: their choices live there now
        profile = find_profile(services, workspace_id=link.workspace_id, reference=link.profile_id)
    except ProfileNotFound:
        return _State(topics, {}, opt_in)
    consents = {(c["channel"], c["topic"]): c["status"]
                for c in services.lookups.list_consents(workspace_id=link.workspace_id, profile_id=profile.profile_id)}
    return _State(topics, consents, opt_in)


def _view(services: Services, link: PreferenceLink, state: _State, changed: int = 0) -> PreferenceView:
    workspace = services.workspaces.get_workspace(workspace_id=link.workspace_id)
    name = workspace.name if workspace is not None else ""
    return PreferenceView(link, name, theme_of(services, workspace_id=link.workspace_id),
                          preference_grid(state.topics, state.consents, state.opt_in_channels), changed)


def _link(services: Services, token: str) -> PreferenceLink:
    link = read_token(services.secrets.signing_key(PURPOSE), token)
    if services.workspaces.get_workspace(workspace_id=link.workspace_id) is None:
        raise BadPreferenceLink("this preferences link belongs to no workspace any more")
    return link


def read_preferences(services: Services, *, token: str) -> PreferenceView:
    """Return what a customer's preference center shows; raise BadPreferenceLink for a link we did not write."""
    link = _link(services, token)
    return _view(services, link, _state(services, link))


def do_save_preferences(services: Services, *, token: str, ticked: Collection[str]) -> PreferenceView:
    """Record the choices a submitted form makes (only those that changed) and return the page afterwards.

    Raise BadPreferenceLink for a link we did not write; a customer erased since has nothing
    left to choose, and the page then shows their choices as empty.
    """
    link = _link(services, token)
    before = _state(services, link)
    changed = toggled(before.topics, before.consents, before.opt_in_channels, ticked)
    choices = choices_from_form(before.topics, before.consents, before.opt_in_channels, ticked)
    if choices:
        try:
            do_update_consents(services, workspace_id=link.workspace_id, reference=link.profile_id, choices=choices)
        except ProfileNotFound:
            changed = []
    return _view(services, link, _state(services, link), changed=len(changed))


def customer_frame(services: Services, *, workspace_id: str, profile_id: str | None) -> tuple[Theme, str, str | None]:
    """Return the theme, the workspace's name and (for a known customer) the preference center's address.

    For pages that answer a customer about one workspace (an unsubscribe link's confirmation).
    """
    workspace = services.workspaces.get_workspace(workspace_id=workspace_id)
    url = preferences_url(services, workspace_id=workspace_id, profile_id=profile_id) if profile_id else None
    return theme_of(services, workspace_id=workspace_id), workspace.name if workspace else "", url
