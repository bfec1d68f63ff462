"""A small MaxMind-format GeoIP database written for tests, in the layout of GeoLite2 City."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

BERLIN = "81.200.16.0/20"
PARIS = "2a01:cb00::/32"


def write_city_database(path: Path) -> Path:
    """Write a City database placing one IPv4 range in Berlin and one IPv6 range in Paris."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(IPSet([BERLIN]), {
        "city": {"names": {"en": "Berlin", "de": "Berlin"}},
        "country": {"iso_code": "DE", "names": {"en": "Germany"}},
        "subdivisions": [{"iso_code": "BE", "names": {"en": "Land Berlin"}}],
        "postal": {"code": "10115"},
        "location": {"latitude": 52.5244, "longitude": 13.4105, "time_zone": "Europe/Berlin",
                     "accuracy_radius": 20},
    })
    writer.insert_network(IPSet([PARIS]), {
        "city": {"names": {"en": "Paris"}},
        "country": {"iso_code": "FR", "names": {"en": "France"}},
        "subdivisions": [{"iso_code": "IDF", "names": {"en": "Île-de-France"}}],
        "location": {"latitude": 48.8566, "longitude": 2.3522, "time_zone": "Europe/Paris",
                     "accuracy_radius": 50},
    })
    writer.to_db_file(str(path))
    return path
