"""The theme of a workspace's customer-facing pages: reading it (or the plain default) and setting it."""

from __future__ import annotations

from typing import Any

from loopline.actions.tracking import LinkNotFound, live_purl
from loopline.domain.themes import Theme, ThemeRejected, parse_theme
from loopline.services import Services

__all__ = ["ThemeRejected", "do_set_theme", "theme_for_purl", "theme_of"]


def theme_of(services: Services, *, workspace_id: str) -> Theme:
    """Return the workspace's theme, or the default when it never set one (or its stored one no longer parses)."""
    stored = services.topics.get_theme(workspace_id=workspace_id)
    if stored is None:
        return Theme()
    try:
        return parse_theme(stored)
    except ThemeRejected:
        return Theme()  # a page for a customer must always open; the console shows the default then


def do_set_theme(services: Services, *, workspace_id: str, data: Any) -> Theme:
    """Validate and store the workspace's theme; raise ThemeRejected naming each problem."""
    theme = parse_theme(data)
    services.topics.put_theme(workspace_id=workspace_id, settings=theme.model_dump(), now=services.clock.now())
    return theme


def theme_for_purl(services: Services, *, token: str) -> Theme:
    """Return the theme of the workspace a landing page link belongs to (the default for a link that is not live)."""
    try:
        link = live_purl(services, token=token, now=services.clock.now())
    except LinkNotFound:
        return Theme()
    return theme_of(services, workspace_id=link.workspace_id)
