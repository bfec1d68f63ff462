"""GeoIP adapters: a MaxMind-format database file, or none."""

from __future__ import annotations

from pathlib import Path

from loopline.geo.maxmind import MaxMindGeoLocator, NoGeoLocator
from loopline.ports import GeoLocator

__all__ = ["MaxMindGeoLocator", "NoGeoLocator", "open_geo_locator"]


def open_geo_locator(database: Path | None) -> GeoLocator:
    """Open the configured GeoIP database, or a locator that knows nothing when none is set."""
    return MaxMindGeoLocator(database) if database is not None else NoGeoLocator()
