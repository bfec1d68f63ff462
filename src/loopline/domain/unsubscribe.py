"""One-click unsubscribe links (RFC 8058): what a link says, and proof that this server wrote it.

A link names the workspace, the customer, the channel and the topic it unsubscribes from,
and the send it came with; an HMAC-SHA256 over all of them, with a key only the server
holds, makes it unforgeable. So a link cannot be turned onto another customer or another
workspace, and it needs no login and no cookie — a mailbox provider's one-click POST
carries neither. The signature is compared in constant time.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopline.domain.signed_fields import BadToken, read_fields, sign_fields

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


def token_for(key: bytes, link: UnsubscribeLink) -> str:
    """Return the signed token of ``link`` (URL-safe)."""
    return sign_fields(key, VERSION, [link.workspace_id, link.profile_id, link.channel, link.topic, link.send_key])


def read_token(key: bytes, token: str) -> UnsubscribeLink:
    """Return what a token says; raise BadUnsubscribeLink unless this key signed exactly it."""
    try:
        fields = read_fields(key, VERSION, token, count=5, max_length=2_000)
    except BadToken as error:
        raise BadUnsubscribeLink(f"this unsubscribe link {error.says}") from None
    return UnsubscribeLink(*fields)
