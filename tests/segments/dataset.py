"""A deterministic, deliberately adversarial synthetic dataset in the shape of the mart's tables.

The same rows are loaded into every engine and handed to the pandas oracle, so whatever an
engine gets wrong about JSON types, dates, versions, identity or workspaces shows up as a
difference. Values stay away from the exact edges (now − N days, a radius, a sequence gap)
where sub-second rounding or floating point rather than the rules would decide.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
WORKSPACE = "ws_a"
OTHER_WORKSPACE = "ws_b"
HISTORY_DAYS = 120

COLUMNS: dict[str, tuple[str, ...]] = {
    "profiles": ("workspace_id", "profile_id", "traits", "computed", "created_at", "known_since"),
    "identities": ("workspace_id", "kind", "value", "profile_id"),
    "devices": (
        "workspace_id", "device_id", "profile_id", "platform", "os_name", "os_version", "app_version", "model",
        "push_token",
    ),
    "consents": ("workspace_id", "profile_id", "channel", "topic", "status"),
    "suppressions": ("workspace_id", "channel", "address"),
    "members": ("workspace_id", "segment_id", "profile_id"),
    "events": ("workspace_id", "type", "event", "user_id", "anonymous_id", "timestamp", "properties", "context"),
    "sends": (
        "workspace_id", "send_key", "profile_id", "source_kind", "campaign_id", "journey_id", "step", "variant",
        "channel", "status", "reason", "decided_at", "sent_at", "updated_at",
    ),
}
INSTANTS = frozenset({"created_at", "known_since", "timestamp", "decided_at", "sent_at", "updated_at"})
_MISSING = object()  # a trait key left out altogether, as opposed to JSON null


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, so the oracle can cache per dataset
class Dataset:
    """The mart's tables: JSON columns hold dicts/lists, instants are tz-aware UTC, missing text is None."""

    profiles: pd.DataFrame
    identities: pd.DataFrame
    devices: pd.DataFrame
    consents: pd.DataFrame
    suppressions: pd.DataFrame
    members: pd.DataFrame
    events: pd.DataFrame
    sends: pd.DataFrame


def frame(table: str, rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Return one table's rows as a frame: object columns (so None stays None), UTC instants."""
    rows = list(rows)
    data = {
        column: pd.Series(
            [row.get(column) for row in rows], dtype="datetime64[us, UTC]" if column in INSTANTS else object
        )
        for column in COLUMNS[table]
    }
    return pd.DataFrame(data, columns=list(COLUMNS[table]))


def known_since(created_at: datetime, computed: dict[str, Any]) -> datetime:
    """Return the earlier of creation and the computed ``first_seen`` (as the mart stores it)."""
    first_seen = computed.get("first_seen") if isinstance(computed, dict) else None
    if isinstance(first_seen, str):
        try:
            parsed = datetime.fromisoformat(first_seen)
        except ValueError:
            return created_at
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return min(created_at, parsed)
    return created_at


def make_dataset(workspace_id: str = WORKSPACE, **tables: Iterable[dict[str, Any]]) -> Dataset:
    """Build a (small, hand-written) dataset; rows may leave out workspace_id and the usual defaults."""
    defaults: dict[str, dict[str, Any]] = {
        "profiles": {"traits": {}, "computed": {}, "created_at": NOW - timedelta(days=365)},
        "events": {"type": "track", "event": None, "user_id": None, "anonymous_id": None, "properties": {},
                   "context": {}},
        "sends": {"source_kind": "campaign", "campaign_id": None, "journey_id": None, "step": None,
                  "variant": None, "channel": "email", "status": "sent", "reason": "", "sent_at": None},
    }
    built: dict[str, pd.DataFrame] = {}
    for table in COLUMNS:
        rows = []
        for row in tables.get(table, ()):
            full = {"workspace_id": workspace_id, **defaults.get(table, {}), **row}
            if table == "profiles" and "known_since" not in row:
                full["known_since"] = known_since(full["created_at"], full["computed"])
            if table == "sends":
                full.setdefault("decided_at", full["sent_at"] or NOW - timedelta(days=1))
                full.setdefault("updated_at", full["decided_at"])
            rows.append(full)
        built[table] = frame(table, rows)
    return Dataset(**built)


# ---------------------------------------------------------------------------------------------
# Value pools. Each trait mixes JSON types across profiles on purpose.

def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_plus2(moment: datetime) -> str:
    return moment.astimezone(timezone(timedelta(hours=2))).isoformat()


def _iso_naive(moment: datetime) -> str:  # no offset: means UTC
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


DATE_FORMS: tuple[Callable[[datetime], str], ...] = (
    _iso_z, _iso_plus2, _iso_naive, lambda m: m.isoformat(), lambda m: m.astimezone(UTC).date().isoformat(),
)
NAMES = (
    "Anna Schmidt", "Zoë Dubois", "Seán O'Brien", "Back\\slash Bob", 'Dana "DJ" Jones', "José Núñez", "李雷",
    "anna schmidt", "ANNA SCHMIDT", "50% Max", "under_score Uma", "Ünal Kaya", "ZOË ZIMMER",
)
BIRTHDAYS = (
    "1990-06-15", "1985-06-22", "1992-06-23", "1988-02-29", "1990-12-31", "1991-01-01", "1993-01-02",
    "1990-06-20T10:00:00Z", "1990-06-22T23:30:00-02:00", "1990-06-23T01:00:00+02:00", "1990-06-14T23:00:00-02:00",
    "1990-06-14", "1990-02-30", "soon", 19900615, None, "1990-06-17 08:00:00", "2000-06-18T09:15:00",
)
ADDRESSES: tuple[Any, ...] = (
    {"city": "Berlin", "zip": "10115"}, {"city": "München", "zip": "80331"}, {"city": "berlin"}, {"city": None},
    {"city": {"name": "Paris"}}, "Main St 1, Berlin", {"street": "Hauptstraße 5"}, None, _MISSING,
)
INTERESTS: tuple[Any, ...] = (
    ["running", "yoga"], ["Running"], ["cooking", 3, None], [], "running, yoga", ["yoga"], None, _MISSING,
    ["hiking", "running"],
)
CATEGORIES = ("shoes", "Shoes", "bags", "jackets", "accessories")
CAMPAIGNS: tuple[Any, ...] = ("spring_sale", "summer_sale", "summer_sale", "42", 42, "Summer_Sale")
VERSIONS = ("5.9", "5.10.1", "5.10", "beta", "6", "5.10.0", "5.9.12", "10.0", "5.10.1.7", "5.x", "6.0.0", None)
PLACES: tuple[tuple[str, Any, str, str, float, float, float], ...] = (
    # country, region variants, city, postal code, latitude, longitude, jitter in degrees
    ("DE", ("Berlin", "BE", "berlin"), "Berlin", "10115", 52.52, 13.405, 0.12),
    ("DE", ("Brandenburg",), "Potsdam", "14467", 52.39, 13.065, 0.03),
    ("DE", ("Bavaria", "BY"), "München", "80331", 48.137, 11.575, 0.05),
    ("DE", ("Saxony",), "Dresden", "01067", 51.05, 13.74, 0.03),
    ("FR", ("Île-de-France", "ÎLE-DE-FRANCE", "île-de-france"), "Paris", "75001", 48.8566, 2.3522, 0.06),
    ("GB", ("England",), "London", "SW1A 1AA", 51.5074, -0.1278, 0.08),
    ("US", ("California", "CA"), "San Francisco", "94103", 37.77, -122.42, 0.05),
    ("AU", ("NSW",), "Sydney", "2000", -33.87, 151.21, 0.05),
)


def _safe(offset: float) -> float:
    """Nudge a time offset (seconds before NOW) off every half-hour mark, where windows start."""
    rest = offset % 1800
    return offset + 300 if rest < 120 or rest > 1680 else offset


class _Builder:
    """Accumulates the rows of both workspaces from one seeded random generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows: dict[str, list[dict[str, Any]]] = {table: [] for table in COLUMNS}
        self.user_of: dict[tuple[str, str], str] = {}  # (workspace, profile) -> user id
        self.anons_of: dict[tuple[str, str], list[str]] = {}

    def pick(self, *options: Any) -> Any:
        choice = self.rng.choice(options)
        return choice() if callable(choice) else choice

    def at(self, offset_seconds: float) -> datetime:
        return NOW - timedelta(microseconds=round(_safe(offset_seconds) * 1_000_000))

    # -- profiles ----------------------------------------------------------------------------
    def traits(self, index: int) -> dict[str, Any]:
        r = self.rng
        date = r.choice(DATE_FORMS)
        expires = NOW + timedelta(hours=self.pick(5, 30, 60, 80, 100, -20, -70, -200, -1000, 2000, 3.5))
        signup = NOW - timedelta(days=r.uniform(10, 800), seconds=r.randint(0, 86_399))
        candidates: dict[str, Any] = {
            "name": self.pick(*NAMES, _MISSING),
            "plan": self.pick("free", "pro", "pro", "enterprise", "Pro", None, _MISSING),
            "age": self.pick(lambda: r.randint(18, 80), 42, 42.0, 37.5, "42", True, None, _MISSING),
            "vip": self.pick(True, False, False, "true", 1, None, _MISSING),
            "score": self.pick(lambda: round(r.uniform(0, 100), 1), lambda: str(r.randint(0, 100)), _MISSING),
            "interests": self.pick(*INTERESTS),
            "address": self.pick(*ADDRESSES),
            "birthday": self.pick(*BIRTHDAYS, lambda: f"{r.randint(1950, 2005)}-{r.randint(1, 12):02d}-"
                                  f"{r.randint(1, 28):02d}"),
            "ad_expires_at": self.pick(lambda: date(expires), lambda: date(expires), "2026-06-31", "soon",
                                       lambda: int(expires.timestamp()), None, _MISSING),
            "signup_date": self.pick(lambda: date(signup), lambda: date(signup), "2025-02-29", "yesterday",
                                     "2025-06-01", _MISSING),
            "lifetime_value": self.pick(lambda: round(r.uniform(0, 2000), 2), lambda: f"{r.randint(0, 2000)}",
                                        lambda: r.randint(0, 2000), _MISSING),
            "country": self.pick("DE", "de", "FR", "US", _MISSING),
            "nps": self.pick(*range(11), None, _MISSING),
            "newsletter": self.pick(True, False, _MISSING),
            "company": self.pick({"name": "Acme", "size": 50, "hq": {"city": "Berlin"}},
                                 {"name": "O'Reilly & Sons", "hq": {"city": "Zürich"}}, {"name": None}, _MISSING),
        }
        traits = {key: value for key, value in candidates.items() if value is not _MISSING}
        if index % 97 == 13:  # a flat key that merely looks like a path: ``address.city`` must not find it
            traits["address.city"] = "Berlin"
        return traits

    def computed(self) -> dict[str, Any]:
        r = self.rng
        if r.random() < 0.08:
            return {}  # never computed
        orders = self.pick(lambda: r.randint(0, 15), 0, 0, 3, 3.0)
        gross = round(r.uniform(0, 1500), 2) if orders else 0
        refunded = round(r.uniform(0, gross / 3), 2) if gross else 0
        first = NOW - timedelta(days=r.uniform(1, 500), seconds=r.randint(0, 86_399))

        def moment() -> str | None:
            return self.pick(None, lambda: self.at(r.uniform(0.05, 200) * 86_400).isoformat())

        place = r.choice(PLACES)
        country, regions, city, postal, lat, lon, jitter = place
        location: Any = {
            "country": country, "region": r.choice(regions), "city": city, "postal_code": postal,
            "latitude": round(lat + r.uniform(-jitter, jitter), 6),
            "longitude": round(lon + r.uniform(-jitter, jitter), 6),
        }
        for key in ("region", "city", "postal_code"):
            if r.random() < 0.1:
                del location[key]
        location = self.pick(location, location, location, location, None, {"country": "DE"},
                             {"latitude": 52.5}, {"city": "Berlin", "latitude": None, "longitude": 13.4})
        return {
            "events": r.randint(0, 400), "sessions": r.randint(0, 60), "orders": orders,
            "cancelled_orders": r.randint(0, 2), "returns": r.randint(0, 3), "refunds": r.randint(0, 2),
            "gross_revenue": gross, "refunded_revenue": refunded, "net_revenue": round(gross - refunded, 2),
            "return_rate": round(r.random(), 3) if orders else 0, "emails_opened": r.randint(0, 30),
            "emails_clicked": r.randint(0, 10), "pushes_received": r.randint(0, 40), "pushes_tapped": r.randint(0, 8),
            "first_seen": self.pick(None, first.isoformat(), first.isoformat()), "last_seen": moment(),
            "last_session_at": moment(), "last_order_at": moment() if orders else None,
            "favourite_category": self.pick(*CATEGORIES, None), "location": location,
        }

    def profile(self, workspace: str, index: int, profile_id: str) -> None:
        r = self.rng
        created = self.at(self.pick(lambda: r.uniform(0.5, 12), lambda: r.uniform(12, 400)) * 86_400)
        self.rows["profiles"].append({
            "workspace_id": workspace, "profile_id": profile_id, "traits": self.traits(index),
            "computed": self.computed(), "created_at": created,
        })
        ident = self.rows["identities"]
        key = (workspace, profile_id)
        if r.random() < 0.85:  # the same user id texts exist in both workspaces, for different people
            self.user_of[key] = f"u{index:04d}"
            ident.append({"workspace_id": workspace, "kind": "user_id", "value": f"u{index:04d}",
                          "profile_id": profile_id})
        anons = [f"anon{index:04d}{k}" for k in range(self.pick(0, 1, 1, 2, 3))]
        if not anons and key not in self.user_of and r.random() < 0.5:
            anons = [f"anon{index:04d}0"]
        self.anons_of[key] = anons
        ident += [{"workspace_id": workspace, "kind": "anonymous_id", "value": a, "profile_id": profile_id}
                  for a in anons]
        for k in range(self.pick(0, 1, 1, 1, 2)):
            ident.append({"workspace_id": workspace, "kind": "email", "value": f"user{index}.{k}@example.com",
                          "profile_id": profile_id})
        if r.random() < 0.5:
            ident.append({"workspace_id": workspace, "kind": "phone", "value": f"+4915{index:08d}",
                          "profile_id": profile_id})
        self.devices(workspace, index, profile_id)
        self.consents(workspace, profile_id)

    def devices(self, workspace: str, index: int, profile_id: str) -> None:
        r = self.rng
        for k in range(self.pick(0, 0, 1, 1, 1, 2, 2, 3)):
            platform = self.pick("ios", "ios", "android", "android", "web", "web", "tvos", None)
            os_name, os_version, model = {
                "ios": (self.pick("iOS", "iPadOS"), self.pick("17.4", "17.4.1", "16.7.8", "18.0", "18", "beta"),
                        self.pick("iPhone15,2", "iPad13,1", "iPhone16,1")),
                "android": ("Android", self.pick("14", "13", "10", "14.0.1", "Baklava"),
                            self.pick("Pixel 8", "SM-S918B", "moto g")),
                "web": (self.pick("Mac OS X", "Windows"), self.pick("10.15.7", "10", "11"), None),
            }.get(platform, (self.pick(None, "tvOS"), self.pick(None, "17.1"), self.pick(None, "AppleTV6,2")))
            token_odds = {"ios": 0.7, "android": 0.7, "web": 0.5}.get(platform, 0.2)
            token = f"{'wp' if platform == 'web' else 'tok'}_{index:04d}{k}_{r.getrandbits(24):06x}"
            self.rows["devices"].append({
                "workspace_id": workspace, "device_id": f"dev-{index:04d}-{k}", "profile_id": profile_id,
                "platform": platform, "os_name": os_name, "os_version": os_version,
                "app_version": self.pick(*VERSIONS) if platform != "web" else self.pick(None, None, "6"),
                "model": model, "push_token": token if r.random() < token_odds else None,
            })

    def consents(self, workspace: str, profile_id: str) -> None:
        for channel in ("email", "sms", "push", "in_app", "web_push"):
            for topic in ("all", "newsletter", "promotions"):
                odds = 0.55 if topic == "all" else 0.2
                if self.rng.random() < odds:
                    status = self.pick("opted_in", "opted_in", "opted_out")
                    self.rows["consents"].append({"workspace_id": workspace, "profile_id": profile_id,
                                                  "channel": channel, "topic": topic, "status": status})

    # -- events ------------------------------------------------------------------------------
    def ids(self, workspace: str, profile_id: str) -> tuple[str | None, str | None]:
        """Return (user_id, anonymous_id) for an event of the profile, in one of the ways it may arrive."""
        user, anons = self.user_of.get((workspace, profile_id)), self.anons_of[(workspace, profile_id)]
        anon = self.rng.choice(anons) if anons else None
        mode = self.rng.random()
        if user and (mode < 0.6 or not anon):
            return user, anon if mode < 0.3 else None
        if anon and mode < 0.85:
            return None, anon
        return (f"ghost-{self.rng.getrandbits(20)}" if anon else user), anon  # unknown userId: anonymousId decides

    def emit(self, workspace: str, kind: str, name: str | None, ids: tuple[str | None, str | None],
             offset: float, properties: dict[str, Any] | None = None) -> None:
        if offset <= 0 or offset > HISTORY_DAYS * 86_400:
            return  # keep every event within the history and not after NOW
        self.rows["events"].append({
            "workspace_id": workspace, "type": kind, "event": name, "user_id": ids[0], "anonymous_id": ids[1],
            "timestamp": self.at(offset), "properties": copy.deepcopy(properties or {}),
            "context": copy.deepcopy(self.pick({}, {"library": {"name": "analytics.js"}}, {"os": {"name": "iOS"}})),
        })

    def session(self, workspace: str, profile_id: str, start: float) -> None:
        r = self.rng
        ids = self.ids(workspace, profile_id)
        category = r.choice(CATEGORIES)
        price = self.pick(19.99, 49.5, 120, "19.99", 250.0)
        product = {"product": {"category": category, "sku": f"SKU-{r.randint(1, 40)}"}, "price": price,
                   "tags": self.pick(["sale"], ["new", "sale"], [])}
        kind = self.pick("browse", "browse", "cart", "cart", "cart", "message", "message", "identify")
        t = start
        if kind == "browse":
            self.emit(workspace, "page", self.pick("Home", "Pricing"), ids, t, {"path": "/", "title": "Zoë's shop"})
            for _ in range(r.randint(1, 3)):
                t -= r.uniform(20, 400)
                self.emit(workspace, "track", "Product Viewed", ids, t, product)
            if r.random() < 0.3:
                self.emit(workspace, "screen", "Cart", ids, t - r.uniform(5, 60), {})
        elif kind == "cart":
            self.emit(workspace, "track", "Product Viewed", ids, t, product)
            t -= r.uniform(30, 300)
            self.emit(workspace, "track", "Product Added", ids, t, {**product, "quantity": self.pick(1, 2, "3")})
            if r.random() < 0.6:  # gaps (minutes) kept clear of 30 / 60 / 120 / 1440 even after _safe's nudge
                gap = self.pick(0, 0, 3.7, 12.4, 41.3, 75.2, 150.8, 900.5, 2100.3)
                t -= 60 * gap + (r.uniform(0, 20) if gap else 0)  # 0: added and ordered at the same instant
                order = {"order_id": f"o{r.getrandbits(32):08x}", "revenue": self.pick(price, 99.9, "120.50", None),
                         "total": 100, "currency": self.pick("EUR", "USD"), "coupon": self.pick(None, "SUMMER10"),
                         "payment": {"method": self.pick("card", "paypal")}, "products": [product["product"]]}
                self.emit(workspace, "track", self.pick(*["Order Completed"] * 9, "order completed"), ids, t, order)
                if r.random() < 0.1:
                    self.emit(workspace, "track", self.pick("Order Cancelled", "Product Returned", "Order Refunded"),
                              ids, t - r.uniform(86_400, 5 * 86_400), {"order_id": order["order_id"]})
        elif kind == "message":
            channel = self.pick("email", "email", "push", "push", "sms", "in_app", "web_push")
            names = {
                "email": ("Email Delivered", "Email Opened", "Email Link Clicked"),
                "push": ("Push Notification Received", "Push Notification Tapped", None),
                "sms": ("SMS Delivered", None, "SMS Link Clicked"),
                "in_app": ("In-App Message Viewed", None, "In-App Message Clicked"),
                "web_push": ("Web Push Received", "Web Push Clicked", None),
            }[channel]
            props = {"campaign_id": self.pick(*CAMPAIGNS), "channel": channel}
            if r.random() < 0.1:
                props = {"channel": channel}  # a message event without a campaign
            for step, name in enumerate(names):
                if name is None or (step and r.random() < 0.45):
                    continue
                self.emit(workspace, "track", name, ids, t, props)
                t -= r.uniform(60, 7200)
        else:
            self.emit(workspace, "identify", None, ids, t, {})

    def history(self, workspace: str, profile_id: str) -> None:
        r = self.rng
        if r.random() < 0.2:
            return  # a profile with no events at all
        latest = self.pick(lambda: r.uniform(0.01, 0.04), lambda: r.uniform(0.05, 5), lambda: r.uniform(5, 20),
                           lambda: r.uniform(20, 45), lambda: r.uniform(45, 90), lambda: r.uniform(90, 118))
        self.session(workspace, profile_id, latest * 86_400)
        for _ in range(self.pick(2, 4, 6, 10, 15, 22)):
            self.session(workspace, profile_id, (latest + r.uniform(0, 30) * r.random()) * 86_400)

    def oddities(self, workspace: str, profiles: list[str]) -> None:
        """Events whose ownership is the point: nobody's, user/anonymous conflicts, identify only."""
        r = self.rng
        with_user = [p for p in profiles if (workspace, p) in self.user_of]
        with_anon = [p for p in profiles if self.anons_of[(workspace, p)]]
        names = ("Product Viewed", "Order Completed", "Product Added", "Email Opened", "Signed In")
        for _ in range(len(profiles) // 3):
            ghost = (self.pick(None, f"ghost-{r.getrandbits(20)}", "zb-only-user"), self.pick(None, "anon-nobody"))
            if ghost == (None, None):
                ghost = ("ghost-x", None)
            self.emit(workspace, "track", r.choice(names), ghost, r.uniform(0.1, 119) * 86_400, {"price": 5})
        for _ in range(len(profiles) // 5):  # userId of one profile, anonymousId of another: userId wins
            owner, other = r.choice(with_user), r.choice(with_anon)
            ids = (self.user_of[(workspace, owner)], r.choice(self.anons_of[(workspace, other)]))
            self.emit(workspace, "track", r.choice(names), ids, r.uniform(0.1, 119) * 86_400,
                      {"price": 5, "campaign_id": "spring_sale"})
        for profile in r.sample(with_anon, min(len(with_anon), 15)):  # a recent identify is not activity
            self.emit(workspace, "identify", None, (None, self.anons_of[(workspace, profile)][0]),
                      r.uniform(0.2, 3) * 86_400, {})

    # -- lists ---------------------------------------------------------------------------------
    def suppressions(self, workspace: str) -> None:
        r = self.rng
        rows = self.rows["suppressions"]
        seen: set[tuple[str, str]] = set()

        def add(channel: str, address: str) -> None:
            if (channel, address) not in seen:
                seen.add((channel, address))
                rows.append({"workspace_id": workspace, "channel": channel, "address": address})

        for ident in self.rows["identities"]:
            if ident["workspace_id"] == workspace and ident["kind"] in ("email", "phone") and r.random() < 0.2:
                add("email" if ident["kind"] == "email" else "sms", ident["value"])
        for device in self.rows["devices"]:
            token = device["push_token"]
            if device["workspace_id"] == workspace and token and r.random() < 0.2:
                # Now and then on the wrong channel, which suppresses nothing for this device.
                right = "web_push" if device["platform"] == "web" else "push"
                add(self.pick(right, right, right, "web_push" if right == "push" else "push"), token)
        add("email", "nobody@example.com")
        add("sms", "+4915999999999")


# What answers a message on each channel: (event, odds) per send, in the order they come.
ANSWERS: dict[str, tuple[tuple[str, float], ...]] = {
    "email": (("Email Delivered", 0.7), ("Email Opened", 0.45), ("Email Opened", 0.15), ("Email Link Clicked", 0.2)),
    "push": (("Push Notification Received", 0.6), ("Push Notification Tapped", 0.3)),
    "sms": (("SMS Delivered", 0.7), ("SMS Link Clicked", 0.2)),
}
# Sent messages mostly; the rest never reached the customer and never count among the last ones.
STATUSES = ("sent",) * 8 + ("failed", "skipped", "queued", "sending", "unknown")


def _sends(b: _Builder, workspace: str, profiles: list[str], seed: int) -> None:
    """Ledger rows of the workspace's customers, and engagement events that answer some of them.

    A second generator keeps the rest of the dataset as it was. Send keys repeat across the
    workspaces (for the profile ids both have), so a query that forgets the workspace on the
    sends or on the answering events counts another workspace's messages. Some answers carry
    the key of a message on another channel, some arrive under ids that map to nobody, and
    some messages share their sent time (the send key breaks the tie).
    """
    r = random.Random(f"{seed}-{workspace}")
    for profile_id in profiles:
        if r.random() < 0.2:
            continue  # never sent anything
        count = r.choice((1, 2, 3, 4, 5, 6, 8, 12))
        moment = NOW - timedelta(days=r.uniform(10, 100))
        for k in range(count):
            channel = r.choice(("email",) * 5 + ("push", "push", "sms"))
            status = r.choice(STATUSES)
            kind = r.choice(("campaign", "campaign", "campaign", "journey"))
            decided = b.at((NOW - moment).total_seconds())
            # Now and then two messages go out at the same instant.
            sent_at = decided + timedelta(seconds=r.choice((0, 5, 90)))
            if status != "sent" and r.random() < 0.7:
                sent_at = None  # the others keep a time, yet only the status says a message went out
            if sent_at is not None and k and r.random() < 0.1:
                sent_at = b.rows["sends"][-1]["sent_at"] or sent_at
            key = f"sk_{profile_id}_{k:02d}"
            b.rows["sends"].append({
                "workspace_id": workspace, "send_key": key, "profile_id": profile_id, "source_kind": kind,
                "campaign_id": r.choice(("spring_sale", "summer_sale", "winback")) if kind == "campaign" else None,
                "journey_id": "jrn_welcome" if kind == "journey" else None,
                "step": "step_1" if kind == "journey" else None, "variant": r.choice((None, "A", "B")),
                "channel": channel, "status": status,
                "reason": "" if status in ("sent", "queued", "sending") else r.choice(("provider_error", "expired")),
                "decided_at": decided, "sent_at": sent_at, "updated_at": sent_at or decided,
            })
            if status == "sent" or r.random() < 0.2:  # an answer to an unsent message must not count
                _answer(b, r, workspace, profile_id, key, channel, sent_at or decided)
            moment += timedelta(days=r.uniform(0.5, 6))
            if moment > NOW - timedelta(hours=2):
                break


def _answer(b: _Builder, r: random.Random, workspace: str, profile_id: str, key: str, channel: str,
            at: datetime) -> None:
    """Record the engagement events answering one message (and, now and then, a misdirected one)."""
    events = [name for name, odds in ANSWERS[channel] if r.random() < odds]
    if r.random() < 0.1:  # an event of another channel's action carrying this message's key
        events.append(r.choice(("Email Opened", "Push Notification Tapped", "Email Link Clicked")))
    for name in events:
        at += timedelta(minutes=r.uniform(1, 600))
        ids = b.ids(workspace, profile_id) if r.random() < 0.9 else ("ghost-reader", None)
        properties: dict[str, Any] = {"send_key": key, "channel": channel}
        if r.random() < 0.05:
            properties = {"send_key": {"id": key}}  # not a string: answers nothing
        b.emit(workspace, "track", name, ids, (NOW - at).total_seconds(), properties)


def build_dataset(seed: int = 7) -> Dataset:
    """Return the synthetic dataset: ~300 profiles in WORKSPACE, ~60 in OTHER_WORKSPACE."""
    b = _Builder(seed)
    # A few ws_b profiles reuse ws_a profile ids: a join that forgets the workspace leaks them.
    spaces = {WORKSPACE: [f"p{i:04d}" for i in range(300)],
              OTHER_WORKSPACE: [f"p{i:04d}" if i < 10 else f"q{i:04d}" for i in range(60)]}
    for workspace, profiles in spaces.items():
        for index, profile_id in enumerate(profiles):
            b.profile(workspace, index, profile_id)
        for profile_id in profiles:
            b.history(workspace, profile_id)
        b.oddities(workspace, profiles)
        b.suppressions(workspace)
    members = b.rows["members"]
    for profile_id in spaces[WORKSPACE]:
        for segment, odds in (("seg_vip", 0.3), ("seg_lapsed", 0.2)):
            if b.rng.random() < odds:
                members.append({"workspace_id": WORKSPACE, "segment_id": segment, "profile_id": profile_id})
    members.append({"workspace_id": WORKSPACE, "segment_id": "seg_vip", "profile_id": "p9999"})  # stale row
    vip_a = {m["profile_id"] for m in members if m["segment_id"] == "seg_vip"}
    for profile_id in spaces[OTHER_WORKSPACE]:
        if profile_id not in vip_a and b.rng.random() < 0.5:
            members.append({"workspace_id": OTHER_WORKSPACE, "segment_id": "seg_vip", "profile_id": profile_id})
    for workspace, profiles in spaces.items():
        _sends(b, workspace, profiles, seed)
    b.rows["sends"].append({  # a send of a profile the mart no longer has
        "workspace_id": WORKSPACE, "send_key": "sk_gone", "profile_id": "p9999", "source_kind": "campaign",
        "campaign_id": "spring_sale", "channel": "email", "status": "sent", "reason": "",
        "decided_at": NOW - timedelta(days=3), "sent_at": NOW - timedelta(days=3),
    })
    _know_from_events(b)
    return make_dataset(**b.rows)


def _know_from_events(b: _Builder) -> None:
    """Make first_seen (else created_at) no later than the profile's first event, so "known since"
    means the same whether an engine reads the mart's column or the events."""
    owner = {(i["workspace_id"], i["kind"], i["value"]): i["profile_id"] for i in b.rows["identities"]}
    first: dict[tuple[str, str], datetime] = {}
    for event in b.rows["events"]:
        ws = event["workspace_id"]
        profile = owner.get((ws, "user_id", event["user_id"])) or owner.get((ws, "anonymous_id", event["anonymous_id"]))
        if profile is not None:
            key = (ws, profile)
            first[key] = min(first.get(key, event["timestamp"]), event["timestamp"])
    for row in b.rows["profiles"]:
        earliest = first.get((row["workspace_id"], row["profile_id"]))
        if earliest is None or known_since(row["created_at"], row["computed"]) <= earliest:
            continue
        if isinstance(row["computed"].get("first_seen"), str):
            row["computed"]["first_seen"] = earliest.isoformat()
        else:
            row["created_at"] = earliest
