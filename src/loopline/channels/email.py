"""Email over SMTP: composing a message (HTML and plain text, UTF-8, one-click unsubscribe,
DKIM) and handing batches to a relay with aiosmtplib.

A message's ``Message-ID`` is built from its send key, so a relay, a mailbox or a support
ticket can tie it back to the ledger row. Marketing mail carries ``List-Unsubscribe`` with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), which mailbox providers
require of bulk senders; both headers are covered by the DKIM signature, as RFC 8058 asks.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html.parser import HTMLParser
from typing import Literal

import aiosmtplib
import dkim

from loopline.ports import Delivery, Outbound

_SPACES = re.compile(r"\s+")
SIGNED_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version", b"Content-Type",
                  b"List-Unsubscribe", b"List-Unsubscribe-Post")


@dataclass(frozen=True, slots=True)
class DkimKey:
    """The key a sending domain signs with; its public half is published at ``selector._domainkey.domain``."""

    domain: str
    selector: str
    private_key_pem: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and as whom a workspace sends email."""

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


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """How a recipient leaves this mail: a one-click HTTPS link and, optionally, a mailto address."""

    url: str
    mailto: str | None = None


def compose(message: Outbound, settings: SmtpSettings, *, unsubscribe: Unsubscribe | None = None,
            date: str | None = None) -> EmailMessage:
    """Return the MIME message for one rendered email (signed when the settings carry a DKIM key).

    The body is HTML; the plain-text part is its text, for clients that show no HTML and for
    spam filters that compare the two.
    """
    if not message.address:
        raise ValueError("an email needs an address")
    domain = settings.sender_address.rpartition("@")[2]
    mail = EmailMessage()
    mail["From"] = Address(display_name=settings.sender_name, addr_spec=settings.sender_address)
    mail["To"] = message.address
    mail["Subject"] = message.subject or ""
    mail["Date"] = date or format_datetime_now()
    mail["Message-ID"] = make_msgid(idstring=message.send_key.replace("/", "_").replace("+", "-"), domain=domain)
    mail["X-Loopline-Send-Key"] = message.send_key
    if unsubscribe is not None:
        targets = [f"<{unsubscribe.url}>"] + ([f"<mailto:{unsubscribe.mailto}>"] if unsubscribe.mailto else [])
        mail["List-Unsubscribe"] = ", ".join(targets)
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(text_of(message.body), cte="quoted-printable")
    mail.add_alternative(message.body, subtype="html", cte="quoted-printable")
    if settings.dkim is not None:
        _sign(mail, settings.dkim)
    return mail


def format_datetime_now() -> str:
    """Return now as an RFC 5322 date."""
    return format_datetime(datetime.now(UTC))


def _sign(mail: EmailMessage, key: DkimKey) -> None:
    raw = mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))
    present = [name for name in SIGNED_HEADERS if mail.get(name.decode()) is not None]
    header = dkim.sign(raw, key.selector.encode(), key.domain.encode(), key.private_key_pem,
                       include_headers=present, linesep=b"\r\n")
    name, _, value = header.decode().partition(":")
    mail[name] = value.strip().replace("\r\n", "")


class _Text(HTMLParser):
    """The text of an HTML body: paragraphs and line breaks kept, scripts and styles dropped, links spelled out."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self._href:
            self.parts.append(f" ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(_SPACES.sub(" ", data))  # runs of whitespace are one space, as a browser shows them


def text_of(html: str) -> str:
    """Return the readable text of an HTML body."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


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
    """The email channel over one SMTP relay: a batch goes over one connection, each message answered alone."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        """Return None: a relay cannot be asked afterwards what it accepted (see ``Channel.received``)."""
        return None

    def deliver(self, messages: Sequence[Outbound], *, unsubscribe: dict[str, Unsubscribe] | None = None,
                ) -> list[Delivery]:
        """Send each message; a refused recipient fails alone, a lost relay leaves the rest to retry."""
        return asyncio.run(self._deliver(list(messages), unsubscribe or {}))

    async def _deliver(self, messages: list[Outbound], unsubscribe: dict[str, Unsubscribe]) -> list[Delivery]:
        settings = self.settings
        answers: list[Delivery] = []
        client = aiosmtplib.SMTP(
            hostname=settings.host, port=settings.port, timeout=settings.timeout_s,
            use_tls=settings.security == "tls", start_tls=settings.security == "starttls",
            tls_context=settings.tls_context, username=settings.username, password=settings.password,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as error:
            return [answer_for(error, message.send_key) for message in messages]
        try:
            for index, message in enumerate(messages):
                try:
                    leave = unsubscribe.get(message.send_key) or (
                        Unsubscribe(message.unsubscribe_url) if message.unsubscribe_url else None)
                    mail = compose(message, settings, unsubscribe=leave)
                    await client.send_message(mail)
                    answers.append(Delivery(message.send_key, accepted=True))
                except ValueError as error:  # nothing to send to: no retry helps
                    answers.append(Delivery(message.send_key, accepted=False, reason="invalid_address",
                                            detail=str(error)))
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError) as error:
                    # The relay went away: this one and the rest are retried later.
                    answers.extend(answer_for(error, m.send_key) for m in messages[index:])
                    return answers
                except aiosmtplib.SMTPException as error:
                    answers.append(answer_for(error, message.send_key))
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        return answers
