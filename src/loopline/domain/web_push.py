"""Web push: the browser's subscription, the notification a service worker shows, and the
request headers of RFC 8030 (TTL, Urgency, Topic) and RFC 8292 (VAPID), computed without I/O.

A subscription is what ``PushSubscription.toJSON()`` gives in the browser: the push service's
endpoint (an HTTPS URL that names this browser) and two keys, ``p256dh`` (the browser's P-256
public key) and ``auth`` (a 16-byte secret), both base64url. The payload is encrypted to those
keys (RFC 8291, ``aes128gcm``); push services promise to carry 4096 bytes of encrypted body,
which leaves 3993 bytes for the notification's JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from loopline.domain.push import PushOptions

Urgency = Literal["very-low", "low", "normal", "high"]
URGENCIES: tuple[Urgency, ...] = ("very-low", "low", "normal", "high")

MAX_MESSAGE_BYTES = 4096  # RFC 8030 §7.2: the encrypted body every push service must accept
_HEADER_BYTES = 16 + 4 + 1 + 65  # RFC 8291 §4: salt, record size, key id length, the sender's public key
_RECORD_OVERHEAD = 1 + 16  # the padding delimiter and the AES-GCM tag of the single record
MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES - _HEADER_BYTES - _RECORD_OVERHEAD
"""The longest notification JSON that fits (3993 bytes, as RFC 8291 §4 computes)."""

MAX_ENDPOINT_LENGTH = 2_000
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")  # RFC 8030 §5.4: at most 32 characters of the base64url alphabet
# A host name or IPv4 address with an optional port: what the VAPID audience (scheme://host[:port]) can name.
_NETLOC = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?")
_MAILTO = re.compile(r"mailto:[^@\s]+@[^@\s]+")
_HTTPS = re.compile(r"https://[^\s/?#@]+(?:[/?#]\S*)?")


class SubscriptionInvalid(ValueError):
    """An address that is not a push subscription a message can be encrypted to and sent to."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A browser's push subscription, checked: where to post, and the keys to encrypt to."""

    endpoint: str
    p256dh: bytes  # the browser's public key, an uncompressed P-256 point (65 bytes)
    auth: bytes  # the authentication secret (16 bytes)

    @property
    def origin(self) -> str:
        """Return the endpoint's scheme, host and port: the audience a VAPID token is signed for."""
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}"

    def info(self) -> dict[str, Any]:
        """Return the subscription as the browser gives it (base64url keys without padding)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(self.p256dh), "auth": b64url(self.auth)}}


def b64url(data: bytes) -> str:
    """Return ``data`` as base64url without padding, as web push writes keys."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64url(text: str, what: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise SubscriptionInvalid(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise SubscriptionInvalid(f"{what} is not base64url") from None


def parse_subscription(address: str | None, *, allow_insecure: bool = False) -> Subscription:
    """Return the subscription ``address`` holds (JSON text); raise SubscriptionInvalid otherwise.

    The endpoint must be HTTPS: every push service is, and a plain-HTTP endpoint would send
    the VAPID token in the clear. ``allow_insecure`` admits ``http://`` for a local test
    service only.
    """
    if not address:
        raise SubscriptionInvalid("a web push message needs a subscription")
    try:
        document = json.loads(address)
    except ValueError:
        raise SubscriptionInvalid("the subscription is not JSON") from None
    if not isinstance(document, dict):
        raise SubscriptionInvalid("the subscription is not a JSON object")
    endpoint, keys = document.get("endpoint"), document.get("keys")
    if not isinstance(endpoint, str) or not endpoint:
        raise SubscriptionInvalid("the subscription has no endpoint")
    _check_endpoint(endpoint, allow_insecure=allow_insecure)
    if not isinstance(keys, dict) or not isinstance(keys.get("p256dh"), str) or not isinstance(keys.get("auth"), str):
        raise SubscriptionInvalid("the subscription needs keys.p256dh and keys.auth")
    p256dh, auth = _unb64url(keys["p256dh"], "keys.p256dh"), _unb64url(keys["auth"], "keys.auth")
    if len(p256dh) != 65 or p256dh[0] != 0x04:
        raise SubscriptionInvalid("keys.p256dh is not an uncompressed P-256 public key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:  # the point is not on the curve: no shared secret can be derived
        raise SubscriptionInvalid("keys.p256dh is not a point on P-256") from None
    if len(auth) != 16:
        raise SubscriptionInvalid(f"keys.auth must be 16 bytes, not {len(auth)}")
    return Subscription(endpoint, p256dh, auth)


def _check_endpoint(endpoint: str, *, allow_insecure: bool) -> None:
    if len(endpoint) > MAX_ENDPOINT_LENGTH or any(c.isspace() or not c.isprintable() for c in endpoint):
        raise SubscriptionInvalid("the endpoint is not a URL")
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        raise SubscriptionInvalid("the endpoint is not a URL") from None
    schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in schemes:
        raise SubscriptionInvalid("the endpoint must be an https URL")
    if not _NETLOC.fullmatch(parts.netloc.lower()) or parts.fragment:
        raise SubscriptionInvalid("the endpoint must name a host (and port), without credentials or fragment")
    try:
        parts.port  # noqa: B018 - reading it checks the port's range
    except ValueError:
        raise SubscriptionInvalid("the endpoint's port is out of range") from None


def topic_for(collapse_key: str) -> str:
    """Return the Topic header for a collapse key: the key itself when it is at most 32 base64url
    characters, else 32 characters of its SHA-256 (so the same key always gives the same topic)."""
    if _TOPIC.fullmatch(collapse_key):
        return collapse_key
    return b64url(hashlib.sha256(collapse_key.encode()).digest())[:32]


def options_of(options: Mapping[str, Any] | None) -> PushOptions | None:
    """Return the rich push options of a message (raise ValueError when they are not valid)."""
    return PushOptions.model_validate(dict(options)) if options else None


def notification(*, title: str | None, body: str, url: str | None, send_key: str, options: PushOptions | None,
                 icon_url: str | None = None) -> dict[str, Any]:
    """Return the notification a service worker shows, as JSON-ready data.

    ``title``, ``body``, ``icon``, ``image``, ``tag`` (the collapse key, so a newer notification
    replaces the shown one) and ``actions`` are the Notification API's options; ``badge_count``
    is for ``navigator.setAppBadge``. ``data`` holds what a click needs: the deep link, the send
    key (to report the click), each button's link by action id, and the content's custom data.
    Absent values are left out to save room. Browsers play their own sound, so ``sound`` is not sent.
    """
    shown: dict[str, Any] = {"title": title or "", "body": body}
    data: dict[str, Any] = {"send_key": send_key}
    if url:
        data["url"] = url
    if icon_url:
        shown["icon"] = icon_url
    if options is not None:
        if options.image_url:
            shown["image"] = options.image_url
        if options.badge is not None:
            shown["badge_count"] = options.badge
        if options.collapse_key:
            shown["tag"] = options.collapse_key
        if options.buttons:
            shown["actions"] = [{"action": button.id, "title": button.title} for button in options.buttons]
            links = {button.id: button.url for button in options.buttons if button.url}
            if links:
                data["action_urls"] = links
        if options.data:
            data["custom"] = dict(options.data)
    shown["data"] = data
    return shown


def encode_payload(shown: Mapping[str, Any]) -> bytes:
    """Return the notification as compact UTF-8 JSON (non-ASCII kept as is: it takes fewer bytes than escapes)."""
    return json.dumps(shown, ensure_ascii=False, separators=(",", ":")).encode()


def encrypted_size(payload_bytes: int) -> int:
    """Return the length of the ``aes128gcm`` body carrying ``payload_bytes`` of plaintext in one record."""
    return _HEADER_BYTES + payload_bytes + _RECORD_OVERHEAD


def check_subject(subject: str) -> str:
    """Return the VAPID subject when it is a contact push services accept (RFC 8292 §2.1): a
    ``mailto:`` address or an ``https:`` URL; raise ValueError otherwise."""
    if not (_MAILTO.fullmatch(subject) or _HTTPS.fullmatch(subject)):
        raise ValueError("the VAPID subject must be a mailto: address or an https URL, like mailto:ops@shop.example")
    return subject


def load_vapid_key(text: str) -> ec.EllipticCurvePrivateKey:
    """Return the VAPID signing key from PEM, or from base64url (the raw 32-byte scalar, or DER).

    Raise ValueError when it is none of these, or not a P-256 key (ES256 signs with P-256 only).
    """
    text = text.strip()
    key: object
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = _unb64url("".join(text.split()), "the VAPID key")
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError):
        raise ValueError("the VAPID private key must be an unencrypted PEM, or a base64url P-256 key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the VAPID private key must be a P-256 (prime256v1) key")
    return key


def application_server_key(key: ec.EllipticCurvePrivateKey) -> str:
    """Return the VAPID public key as base64url of its uncompressed point: the ``applicationServerKey``
    a web page passes to ``pushManager.subscribe`` (and the ``k`` of the Authorization header)."""
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))
