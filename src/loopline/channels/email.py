"""Email over SMTP: composing a message (HTML and plain text, UTF-8, one-click unsubscribe,
DKIM) and handing batches to a relay with aiosmtplib, over one or a few connections.

A message's ``Message-ID`` is built from its send key, so a relay, a mailbox or a support
ticket can tie it back to the ledger row. Marketing mail carries ``List-Unsubscribe`` with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), which mailbox providers
require of bulk senders; both headers are covered by the DKIM signature, as RFC 8058 asks.

The MIME text is written here directly rather than through ``email.message.EmailMessage``:
the standard library's header registry and generator cost over 2 ms per message on a
2-core server, more than the SMTP exchange itself, while the shape of a campaign email is
fixed (one ``multipart/alternative`` with a quoted-printable text and HTML part). Headers
stay 7-bit: non-ASCII text goes into RFC 2047 encoded words, and only a non-ASCII address
needs the relay's SMTPUTF8. ``loopline bench smtp`` measures what composing costs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from html import unescape
from typing import Literal

import aiosmtplib
import dkim

from loopline.ports import Delivery, Outbound

SIGNED_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version", b"Content-Type",
                  b"List-Unsubscribe", b"List-Unsubscribe-Post")
# One mailbox, as a campaign stores it: no display name, comments, quoting or whitespace.
_ADDRESS = re.compile(r'[^\s<>()\[\],;:\\"@]+@[^\s<>()\[\],;:\\"@]+')
_LINE = 78  # the line length RFC 5322 asks headers to keep to
_WORD_BYTES = 42  # UTF-8 bytes per encoded word: 56 base64 characters, 68 with its frame, inside 75
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_PART_HEAD = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
_TEXT_HEAD = _PART_HEAD.format("plain").encode()
_HTML_HEAD = _PART_HEAD.format("html").encode()
_last_date = (0, "")  # (second, its RFC 5322 form): see format_datetime_now


@dataclass(frozen=True, slots=True)
class DkimKey:
    """The key a sending domain signs with; its public half is published at ``selector._domainkey.domain``."""

    domain: str
    selector: str
    private_key_pem: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and as whom a workspace sends email.

    ``connections`` is how many SMTP sessions a batch is spread over: each is a separate
    conversation with the relay, so one waiting for an answer does not hold up the others.
    """

    host: str
    port: int
    sender_address: str
    sender_name: str = ""
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    dkim: DkimKey | None = None
    timeout_s: float = 30.0
    tls_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    connections: int = 1

    def __post_init__(self) -> None:
        if self.connections < 1:
            raise ValueError("an SMTP channel needs at least one connection")


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """How a recipient leaves this mail: a one-click HTTPS link and, optionally, a mailto address."""

    url: str
    mailto: str | None = None


def compose(message: Outbound, settings: SmtpSettings, *, unsubscribe: Unsubscribe | None = None,
            date: str | None = None) -> bytes:
    """Return the MIME message for one rendered email, CRLF line ends (signed when the settings carry a DKIM key).

    The body is HTML; the plain-text part is its text, for clients that show no HTML and for
    spam filters that compare the two. Raises ValueError when the address is missing or is
    not one plain mailbox.
    """
    address = message.address
    if not address:
        raise ValueError("an email needs an address")
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"not an email address: {address[:200]!r}")
    domain = settings.sender_address.rpartition("@")[2]
    msgid = make_msgid(idstring=message.send_key.replace("/", "_").replace("+", "-"), domain=domain)
    head = [
        _from_header(settings.sender_name, settings.sender_address),
        f"To: {address}\r\n",
        _unstructured("Subject", message.subject or ""),
        f"Date: {date or format_datetime_now()}\r\n",
        f"Message-ID: {msgid}\r\n",
        _unstructured("X-Loopline-Send-Key", message.send_key),
    ]
    if unsubscribe is not None:
        targets = [f"<{unsubscribe.url}>"] + ([f"<mailto:{unsubscribe.mailto}>"] if unsubscribe.mailto else [])
        # One target a line: a signed link alone is often longer than a header line should be.
        head.append("List-Unsubscribe: " + ",\r\n ".join(_no_breaks(target) for target in targets) + "\r\n")
        head.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    # A quoted-printable body never holds "=_", so the boundary cannot occur inside a part.
    boundary = f"=_{secrets.token_hex(12)}"
    head.append(f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n')
    delimiter = f"--{boundary}\r\n".encode()
    raw = b"".join((
        "".join(head).encode(),
        delimiter, _TEXT_HEAD, _quoted_printable(text_of(message.body)), b"\r\n",
        delimiter, _HTML_HEAD, _quoted_printable(message.body), b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ))
    if settings.dkim is not None:
        raw = _sign(raw, settings.dkim, unsubscribe=unsubscribe is not None)
    return raw


def format_datetime_now() -> str:
    """Return now as an RFC 5322 date (formatted once a second: a batch sends hundreds of messages in one)."""
    global _last_date  # noqa: PLW0603 - a one-entry cache; a race only formats the same second twice
    second = int(time.time())
    if _last_date[0] != second:
        _last_date = (second, format_datetime(datetime.fromtimestamp(second, UTC)))
    return _last_date[1]


def _no_breaks(value: str) -> str:
    """Return a header value with each line break turned into a space, so no value can add a header."""
    return _LINE_BREAKS.sub(" ", value) if "\r" in value or "\n" in value else value


@lru_cache(maxsize=64)
def _from_header(name: str, address: str) -> str:
    """Return the ``From`` line. A channel's sender rarely changes, so the standard library's
    careful (and slow) header folding is used here, once per sender."""
    mail = EmailMessage(policy=SMTP_POLICY.clone(utf8=not address.isascii()))
    mail["From"] = Address(display_name=_no_breaks(name).strip(), addr_spec=address)
    return str(mail.policy.fold("From", mail["From"]))


def _unstructured(name: str, value: str) -> str:
    """Return one header line (folded if long) for free text: as it is when it is plain ASCII, else encoded words."""
    value = _no_breaks(value)
    line = f"{name}: {value}"
    if value.isascii() and value.isprintable():
        if len(line) <= _LINE:
            return line + "\r\n"
        # Folding only between words, so that no folded line is blank and unfolding restores the text.
        if value == value.strip(" ") and "  " not in value and max(map(len, value.split(" "))) < _LINE - len(name) - 3:
            return _fold(line) + "\r\n"
    return f"{name}: " + "\r\n ".join(_encoded_words(value)) + "\r\n"


def _fold(line: str) -> str:
    """Fold a long line at single spaces; unfolding (dropping each CRLF) gives the line back exactly."""
    lines: list[str] = []
    current = ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > _LINE:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\r\n ".join(lines)


def _encoded_words(text: str) -> Iterator[str]:
    """Yield RFC 2047 encoded words (UTF-8, base64) that together spell ``text``, none split inside a character."""
    data = text.encode()
    while True:
        cut = len(data) if len(data) <= _WORD_BYTES else _WORD_BYTES
        while cut < len(data) and data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its character
            cut -= 1
        yield f"=?utf-8?b?{base64.b64encode(data[:cut]).decode()}?="
        data = data[cut:]
        if not data:
            return


def _quoted_printable(text: str) -> bytes:
    """Return UTF-8 text as quoted-printable with CRLF line ends (lines of at most 76 characters)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(text.encode(), istext=True).replace(b"\n", b"\r\n")


def _sign(raw: bytes, key: DkimKey, *, unsubscribe: bool) -> bytes:
    """Return the message with a DKIM-Signature header in front, covering the headers it carries."""
    present = [name for name in SIGNED_HEADERS if unsubscribe or not name.startswith(b"List-")]
    header: bytes = dkim.sign(raw, key.selector.encode(), key.domain.encode(), key.private_key_pem,
                              include_headers=present, linesep=b"\r\n")
    return header + raw


# A comment (to its end, or to the end of the text when unclosed), a declaration or processing
# instruction, or a start or end tag with its attributes. Nothing but a comment's own
# ``--`` may reach past the next "<", so one pass over a body is linear, however broken.
_MARKUP = re.compile(
    r"""<!--.*?(?:-->|\Z)|<[!?][^<>]*+>|<(/?)([a-zA-Z][^\s/<>]*+)((?:[^<>"']++|"[^"<]*+"|'[^'<]*+'|["'])*+)>""",
    re.DOTALL,
)
_HREF = re.compile(r"""(?<![\w-])href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)
_RAW_END = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style")}
_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"})
_BREAK = "\x00"
_BLANK_LINES = re.compile(r"\n{3,}")


def text_of(body: str) -> str:
    """Return the readable text of an HTML body: paragraphs and line breaks kept, scripts and styles
    dropped, links spelled out after their text.

    A single regular-expression pass rather than ``html.parser``: this runs for every email
    sent, and the parser's per-tag work cost more than the rest of composing a message.
    Breaks are marked with NUL while the pieces are gathered, so that character references
    are resolved once, over the whole text, and each line's whitespace collapsed in one call.
    """
    if _BREAK in body:
        body = body.replace(_BREAK, "")
    parts: list[str] = []
    href: str | None = None
    position = 0
    for markup in _MARKUP.finditer(body):
        start = markup.start()
        if start < position:  # inside a script or style skipped below
            continue
        parts.append(body[position:start])
        position = markup.end()
        slash, name, attributes = markup.groups()
        if name is None:  # comment, declaration, processing instruction
            continue
        name = name.lower()
        closes = bool(slash) or attributes.endswith("/")
        if not slash and name in _RAW_END:
            raw_end = _RAW_END[name].search(body, position)
            position = raw_end.end() if raw_end else len(body)
        elif name in _BLOCKS:
            parts.append(_BREAK + _BREAK if closes and not slash else _BREAK)
        elif name == "a":
            if not slash:
                found = _HREF.search(attributes)
                href = next(group for group in found.groups() if group is not None) if found else None
            if closes and href:
                parts.append(f" ({href})")
                href = None
    parts.append(body[position:])
    # Runs of whitespace are one space, as a browser shows them; only the tags break lines.
    text = "\n".join(" ".join(line.split()) for line in unescape("".join(parts)).split(_BREAK))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


def answer_for(error: Exception, send_key: str) -> Delivery:
    """Map an SMTP failure to the ledger's answer: 5xx refuses for good (a refused mailbox is suppressed
    too), 4xx and lost connections are retried."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        refused = error.recipients[0]
        gone = refused.code >= 500  # the mailbox itself is refused for good: a hard bounce
        return Delivery(send_key, accepted=False, permanent=gone, reason=f"smtp_{refused.code}",
                        detail=refused.message[:500], suppress="hard_bounce" if gone else "")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return Delivery(send_key, accepted=False, permanent=error.code >= 500, reason=f"smtp_{error.code}",
                        detail=error.message[:500])
    return Delivery(send_key, accepted=False, permanent=False, reason="smtp_unavailable", detail=str(error)[:500])


class SmtpChannel:
    """The email channel over one SMTP relay: a batch goes over ``connections`` sessions, each message answered alone.

    The sessions take the batch's messages in turn from one queue, so a slow answer on one
    does not leave the others idle. A session the relay drops, or that cannot be opened,
    leaves its message in flight to be retried and stops; the sessions still open send the
    rest. Only what no session could take is left to retry when every one is gone.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        """Return None: a relay cannot be asked afterwards what it accepted (see ``Channel.received``)."""
        return None

    def deliver(self, messages: Sequence[Outbound], *, unsubscribe: dict[str, Unsubscribe] | None = None,
                ) -> list[Delivery]:
        """Send each message; a refused recipient fails alone, a lost relay leaves the rest to retry.

        The answers come in the order of ``messages``.
        """
        if not messages:
            return []
        return asyncio.run(self._deliver(list(messages), unsubscribe or {}))

    async def _deliver(self, messages: list[Outbound], unsubscribe: dict[str, Unsubscribe]) -> list[Delivery]:
        answers: dict[int, Delivery] = {}
        queue = iter(range(len(messages)))  # shared by the sessions; the event loop runs one at a time
        lost: list[Exception] = []
        sessions = min(self.settings.connections, len(messages))
        await asyncio.gather(*(self._session(messages, unsubscribe, queue, answers, lost) for _ in range(sessions)))
        for index in queue:  # every session was lost, or none opened, before these were taken
            answers[index] = answer_for(lost[-1], messages[index].send_key)
        return [answers[index] for index in range(len(messages))]

    def _client(self) -> aiosmtplib.SMTP:
        settings = self.settings
        return aiosmtplib.SMTP(
            hostname=settings.host, port=settings.port, timeout=settings.timeout_s,
            use_tls=settings.security == "tls", start_tls=settings.security == "starttls",
            tls_context=settings.tls_context, username=settings.username, password=settings.password,
        )

    async def _session(self, messages: list[Outbound], unsubscribe: dict[str, Unsubscribe], queue: Iterator[int],
                       answers: dict[int, Delivery], lost: list[Exception]) -> None:
        """Open one SMTP session and send messages from the shared queue until it is empty or the session is lost."""
        client = self._client()
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as error:
            lost.append(error)
            return
        try:
            for index in queue:
                message = messages[index]
                try:
                    answers[index] = await self._send(client, message, unsubscribe)
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError) as error:
                    # The relay went away: this one is retried later, the other sessions send the rest.
                    answers[index] = answer_for(error, message.send_key)
                    lost.append(error)
                    return
                except aiosmtplib.SMTPException as error:
                    answers[index] = answer_for(error, message.send_key)
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()

    async def _send(self, client: aiosmtplib.SMTP, message: Outbound,
                    unsubscribe: dict[str, Unsubscribe]) -> Delivery:
        """Compose and send one message; answer for it (raises what the session cannot survive)."""
        settings = self.settings
        leave = unsubscribe.get(message.send_key) or (
            Unsubscribe(message.unsubscribe_url) if message.unsubscribe_url else None)
        try:
            raw = compose(message, settings, unsubscribe=leave)
        except ValueError as error:  # nothing to send to: no retry helps
            return Delivery(message.send_key, accepted=False, reason="invalid_address", detail=str(error)[:500])
        options: list[str] = []
        if not (settings.sender_address.isascii() and str(message.address).isascii()):
            if not client.supports_extension("smtputf8"):
                return Delivery(message.send_key, accepted=False, reason="invalid_address",
                                detail="the address is not ASCII and the relay does not offer SMTPUTF8")
            options.append("SMTPUTF8")
        await client.sendmail(settings.sender_address, [str(message.address)], raw, mail_options=options)
        return Delivery(message.send_key, accepted=True)
