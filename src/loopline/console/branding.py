"""The data of the topics and theme settings pages, and how their forms become documents to validate.

A form that does not validate is shown again with the person's input and each problem next to
its field; nothing is stored until everything is right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopline.actions.themes import theme_of
from loopline.actions.topics import list_topics
from loopline.console.web import instant_text
from loopline.domain.consent import CHANNELS
from loopline.domain.preferences import CHANNEL_NAMES
from loopline.domain.themes import FONTS, Theme, contrast_warnings, css_variables
from loopline.ports import TopicRow
from loopline.services import Services

BLANK_TOPIC: dict[str, Any] = {"key": "", "label": "", "description": "", "channels": ["email"],
                               "default_status": "opted_out"}
THEME_FIELDS = ("brand_name", "logo_url", "primary_color", "background_color", "text_color", "font")


def topic_data(row: TopicRow) -> dict[str, Any]:
    """Return a topic as the pages and their JSON show it."""
    return {"key": row.key, "label": row.label, "description": row.description, "channels": row.channels,
            "default_status": row.default_status, "updated_at": instant_text(row.updated_at)}


def topic_form(form: Mapping[str, str], channels: Sequence[str]) -> dict[str, Any]:
    """Return a submitted topic form as the document the domain validates (and the form shows again)."""
    return {"key": form.get("key", "").strip(), "label": form.get("label", ""),
            "description": form.get("description", ""), "channels": list(channels),
            "default_status": form.get("default_status", "opted_out")}


def topics_page(services: Services, *, workspace_id: str, form: dict[str, Any] | None = None,
                problems: list[dict[str, str]] | None = None, error: dict[str, str] | None = None,
                saved: str | None = None) -> dict[str, Any]:
    """Return the topic catalogue, the form for a new topic (with what was typed) and any problems."""
    topics = [topic_data(row) for row in list_topics(services, workspace_id=workspace_id)]
    return {"workspace_id": workspace_id, "topics": topics, "form": form or dict(BLANK_TOPIC),
            "problems": problems or [], "error": error, "saved": saved,
            "channels": [{"channel": c, "label": CHANNEL_NAMES[c]} for c in CHANNELS]}


def topic_page(services: Services, *, workspace_id: str, row: TopicRow, form: dict[str, Any] | None = None,
               problems: list[dict[str, str]] | None = None, error: dict[str, str] | None = None) -> dict[str, Any]:
    """Return one topic and its edit form (with what was typed, when it did not validate)."""
    return {"workspace_id": workspace_id, "topic": topic_data(row), "form": form or topic_data(row),
            "problems": problems or [], "error": error,
            "channels": [{"channel": c, "label": CHANNEL_NAMES[c]} for c in CHANNELS]}


def theme_form(form: Mapping[str, str]) -> dict[str, Any]:
    """Return a submitted theme form as the document the domain validates (empty fields take defaults)."""
    return {name: form[name] for name in THEME_FIELDS if form.get(name, "").strip()}


def theme_page(services: Services, *, workspace_id: str, form: dict[str, Any] | None = None,
               problems: list[dict[str, str]] | None = None, error: dict[str, str] | None = None,
               saved: bool = False) -> dict[str, Any]:
    """Return the theme (or what was typed), the fonts to pick from, readability warnings and the preview's style."""
    theme = theme_of(services, workspace_id=workspace_id)
    shown = Theme().model_dump() | (form if form is not None else theme.model_dump())
    return {"workspace_id": workspace_id, "theme": theme.model_dump(), "form": shown,
            "fonts": [{"name": name, "stack": stack} for name, stack in FONTS.items()],
            "warnings": contrast_warnings(theme), "preview_style": _preview_style(theme),
            "problems": problems or [], "error": error, "saved": saved}


def _preview_style(theme: Theme) -> str:
    """Return the theme's custom properties for the preview box's ``style`` attribute (validated values only)."""
    return css_variables(theme).removeprefix(":root{").removesuffix("}")
