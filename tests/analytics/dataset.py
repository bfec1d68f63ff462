"""A deterministic, deliberately adversarial synthetic dataset for the analytics reports.

It has the shape of ``tests.segments.dataset.Dataset`` (the same tables and column conventions:
JSON columns hold dicts/lists, instants are tz-aware UTC, missing text is None), and the events
table carries two more columns the reports need:

- ``seq``: an integer, unique and increasing in arrival order (it orders events with equal
  timestamps; arrival is not timestamp order: a few events arrive late);
- ``source``: ``"api"``, or ``"segments"`` for the ``Segment Entered`` / ``Segment Exited`` events
  the platform writes (they are not activity and must vanish from every report).

The data keeps clear of the edges where sub-second rounding rather than the rules would decide:
no two events of one person lie within 1.5 s of a session timeout, a funnel window or a
session-length bucket edge apart (``EDGES_S``), whichever events a filter keeps.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from tests.segments.dataset import Dataset, frame, make_dataset

NOW = datetime(2026, 6, 15, 12, 0, 30, tzinfo=UTC)  # mid-minute on purpose (see the ``live`` report)
WORKSPACE = "ws_a"
OTHER_WORKSPACE = "ws_b"
HISTORY_DAYS = 125
# Seconds that are a session timeout (10, 30, 45, 60 min), a funnel window (30 min … 7 days) or
# a session-length bucket edge somewhere in the catalogue: no two events of a person are that far apart.
EDGES_S = (10, 30, 60, 180, 600, 1_800, 2_700, 3_600, 7_200, 86_400, 604_800)
MARGIN_S = 1.5
PLATFORM_SOURCE = "segments"

CATEGORIES = ("shoes", "bags", "jackets", "accessories", "Shoes")
SKUS = tuple(f"SKU-{k}" for k in range(1, 31))  # > 20 values: grouping by sku omits groups
DEVICES: tuple[dict[str, Any], ...] = (
    {"os": {"name": "iOS"}, "app": {"version": "5.10.1"}},
    {"os": {"name": "iOS"}, "app": {"version": "5.9"}},
    {"os": {"name": "Android"}, "app": {"version": "5.10.1"}},
    {"os": {"name": "Android"}, "app": {"version": "6.0"}},
    {"os": {"name": "Mac OS X"}},
    {"os": {"name": "Windows"}, "app": {"version": None}},
    {"app": {"version": "5.10"}},  # no os at all: the group null
    {},
)
PLATFORM = {"iOS": "ios", "Android": "android", "Mac OS X": "web", "Windows": "web"}
PLANS: tuple[Any, ...] = ("free", "free", "pro", "pro", "enterprise", "Pro", None, 2, True, "_missing")
PLACES: tuple[dict[str, Any], ...] = (
    {"country": "DE", "region": "Berlin", "postal_code": "10115"},
    {"country": "DE", "region": "berlin", "postal_code": 10115},  # region text differs; a number's text is equal
    {"country": "DE", "region": "Bavaria", "postal_code": "80331"},
    {"country": "DE", "region": "Bavaria"},
    {"country": "FR", "region": "Île-de-France", "postal_code": "75001"},
    {"country": "GB", "region": "England", "postal_code": "SW1A 1AA"},
    {"country": "US", "region": "California", "postal_code": "94103"},
    {"country": "US", "postal_code": "10001"},
    {"region": "Nowhere"},
    {"country": None, "region": None},
)
_MISSING = "_missing"


def events_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Return the events table: the segment dataset's columns plus ``seq`` (int64) and ``source`` (text)."""
    rows = list(rows)
    events = frame("events", rows)
    events["seq"] = pd.Series([int(row["seq"]) for row in rows], dtype="int64")
    events["source"] = pd.Series([row.get("source", "api") for row in rows], dtype=object)
    return events


def make_analytics_dataset(workspace_id: str = WORKSPACE, *, events: Iterable[dict[str, Any]] = (),
                           **tables: Iterable[dict[str, Any]]) -> Dataset:
    """Build a small hand-written dataset; events get ``seq`` in the order given unless they name one."""
    base = make_dataset(workspace_id, **tables)
    defaults = {"workspace_id": workspace_id, "type": "track", "event": None, "user_id": None,
                "anonymous_id": None, "properties": {}, "context": {}, "source": "api"}
    rows = [{**defaults, "seq": index + 1, **row} for index, row in enumerate(events)]
    return dataclasses.replace(base, events=events_frame(rows))


class _Builder:
    """Accumulates both workspaces' rows from one seeded random generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows: dict[str, list[dict[str, Any]]] = {"profiles": [], "identities": [], "members": []}
        self.events: list[dict[str, Any]] = []
        self.ids: dict[tuple[str, str], tuple[str | None, list[str]]] = {}
        self.times: dict[tuple[str, str], list[datetime]] = {}

    def pick(self, *options: Any) -> Any:
        return self.rng.choice(options)

    # -- profiles ---------------------------------------------------------------------------
    def profile(self, workspace: str, index: int, profile_id: str) -> None:
        r = self.rng
        traits: dict[str, Any] = {"name": f"Person {index}"}
        plan = self.pick(*PLANS)
        if plan != _MISSING:
            traits["plan"] = plan
        computed: dict[str, Any] = {}
        if r.random() < 0.9:
            computed["location"] = dict(self.pick(*PLACES)) if r.random() < 0.9 else None
        self.rows["profiles"].append({"workspace_id": workspace, "profile_id": profile_id, "traits": traits,
                                      "computed": computed, "created_at": NOW - timedelta(days=400)})
        user = f"u{index:04d}" if r.random() < 0.85 else None  # the same texts in both workspaces
        anons = [f"anon{index:04d}{k}" for k in range(self.pick(0, 1, 1, 2))]
        if user is None and not anons:
            anons = [f"anon{index:04d}0"]
        self.ids[(workspace, profile_id)] = (user, anons)
        ident = self.rows["identities"]
        if user:
            ident.append({"workspace_id": workspace, "kind": "user_id", "value": user, "profile_id": profile_id})
        ident += [{"workspace_id": workspace, "kind": "anonymous_id", "value": a, "profile_id": profile_id}
                  for a in anons]

    def arrive_as(self, workspace: str, profile_id: str) -> tuple[str | None, str | None]:
        """Return (user_id, anonymous_id) for an event of the profile, in one of the ways it may arrive."""
        user, anons = self.ids[(workspace, profile_id)]
        anon = self.rng.choice(anons) if anons else None
        mode = self.rng.random()
        if user and (mode < 0.65 or not anon):
            return user, anon if mode < 0.3 else None
        if mode < 0.9:
            return None, anon
        return f"ghost-{self.rng.getrandbits(16)}", anon  # an unknown userId: the anonymousId decides

    # -- placing events ---------------------------------------------------------------------
    def _clear(self, key: tuple[str, str], moment: datetime) -> bool:
        """Return whether no event of the person lies within MARGIN_S of an edge from ``moment``."""
        times = self.times.setdefault(key, [])
        margin = timedelta(seconds=MARGIN_S)
        for edge in EDGES_S:
            for centre in (moment - timedelta(seconds=edge), moment + timedelta(seconds=edge)):
                low = bisect.bisect_right(times, centre - margin)
                if low < len(times) and times[low] < centre + margin:
                    return False
        return True

    def emit(self, workspace: str, owner: str | None, kind: str, name: str | None, at: datetime,
             properties: dict[str, Any] | None = None, context: dict[str, Any] | None = None, *,
             ids: tuple[str | None, str | None] | None = None, source: str = "api") -> datetime | None:
        """Add an event (moved by a few seconds when it would sit on an edge); return its time or None."""
        oldest = NOW - timedelta(days=HISTORY_DAYS)
        if owner is not None:
            key = (workspace, owner)
            for step in range(40):
                moved = at + timedelta(seconds=3.1 * ((step + 1) // 2) * (1 if step % 2 else -1))
                if oldest <= moved <= NOW and self._clear(key, moved):
                    at = moved
                    break
            else:
                return None
            bisect.insort(self.times[key], at)
            ids = ids or self.arrive_as(workspace, owner)
        if at > NOW or at < oldest or ids is None:
            return None
        self.events.append({
            "workspace_id": workspace, "type": kind, "event": name, "user_id": ids[0], "anonymous_id": ids[1],
            "timestamp": at, "properties": copy.deepcopy(properties or {}), "context": copy.deepcopy(context or {}),
            "source": source,
        })
        return at

    def gap(self) -> timedelta:
        """A pause between two events of one session (never near 30 minutes)."""
        low, high = self.pick((0, 0), (1, 9), (11, 28), (31, 58), (62, 170), (190, 590), (190, 590),
                              (610, 1500), (1500, 1790))
        return timedelta(microseconds=self.rng.randint(low * 1_000_000, high * 1_000_000))

    # -- sessions ---------------------------------------------------------------------------
    def session(self, workspace: str, owner: str, start: datetime, device: dict[str, Any]) -> datetime:
        """Emit one visit starting at ``start``; return the time of its last event."""
        r = self.rng
        context: dict[str, Any] = {k: dict(v) for k, v in device.items()}
        campaign = self.pick("newsletter", "google", "facebook", "Google", None, _MISSING, _MISSING)
        if campaign != _MISSING:
            context["campaign"] = {"source": campaign}
        if r.random() < 0.3:
            context["location"] = {"country": self.pick("DE", "FR", "US")}
        platform = PLATFORM.get(device.get("os", {}).get("name", ""))
        product = {"sku": self.pick(*SKUS), "category": self.pick(*CATEGORIES),
                   "price": self.pick(19.99, 49.5, 120, "19.99", 5), "currency": self.pick("EUR", "EUR", "USD", None)}
        if platform and r.random() < 0.7:
            product["platform"] = platform
        visit = _Visit(self, workspace, owner, start, context)
        style = self.pick("browse", "browse", "funnel", "funnel", "funnel", "single", "app", "search")
        if r.random() < 0.15:
            visit.put("identify", None)  # not activity: neither an event nor part of a session
        if style == "single":
            visit.put(*self.pick(("track", "Signed In"), ("page", "Home"), ("track", "App Opened")))
        elif style == "browse":
            visit.put("page", self.pick("Home", "Pricing"), {"path": "/"})
            for _ in range(r.randint(1, 3)):
                visit.put("track", "Product Viewed", product)
            if r.random() < 0.4:
                visit.put("page", "Pricing", {"path": "/pricing"})
            if r.random() < 0.3:
                visit.put("screen", "Cart")
        elif style == "app":
            visit.put("track", "App Opened", {"platform": platform} if platform else {})
            for _ in range(r.randint(0, 4)):
                visit.put("screen", self.pick("Home", "Cart", "Settings", "Product"))
        elif style == "search":
            visit.put("track", "Product Searched", {"query": self.pick("shoes", "Bag", "jacket")})
            visit.put("track", "Product Viewed", product)
        else:
            self.funnel(visit, product)
        return visit.last

    def funnel(self, visit: _Visit, product: dict[str, Any]) -> None:
        """Product Viewed → Product Added → Checkout Started → Order Completed, with the usual mess."""
        r = self.rng
        for _ in range(self.pick(1, 1, 1, 2, 3)):  # repeated step-1 events
            visit.put("track", "Product Viewed", product)
        if r.random() < 0.25:
            return
        added = {**product, "quantity": self.pick(1, 2, 3, "2")}
        checkout = {"value": product["price"], "currency": product["currency"]}
        if r.random() < 0.15:  # out of order: checkout before the cart
            visit.put("track", "Checkout Started", checkout)
            visit.put("track", "Product Added", added)
        else:
            visit.put("track", "Product Added", added)
            if r.random() < 0.3:
                return
            visit.put("track", "Checkout Started", checkout)
        if r.random() < 0.3:
            return
        categories = [self.pick(*CATEGORIES, product["category"], None, _MISSING)
                      for _ in range(self.pick(1, 2, 2, 3, 4))]  # duplicates within one order happen
        products: Any = [{"sku": self.pick(*SKUS)} | ({} if c == _MISSING else {"category": c}) for c in categories]
        if r.random() < 0.04:
            products = self.pick("n/a", None, {"category": "shoes"})  # not a list: no categories
        order: dict[str, Any] = {"order_id": f"o{r.getrandbits(32):08x}", "currency": self.pick("EUR", "EUR", "USD"),
                                 "products": products}
        revenue = self.pick(49.5, 120, 19.99, 250.25, 7, 99.9, "120.50", None, True, _MISSING)
        if revenue != _MISSING:
            order["revenue"] = revenue
        later = self.pick(0, 0, 0, 1, 2)
        if later:  # completed in a later visit: beyond a short window, sometimes beyond a day
            visit.wait(timedelta(hours=r.uniform(1.2, 20) if later == 1 else r.uniform(26, 150)))
        visit.put("track", self.pick(*["Order Completed"] * 12, "order completed"), order)

    def history(self, workspace: str, owner: str) -> None:
        """Emit a person's visits, from a first one up to 125 days back until recently."""
        r = self.rng
        devices = r.sample(DEVICES, self.pick(1, 1, 2, 3))
        first = NOW - timedelta(days=r.uniform(0.3, HISTORY_DAYS - 1), microseconds=r.randint(0, 10**6))
        span = (NOW - timedelta(minutes=20) - first).total_seconds()
        later = [first + timedelta(seconds=span * r.random() ** 0.7)
                 for _ in range(self.pick(0, 1, 3, 5, 8, 12, 16, 24, 32, 44, 60))]
        for start in sorted([first, *later]):
            end = self.session(workspace, owner, start, self.pick(*devices))
            if r.random() < 0.3:  # a follow-up visit just over (or well over) the timeout
                pause = self.pick(r.uniform(30.7, 34), r.uniform(40, 90), r.uniform(120, 600))
                self.session(workspace, owner, end + timedelta(minutes=pause), self.pick(*devices))


class _Visit:
    """One visit's clock: each event follows the previous one after a random pause."""

    def __init__(self, builder: _Builder, workspace: str, owner: str, start: datetime,
                 context: dict[str, Any]) -> None:
        self.b, self.workspace, self.owner, self.context = builder, workspace, owner, context
        self.t = self.last = start

    def put(self, kind: str, name: str | None, properties: dict[str, Any] | None = None) -> None:
        placed = self.b.emit(self.workspace, self.owner, kind, name, self.t, properties, self.context)
        if placed is not None:
            self.t = self.last = placed
        self.t += self.b.gap()

    def wait(self, pause: timedelta) -> None:
        self.t += pause


def _oddities(b: _Builder, workspace: str, profiles: list[str]) -> None:
    """Events whose ownership or kind is the point, and the last five minutes for ``live``."""
    r = b.rng
    active = [p for p in profiles if b.times.get((workspace, p))]
    with_user = [p for p in active if b.ids[(workspace, p)][0]]
    with_anon = [p for p in active if b.ids[(workspace, p)][1]]
    names = ("Product Viewed", "Order Completed", "Signed In", "App Opened")
    for _ in range(len(profiles)):  # nobody's: unknown ids, the other workspace's user ids
        ids = b.pick(("ghost-1", None), (None, "anon-nobody"), ("ghost-2", "anon-nobody"), ("bz0001", None))
        b.emit(workspace, None, "track", r.choice(names), NOW - timedelta(days=r.uniform(0.01, 119)),
               {"revenue": 10, "products": [{"category": "shoes"}, {"category": "bags"}]},
               {"os": {"name": "iOS"}}, ids=ids)
    for _ in range(len(profiles) // 5):  # userId of one profile, anonymousId of another: userId wins
        owner, other = r.choice(with_user), r.choice(with_anon)
        ids = (b.ids[(workspace, owner)][0], r.choice(b.ids[(workspace, other)][1]))
        b.emit(workspace, owner, "track", r.choice(names), NOW - timedelta(days=r.uniform(0.01, 119)),
               {"revenue": 15.5}, {"os": {"name": "Android"}}, ids=ids)
    for profile in r.sample(active, len(active) // 4):  # the platform's own events: never activity
        first = b.times[(workspace, profile)][0]
        for moment in (first - timedelta(hours=r.uniform(1, 30)), first + timedelta(seconds=r.uniform(0, 3)),
                       NOW - timedelta(days=r.uniform(0, 60)), NOW - timedelta(seconds=r.uniform(5, 200))):
            if r.random() < 0.6:
                b.emit(workspace, profile, "track", b.pick("Segment Entered", "Segment Exited"), moment,
                       {"segment_id": "seg_vip"}, {"os": {"name": "iOS"}}, source=PLATFORM_SOURCE)
    for profile in r.sample(active, min(len(active), 14)):  # the last few minutes (live), some just before
        for _ in range(r.randint(1, 5)):
            b.emit(workspace, profile, "track", r.choice(names), NOW - timedelta(seconds=r.uniform(0, 350)),
                   {"revenue": 5}, {"os": {"name": "iOS"}})
    only_identify = [p for p in profiles if not b.times.get((workspace, p))][:3]
    for profile in only_identify:  # known, but never active
        b.emit(workspace, profile, "identify", None, NOW - timedelta(days=r.uniform(1, 50)))


def _sequence(b: _Builder) -> list[dict[str, Any]]:
    """Give every event a ``seq`` in arrival order: mostly shortly after its time, a few much later."""
    r = b.rng
    arrivals = []
    for event in b.events:
        delay = r.uniform(0, 2) if r.random() < 0.97 else r.uniform(3_600, 3 * 86_400)
        arrivals.append((event["timestamp"] + timedelta(seconds=delay), r.random(), event))
    arrivals.sort(key=lambda item: (item[0], item[1]))
    return [{**event, "seq": 1000 + 3 * n} for n, (_, _, event) in enumerate(arrivals)]


def build_dataset(seed: int = 11) -> Dataset:
    """Return the synthetic dataset: 200 profiles in WORKSPACE, 40 in OTHER_WORKSPACE."""
    b = _Builder(seed)
    # ws_b reuses ten ws_a profile ids, and every user id and anonymous id text: joins that forget
    # the workspace leak them.
    spaces = {WORKSPACE: [f"p{i:04d}" for i in range(200)],
              OTHER_WORKSPACE: [f"p{i:04d}" if i < 10 else f"q{i:04d}" for i in range(40)]}
    for workspace, profiles in spaces.items():
        for index, profile_id in enumerate(profiles):
            b.profile(workspace, index, profile_id)
        for profile_id in profiles:
            if b.rng.random() < 0.88:
                b.history(workspace, profile_id)
        _oddities(b, workspace, profiles)
    b.rows["identities"].append({"workspace_id": OTHER_WORKSPACE, "kind": "user_id", "value": "bz0001",
                                 "profile_id": "q0011"})
    members = b.rows["members"]
    for profile_id in spaces[WORKSPACE]:
        for segment, odds in (("seg_vip", 0.3), ("seg_lapsed", 0.2)):
            if b.rng.random() < odds:
                members.append({"workspace_id": WORKSPACE, "segment_id": segment, "profile_id": profile_id})
    members.append({"workspace_id": WORKSPACE, "segment_id": "seg_vip", "profile_id": "p9999"})  # stale row
    vip_a = {m["profile_id"] for m in members if m["segment_id"] == "seg_vip"}
    for profile_id in spaces[OTHER_WORKSPACE]:  # the other workspace's members must not make ws_a members
        if profile_id not in vip_a:
            members.append({"workspace_id": OTHER_WORKSPACE, "segment_id": "seg_vip", "profile_id": profile_id})
    base = make_dataset(WORKSPACE, **b.rows)
    return dataclasses.replace(base, events=events_frame(_sequence(b)))
