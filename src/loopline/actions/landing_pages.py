"""Landing pages: saving them, and what a customer's personalised URL (``/p/{token}``) shows and records.

A page is saved only when its templates compile in the sandbox and render for a customer the
workspace knows nothing about (every trait needs its ``| default(...)``). A visit renders the
page for the customer the link was sent to, records the visit like a click of the message
(``actions/tracking.py``) and, for a person's first visit, ``Landing Page Viewed``. A
submitted form writes the declared fields' answers to the customer's traits through an
``identify`` event the platform records, so the projection applies them like any other
identify, and records ``Landing Page Submitted``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from ulid import ULID

from loopline.actions.ingest import IngestPipeline
from loopline.actions.messages import render_clock, render_limits
from loopline.actions.tracking import (
    LinkNotFound,
    do_record_visit,
    event_identity,
    event_properties,
    live_purl,
)
from loopline.domain.landing_pages import (
    CompiledPage,
    LandingPageDefinition,
    PageRejected,
    check_answers,
    compile_page,
    form_html,
    page_context,
    sample_context,
)
from loopline.domain.links import purl_slug, purl_slugs
from loopline.domain.profiles import Profile
from loopline.domain.ratelimit import ClientLimit
from loopline.domain.templates import CompiledTemplate, RenderFailed, render
from loopline.services import Services
from loopline.store.sql.landing_pages import LandingPageRow, SlugTaken
from loopline.store.sql.tracking import StoredLink

VIEWED, SUBMITTED = "Landing Page Viewed", "Landing Page Submitted"
SOURCE = "landing_pages"
DEFAULT_THANKS = "<p>Thank you. Your answers were saved.</p>"
MAX_TRACKED_SUBMITTERS = 50_000  # links and clients counted at once (see KeyedBuckets)


class LandingPageNotFound(LookupError):
    """No page with this id in the workspace."""


class LandingPageRejected(ValueError):
    """A page that cannot be saved: ``code`` says why, ``problems`` name the parts."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.problems = code, message, problems or []


class ProfileNotFound(LookupError):
    """No profile of the workspace has this id or identifier."""


class PageUnavailable(LookupError):
    """A live link whose page was deleted (or renamed), or cannot be shown to this customer."""


class SubmissionRefused(ValueError):
    """A submission that cannot be taken: the page has no form, or the customer has no timeline to write to."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class SubmissionsThrottled(PermissionError):
    """A form sent too often through one link or from one client; ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"this form was sent too often; try again in {retry_after:.0f} seconds")
        self.retry_after = retry_after


class SubmissionThrottle:
    """Counts form submissions per personalised link, and per client address over all links.

    A link is one customer's: a person fills its form a few times at most, while a script
    replaying it would rewrite their traits and flood their timeline. The per-client count
    (ten times as many) stops one client from walking many links. Counts live in this process.
    """

    def __init__(self, per_minute: int) -> None:
        self._limit = ClientLimit(per_minute, max_keys=MAX_TRACKED_SUBMITTERS)

    def take(self, *, token: str, client: str) -> None:
        """Count one submission; raise SubmissionsThrottled past the limit."""
        wait = self._limit.wait(subject=token, client=client, now=time.monotonic())
        if wait > 0:
            raise SubmissionsThrottled(max(1.0, wait))


@dataclass(frozen=True, slots=True)
class ShownPage:
    """What a visitor gets: the page's title, its HTML (body and form), and the status to answer with."""

    title: str
    content: str
    status: int = 200


# --- Managing pages -----------------------------------------------------------------------------------------------


def _checked(services: Services, data: Mapping[str, Any]) -> LandingPageDefinition:
    """Return a page's definition once its templates compile and render for an unknown customer."""
    try:
        definition = LandingPageDefinition.model_validate(data)
    except ValidationError as error:
        problems = [{"path": ".".join(str(part) for part in item["loc"]), "message": item["msg"],
                     "code": "invalid_landing_page"} for item in error.errors()]
        raise LandingPageRejected("invalid_landing_page", "the landing page is invalid", problems) from None
    try:
        compiled = compile_page(definition)
    except PageRejected as error:
        raise LandingPageRejected(error.code, error.message, error.problems) from None
    for part, template in (("body", compiled.body), ("thank_you", compiled.thank_you)):
        if template is None:
            continue
        try:
            render(template, sample_context(definition, submitted=part == "thank_you"), clock=render_clock,
                   limits=render_limits(services))
        except RenderFailed as error:
            code = "template_missing_fallback" if error.reason == "missing_variable" else "template_render_failed"
            raise LandingPageRejected(code, f"{part}: {error.message}",
                                      [{"path": part, "message": error.message, "code": code}]) from None
    return definition


def unknown_landing_pages(services: Services, *, workspace_id: str,
                          texts: Mapping[str, Sequence[str | None]]) -> list[dict[str, str]]:
    """Return a problem per message part whose ``purl:`` links name a page the workspace does not have.

    ``texts`` maps a part's path (``definition.variants.0.content.email``) to its texts (body, url).
    Checked when a campaign or journey is saved, so a customer never gets a link to no page.
    """
    named = {path: purl_slugs(*values) for path, values in texts.items()}
    known = services.landing_pages.existing_slugs(workspace_id=workspace_id,
                                                  slugs=sorted(set().union(*named.values())))
    return [{"path": path, "message": f"no landing page has the slug {slug!r}: create it first",
             "code": "unknown_landing_page"}
            for path, slugs in named.items() for slug in sorted(slugs - known)]


def _stored(definition: LandingPageDefinition) -> dict[str, Any]:
    return {"slug": definition.slug, "title": definition.title,
            "definition": definition.model_dump(mode="json", exclude={"slug", "title"})}


def _slug_taken(slug: str) -> LandingPageRejected:
    return LandingPageRejected("slug_taken", f"this workspace has a landing page with the slug {slug!r} already",
                               [{"path": "slug", "message": "taken", "code": "slug_taken"}])


def do_create_landing_page(services: Services, *, workspace_id: str, data: Mapping[str, Any]) -> LandingPageRow:
    """Save a new landing page; raise LandingPageRejected when it is invalid or its slug is taken."""
    definition = _checked(services, data)
    now = services.clock.now()
    row = {"id": "lp_" + str(ULID()).lower(), "workspace_id": workspace_id, **_stored(definition),
           "created_at": now, "updated_at": now}
    try:
        return services.landing_pages.create_page(row=row)
    except SlugTaken:
        raise _slug_taken(definition.slug) from None


def do_update_landing_page(services: Services, *, workspace_id: str, page_id: str,
                           data: Mapping[str, Any]) -> LandingPageRow:
    """Replace a page; links already sent name its slug, so a new slug leaves them without a page."""
    definition = _checked(services, data)
    values = {**_stored(definition), "updated_at": services.clock.now()}
    try:
        row = services.landing_pages.update_page(workspace_id=workspace_id, page_id=page_id, values=values)
    except SlugTaken:
        raise _slug_taken(definition.slug) from None
    if row is None:
        raise LandingPageNotFound(page_id)
    return row


def do_delete_landing_page(services: Services, *, workspace_id: str, page_id: str) -> None:
    """Delete a page; its links already sent answer that the page is not available."""
    if not services.landing_pages.delete_page(workspace_id=workspace_id, page_id=page_id):
        raise LandingPageNotFound(page_id)


def get_landing_page(services: Services, *, workspace_id: str, page_id: str) -> LandingPageRow:
    """Return one of the workspace's pages, or raise LandingPageNotFound."""
    row = services.landing_pages.get_page(workspace_id=workspace_id, page_id=page_id)
    if row is None:
        raise LandingPageNotFound(page_id)
    return row


def definition_of(row: LandingPageRow) -> LandingPageDefinition:
    """Return a stored page's definition."""
    return LandingPageDefinition.model_validate({**row.definition, "slug": row.slug, "title": row.title})


@dataclass(frozen=True, slots=True)
class Preview:
    """A page as one customer would see it, or why it cannot be shown to them (``error``: a render failure)."""

    profile_id: str
    title: str
    html: str | None
    error: str | None
    message: str | None


def preview_landing_page(services: Services, *, workspace_id: str, page_id: str, reference: str) -> Preview:
    """Render a page for one of the workspace's customers (by id or identifier), recording nothing."""
    row = get_landing_page(services, workspace_id=workspace_id, page_id=page_id)
    profile = services.lookups.find_profile(workspace_id=workspace_id, reference=reference)
    if profile is None:
        raise ProfileNotFound(reference)
    try:
        compiled = _compiled(row)
    except PageUnavailable as error:
        return Preview(profile.profile_id, row.title, None, "template_error", str(error))
    definition = compiled.definition
    context = page_context(profile_id=profile.profile_id, identifiers=_identifiers(services, profile),
                           traits=profile.traits, definition=definition, campaign={"id": "", "name": ""})
    try:
        body = render(compiled.body, context, clock=render_clock, limits=render_limits(services))
    except RenderFailed as error:
        return Preview(profile.profile_id, definition.title, None, error.reason, error.message)
    page = body + form_html(definition, action="", typed={}, errors={})
    return Preview(profile.profile_id, definition.title, page, None, None)


def _identifiers(services: Services, profile: Profile) -> dict[str, str]:
    """Return a customer's first identifier of each kind (``user_id``, ``email``…), as templates see them."""
    found: dict[str, str] = {}
    for kind, value in services.lookups.list_identities(workspace_id=profile.workspace_id,
                                                        profile_id=profile.profile_id):
        found.setdefault(kind, value)
    return found


def _compiled(row: LandingPageRow) -> CompiledPage:
    """Return a stored page compiled; one the current rules refuse is never shown half-checked."""
    try:
        return compile_page(definition_of(row))
    except (PageRejected, ValidationError):
        raise PageUnavailable("this page cannot be shown") from None


# --- Visits and submissions ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Opened:
    link: StoredLink
    page: LandingPageRow
    compiled: CompiledPage
    context: dict[str, Any]


def _foreign_host(services: Services, link: StoredLink, host: str) -> bool:
    """Return whether a link is opened on another workspace's link domain (it is answered there like no link)."""
    own = (services.tracking.get_settings(workspace_id=link.workspace_id) or {}).get("link_domain")
    if host in (own, urlsplit(services.settings.resolved_public_url).hostname):
        return False
    return any(doc.get("link_domain") == host for doc in services.tracking.settings_for_host(host=host))


def _open(services: Services, token: str, host: str, now: datetime) -> _Opened:
    """Return the page a live PURL opens, with its customer's data; raise LinkNotFound or PageUnavailable."""
    link = live_purl(services, token=token, now=now)
    if _foreign_host(services, link, host.lower()):
        raise LinkNotFound("this link does not exist")
    slug = purl_slug(link.url) or ""
    page = services.landing_pages.get_by_slug(workspace_id=link.workspace_id, slug=slug)
    if page is None:
        raise PageUnavailable("this page is no longer available")
    profile = services.lookups.find_profile(workspace_id=link.workspace_id, reference=link.profile_id)
    if profile is None:  # erased since the message was sent
        raise LinkNotFound("this link does not exist")
    compiled = _compiled(page)
    facts = services.tracking.send_facts(send_keys=[link.send_key]).get(link.send_key)
    context = page_context(profile_id=profile.profile_id, identifiers=_identifiers(services, profile),
                           traits=profile.traits, definition=compiled.definition,
                           campaign={"id": link.source_id, "name": facts.source_name if facts else None})
    return _Opened(link, page, compiled, context)


def _render(services: Services, template: CompiledTemplate, context: Mapping[str, Any]) -> str:
    try:
        return render(template, context, clock=render_clock, limits=render_limits(services))
    except RenderFailed:
        # A customer whose data the page's fallbacks do not cover; nothing half-rendered is shown.
        raise PageUnavailable("this page cannot be shown") from None


def _page(services: Services, opened: _Opened, *, token: str, typed: Mapping[str, str] | None = None,
          errors: Mapping[str, str] | None = None, status: int = 200) -> ShownPage:
    definition = opened.compiled.definition
    content = _render(services, opened.compiled.body, opened.context) + form_html(
        definition, action=f"/p/{token}", typed=typed or {}, errors=errors or {})
    return ShownPage(definition.title, content, status)


def _properties(opened: _Opened) -> dict[str, Any]:
    return {**event_properties(opened.link), "slug": opened.page.slug, "landing_page_id": opened.page.id}


def do_view_landing_page(services: Services, pipeline: IngestPipeline | None, *, token: str, host: str,
                         user_agent: str, method: str) -> ShownPage:
    """Show a PURL's page for its customer and record the visit (machines are recorded, never as events)."""
    now = services.clock.now()
    opened = _open(services, token, host, now)
    shown = _page(services, opened, token=token)
    _, first = do_record_visit(services, pipeline, opened.link, user_agent=user_agent, method=method, now=now)
    identity = event_identity(services, opened.link) if first and pipeline is not None else None
    if pipeline is not None and identity is not None:
        pipeline.record_platform_events(workspace_id=opened.link.workspace_id, source=SOURCE, messages=[{
            "type": "track", "event": VIEWED, **identity, "timestamp": now.isoformat(),
            "messageId": f"view-{opened.link.id}", "properties": _properties(opened)}])
    return shown


def do_submit_landing_page(services: Services, pipeline: IngestPipeline | None, *, token: str, host: str,
                           submitted: Mapping[str, Sequence[str]]) -> ShownPage:
    """Check a PURL's form answers and write them to the customer's traits; answer the thank-you or the errors."""
    now = services.clock.now()
    opened = _open(services, token, host, now)
    definition = opened.compiled.definition
    if not definition.form:
        raise SubmissionRefused("no_form", "this page has no form")
    answers = check_answers(definition.form, submitted)
    if answers.errors:
        return _page(services, opened, token=token, typed=answers.typed, errors=answers.errors, status=422)
    identity = event_identity(services, opened.link)
    if identity is None and opened.link.source_kind != "test":
        raise SubmissionRefused("profile_not_writable", "your answers cannot be saved for this link")
    if identity is not None and pipeline is not None:
        message_id = f"submit-{ULID()}"
        stamp = now.isoformat()
        pipeline.record_platform_events(workspace_id=opened.link.workspace_id, source=SOURCE, messages=[
            {"type": "identify", **identity, "timestamp": stamp, "messageId": f"{message_id}-traits",
             "traits": answers.traits},
            {"type": "track", "event": SUBMITTED, **identity, "timestamp": stamp, "messageId": message_id,
             "properties": {**_properties(opened), "fields": sorted(answers.traits)}},
        ])
    context = {**opened.context, "traits": {**opened.context["traits"], **answers.traits}}
    thanks = opened.compiled.thank_you
    return ShownPage(definition.title, _render(services, thanks, context) if thanks else DEFAULT_THANKS)
