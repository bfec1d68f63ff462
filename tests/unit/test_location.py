"""Locations: explicit ones from the app, IP-derived ones from a GeoIP database, and the profile's latest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loopline.domain.events import EventRecord
from loopline.domain.location import (
    Location,
    best_location,
    client_ip_for,
    explicit_location,
    locatable_ip,
    location_from_geoip,
)
from loopline.domain.profiles import Computed, apply_event, combine
from loopline.geo import GeoDatabaseError, MaxMindGeoLocator, open_geo_locator
from tests.geoip import write_city_database

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_explicit_location_normalises_the_country_and_keeps_valid_coordinates() -> None:
    located = explicit_location({
        "timezone": "Europe/Berlin",
        "location": {"country": "Germany", "city": "Hamburg", "region": "HH", "postalCode": "20095",
                     "latitude": 53.55, "longitude": "9.99"},
    })
    assert located == Location(source="explicit", country="DE", region="HH", city="Hamburg",
                               postal_code="20095", latitude=53.55, longitude=9.99, time_zone="Europe/Berlin")


@pytest.mark.parametrize("coordinates", [
    {"latitude": 91, "longitude": 10}, {"latitude": 45}, {"latitude": "north", "longitude": 3},
    {"latitude": True, "longitude": 3}, {"latitude": float("nan"), "longitude": 1},
])
def test_impossible_or_half_coordinates_are_dropped_but_names_kept(coordinates: dict[str, object]) -> None:
    located = explicit_location({"location": {"country": "fr", **coordinates}})
    assert located is not None
    assert located.country == "FR"
    assert located.latitude is None
    assert located.longitude is None


def test_an_unknown_country_is_kept_as_sent_and_an_empty_location_is_none() -> None:
    assert explicit_location({"location": {"country": "Atlantis"}}) == Location(source="explicit", country="Atlantis")
    assert explicit_location({"location": {"speed": 3}}) is None
    assert explicit_location({"location": "Berlin"}) is None
    assert explicit_location({}) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("81.200.16.7", "81.200.16.7"), (" 2a01:cb00::1 ", "2a01:cb00::1"),
    ("10.0.0.1", None), ("127.0.0.1", None), ("192.168.1.9", None), ("::1", None),
    ("not an ip", None), (None, None), (12345, None), ("1" * 100, None),
])
def test_only_public_addresses_are_looked_up(value: object, expected: str | None) -> None:
    assert locatable_ip(value) == expected


def test_the_request_address_is_the_customers_only_for_client_side_libraries() -> None:
    browser = {"library": {"name": "analytics.js", "version": "2.1"}}
    assert client_ip_for(browser, "81.200.16.7") == "81.200.16.7"
    assert client_ip_for({"library": {"name": "analytics-python"}}, "81.200.16.7") is None
    assert client_ip_for({}, "81.200.16.7") is None
    assert client_ip_for({**browser, "ip": "1.2.3.4"}, "81.200.16.7") is None
    assert client_ip_for(browser, None) is None


def test_a_geoip_record_becomes_a_location() -> None:
    located = location_from_geoip({
        "city": {"names": {"en": "Berlin"}}, "country": {"iso_code": "DE"},
        "subdivisions": [{"iso_code": "BE"}], "postal": {"code": "10115"},
        "location": {"latitude": 52.5, "longitude": 13.4, "time_zone": "Europe/Berlin", "accuracy_radius": 20},
    })
    assert located == Location(source="ip", country="DE", region="BE", city="Berlin", postal_code="10115",
                               latitude=52.5, longitude=13.4, time_zone="Europe/Berlin", accuracy_km=20.0)
    assert location_from_geoip(None) is None
    assert location_from_geoip({"continent": {"code": "EU"}}) is None


def test_explicit_beats_derived_and_a_forged_derived_value_is_sanitised() -> None:
    both = {"location": {"country": "AT"}, "geoip": {"country": "DE", "source": "ip"}}
    assert best_location(both) == Location(source="explicit", country="AT")
    forged = best_location({"geoip": {"country": {"x": 1}, "latitude": "far", "city": "Rome"}})
    assert forged == Location(source="ip", city="Rome")


def _record(when: datetime, context: dict[str, object]) -> EventRecord:
    return EventRecord(
        workspace_id="w", message_id=str(when), type="track", event="Screen Viewed", user_id="u",
        anonymous_id=None, timestamp=when, received_at=when, sent_at=None, original_timestamp=None,
        timestamp_flag=None, context=dict(context),
    )


def test_the_profile_keeps_the_latest_location_by_event_time_not_arrival() -> None:
    computed = Computed()
    timeout = timedelta(minutes=30)
    apply_event(computed, _record(T0 + timedelta(days=2), {"location": {"country": "FR"}}), session_timeout=timeout)
    apply_event(computed, _record(T0, {"location": {"country": "DE"}}), session_timeout=timeout)  # late arrival
    apply_event(computed, _record(T0 + timedelta(days=3), {}), session_timeout=timeout)  # says nothing
    assert computed.location == {"source": "explicit", "country": "FR"}
    assert computed.location_at == T0 + timedelta(days=2)
    restored = Computed.from_json(computed.as_json())
    assert restored.location == computed.location
    assert restored.location_at == computed.location_at

    other = Computed()
    apply_event(other, _record(T0 + timedelta(days=5), {"geoip": {"country": "IT"}}), session_timeout=timeout)
    assert combine(computed, other).location == {"source": "ip", "country": "IT"}
    assert combine(other, computed).location == {"source": "ip", "country": "IT"}


def test_a_maxmind_database_places_ipv4_and_ipv6_addresses(tmp_path: Path) -> None:
    locator = open_geo_locator(write_city_database(tmp_path / "city.mmdb"))
    assert isinstance(locator, MaxMindGeoLocator)
    try:
        berlin = locator.locate("81.200.17.1")
        assert berlin is not None
        assert (berlin.country, berlin.region, berlin.city, berlin.postal_code) == ("DE", "BE", "Berlin", "10115")
        assert berlin.time_zone == "Europe/Berlin"
        assert berlin.accuracy_km == 20
        paris = locator.locate("2a01:cb00:1::5")
        assert paris is not None
        assert paris.city == "Paris"
        assert paris.country == "FR"
        assert locator.locate("8.8.8.8") is None
        assert locator.locate("garbage") is None
    finally:
        locator.close()


def test_without_a_database_nothing_is_placed_and_a_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    assert open_geo_locator(None) is None
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    with pytest.raises(GeoDatabaseError, match=r"broken\.mmdb"):
        open_geo_locator(broken)
    with pytest.raises(GeoDatabaseError, match=r"missing\.mmdb"):
        open_geo_locator(tmp_path / "missing.mmdb")
