"""The webhook postback: its JSON body, and its signature as the Standard Webhooks spec defines it.

Each request carries ``webhook-id`` (the send key, stable across retries so the receiver can
deduplicate), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. The signature covers the raw bytes
of the body, so a receiver must verify before parsing: the same JSON with its keys in another
order, or with other spacing, does not verify. A secret written ``whsec_<base64>`` is used as
the key it encodes, as the spec's libraries do; any other secret is used as its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

TOLERANCE_S = 300  # a receiver refuses a timestamp further than this from its own clock (replays)
ENCODED_KEY_PREFIX = "whsec_"


def webhook_body(
    *,
    send_key: str,
    workspace_id: str,
    source_id: str,
    profile_id: str,
    subject: str | None,
    body: str,
    url: str | None,
    data: Mapping[str, Any] | None,
) -> bytes:
    """Return the compact JSON a webhook posts for one message; raise ValueError if ``data`` is not JSON.

    ``body`` is the rendered text as a string even when the marketer wrote JSON in it: the
    receiver parses it if it wants to, and the envelope stays the same for every message.
    """
    document = {"type": "message", "send_key": send_key, "workspace_id": workspace_id, "source_id": source_id,
                "profile_id": profile_id, "subject": subject, "body": body, "url": url, "data": dict(data or {})}
    try:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except TypeError as error:
        raise ValueError(f"the message options are not JSON: {error}") from None


def signing_key(secret: str) -> bytes:
    """Return the HMAC key a secret stands for (``whsec_`` + base64 is decoded; anything else is UTF-8)."""
    if secret.startswith(ENCODED_KEY_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(ENCODED_KEY_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: fall through and use the text, on both sides alike
    return secret.encode()


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of id.timestamp.body."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, *, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the three Standard Webhooks headers for one request."""
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message_id=message_id, timestamp=timestamp, body=body)}


def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime, tolerance_s: float = TOLERANCE_S
) -> bool:
    """Tell whether a received request was signed with this secret, recently enough.

    ``headers`` are matched case-insensitively; ``body`` must be the raw bytes received. The
    signature header may list several space-separated signatures (while a secret is rotated);
    one matching ``v1`` signature is enough. Comparisons take constant time.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not message_id or not signatures or not stamp.isascii() or not stamp.isdigit():
        return False
    timestamp = int(stamp)
    if abs(now.timestamp() - timestamp) > tolerance_s:
        return False
    expected = sign(secret, message_id=message_id, timestamp=timestamp, body=body).encode()
    matched = False
    for candidate in signatures.split():
        # Every candidate is compared, so the time taken does not tell which one matched.
        matched |= candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected)
    return matched
