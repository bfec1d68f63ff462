"""Building messages: templates compiled once per definition, rendered per customer within limits."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from loopline.domain.campaigns import CampaignDefinition
from loopline.domain.templates import (
    CompiledTemplate,
    RenderFailed,
    RenderLimits,
    TemplateRejected,
    compile_template,
    render,
)
from loopline.store.sql.contacts import Recipient

CAMPAIGN_NAMES = frozenset({"profile", "traits", "computed", "campaign", "links", "recommendations"})
JOURNEY_NAMES = CAMPAIGN_NAMES | {"event"}
HTML_CHANNELS = frozenset({"email"})


@dataclass(frozen=True, slots=True)
class CompiledContent:
    """One channel's templates of one variant."""

    subject: CompiledTemplate | None
    body: CompiledTemplate
    url: CompiledTemplate | None


def compile_contents(
    definition: CampaignDefinition, *, names: frozenset[str] = CAMPAIGN_NAMES,
) -> tuple[dict[tuple[int, str], CompiledContent], list[dict[str, str]]]:
    """Compile every variant's content; return the templates and a problem (with its path) per bad one."""
    compiled: dict[tuple[int, str], CompiledContent] = {}
    problems: list[dict[str, str]] = []
    for index, variant in enumerate(definition.variants):
        for channel, content in variant.content.items():
            parts: dict[str, CompiledTemplate | None] = {}
            for part in ("subject", "body", "url"):
                source = getattr(content, part)
                if source is None:
                    parts[part] = None
                    continue
                try:
                    parts[part] = compile_template(source, allowed_names=names, html=channel in HTML_CHANNELS
                                                   and part == "body")
                except TemplateRejected as error:
                    parts[part] = None
                    problems.append({"path": f"variants.{index}.content.{channel}.{part}", "message": error.message,
                                     "code": error.code})
            body = parts["body"]
            if body is not None:
                compiled[(index, channel)] = CompiledContent(parts["subject"], body, parts["url"])
    return compiled, problems


def context_for(recipient: Recipient, *, campaign: dict[str, Any], event: dict[str, Any] | None = None,
                links: dict[str, str] | None = None) -> dict[str, Any]:
    """Return what a template sees about one customer."""
    context: dict[str, Any] = {
        "profile": {"id": recipient.contact.profile_id, **recipient.identifiers},
        "traits": recipient.traits,
        "computed": recipient.computed,
        "campaign": campaign,
        "links": links or {},
        "recommendations": _recommendations(recipient.computed),
    }
    if event is not None:
        context["event"] = event
    return context


def _recommendations(computed: dict[str, Any]) -> dict[str, Any]:
    counts = computed.get("category_counts") or {}
    favourite = max(sorted(counts), key=lambda name: counts[name]) if counts else None
    return {"favourite_category": favourite}


def render_content(content: CompiledContent, context: dict[str, Any], *, limits: RenderLimits) -> dict[str, Any]:
    """Render one message; raise RenderFailed when a part cannot be built or comes out empty."""
    body = render(content.body, context, clock=time.monotonic, limits=limits)
    if not body.strip():
        raise RenderFailed("empty_message", "the message body rendered empty; nothing was sent")
    subject = render(content.subject, context, clock=time.monotonic, limits=limits) if content.subject else None
    url = render(content.url, context, clock=time.monotonic, limits=limits) if content.url else None
    return {"subject": subject, "body": body, "url": url}
