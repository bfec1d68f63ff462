"""Tracked links in messages: their tokens, the links a template may hold, and rewriting a message's links.

A tracked link is ``{base}/l/{token}``; the server looks the token up and redirects to the URL
stored for it when the message was handed over, so a token can lead nowhere else. A token is
20 URL-safe characters: 12 bytes derived with HMAC-SHA256 from the send key and the link's
position (so handing the same send over again writes the same links), and a 3-byte tag over
those, so a token this server did not write — tampered, truncated, guessed — is refused
before any lookup.

Templates are checked when saved: a link must be ``http(s)://host/…`` with a plain host (no
user part, no backslash, no percent-encoding, no placeholder in the host), or ``mailto:``,
``tel:``, ``sms:`` or an anchor. ``javascript:``, ``data:``, ``vbscript:``, protocol-relative
``//host`` and the like are refused. A link that is one placeholder (``{{ event.url }}``)
is decided when the message is rendered: the rewriting below tracks it only when it is a
plain web link and drops it otherwise.

``purl:{slug}`` names one of the workspace's landing pages: at hand-over it becomes the
customer's own personalised URL, ``{base}/p/{token}`` (see docs/landing-pages.md).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TOKEN_LENGTH = 20  # characters: 12 bytes of id and 3 bytes of tag, base64url without padding
_ID_BYTES, _TAG_BYTES = 12, 3
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20}")
MAX_TRACKED = 100  # links per message; the rest stay as written
LABEL_CHARS = 100
OPEN_POSITION = 0  # the open pixel; links count from 1

WEB_SCHEMES = frozenset({"http", "https"})
APP_LINK_CHANNELS = frozenset({"push", "in_app"})  # their links are opened by the customer's app
KEPT_SCHEMES = frozenset({"mailto", "tel", "sms"})  # followed by the reader's own apps, never tracked
# Schemes that run code or read local data in a browser or a mail client.
UNSAFE_SCHEMES = frozenset({"javascript", "vbscript", "data", "file", "blob", "filesystem", "about", "jar",
                            "view-source", "ms-its", "mhtml", "intent", "chrome", "res"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_NEWLINES = re.compile(r"[\t\n\r]")  # browsers drop these anywhere in a URL ("java\tscript:")
_EDGES = "".join(chr(code) for code in range(0x21))  # ... and controls and spaces around it
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^\x00-\x20\x7f/\\?#@%{}:\[\]]+)(:\d{1,5})?$")
_PLACEHOLDER = re.compile(r"^\{[{%]")
# An <a>, <area> or MJML button tag, with quoted attribute values that may hold ">".
_TAG = re.compile(r"<(a|area|mj-button|mj-image)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.IGNORECASE)
_HREF = re.compile(r"(\shref\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s\"'>]+)", re.IGNORECASE)
_ANY_HREF = re.compile(r"\shref\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+)", re.IGNORECASE)
_MARKUP = re.compile(r"<[^>]*>")
_MARKUP_START = re.compile(r"<[A-Za-z!/]")
_ALT = re.compile(r"\salt\s*=\s*(\"[^\"]*\"|'[^']*')", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_TEXT_URL = re.compile(r"https?://[^\s<>\"']+|\bpurl:[A-Za-z0-9-]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""

PURL_SCHEME = "purl"
_PURL = re.compile(r"purl:([a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)")
# A PURL in plain text (an SMS): the slug ends where its characters end.
_TEXT_PURL = re.compile(r"\bpurl:[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?![A-Za-z0-9-])")

LinkKind = Literal["track", "keep", "drop", "purl"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def link_token(key: bytes, *, send_key: str, position: int) -> str:
    """Return the token of the link at ``position`` of a send (0: its open pixel); the same inputs, the same token."""
    ident = hmac.digest(key, f"link\x1f{send_key}\x1f{position}".encode(), "sha256")[:_ID_BYTES]
    return _b64(ident + _tag(key, ident))


def _tag(key: bytes, ident: bytes) -> bytes:
    return hmac.digest(key, b"tag\x1f" + ident, "sha256")[:_TAG_BYTES]


def check_token(key: bytes, token: str) -> bool:
    """Return whether this key wrote ``token`` (constant-time); anything malformed is simply not ours."""
    if len(token) != TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        return False
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(raw[_ID_BYTES:], _tag(key, raw[:_ID_BYTES]))


# --- Checking links when a template is saved -------------------------------------------------------------------


def squeezed(url: str) -> str:
    """Return a link as a browser reads it: HTML entities decoded, tabs and line breaks dropped, ends trimmed."""
    return _NEWLINES.sub("", html.unescape(url)).strip(_EDGES)


def web_link_problem(url: str) -> str | None:
    """Return why an ``http(s)`` link is unsafe (None: a plain ``scheme://host/…``)."""
    match = _SCHEME.match(url)
    if match is None or match.group(1).lower() not in WEB_SCHEMES:
        return "not a web link"
    rest = url[match.end():]
    if not rest.startswith("//"):
        return "a web link must be written scheme://host/…"
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    if not authority:
        return "a web link needs a host"
    if _PLACEHOLDER.search(authority) or "{{" in authority or "{%" in authority:
        return "the host of a link must be written out, not filled in by a placeholder"
    if not _HOST.match(authority):
        return "the host of a link may not hold a user name, backslashes, spaces or percent-encoding"
    return None


def link_problem(url: str, *, app_schemes: bool = False, relative: bool = False) -> str | None:
    """Return why a link written in a template may not be sent (None: it may).

    ``app_schemes``: the link is opened by the customer's app (push, in-app) and may use the
    app's own scheme (``shop://sale``); ``relative``: it may be a path on the shop's own site
    (``/cart``: in-app messages on a web page, a web push opened by the site's service worker).
    """
    text = squeezed(url)
    if not text or text.startswith("#") or _PLACEHOLDER.match(text):
        return None  # empty, an anchor, or decided at render time (see rewrite_html)
    if text.startswith(("//", "\\", "/\\")):
        return "a link must name its scheme; //host and backslashes lead to other sites"
    match = _SCHEME.match(text)
    if match is None:
        return None if relative and text.startswith("/") else "a link must be absolute: https://host/…"
    return _scheme_problem(match.group(1).lower(), text, app_schemes=app_schemes)


def _scheme_problem(scheme: str, text: str, *, app_schemes: bool) -> str | None:
    if scheme == PURL_SCHEME:
        return purl_problem(text)
    if scheme in WEB_SCHEMES:
        return web_link_problem(text)
    if scheme in UNSAFE_SCHEMES:
        return f"{scheme}: links are not allowed"
    if scheme in KEPT_SCHEMES or app_schemes:
        return None
    return f"{scheme}: links cannot be opened from this channel; link to a web page (see docs/tracking.md)"


def purl_slug(url: str) -> str | None:
    """Return the landing page a ``purl:{slug}`` link names (None: not such a link)."""
    found = _PURL.fullmatch(url.strip())
    return found.group(1) if found else None


def purl_problem(url: str) -> str | None:
    """Return why a ``purl:`` link is malformed (None: it names a slug)."""
    if purl_slug(url) is None:
        return "a landing page link is purl:slug, the page's slug in lower-case letters, digits and hyphens"
    return None


def purl_slugs(*sources: str | None) -> set[str]:
    """Return the landing page slugs the ``purl:`` links of these texts (HTML or plain) name."""
    # The plain substring test first: most messages name no landing page, and it is far cheaper than the scan.
    return {match.group(0)[5:] for source in sources if source and "purl:" in source
            for match in _TEXT_PURL.finditer(source)}


def hrefs(source: str) -> list[str]:
    """Return the raw ``href`` values of every tag in an HTML (or MJML) source."""
    return [_unquote(match.group(1)) for match in _ANY_HREF.finditer(source)]


def content_link_problems(*, channel: str, body: str, url: str | None, path: str) -> list[dict[str, str]]:
    """Return a problem (path, message, ``unsafe_link``) per unsafe link of a message as saved: the hrefs of an
    email's HTML body and the ``url`` of every channel."""
    found = []
    for href in hrefs(body) if channel == "email" else []:
        if problem := link_problem(href):
            found.append({"path": f"{path}.body", "message": f"{_shorten(href)}: {problem}", "code": "unsafe_link"})
    if channel != "email":  # an SMS's text links to a page as purl:slug, which must be well formed
        for written in _TEXT_URL.findall(body):
            problem = purl_problem(written) if written.lower().startswith("purl:") else None
            if problem is None and written.lower().startswith("purl:") and channel in APP_LINK_CHANNELS:
                # The app shows this text as it is: only the message's url becomes the customer's PURL.
                problem = "a landing page link goes in this channel's url, not in its text"
            if problem:
                found.append({"path": f"{path}.body", "message": f"{_shorten(written)}: {problem}",
                              "code": "unsafe_link"})
    app = channel in APP_LINK_CHANNELS
    if url is not None and (problem := link_problem(url, app_schemes=app, relative=app or channel == "web_push")):
        found.append({"path": f"{path}.url", "message": f"{_shorten(url)}: {problem}", "code": "unsafe_link"})
    return found


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unquote(value: str) -> str:
    return value[1:-1] if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2 else value


# --- Rewriting a rendered message ----------------------------------------------------------------------------


def link_kind(url: str) -> LinkKind:
    """Decide what becomes of a rendered link: tracked (a plain web link), a landing page (``purl:slug``),
    kept (mailto…, anchors) or dropped."""
    text = squeezed(url)
    if not text or text.startswith("#"):
        return "keep"
    if purl_slug(text) is not None:
        return "purl"
    match = _SCHEME.match(text)
    if match is not None and match.group(1).lower() in KEPT_SCHEMES:
        return "keep"
    return "track" if web_link_problem(text) is None else "drop"


def rewrite_html(body: str, replace: Callable[[str, str], str | None]) -> str:
    """Return an HTML body with each link's ``href`` replaced.

    ``replace(url, label)`` gets the link as a browser reads it and its visible text (or its
    image's ``alt``), and returns the new target, or None to keep the link as written. Links
    that are neither web links nor kept schemes are set to ``#``: only a placeholder can have
    produced them, and the customer must not get them.
    """
    parts: list[str] = []
    position = 0
    for tag in _TAG.finditer(body):
        href = _HREF.search(tag.group(0))
        if href is None:
            continue
        url = squeezed(_unquote(href.group(2)))
        kind = link_kind(url)
        target = None if kind == "keep" else ("#" if kind == "drop" else replace(url, _label(body, tag)))
        if target is None:
            continue
        start = tag.start() + href.start(2)
        parts.append(body[position:start])
        parts.append('"' + html.escape(target, quote=True) + '"')
        position = tag.start() + href.end(2)
    parts.append(body[position:])
    return "".join(parts)


def _label(body: str, tag: re.Match[str]) -> str:
    name = tag.group(1).lower()
    closing = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE)
    end = closing.search(body, tag.end(), min(len(body), tag.end() + 4_000)) if name in ("a", "mj-button") else None
    inner = body[tag.end():end.start()] if end else ""
    text = " ".join(html.unescape(_MARKUP.sub(" ", inner)).split())
    if not text:
        alt = _ALT.search(inner) or _ALT.search(tag.group(0))
        text = " ".join(html.unescape(_unquote(alt.group(1))).split()) if alt else ""
    return text[:LABEL_CHARS]


def rewrite_text(body: str, replace: Callable[[str, str], str | None]) -> str:
    """Return a plain-text body (an SMS) with each web address in it replaced (``replace(url, label)``)."""
    def swap(match: re.Match[str]) -> str:
        found = match.group(0)
        url = found.rstrip(_TRAILING)
        target = replace(url, "") if link_kind(url) in ("track", "purl") else None
        return found if target is None else target + found[len(url):]

    return _TEXT_URL.sub(swap, body)


def has_markup(body: str) -> bool:
    """Return whether a body holds HTML markup (a body without any is a plain-text message)."""
    return _MARKUP_START.search(body) is not None


def with_pixel(body: str, src: str) -> str:
    """Return an HTML body with a 1×1 open pixel before its last ``</body>`` (or at its end)."""
    pixel = (f'<img src="{html.escape(src, quote=True)}" width="1" height="1" alt="" '
             'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">')
    ends = list(_BODY_END.finditer(body))
    if not ends:
        return body + pixel
    at = ends[-1].start()
    return body[:at] + pixel + body[at:]


# The pixel as ``with_pixel`` writes it: an image whose address ends in ``/o/{token}.gif``.
_PIXEL = re.compile(r'<img src="[^"]*/o/[A-Za-z0-9_-]+\.gif" width="1" height="1" alt=""[^>]*>')


def without_pixel(body: str) -> str:
    """Return an HTML body without its open pixel: for showing a sent email to staff, not as an open."""
    return _PIXEL.sub("", body)


# --- Where a link leads -------------------------------------------------------------------------------------------


def host_of(url: str) -> str:
    """Return the lower-case host of a web link ('' when there is none)."""
    return (urlsplit(url).hostname or "").lower()


def on_domains(url: str, domains: Iterable[str]) -> bool:
    """Return whether a link's host is one of ``domains`` or below one of them."""
    host = host_of(url)
    return bool(host) and any(host == domain or host.endswith("." + domain) for domain in domains)


def screen_of(url: str) -> str:
    """Return the app screen a web link names: its path and query, without the leading slash."""
    parts = urlsplit(url)
    path = parts.path.lstrip("/")
    return f"{path}?{parts.query}" if parts.query else path


def tagged(url: str, params: Mapping[str, str]) -> str:
    """Return ``url`` with ``params`` added to its query; a link that carries UTM parameters keeps its own."""
    parts = urlsplit(url)
    present = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if any(name.startswith("utm_") for name in present):
        params = {name: value for name, value in params.items() if not name.startswith("utm_")}
    added = urlencode([(name, value) for name, value in params.items() if value and name not in present])
    if not added:
        return url
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def utm_of(url: str) -> dict[str, str]:
    """Return the UTM parameters a link carries."""
    return {name: value for name, value in parse_qsl(urlsplit(url).query) if name.startswith("utm_")}
