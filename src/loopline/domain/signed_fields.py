"""Short text fields signed into a URL-safe token: the scheme behind unsubscribe and preference links.

A token is ``{version}.{base64 JSON list}.{base64 HMAC-SHA256}``; the signature covers the
version and the body under a key only the server holds, and is compared in constant time.
Each kind of link has its own version tag and key, so one kind cannot pass for another.
"""

from __future__ import annotations

import base64
import binascii
import hmac

import orjson

_WORDS = {"not_ours": "is not one of ours", "damaged": "is damaged", "altered": "was altered"}


class BadToken(ValueError):
    """A token this key did not sign, or one that was altered or damaged; ``problem`` says which."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem  # "not_ours", "damaged" or "altered"

    @property
    def says(self) -> str:
        """Return the problem as the end of a sentence about the link: "… was altered"."""
        return _WORDS[self.problem]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, version: str, body: str) -> bytes:
    return hmac.digest(key, f"{version}.{body}".encode(), "sha256")  # one call in C: a token per message


def sign_fields(key: bytes, version: str, fields: list[str]) -> str:
    """Return the signed token carrying ``fields``."""
    body = _b64(orjson.dumps(fields))
    return f"{version}.{body}.{_b64(_signature(key, version, body))}"


def read_fields(key: bytes, version: str, token: str, *, count: int, max_length: int) -> list[str]:
    """Return the ``count`` fields of a token this key signed under ``version``; raise BadToken otherwise."""
    given_version, _, rest = token.partition(".")
    body, _, signature = rest.partition(".")
    if given_version != version or not body or not signature or len(token) > max_length:
        raise BadToken("not_ours")
    try:
        given = _unb64(signature)
        fields = orjson.loads(_unb64(body))
    except (binascii.Error, ValueError):
        raise BadToken("damaged") from None
    if not hmac.compare_digest(given, _signature(key, version, body)):
        raise BadToken("altered")
    if not (isinstance(fields, list) and len(fields) == count and all(isinstance(f, str) for f in fields)):
        raise BadToken("damaged")
    return fields
