"""Authenticate presented keys against stored digests, with a short-lived cache."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from loopline.domain.keys import KeyKind, parse_key, secret_matches
from loopline.domain.ratelimit import TokenBucket
from loopline.store.sql.workspaces import KeyRow, SqlWorkspaceStore

CACHE_SECONDS = 1.0
MAX_TRACKED_CLIENTS = 50_000


class KeyRejected(PermissionError):
    """The key is unknown, malformed, revoked or of the wrong kind."""


class TooManyFailures(PermissionError):
    """A client address has presented too many rejected keys; it must wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many rejected keys from this address; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


class FailedAttempts:
    """Counts rejected keys per client address, so guessing and misconfigured floods are slowed.

    Only rejections are counted and only rejections are refused: a valid key from an
    address over its limit still works, so customers behind the same NAT as a broken
    client are not locked out (and with 256-bit keys, guessing one is hopeless anyway).
    """

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check_failure(self, client: str) -> None:
        """Count one rejected key from ``client``; raise TooManyFailures past the limit."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED_CLIENTS:
                    self._forget_quiet(now)
                bucket = self._buckets[client] = TokenBucket(self._rate, self._burst, self._burst, now)
            wait = bucket.take(1, now)
        if wait > 0:
            raise TooManyFailures(max(1.0, wait))

    def _forget_quiet(self, now: float) -> None:
        # Buckets that have refilled carry no information; past the cap drop those,
        # and if every tracked address is still failing, start over rather than grow.
        full = [client for client, bucket in self._buckets.items() if bucket.available(now) >= self._burst]
        for client in full:
            del self._buckets[client]
        if len(self._buckets) >= MAX_TRACKED_CLIENTS:
            self._buckets.clear()


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

    def __init__(self, store: SqlWorkspaceStore, *, failed_per_minute: int = 60) -> None:
        self._store = store
        self._cache: dict[str, tuple[float, KeyRow | None]] = {}
        self._lock = threading.Lock()
        self.failures = FailedAttempts(failed_per_minute)

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

    def authenticate(self, text: str, *, kind: KeyKind, client: str | None = None) -> Principal:
        """Return the principal a key acts for, or raise KeyRejected (TooManyFailures past the limit)."""
        try:
            return self._authenticate(text, kind)
        except KeyRejected:
            if client is not None:
                self.failures.check_failure(client)
            raise

    def _authenticate(self, text: str, kind: KeyKind) -> Principal:
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
