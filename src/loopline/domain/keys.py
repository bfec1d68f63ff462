"""API keys: their textual form, hashing, and constant-time verification.

A key reads ``<prefix>_<key id>_<secret>``. The key id locates the stored row; only a
SHA-256 digest of the secret is stored, and it is compared with ``hmac.compare_digest``
so neither the lookup nor the comparison leaks the secret through timing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

SECRET_BYTES = 32  # 256 bits of entropy, well above the 128-bit floor.


class KeyKind(StrEnum):
    """What a key may do: ingest only, or manage one workspace."""

    WRITE = "write"
    SECRET = "secret"  # noqa: S105 - the name of a key kind, not a password


PREFIXES = {KeyKind.WRITE: "llw", KeyKind.SECRET: "lls"}
KINDS_BY_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A key split into its parts; the secret never leaves the request that carried it."""

    kind: KeyKind
    key_id: str
    secret: str


def format_key(kind: KeyKind, key_id: str, secret: str) -> str:
    """Return the key text handed to the user once, at creation."""
    return f"{PREFIXES[kind]}_{key_id}_{secret}"


def parse_key(text: str) -> ParsedKey | None:
    """Split a presented key into its parts, or return None if it is not one of ours."""
    parts = text.strip().split("_", 2)
    if len(parts) != 3 or parts[0] not in KINDS_BY_PREFIX:
        return None
    _, key_id, secret = parts
    if not key_id.isalnum() or len(key_id) > 40 or not secret or len(secret) > 128:
        return None
    return ParsedKey(KINDS_BY_PREFIX[parts[0]], key_id, secret)


def hash_secret(secret: str) -> str:
    """Return the stored digest of a key's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Compare a presented secret with the stored digest in constant time."""
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


def redact(text: str) -> str:
    """Return a key with its secret removed, safe for logs and listings."""
    parsed = parse_key(text)
    if parsed is None:
        return "<invalid key>"
    return f"{PREFIXES[parsed.kind]}_{parsed.key_id}_…"
