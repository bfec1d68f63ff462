"""IP geolocation from a MaxMind-format database (GeoLite2 / GeoIP2 City or Country, DB-IP, IPinfo).

The database is a file the operator downloads under the vendor's licence and names in
``LOOPLINE_GEOIP_DATABASE``; Loopline ships none. Lookups are memory-mapped and cached,
because the same few addresses (a household, a mobile carrier's gateway) repeat all day.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import maxminddb

from loopline.domain.location import Location, location_from_geoip

CACHE_SIZE = 65_536


class GeoDatabaseError(RuntimeError):
    """The configured GeoIP database cannot be opened."""


class MaxMindGeoLocator:
    """Looks addresses up in a MaxMind DB file."""

    def __init__(self, path: Path) -> None:
        try:
            self._reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP)
        except (OSError, maxminddb.InvalidDatabaseError) as error:
            raise GeoDatabaseError(f"cannot open the GeoIP database {path.name}: {error}") from None
        self._lock = threading.Lock()
        self._cached = lru_cache(maxsize=CACHE_SIZE)(self._lookup)

    def _lookup(self, ip: str) -> Location | None:
        try:
            record = self._reader.get(ip)
        except ValueError:  # not an address, or IPv6 in an IPv4-only database
            return None
        return location_from_geoip(record)

    def locate(self, ip: str) -> Location | None:
        """Return where the address is, or None when the database does not know it."""
        # lru_cache is thread-safe for reads, but a cache miss may run twice; the
        # lock keeps the reader's use simple to reason about across ingest threads.
        with self._lock:
            return self._cached(ip)

    def close(self) -> None:
        """Release the memory map."""
        self._reader.close()

