"""Where a customer is: an explicit location sent by the app, or one derived from the IP address.

An app that knows the device's position sends ``context.location`` (Segment spec: city,
country, region, latitude, longitude); otherwise a GeoIP database can place ``context.ip``
at city level. Both end up in the same shape, marked with their source, so segments can ask
for a country, region, zip or radius without caring where the answer came from.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pycountry

EXPLICIT = "explicit"
IP = "ip"
# The context key that holds the IP-derived location. It is Loopline's own: a value sent
# by a client is dropped at ingest, so only the platform's lookup ever fills it.
DERIVED_KEY = "geoip"

# Client-side libraries send from the customer's device, so the address a request comes
# from is the customer's; server-side libraries send from the shop's servers, whose
# address says nothing about the customer and must not be used.
CLIENT_LIBRARIES = frozenset({
    "analytics.js", "analytics-next", "analytics-ios", "analytics-swift", "analytics-android",
    "analytics-kotlin", "analytics-react-native", "analytics-flutter",
    "rudder-sdk-js", "rudder-ios-library", "rudder-android-library", "rudder-sdk-react-native",
    "rudder-sdk-flutter",
})
MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class Location:
    """A place at the precision its source allows; every field may be unknown."""

    source: str
    country: str | None = None
    region: str | None = None
    city: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    time_zone: str | None = None
    accuracy_km: float | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the known fields as a JSON object (unknown ones left out)."""
        return {name: value for name in self.__dataclass_fields__ if (value := getattr(self, name)) is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Location:
        """Rebuild a location from its JSON form, dropping any value of the wrong shape."""
        return cls(
            source=_text(data.get("source")) or IP,
            country=_text(data.get("country")),
            region=_text(data.get("region")),
            city=_text(data.get("city")),
            postal_code=_text(data.get("postal_code")),
            latitude=_coordinate(data.get("latitude"), 90.0),
            longitude=_coordinate(data.get("longitude"), 180.0),
            time_zone=_text(data.get("time_zone")),
            accuracy_km=_coordinate(data.get("accuracy_km"), 20_000.0),
        )


def _text(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        return text[:MAX_TEXT] or None
    return None


def _coordinate(value: Any, limit: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


@lru_cache(maxsize=1024)
def country_code(value: str) -> str:
    """Return the ISO 3166-1 alpha-2 code for a country name or code, or the text as sent."""
    try:
        return str(pycountry.countries.lookup(value).alpha_2)
    except LookupError:
        return value


def explicit_location(context: dict[str, Any]) -> Location | None:
    """Return the location the app sent in ``context.location``, or None if it sent nothing usable."""
    raw = context.get("location")
    if not isinstance(raw, dict):
        return None
    latitude = _coordinate(raw.get("latitude"), 90.0)
    longitude = _coordinate(raw.get("longitude"), 180.0)
    if latitude is None or longitude is None:
        # Half a coordinate is no position; keep the names, drop the numbers.
        latitude = longitude = None
    location = Location(
        source=EXPLICIT,
        country=country_code(country) if (country := _text(raw.get("country"))) else None,
        region=_text(raw.get("region")),
        city=_text(raw.get("city")),
        postal_code=_text(raw.get("postalCode", raw.get("postal_code", raw.get("zip")))),
        latitude=latitude,
        longitude=longitude,
        time_zone=_text(context.get("timezone")),
    )
    known = (location.country, location.region, location.city, location.postal_code, location.latitude)
    return location if any(value is not None for value in known) else None


def locatable_ip(value: Any) -> str | None:
    """Return a public IP address worth looking up, or None (absent, malformed, private)."""
    if not isinstance(value, str) or len(value) > 45:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return str(address) if address.is_global else None


def client_ip_for(context: dict[str, Any], request_ip: str | None) -> str | None:
    """Return the request's address as the customer's IP when a client-side library sent the message."""
    if request_ip is None or "ip" in context:
        return None
    library = context.get("library")
    name = library.get("name") if isinstance(library, dict) else None
    return request_ip if isinstance(name, str) and name in CLIENT_LIBRARIES else None


def _name(node: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    names = node.get("names")
    if isinstance(names, dict) and isinstance(names.get("en"), str):
        return str(names["en"])
    return None


def location_from_geoip(record: Any) -> Location | None:
    """Turn a MaxMind-format GeoIP record (City or Country database) into a location."""
    if not isinstance(record, dict):
        return None
    country = record.get("country")
    subdivisions = record.get("subdivisions")
    region = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else None
    postal = record.get("postal")
    found = record.get("location")
    place: dict[str, Any] = found if isinstance(found, dict) else {}
    location = Location(
        source=IP,
        country=_text(country.get("iso_code")) if isinstance(country, dict) else None,
        region=(_text(region.get("iso_code")) or _name(region)) if isinstance(region, dict) else None,
        city=_name(record.get("city")),
        postal_code=_text(postal.get("code")) if isinstance(postal, dict) else None,
        latitude=_coordinate(place.get("latitude"), 90.0),
        longitude=_coordinate(place.get("longitude"), 180.0),
        time_zone=_text(place.get("time_zone")),
        accuracy_km=_coordinate(place.get("accuracy_radius"), 20_000.0),
    )
    return location if location.country or location.city or location.latitude is not None else None


def best_location(context: dict[str, Any]) -> Location | None:
    """Return the event's location: the one the app sent, else the one derived from its IP."""
    explicit = explicit_location(context)
    if explicit is not None:
        return explicit
    derived = context.get(DERIVED_KEY)
    return Location.from_json(derived) if isinstance(derived, dict) else None
