"""One-click unsubscribe links (RFC 8058): what a link says, and proof that this server wrote it.

A link names the workspace, the customer, the channel and the topic it unsubscribes from,
and the send it came with; an HMAC-SHA256 over all of them, with a key only the server
holds, makes it unforgeable. So a link cannot be turned onto another customer or another
workspace, and it needs no login and no cookie — a mailbox provider's one-click POST
carries neither. The signature is compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from hashlib import sha256

import orjson

VERSION = "u1"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"  # what RFC 8058 says the POST carries


class BadUnsubscribeLink(ValueError):
    """A link that was not written by this server, or was altered."""


@dataclass(frozen=True, slots=True)
class UnsubscribeLink:
    """Who leaves which messages: the customer, the channel and the topic (``all``: the whole channel)."""

    workspace_id: str
    profile_id: str
    channel: str
    topic: str
    send_key: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, body: str) -> bytes:
    return hmac.new(key, f"{VERSION}.{body}".encode(), sha256).digest()


def token_for(key: bytes, link: UnsubscribeLink) -> str:
    """Return the signed token of ``link`` (URL-safe)."""
    body = _b64(orjson.dumps([link.workspace_id, link.profile_id, link.channel, link.topic, link.send_key]))
    return f"{VERSION}.{body}.{_b64(_signature(key, body))}"


def read_token(key: bytes, token: str) -> UnsubscribeLink:
    """Return what a token says; raise BadUnsubscribeLink unless this key signed exactly it."""
    version, _, rest = token.partition(".")
    body, _, signature = rest.partition(".")
    if version != VERSION or not body or not signature or len(token) > 2_000:
        raise BadUnsubscribeLink("this unsubscribe link is not one of ours")
    try:
        given = _unb64(signature)
        fields = orjson.loads(_unb64(body))
    except (binascii.Error, ValueError):
        raise BadUnsubscribeLink("this unsubscribe link is damaged") from None
    if not hmac.compare_digest(given, _signature(key, body)):
        raise BadUnsubscribeLink("this unsubscribe link was altered")
    if not (isinstance(fields, list) and len(fields) == 5 and all(isinstance(f, str) for f in fields)):
        raise BadUnsubscribeLink("this unsubscribe link is damaged")
    return UnsubscribeLink(*fields)
