"""Sealing provider credentials at rest (Fernet: AES-128-CBC with an HMAC-SHA256 over it).

The key comes from ``secrets_key``; without it, one is made once in the data directory
(readable by its owner only), which suits the embedded single-server default. A sealed
value opened with another key fails loudly instead of yielding garbage.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE = "secrets.key"


class SecretsUnreadable(RuntimeError):
    """Sealed credentials that this key cannot open (the key changed, or the data was altered)."""


class SecretBox:
    """Seals and opens small JSON documents of secrets."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._key = key

    def signing_key(self, purpose: str) -> bytes:
        """Return a key for signing ``purpose`` (links, tokens), derived from the secrets key.

        One configured secret serves every purpose, and a key for one purpose says nothing
        about the sealing key or about another purpose's key.
        """
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"loopline {purpose}".encode()).derive(
            self._key)

    @classmethod
    def for_settings(cls, key: str | None, data_dir: Path) -> SecretBox:
        """Return the box for the configured key, or for the data directory's own key (made once)."""
        if key:
            return cls(key.encode())
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def seal(self, secrets: dict[str, Any]) -> bytes:
        """Return ``secrets`` sealed."""
        return self._fernet.encrypt(orjson.dumps(secrets))

    def open(self, sealed: bytes) -> dict[str, Any]:
        """Return the secrets sealed in ``sealed``; raise SecretsUnreadable when this key cannot open them."""
        try:
            opened = orjson.loads(self._fernet.decrypt(sealed))
        except InvalidToken:
            raise SecretsUnreadable("stored credentials cannot be opened with this secrets_key") from None
        return dict(opened)
