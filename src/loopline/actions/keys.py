"""Authenticate presented keys against stored digests, with a short-lived cache."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from loopline.domain.keys import KeyKind, parse_key, secret_matches
from loopline.store.sql.workspaces import KeyRow, SqlWorkspaceStore

CACHE_SECONDS = 1.0


class KeyRejected(PermissionError):
    """The key is unknown, malformed, revoked or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for."""

    workspace_id: str
    key_id: str
    kind: KeyKind


class KeyRing:
    """Verifies keys; caches key rows (digests only) for a second to spare the store.

    Revocations made through this process clear the cache at once; another process's
    revocation takes effect within ``CACHE_SECONDS``.
    """

    def __init__(self, store: SqlWorkspaceStore) -> None:
        self._store = store
        self._cache: dict[str, tuple[float, KeyRow | None]] = {}
        self._lock = threading.Lock()

    def forget(self, key_id: str | None = None) -> None:
        """Drop cached rows, one or all."""
        with self._lock:
            if key_id is None:
                self._cache.clear()
            else:
                self._cache.pop(key_id, None)

    def _row(self, key_id: str) -> KeyRow | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        row = self._store.get_key(key_id=key_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (now, row)
        return row

    def authenticate(self, text: str, *, kind: KeyKind) -> Principal:
        """Return the principal a key acts for, or raise KeyRejected."""
        parsed = parse_key(text)
        if parsed is None:
            raise KeyRejected("the key is not a Loopline key")
        row = self._row(parsed.key_id)
        # The digest is compared even for unknown ids so both paths cost the same.
        stored = row.secret_hash if row is not None else "0" * 64
        matches = secret_matches(parsed.secret, stored)
        if row is None or not matches or row.kind != parsed.kind.value:
            raise KeyRejected("the key is unknown")
        if row.revoked_at is not None:
            raise KeyRejected("the key has been revoked")
        if parsed.kind is not kind:
            raise KeyRejected(f"a {parsed.kind.value} key cannot be used here; use a {kind.value} key")
        return Principal(row.workspace_id, row.id, parsed.kind)
