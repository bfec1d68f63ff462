"""Click and open tracking: links written when messages are handed over, and what a click or an open does.

At hand-over each web link of an email's HTML, of an SMS's text and the ``url`` of email, SMS
and web push messages becomes ``{base}/l/{token}``, and an email with HTML gets an open
pixel ``{base}/o/{token}.gif``. Where each token leads is stored then, in one INSERT per batch;
a click can only ever be sent there. Native push and in-app messages keep their links as
written: the app opens them itself (a deep link must stay the screen it names), and reports
taps and clicks with the send key.

A landing page link, ``purl:{slug}``, becomes ``{base}/p/{token}`` in every channel (also in a
push's or in-app message's ``url``, and whether or not clicks are tracked): its row stores
``purl:{slug}`` instead of a destination, so the token opens that page for that customer
(actions/landing_pages.py) and never redirects. A visit by a person is the message's click.

A click by a person becomes the channel's click event on the customer's timeline (``Email Link
Clicked``, ``SMS Link Clicked``, ``Web Push Clicked``), once per link: its message id is the
link's, so a repeated click or a race adds nothing. The first load of the pixel by a person
(or the first click, which implies it) becomes ``Email Opened``, once per send. Machines are
redirected like people (the link must work for them) but only recorded, flagged: a click
event they caused would put customers in "clicked" segments they never joined.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from ua_parser import parse
from ulid import ULID

from loopline.actions.apps import fingerprint, get_link_settings
from loopline.actions.ingest import IngestPipeline
from loopline.domain import commerce
from loopline.domain.deep_links import Device, LinkSettings, Route, UserAgent, classify, route_click
from loopline.domain.engagement import ENGAGEMENT_EVENTS, message_properties
from loopline.domain.identity import filed_as
from loopline.domain.links import (
    MAX_TRACKED,
    OPEN_POSITION,
    PURL_SCHEME,
    check_token,
    has_markup,
    link_kind,
    link_token,
    on_domains,
    purl_slug,
    purl_slugs,
    rewrite_html,
    rewrite_text,
    screen_of,
    tagged,
    utm_of,
    with_pixel,
)
from loopline.services import Services
from loopline.store.sql.send_ledger import Due
from loopline.store.sql.tracking import SendFacts, StoredLink

log = structlog.get_logger(__name__)
PURPOSE = "tracking links"
TRACKED_CHANNELS = frozenset({"email", "sms", "web_push"})
PURL_CHANNELS = TRACKED_CHANNELS | {"push", "in_app"}
# A person cannot read a message and click in it within two seconds of its hand-over, nor open
# three of its links within two seconds: mail security scanners do both.
MACHINE_WINDOW = timedelta(seconds=2)
BURST_LINKS = 2  # other links of the same message hit inside the window
MAX_USER_AGENT = 1_000
_LINK_PATH = re.compile(r"/l/([A-Za-z0-9_-]{20})(?:[/?#]|$)")


class LinkNotFound(LookupError):
    """A token this server did not write, a link that does not exist (here), or one past its lifetime."""


@dataclass(frozen=True, slots=True)
class Followed:
    """What a click did: where it goes, the link it followed, and who clicked."""

    route: Route
    link: StoredLink
    device: Device


# --- At hand-over ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Writer:
    """Writes the tracked links of one message."""

    key: bytes
    row: Due
    settings: LinkSettings
    facts_of: Callable[[str], SendFacts | None]  # the send's campaign or journey name, read when a link needs it
    base: str
    own: tuple[str, ...]
    now: datetime
    pages: set[str]  # the slugs of the workspace's landing pages that the hand-over's messages name
    rows: list[dict[str, Any]] = field(default_factory=list)

    def link(self, url: str, label: str) -> str | None:
        """Return the tracked link for ``url``, or the PURL for ``purl:slug`` (None: keep it as written)."""
        if (slug := purl_slug(url)) is not None:
            return self.purl(slug, label)
        if len(self.rows) >= MAX_TRACKED or url.startswith(self.own):
            return None
        position = len(self.rows) + 1
        smart = bool(self.settings.web_domains) and on_domains(url, self.settings.web_domains)
        token = self._store(position, self._destination(url), label, screen_of(url) if smart else None)
        return f"{self.base}/l/{token}"

    def purl_only(self, url: str, label: str) -> str | None:
        """Return the PURL for ``purl:slug`` and keep every other link as written (click tracking is off)."""
        slug = purl_slug(url)
        return self.purl(slug, label) if slug is not None else None

    def purl(self, slug: str, label: str) -> str:
        """Return this customer's address of a landing page; always written, past the tracked-link limit too."""
        if slug not in self.pages:
            # Written all the same (the page may be created before the customer visits); the visit
            # answers that the page is not available, and the log says which send named it.
            log.warning("landing_page_missing", workspace_id=self.row.workspace_id, send_key=self.row.send_key,
                        slug=slug)
        return f"{self.base}/p/{self._store(len(self.rows) + 1, f'{PURL_SCHEME}:{slug}', label, None)}"

    def pixel(self) -> str:
        """Return the address of the message's open pixel."""
        return f"{self.base}/o/{self._store(OPEN_POSITION, '', 'open', None)}.gif"

    def _store(self, position: int, url: str, label: str, screen: str | None) -> str:
        token = link_token(self.key, send_key=self.row.send_key, position=position)
        self.rows.append({"id": token, "workspace_id": self.row.workspace_id, "send_key": self.row.send_key,
                          "position": position, "label": label[:100], "url": url, "screen": screen,
                          "created_at": self.now})
        return token

    def _destination(self, url: str) -> str:
        settings = self.settings
        if not settings.utm or (settings.web_domains and not on_domains(url, settings.web_domains)):
            return url
        row = self.row
        facts = self.facts_of(row.send_key)
        params = {"utm_source": "loopline", "utm_medium": row.channel,
                  "utm_campaign": (facts.source_name if facts else None) or row.source_id,
                  "utm_content": (facts.variant or facts.step) if facts else "", "utm_id": row.source_id}
        if settings.send_key_param:
            params["ll_send"] = row.send_key
        return tagged(url, {name: value or "" for name, value in params.items()})


_DEFAULT_SETTINGS = LinkSettings()  # a workspace that never changed its link settings


class LinkTracker:
    """Tracks the links of one hand-over's messages; ``save`` stores them all in one INSERT.

    It reads the workspaces' link settings and the sends' campaign names, steps and variants
    once per hand-over, and only when a message of a tracked channel is in it.
    """

    def __init__(self, services: Services, due: Sequence[Due], *, now: datetime) -> None:
        self._services = services
        self._now = now
        self._rows: list[dict[str, Any]] = []
        tracked = [row for row in due if row.channel in TRACKED_CHANNELS or _purls(row)]
        self._key = services.secrets.signing_key(PURPOSE) if tracked else b""
        stored = services.tracking.list_settings(workspace_ids=[r.workspace_id for r in tracked]) if tracked else {}
        self._settings = {workspace: LinkSettings.model_validate(doc) for workspace, doc in stored.items()}
        self._tracked_keys = [r.send_key for r in tracked]
        self._facts: dict[str, SendFacts] | None = None  # read at the first tagged link: a pixel needs none
        self._public = services.settings.resolved_public_url
        self._pages = _named_pages(services, tracked)

    def track(self, row: Due) -> dict[str, Any]:
        """Return the send's payload with its links tracked and, for an HTML email, an open pixel."""
        payload = row.payload
        settings = self._settings.get(row.workspace_id) or _DEFAULT_SETTINGS
        tracked = row.channel in TRACKED_CHANNELS and (settings.track_clicks or settings.track_opens)
        if not tracked and not _purls(row):
            return payload
        base = f"https://{settings.link_domain}" if settings.link_domain else self._public
        writer = _Writer(self._key, row, settings, self._facts_of, base,
                         (f"{base}/", f"{self._public}/"), self._now, self._pages.get(row.workspace_id, set()))
        body, url = str(payload.get("body", "")), payload.get("url")
        replace_link = writer.link if tracked and settings.track_clicks else writer.purl_only
        if row.channel in TRACKED_CHANNELS:  # a push's or in-app message's text holds no links a reader follows
            body = rewrite_html(body, replace_link) if row.channel == "email" else rewrite_text(body, replace_link)
        if isinstance(url, str) and link_kind(url) in ("track", "purl"):
            url = replace_link(url.strip(), "url") or url
        if settings.track_opens and row.channel == "email" and has_markup(body):
            body = with_pixel(body, writer.pixel())
        self._rows.extend(writer.rows)
        return {**payload, "body": body, "url": url}

    def _facts_of(self, send_key: str) -> SendFacts | None:
        if self._facts is None:
            self._facts = self._services.tracking.send_facts(send_keys=self._tracked_keys) \
                if self._tracked_keys else {}
        return self._facts.get(send_key)

    def save(self) -> None:
        """Store the links written so far (before the messages leave: a click may come at once)."""
        if self._rows:
            self._services.tracking.put_links(rows=self._rows)
            self._rows = []


def _purls(row: Due) -> bool:
    """Return whether a message may hold a landing page link (a cheap test; the rewriting decides)."""
    url = row.payload.get("url")
    return row.channel in PURL_CHANNELS and (
        f"{PURL_SCHEME}:" in str(row.payload.get("body", "")) or (isinstance(url, str) and f"{PURL_SCHEME}:" in url))


def _named_pages(services: Services, rows: Sequence[Due]) -> dict[str, set[str]]:
    """Return, per workspace, which of the landing pages its messages name exist (one query per workspace)."""
    named: dict[str, set[str]] = {}
    for row in rows:
        url = row.payload.get("url")
        named.setdefault(row.workspace_id, set()).update(
            purl_slugs(str(row.payload.get("body", "")), url if isinstance(url, str) else None))
    return {workspace: services.landing_pages.existing_slugs(workspace_id=workspace, slugs=sorted(slugs))
            for workspace, slugs in named.items() if slugs}


# --- Clicks and opens --------------------------------------------------------------------------------------------


def parse_user_agent(text: str) -> UserAgent:
    """Return the parts of a user agent the routes depend on (ua-parser's names)."""
    text = text[:MAX_USER_AGENT]
    found = parse(text)
    agent, system, device = found.user_agent, found.os, found.device
    return UserAgent(text, agent.family if agent else None, system.family if system else None,
                     system.major if system else None, system.minor if system else None,
                     device.family if device else None)


def _live_link(services: Services, token: str, *, now: datetime) -> StoredLink:
    if not check_token(services.secrets.signing_key(PURPOSE), token):
        raise LinkNotFound("this link is not one of ours")
    link = services.tracking.get_link(link_id=token)
    if link is None:
        raise LinkNotFound("this link does not exist")
    if link.created_at + timedelta(days=services.settings.tracking_link_days) <= now:
        raise LinkNotFound("this link has expired")
    return link


def _judged(services: Services, link: StoredLink, device: Device, *, now: datetime, burst: bool) -> Device:
    """Return the device, flagged as a machine when it came too soon after the hand-over or in a burst."""
    if device.bot:
        return device
    if link.handed_at is not None and now - link.handed_at < MACHINE_WINDOW:
        return replace(device, kind="bot", bot_reason="too_soon")
    if burst and services.tracking.count_other_links_hit(send_key=link.send_key, link_id=link.id,
                                                         since=now - MACHINE_WINDOW) >= BURST_LINKS:
        return replace(device, kind="bot", bot_reason="burst")
    return device


def do_follow_link(services: Services, pipeline: IngestPipeline | None, *, token: str, user_agent: str,
                   method: str, address: str) -> Followed:
    """Record a click and return where it goes; raise LinkNotFound for any token that is not a live link."""
    now = services.clock.now()
    link = _live_link(services, token, now=now)
    if link.position == OPEN_POSITION or purl_slug(link.url) is not None:  # a PURL opens its page at /p/
        raise LinkNotFound("this link does not exist")
    device = _judged(services, link, classify(parse_user_agent(user_agent), method=method), now=now, burst=True)
    click_id = secrets.token_urlsafe(12)
    route = route_click(device, get_link_settings(services, workspace_id=link.workspace_id), destination=link.url,
                        screen=link.screen, click_id=click_id)
    first = not device.bot and not services.tracking.seen_by_person(link_id=link.id)
    _record(services, link, device, route.kind, now)
    if route.kind == "app" and route.to_store:
        services.tracking.put_deferred(row={
            "click_id": click_id, "workspace_id": link.workspace_id, "link_id": link.id,
            "platform": device.platform, "os_version": device.os_version[:16],
            "fingerprint": fingerprint(services, address), "created_at": now})
    if first:
        _emit(services, pipeline, link, now=now, route=route.kind, platform=device.platform)
    return Followed(route, link, device)


def do_record_open(services: Services, pipeline: IngestPipeline | None, *, token: str, user_agent: str,
                   method: str) -> bool:
    """Record a load of an open pixel; return whether it was one. The first by a person is the send's open."""
    now = services.clock.now()
    try:
        link = _live_link(services, token, now=now)
    except LinkNotFound:
        return False
    if link.position != OPEN_POSITION:
        return False
    agent = parse_user_agent(user_agent)
    device = _judged(services, link, classify(agent, method=method, opening=True), now=now, burst=False)
    first = not device.bot and not services.tracking.seen_by_person(link_id=link.id)
    _record(services, link, device, "open", now)
    if first:
        _emit_open(services, pipeline, link, now=now, implied=False)
    return True


def token_of(link: str) -> str | None:
    """Return the token of a tracked link as an app received it (``https://host/l/TOKEN``), or a bare token."""
    text = link.strip()
    if re.fullmatch(r"[A-Za-z0-9_-]{20}", text):
        return text
    found = _LINK_PATH.search(text)
    return found.group(1) if found else None


def do_open_in_app(services: Services, pipeline: IngestPipeline | None, *, workspace_id: str,
                   link: str) -> StoredLink:
    """Record that the workspace's app opened one of its tracked links itself (a universal or app link)
    and return it; raise LinkNotFound for anything else, another workspace's links included."""
    now = services.clock.now()
    token = token_of(link)
    found = _live_link(services, token, now=now) if token else None
    if (found is None or found.workspace_id != workspace_id or found.position == OPEN_POSITION
            or purl_slug(found.url) is not None):
        raise LinkNotFound("this link does not exist")
    device = Device("phone", "other", browser="app")
    first = not services.tracking.seen_by_person(link_id=found.id)
    _record(services, found, device, "app", now)
    if first:
        _emit(services, pipeline, found, now=now, route="app", platform="app")
    return found


def live_purl(services: Services, *, token: str, now: datetime) -> StoredLink:
    """Return the live landing page link a token names; raise LinkNotFound for anything else."""
    link = _live_link(services, token, now=now)
    if purl_slug(link.url) is None:
        raise LinkNotFound("this link does not exist")
    return link


def do_record_visit(services: Services, pipeline: IngestPipeline | None, link: StoredLink, *, user_agent: str,
                    method: str, now: datetime) -> tuple[Device, bool]:
    """Record a visit of a landing page link like a click; return the device and whether it is a person's first.

    A person's first visit is the message's click (``Email Link Clicked``… with the implied open),
    on the channels whose clicks the server sees; a push's or in-app message's app reports its own.
    """
    device = _judged(services, link, classify(parse_user_agent(user_agent), method=method), now=now, burst=True)
    first = not device.bot and not services.tracking.seen_by_person(link_id=link.id)
    _record(services, link, device, "page", now)
    if first and link.channel in TRACKED_CHANNELS:
        _emit(services, pipeline, link, now=now, route="page", platform=device.platform)
    return device, first


def list_tracked_links(services: Services, *, workspace_id: str, send_key: str | None,
                       limit: int) -> list[dict[str, Any]]:
    """Return the workspace's tracked links, newest first, with clicks by people and by machines."""
    return services.tracking.list_links(workspace_id=workspace_id, send_key=send_key, limit=limit)


def _record(services: Services, link: StoredLink, device: Device, route: str, now: datetime) -> None:
    services.tracking.record_hit(row={
        "id": str(ULID()), "workspace_id": link.workspace_id, "link_id": link.id, "send_key": link.send_key,
        "at": now, "bot": device.bot, "reason": device.bot_reason[:32], "route": route, "device": device.kind,
        "platform": device.platform})


# --- Events ------------------------------------------------------------------------------------------------------


def event_properties(link: StoredLink) -> dict[str, Any]:
    """Return the properties every event about a message's link carries: its send, source, step and variant."""
    return dict(message_properties(send_key=link.send_key, channel=link.channel, source_kind=link.source_kind,
                                   source_id=link.source_id, step=link.step, variant=link.variant))


def event_identity(services: Services, link: StoredLink) -> dict[str, str] | None:
    """Return who events about a link are filed under (None: a test send, or a customer with no timeline)."""
    if link.source_kind == "test":  # a test send to a colleague is no customer's engagement
        return None
    return filed_as(services.lookups.list_identities(workspace_id=link.workspace_id, profile_id=link.profile_id))


def _emit(services: Services, pipeline: IngestPipeline | None, link: StoredLink, *, now: datetime, route: str,
          platform: str) -> None:
    name = ENGAGEMENT_EVENTS["clicked"].get(link.channel)
    identity = event_identity(services, link) if pipeline is not None and name else None
    if pipeline is None or name is None or identity is None:
        return
    properties = {**event_properties(link), "url": link.url, "link_label": link.label, "link_position": link.position,
                  "route": route, "platform": platform, **utm_of(link.url)}
    events = [{"type": "track", "event": name, **identity, "timestamp": now.isoformat(),
               "messageId": f"click-{link.id}", "properties": properties}]
    if link.channel == "email":  # a click implies the open an image-blocking mail client never reported
        events.append(_open_event(link, identity, now=now, implied=True))
    pipeline.record_platform_events(workspace_id=link.workspace_id, source="tracking", messages=events)


def _open_event(link: StoredLink, identity: dict[str, str], *, now: datetime, implied: bool) -> dict[str, Any]:
    return {"type": "track", "event": commerce.EMAIL_OPENED, **identity, "timestamp": now.isoformat(),
            "messageId": f"open-{link.send_key}", "properties": {**event_properties(link), "implied": implied}}


def _emit_open(services: Services, pipeline: IngestPipeline | None, link: StoredLink, *, now: datetime,
               implied: bool) -> None:
    identity = event_identity(services, link) if pipeline is not None else None
    if pipeline is not None and identity is not None:
        pipeline.record_platform_events(workspace_id=link.workspace_id, source="tracking",
                                        messages=[_open_event(link, identity, now=now, implied=implied)])
