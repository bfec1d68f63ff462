"""GeoIP adapters: a MaxMind-format database file."""

from __future__ import annotations

from pathlib import Path

from loopline.geo.maxmind import GeoDatabaseError, MaxMindGeoLocator
from loopline.ports import GeoLocator

__all__ = ["GeoDatabaseError", "MaxMindGeoLocator", "open_geo_locator"]


def open_geo_locator(database: Path | None) -> GeoLocator | None:
    """Open the configured GeoIP database; None when none is configured (no IP is looked up)."""
    return MaxMindGeoLocator(database) if database is not None else None
