"""Demo customers: personas, profile traits, devices and their static Segment context."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from loopline.demo.catalog import (
    ANDROID_MODELS,
    ANDROID_VERSIONS,
    APP_NAMESPACE,
    CATEGORIES,
    IOS_MODELS,
    IOS_VERSIONS,
    LIBRARIES,
    MAIL_DOMAINS,
    SHOP_NAME,
    WEB_PROFILES,
    DeviceModel,
    Product,
)
from loopline.demo.geo import CITIES, COUNTRIES, NAMES, City, Country, feminine_surname

_HEX = "0123456789abcdef"
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ASCII_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ı": "i", "ß": "ss", "ø": "o", " ": ""})
# iOS reports an all-zero IDFA when the user declines App Tracking Transparency.
_ZERO_IDFA = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class Persona:
    """A behavioural archetype; rates are per session unless stated otherwise."""

    name: str
    weight: float
    sessions_per_day: float
    # Mean product views per session; the count is 1 plus an exponential tail.
    depth: float
    add_rate: float
    checkout_rate: float
    complete_rate: float
    coupon_rate: float
    email_open: float
    email_click: float
    push_tap: float
    return_factor: float
    known_before: float
    web_share: float
    prior_orders: tuple[int, int]
    identifies: bool = True


PERSONAS: tuple[Persona, ...] = (
    Persona("loyal", 0.15, 0.09, 2.4, 0.16, 0.5, 0.85, 0.15, 0.38, 0.22, 0.09, 0.8, 0.9, 0.3,
            (3, 14)),
    Persona("bargain_hunter", 0.20, 0.044, 2.8, 0.10, 0.3, 0.75, 0.7, 0.33, 0.2, 0.07, 1.3,
            0.75, 0.35, (1, 5)),
    Persona("browser", 0.28, 0.032, 2.2, 0.05, 0.05, 0.3, 0.1, 0.2, 0.12, 0.04, 1.0, 0.55, 0.3,
            (0, 1)),
    Persona("churned", 0.15, 0.065, 2.0, 0.08, 0.3, 0.7, 0.3, 0.06, 0.1, 0.015, 1.2, 1.0, 0.25,
            (1, 4)),
    Persona("new", 0.15, 0.058, 2.3, 0.09, 0.3, 0.75, 0.5, 0.35, 0.2, 0.08, 1.0, 0.0, 0.3,
            (0, 0)),
    Persona("anonymous_visitor", 0.07, 0.0, 1.8, 0.03, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0,
            0.55, (0, 0), identifies=False),
)


@dataclass(slots=True)
class Device:
    """One app install or browser; ``static`` holds context keys that never change."""

    platform: str
    anonymous_id: str
    static: dict[str, Any]
    carrier: str | None
    home_ip: str
    cell_ip_prefix: str
    push: bool
    release: int = -1
    installed: bool = False
    identified: bool = False
    # A returning device already holds the userId and re-identifies on its next launch.
    reidentify: bool = False
    gone_ms: int | None = None


@dataclass(slots=True)
class Order:
    """A completed order, kept so cancellations and returns can refer to it."""

    order_id: str
    total: float
    lines: list[tuple[Product, int]]
    discount_rate: float


@dataclass(slots=True)
class Customer:
    """A simulated person and the mutable state of their shopping life."""

    number: int
    user_id: str | None
    persona: Persona
    country: Country
    city: City
    traits: dict[str, Any]
    favourites: tuple[int, ...]
    email_opt_in: bool
    orders: int
    devices: list[Device] = field(default_factory=list)
    identified: bool = False
    cart: list[tuple[Product, int]] = field(default_factory=list)
    cart_number: int = 0
    cart_reminded: bool = False
    checkout_count: int = 0
    busy_until: int = 0
    events: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)


def loyalty_tier(orders: int) -> str:
    """Return the loyalty tier for a lifetime order count."""
    if orders >= 10:
        return "platinum"
    if orders >= 5:
        return "gold"
    if orders >= 2:
        return "silver"
    return "bronze"


def uuid4(rng: random.Random) -> str:
    """Return a version-4 UUID string drawn from ``rng``."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_HEX[8 + rng.randrange(4)]}{h[17:20]}-{h[20:]}"


def _weighted(rng: random.Random, items: tuple[Any, ...], weights: list[float]) -> Any:
    return rng.choices(items, weights)[0]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(ch for ch in folded if ch.isascii()).lower()


def _ip(rng: random.Random) -> str:
    # First octets from ranges allocated to European access networks, so the
    # addresses look like residential lines rather than private or test space.
    first = rng.choice((31, 37, 46, 77, 78, 79, 80, 82, 84, 85, 87, 88, 89, 91, 93, 95, 109, 176,
                        178, 185, 188, 212, 213, 217))
    return f"{first}.{rng.randrange(1, 255)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


_COUNTRY_CODES = tuple(COUNTRIES)
_COUNTRY_WEIGHTS = [COUNTRIES[c].weight for c in _COUNTRY_CODES]
_CITIES_BY_COUNTRY = {code: tuple(c for c in CITIES if c.country == code) for code in COUNTRIES}
_PERSONA_WEIGHTS = [p.weight for p in PERSONAS]


def _phone(rng: random.Random, country: Country) -> str:
    prefix = rng.choice(country.mobile_prefixes)
    digits = "".join(rng.choices("0123456789", k=country.mobile_digits))
    return prefix + digits


def _os_version(rng: random.Random, model: DeviceModel, ios: bool) -> str:
    pool = IOS_VERSIONS if ios else ANDROID_VERSIONS
    eligible = tuple(v for v in pool if int(v[0].split(".")[0]) >= model.min_os_major)
    return str(_weighted(rng, tuple(v[0] for v in eligible), [v[1] for v in eligible]))


def _app_device(rng: random.Random, customer: Customer, ios: bool) -> Device:
    models = IOS_MODELS if ios else ANDROID_MODELS
    model: DeviceModel = _weighted(rng, models, [m.weight for m in models])
    if ios:
        device_id = uuid4(rng).upper()
        tracking = rng.random() < 0.3
        ad_id = uuid4(rng).upper() if tracking else _ZERO_IDFA
        token = f"{rng.getrandbits(256):064x}"
    else:
        device_id = f"{rng.getrandbits(64):016x}"
        tracking = rng.random() < 0.9
        ad_id = uuid4(rng)
        token = "".join(rng.choices(_B64URL, k=22)) + ":APA91b" + "".join(rng.choices(_B64URL, k=134))
    # Roughly 70% of app users grant notification permission.
    push = rng.random() < 0.7
    device: dict[str, Any] = {
        "id": device_id,
        "type": "ios" if ios else "android",
        "manufacturer": model.manufacturer,
        "model": model.model,
        "name": model.name,
        "advertisingId": ad_id,
        "adTrackingEnabled": tracking,
    }
    if push:
        device["token"] = token
    library = LIBRARIES["ios" if ios else "android"]
    static = {
        "device": device,
        "os": {"name": "iOS" if ios else "Android", "version": _os_version(rng, model, ios)},
        "screen": {"width": model.screen_width, "height": model.screen_height,
                   "density": 3 if ios else 2.625},
        "library": {"name": library[0], "version": library[1]},
        **_place_context(customer),
    }
    return Device(
        platform="ios" if ios else "android",
        anonymous_id=uuid4(rng),
        static=static,
        carrier=rng.choice(customer.country.carriers),
        home_ip=_ip(rng),
        cell_ip_prefix=_ip(rng).rsplit(".", 1)[0],
        push=push,
    )


def _web_device(rng: random.Random, customer: Customer) -> Device:
    agent, width, height, _ = _weighted(rng, WEB_PROFILES, [p[3] for p in WEB_PROFILES])
    library = LIBRARIES["web"]
    static = {
        "userAgent": agent,
        "screen": {"width": width, "height": height},
        "library": {"name": library[0], "version": library[1]},
        **_place_context(customer),
    }
    return Device(
        platform="web",
        anonymous_id=uuid4(rng),
        static=static,
        carrier=None,
        home_ip=_ip(rng),
        cell_ip_prefix=_ip(rng).rsplit(".", 1)[0],
        push=False,
    )


def _place_context(customer: Customer) -> dict[str, Any]:
    city, country = customer.city, customer.country
    return {
        "locale": country.locale,
        "timezone": country.timezone,
        "location": {
            "country": country.name,
            "region": city.region,
            "city": city.name,
            "latitude": city.latitude,
            "longitude": city.longitude,
        },
    }


def make_customer(rng: random.Random, number: int, end_year: int) -> Customer:
    """Draw one customer: persona, home, identity traits and devices."""
    persona: Persona = _weighted(rng, PERSONAS, _PERSONA_WEIGHTS)
    country = COUNTRIES[_weighted(rng, _COUNTRY_CODES, _COUNTRY_WEIGHTS)]
    cities = _CITIES_BY_COUNTRY[country.code]
    city: City = _weighted(rng, cities, [c.weight for c in cities])
    nationality: str = _weighted(
        rng, tuple(n for n, _ in country.nationalities), [w for _, w in country.nationalities]
    )
    pool = NAMES[nationality]
    roll = rng.random()
    # A fashion shop's audience skews female.
    gender = "female" if roll < 0.62 else "male" if roll < 0.97 else "non-binary"
    first = rng.choice(pool.female if gender == "female" or (gender != "male" and roll < 0.985)
                       else pool.male)
    last = rng.choice(pool.last)
    if gender == "female":
        last = feminine_surname(nationality, last)
    age = int(rng.triangular(18, 70, 29))
    birthday = f"{end_year - age:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    user_id = f"u-{number:05d}" if persona.identifies else None
    local = f"{_ascii(first)}.{_ascii(last)}"
    if rng.random() < 0.6:
        local += str(rng.randint(1, 99))
    orders = rng.randint(*persona.prior_orders)
    traits: dict[str, Any] = {
        "email": f"{local}@{rng.choice(MAIL_DOMAINS)}",
        "firstName": first,
        "lastName": last,
        "birthday": birthday,
        "gender": gender,
        "city": city.name,
        "country": country.name,
        "address": {"city": city.name, "postalCode": city.postal_code, "country": country.name},
        "loyalty_tier": loyalty_tier(orders),
    }
    if rng.random() < 0.6:
        traits["phone"] = _phone(rng, country)
    favourites = tuple(rng.sample(range(len(CATEGORIES)), 3))
    customer = Customer(
        number=number,
        user_id=user_id,
        persona=persona,
        country=country,
        city=city,
        traits=traits,
        favourites=favourites,
        email_opt_in=rng.random() < 0.75,
        orders=orders,
    )
    customer.traits["marketing_opt_in"] = customer.email_opt_in
    if rng.random() < persona.web_share:
        customer.devices.append(_web_device(rng, customer))
    else:
        customer.devices.append(_app_device(rng, customer, ios=rng.random() < 0.52))
        # Some app customers also shop on the web: a second, separately
        # anonymous browser that later logs in and merges into the same user.
        if persona.identifies and rng.random() < 0.18:
            customer.devices.append(_web_device(rng, customer))
    return customer


def network_context(rng: random.Random, device: Device) -> tuple[dict[str, Any], str]:
    """Return a session's ``network`` context and public IP for an app device."""
    wifi = rng.random() < 0.62
    ip = device.home_ip if wifi else f"{device.cell_ip_prefix}.{rng.randrange(1, 255)}"
    return {"wifi": wifi, "cellular": not wifi, "bluetooth": False, "carrier": device.carrier}, ip


def app_context(version: str, build: str) -> dict[str, Any]:
    """Return the ``app`` context of a given release."""
    return {"name": SHOP_NAME, "version": version, "build": build, "namespace": APP_NAMESPACE}
