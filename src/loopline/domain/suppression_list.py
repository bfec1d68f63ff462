"""The suppression list: addresses that must never be messaged on a channel, whatever the consent.

Entries come from hard bounces, spam complaints, carrier opt-outs, support staff and list
imports. This is not erasure suppression (``domain.privacy``), which keeps digests of an
erased person's identifiers so that their events are not ingested again.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopline.domain.consent import CHANNELS as CONSENT_CHANNELS
from loopline.domain.identity import normalise_email, normalise_phone

# In-app messages are shown inside a signed-in app session: there is no address to bounce
# or to complain from, so the channel has nothing to suppress.
CHANNELS = tuple(channel for channel in CONSENT_CHANNELS if channel != "in_app")
TOKEN_CHANNELS = ("push", "web_push")
REASONS = ("hard_bounce", "complaint", "unsubscribe", "carrier_opt_out", "invalid_address", "token_unregistered",
           "manual", "import")
DEFAULT_REASON = "manual"
DEFAULT_SOURCE = "api"
MAX_ENTRIES = 1_000
MAX_NOTE = 500
MAX_SOURCE = 100
MAX_TOKEN = 512
MAX_SEARCH = 512


class SuppressionRejected(ValueError):
    """Input the suppression list cannot take, with a machine-readable code."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field

    def as_json(self) -> dict[str, Any]:
        """Return the error as the API reports it."""
        return {"code": self.code, "field": self.field, "message": self.message}


class SuppressionBatchRejected(ValueError):
    """A batch with at least one invalid entry; none of it may be stored."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        count = len(errors)
        super().__init__(f"{count} invalid {'entry' if count == 1 else 'entries'} (see errors); nothing was stored")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class SuppressionEntry:
    """One validated entry: a normalised address on a channel, and why it is suppressed."""

    channel: str
    address: str
    reason: str
    note: str | None
    source: str

    @property
    def key(self) -> tuple[str, str]:
        """Return what identifies the entry within a workspace: (channel, address)."""
        return (self.channel, self.address)


def _storable(text: str) -> bool:
    # PostgreSQL refuses NUL in text and neither store can encode a lone surrogate.
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_channel(value: Any) -> str:
    """Return a channel of the suppression list, or raise SuppressionRejected."""
    if value not in CHANNELS:
        raise SuppressionRejected("invalid_channel", f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    return str(value)


def normalise_address(*, channel: str, address: Any) -> str:
    """Return the address as the list stores it for its channel, or raise SuppressionRejected."""
    if not isinstance(address, str) or not _storable(address):
        raise SuppressionRejected("invalid_address", "address must be text", field="address")
    text = address.strip()
    if channel == "email":
        email = normalise_email(text)
        if email is None:
            raise SuppressionRejected("invalid_address", "not a valid email address", field="address")
        return email
    if channel == "sms":
        phone = normalise_phone(text) if text.startswith("+") else None
        if phone is None:
            raise SuppressionRejected(
                "invalid_address",
                "a phone number must be in international format: + and the country code",
                field="address",
            )
        return phone
    # Push tokens (APNs hex, FCM registration tokens, web push endpoints) are printable ASCII.
    if not 0 < len(text) <= MAX_TOKEN or not all("!" <= ch <= "~" for ch in text):
        raise SuppressionRejected(
            "invalid_address",
            f"a push token must be 1 to {MAX_TOKEN} printable ASCII characters without spaces",
            field="address",
        )
    return text


def _check_text(value: Any, *, name: str, limit: int, default: str | None) -> str | None:
    if value is None:
        return default
    if not isinstance(value, str) or not _storable(value) or len(value.strip()) > limit:
        raise SuppressionRejected(f"invalid_{name}", f"{name} must be text of at most {limit} characters", field=name)
    return value.strip() or default


def check_entry(raw: Any) -> SuppressionEntry:
    """Return a validated, normalised entry, or raise SuppressionRejected saying what is wrong."""
    if not isinstance(raw, Mapping):
        raise SuppressionRejected("invalid_entry", "an entry must be an object")
    channel = check_channel(raw.get("channel"))
    address = normalise_address(channel=channel, address=raw.get("address"))
    reason = raw.get("reason")
    reason = DEFAULT_REASON if reason is None or reason == "" else reason
    if reason not in REASONS:
        raise SuppressionRejected("invalid_reason", f"reason must be one of {', '.join(REASONS)}", field="reason")
    note = _check_text(raw.get("note"), name="note", limit=MAX_NOTE, default=None)
    source = _check_text(raw.get("source"), name="source", limit=MAX_SOURCE, default=DEFAULT_SOURCE)
    assert source is not None  # the default is text
    if any(not ch.isprintable() for ch in source):
        raise SuppressionRejected("invalid_source", "source must be printable text", field="source")
    return SuppressionEntry(channel=channel, address=address, reason=str(reason), note=note, source=source)


def check_entries(raws: Sequence[Any]) -> list[SuppressionEntry]:
    """Return every entry validated, or raise SuppressionBatchRejected listing each invalid one.

    A batch that is empty or too large is refused as a whole with SuppressionRejected.
    """
    if not raws:
        raise SuppressionRejected("empty_batch", "send at least one entry")
    if len(raws) > MAX_ENTRIES:
        raise SuppressionRejected("too_many_entries", f"send at most {MAX_ENTRIES} entries at a time")
    entries: list[SuppressionEntry] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(raws):
        try:
            entries.append(check_entry(raw))
        except SuppressionRejected as error:
            errors.append({"index": index, **error.as_json()})
    if errors:
        raise SuppressionBatchRejected(errors)
    return entries


def deduplicate(entries: Iterable[SuppressionEntry]) -> list[SuppressionEntry]:
    """Return one entry per (channel, address), the last one given winning.

    A single upsert statement may not touch the same row twice on PostgreSQL, and two
    spellings of one phone number are one entry.
    """
    return list({entry.key: entry for entry in entries}.values())


def encode_cursor(key: tuple[str, str]) -> str:
    """Return the opaque cursor that continues a listing after an entry."""
    channel, address = key
    return base64.urlsafe_b64encode(f"{channel}:{address}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """Return the (channel, address) a cursor continues after, or raise SuppressionRejected."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    channel, _, address = text.partition(":")
    if channel not in CHANNELS or not address or not _storable(address):
        raise SuppressionRejected("invalid_cursor", "the cursor is not one this API gave out", field="cursor")
    return channel, address


def search_prefixes(search: str) -> list[str]:
    """Return the address prefixes a search stands for: as typed, lower case, and phone digits."""
    if not _storable(search) or len(search) > MAX_SEARCH:
        raise SuppressionRejected(
            "invalid_search", f"search must be text of at most {MAX_SEARCH} characters", field="search"
        )
    text = search.strip()
    found = [text, text.lower()]
    if text.startswith("+"):
        # "+49 170" finds "+491701234567": numbers are stored in E.164, without spaces.
        found.append("+" + "".join(ch for ch in text if ch.isdigit()))
    return list(dict.fromkeys(prefix for prefix in found if prefix.strip("+")))


def profile_addresses(*, identities: Iterable[tuple[str, str]], push_tokens: Iterable[str]) -> list[tuple[str, str]]:
    """Return the (channel, address) pairs a profile can be messaged at.

    Emails and phone numbers come from the identity map, already normalised the same way;
    a device's push token may serve native or web push, so it is looked up on both.
    """
    found = [("email", value) for kind, value in identities if kind == "email"]
    found += [("sms", value) for kind, value in identities if kind == "phone"]
    for token in push_tokens:
        try:
            address = normalise_address(channel="push", address=token)
        except SuppressionRejected:
            continue  # a token the list could never hold cannot be on it
        found += [(channel, address) for channel in TOKEN_CHANNELS]
    return list(dict.fromkeys(found))
