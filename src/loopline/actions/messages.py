"""Building messages: templates compiled once per definition, rendered per customer within limits."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from loopline.actions.preferences import preferences_url
from loopline.domain.campaigns import CampaignDefinition, Content
from loopline.domain.email_html import EmailHtmlRejected, email_html
from loopline.domain.links import content_link_problems
from loopline.domain.templates import (
    CompiledTemplate,
    RenderFailed,
    RenderLimits,
    TemplateRejected,
    compile_template,
    render,
)
from loopline.query.lookups import last_event_sql
from loopline.services import Services
from loopline.store.sql.contacts import Recipient

CAMPAIGN_NAMES = frozenset({"profile", "traits", "computed", "campaign", "links", "recommendations"})
JOURNEY_NAMES = CAMPAIGN_NAMES | {"event", "digest"}
HTML_CHANNELS = frozenset({"email"})
PRODUCT_VIEWED = "Product Viewed"  # the Segment e-commerce spec's event name


@dataclass(frozen=True, slots=True)
class CompiledContent:
    """One channel's templates of one variant."""

    subject: CompiledTemplate | None
    body: CompiledTemplate
    url: CompiledTemplate | None
    options: dict[str, Any] | None = None  # the channel's options (rich push, in-app), passed through as given


def compile_content(
    content: Content, *, channel: str, names: frozenset[str], path: str,
) -> tuple[CompiledContent | None, list[dict[str, str]]]:
    """Compile one channel's subject, body and link; return them (None if any failed) and a problem per bad part."""
    parts: dict[str, CompiledTemplate | None] = {}
    problems: list[dict[str, str]] = []
    for part in ("subject", "body", "url"):
        source = getattr(content, part)
        parts[part] = None
        if source is None:
            continue
        html = channel in HTML_CHANNELS and part == "body"
        try:
            # An MJML layout is rendered and its CSS inlined once here, not per recipient.
            parts[part] = compile_template(email_html(source) if html else source, allowed_names=names, html=html)
        except TemplateRejected as error:
            problems.append({"path": f"{path}.{part}", "message": error.message, "code": error.code})
        except EmailHtmlRejected as error:
            problems.append({"path": f"{path}.{part}", "message": str(error), "code": "invalid_email_html"})
    # Links that could run code or lead somewhere unexpected are refused now (docs/tracking.md).
    problems.extend(content_link_problems(channel=channel, body=content.body, url=content.url, path=path))
    body = parts["body"]
    if problems or body is None:
        return None, problems
    # A channel's own options (rich push, or an in-app message's layout and display rules) travel as given.
    extra = content.push if content.push is not None else content.in_app
    options = extra.model_dump(mode="json", exclude_defaults=True) if extra is not None else None
    return CompiledContent(parts["subject"], body, parts["url"], options or None), problems


def compile_contents(
    definition: CampaignDefinition, *, names: frozenset[str] = CAMPAIGN_NAMES,
) -> tuple[dict[tuple[int, str], CompiledContent], list[dict[str, str]]]:
    """Compile every variant's content; return the templates and a problem (with its path) per bad one."""
    compiled: dict[tuple[int, str], CompiledContent] = {}
    problems: list[dict[str, str]] = []
    for index, variant in enumerate(definition.variants):
        for channel, content in variant.content.items():
            done, found = compile_content(content, channel=channel, names=names,
                                          path=f"variants.{index}.content.{channel}")
            problems.extend(found)
            if done is not None:
                compiled[(index, channel)] = done
    return compiled, problems


def render_limits(services: Services) -> RenderLimits:
    """Return the render limits from settings."""
    return RenderLimits(max_seconds=services.settings.render_time_limit_ms / 1000)


def context_for(recipient: Recipient, *, campaign: dict[str, Any], event: dict[str, Any] | None = None,
                links: dict[str, str] | None = None, viewed: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return what a template sees about one customer (``viewed``: their last viewed product, if looked up)."""
    context: dict[str, Any] = {
        "profile": {"id": recipient.contact.profile_id, **recipient.identifiers},
        "traits": recipient.traits,
        "computed": recipient.computed,
        "campaign": campaign,
        "links": links or {},
        "recommendations": {**_recommendations(recipient.computed), "last_viewed_product": viewed},
    }
    if event is not None:
        context["event"] = event
    return context


def _recommendations(computed: dict[str, Any]) -> dict[str, Any]:
    counts = computed.get("category_counts") or {}
    favourite = max(sorted(counts), key=lambda name: counts[name]) if counts else None
    return {"favourite_category": favourite}


def uses(compiled: Mapping[Any, CompiledContent], name: str) -> bool:
    """Return whether any of these templates reads ``name`` (so a batch looks it up only when used)."""
    return any(name in part.names for content in compiled.values()
               for part in (content.subject, content.body, content.url) if part is not None)


def uses_recommendations(compiled: Mapping[Any, CompiledContent]) -> bool:
    """Return whether any of these templates reads ``recommendations`` (worth a query per batch)."""
    return uses(compiled, "recommendations")


def customer_links(services: Services, *, workspace_id: str, profile_id: str) -> dict[str, str]:
    """Return the customer's own pages a message may link to, as templates see them in ``links``.

    ``links.preferences`` is their preference center: a signed address, no login, where they
    choose topics and channels (``{{ links.preferences }}`` in a footer).
    """
    return {"preferences": preferences_url(services, workspace_id=workspace_id, profile_id=profile_id)}


def last_viewed(services: Services, *, workspace_id: str, profile_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Return each customer's last viewed product (the properties of their latest ``Product Viewed``)."""
    if not profile_ids:
        return {}
    sql = last_event_sql(services.mart.dialect, workspace_id=workspace_id, event=PRODUCT_VIEWED,
                         profile_ids=profile_ids)
    found: dict[str, dict[str, Any]] = {}
    for profile_id, properties in services.mart.fetch(sql, timeout_s=services.settings.segment_query_timeout_s):
        value = orjson.loads(properties) if isinstance(properties, str | bytes) else properties
        if isinstance(value, dict):
            found[str(profile_id)] = value
    return found


class _CollectorTime(threading.local):
    """This thread's CPU time spent in full garbage collections (which a render may happen to trigger)."""

    seconds = 0.0
    started: float | None = None


_COLLECTOR = _CollectorTime()


def _count_full_collections(phase: str, info: dict[str, Any]) -> None:
    if info.get("generation") != 2:
        return  # the young generations' collections are short, and they run all the time
    if phase == "start":
        _COLLECTOR.started = time.thread_time()
    elif _COLLECTOR.started is not None:
        _COLLECTOR.seconds += time.thread_time() - _COLLECTOR.started
        _COLLECTOR.started = None


gc.callbacks.append(_count_full_collections)


def render_clock() -> float:
    """Return this thread's CPU time, less what full garbage collections took.

    A full collection walks the whole process's heap (a third of a second on a busy two-core
    machine with a million-customer campaign's objects); one that falls inside a render is not
    the template's work, and failed a message for good before it was left out.
    """
    return time.thread_time() - _COLLECTOR.seconds


def render_content(content: CompiledContent, context: dict[str, Any], *, limits: RenderLimits) -> dict[str, Any]:
    """Render one message; raise RenderFailed when a part cannot be built or comes out empty.

    The time limit counts this thread's own CPU time (``render_clock``): a render that waits
    for the interpreter lock or for a busy machine has done no work, and must not fail for it
    (on a loaded machine a wall clock failed simple templates).
    """
    body = render(content.body, context, clock=render_clock, limits=limits)
    if not body.strip():
        raise RenderFailed("empty_message", "the message body rendered empty; nothing was sent")
    subject = render(content.subject, context, clock=render_clock, limits=limits) if content.subject else None
    url = render(content.url, context, clock=render_clock, limits=limits) if content.url else None
    message: dict[str, Any] = {"subject": subject, "body": body, "url": url}
    if content.options:
        message["options"] = content.options
    return message
