"""Generate a deterministic stream of Segment messages for the demo fashion shop."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeAlias

from loopline.demo.catalog import EMAIL_CAMPAIGNS, PUSH_CAMPAIGNS, UTM_CAMPAIGNS, WEB_ORIGIN
from loopline.demo.customers import Customer, Device, make_customer, network_context
from loopline.demo.session import ShopActivity, Visit
from loopline.demo.window import DAY_MS, HOUR_MS, MINUTE_MS, Window

BATCH_SIZE = 500
_SESSION, _EMAIL, _PUSH = 0, 1, 2
_NEWSLETTER_SUBJECTS = (
    "The Weekly Edit: what to wear now",
    "The Weekly Edit: new arrivals",
    "The Weekly Edit: our stylists' picks",
    "The Weekly Edit: back in stock",
)
_CART_REMINDER = ("cmp-push-cart", "abandoned_cart_reminder", "You left something in your bag")
_LANDINGS = {
    "/sale": ("Sale", "/sale"),
    "/loyalty": ("Loyalty", "/loyalty"),
    "/new-in": ("New In", "/new-in"),
    "/cart": ("Cart", "/cart"),
}
_PUSH_PATHS = {
    "mid_season_sale": "/sale",
    "weekend_flash_sale": "/sale",
    "final_reductions": "/sale",
    "denim_week": "/c/jeans",
    "sneaker_drop": "/c/sneakers",
    "double_points_week": "/loyalty",
    "abandoned_cart_reminder": "/cart",
}

# (send instant, campaign id, campaign name, subject, landing path, is a sale)
_Email: TypeAlias = tuple[int, str, str, str, str, bool]
# (session start, device, UTM campaign, landing page)
_FollowUp: TypeAlias = tuple[int, Device, dict[str, str], tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class DemoPlan:
    """Size, length, seed and end instant of a demo data set."""

    customers: int = 5000
    days: int = 90
    seed: int = 7
    end: datetime

    def __post_init__(self) -> None:
        if self.end.tzinfo is None or self.end.utcoffset() is None:
            raise ValueError("end must be an aware datetime")
        if self.customers < 0:
            raise ValueError("customers must not be negative")
        if self.days < 1:
            raise ValueError("days must be at least 1")


def generate_messages(plan: DemoPlan) -> Iterator[list[dict[str, Any]]]:
    """Yield batches of at most 500 Segment messages, customer by customer."""
    simulation = _Simulation(plan)
    batch: list[dict[str, Any]] = []
    for number in range(1, plan.customers + 1):
        for message in simulation.customer(number):
            batch.append(message)
            if len(batch) >= BATCH_SIZE:
                yield batch
                batch = []
    if batch:
        yield batch


def estimate_messages(plan: DemoPlan) -> int:
    """Return a cheap, slightly generous estimate of how many messages a plan yields."""
    # Calibrated against generated output for windows of 1 to 365 days:
    # campaigns and first visits give a per-customer floor, browsing grows with
    # the window; the margin keeps a progress bar from overshooting its total.
    return int(plan.customers * (12.0 + 0.5 * plan.days) * 1.12)


def _landing(path: str) -> tuple[str, str]:
    if path.startswith("/c/"):
        return "Category", path
    return _LANDINGS.get(path, ("Home", "/"))


class _Simulation(ShopActivity):
    """Customer lifecycles: when sessions happen and how campaigns reach people."""

    def __init__(self, plan: DemoPlan) -> None:
        window = Window(plan.end, plan.days)
        # A seeded generator is the point here: the same plan must give the same data.
        super().__init__(random.Random(plan.seed), window)  # noqa: S311
        self.end_year = plan.end.year
        self.prefix = f"demo-{plan.seed}-"
        self.counter = 0
        self.utm_weights = [u[4] for u in UTM_CAMPAIGNS]
        self.emails: list[_Email] = []
        week = 0
        for day in range(window.first_day, window.first_day + window.day_count):
            send = day * DAY_MS + 7 * HOUR_MS
            # The newsletter goes out on Thursday mornings (epoch day 0 was a Thursday).
            if day % 7 == 0 and window.start_ms <= send < window.end_ms:
                week += 1
                subject = _NEWSLETTER_SUBJECTS[week % len(_NEWSLETTER_SUBJECTS)]
                self.emails.append(
                    (send, f"cmp-em-weekly-{week:02d}", "weekly_edit", subject, "/new-in", False)
                )
        for cid, name, subject, path, at, sale in EMAIL_CAMPAIGNS:
            send = window.at(at) // DAY_MS * DAY_MS + 8 * HOUR_MS
            if window.start_ms <= send < window.end_ms:
                self.emails.append((send, cid, name, subject, path, sale))
        self.pushes = [
            (window.at(at) // DAY_MS * DAY_MS + 17 * HOUR_MS, (cid, name, title))
            for cid, name, title, at in PUSH_CAMPAIGNS
        ]

    def customer(self, number: int) -> list[dict[str, Any]]:
        """Simulate one customer over the window and return their messages in time order."""
        c = make_customer(self.rng, number, self.end_year)
        known, first, stop = self._lifecycle(c)
        heap = self._sessions(c, known, first, stop)
        if c.persona.identifies:
            for email in self.emails:
                heap.append((email[0], len(heap), _EMAIL, email))
        for device in c.devices:
            if device.push:
                for at, push in self.pushes:
                    heap.append((at + self.rng.randrange(90_000), len(heap), _PUSH, (device, push)))
        self._play(c, heap)
        return self._finish(c)

    def _lifecycle(self, c: Customer) -> tuple[bool, int, int]:
        """Decide whether the customer predates the window, when they start and stop."""
        rng, window, persona = self.rng, self.window, c.persona
        known = rng.random() < persona.known_before
        if known:
            # An existing customer: account and app install predate the window.
            first = window.start_ms
            c.identified = True
            created = first - rng.randint(1, 900) * DAY_MS - rng.randrange(DAY_MS)
            c.traits["createdAt"] = window.iso(created)
            latest = self.release_at(first)
            c.devices[0].identified = c.devices[0].reidentify = True
            for device in c.devices:
                if device.platform != "web":
                    device.installed = True
                    device.release = max(0, latest - int(rng.random() < 0.25))
        elif persona.name in {"new", "anonymous_visitor"}:
            first = window.at(rng.uniform(0.0, 0.95))
        else:
            first = window.at(rng.uniform(0.0, 0.3))
        stop = window.end_ms
        if persona.name == "churned":
            stop = window.at(rng.uniform(0.12, 0.45))
            for device in c.devices:
                if device.platform != "web" and rng.random() < 0.5:
                    device.gone_ms = stop + rng.randint(1, 20) * DAY_MS
        elif persona.name == "anonymous_visitor":
            stop = min(stop, first + 14 * DAY_MS)
        return known, first, stop

    def _sessions(self, c: Customer, known: bool, first: int,
                  stop: int) -> list[tuple[int, int, int, Any]]:
        """Schedule organic sessions between ``first`` and ``stop``."""
        rng, persona = self.rng, c.persona
        heap: list[tuple[int, int, int, Any]] = []
        if not known:
            # The first visit or install; paid acquisition brings many of them.
            heap.append((first, 0, _SESSION, (c.devices[0], self._utm(0.45), None)))
        if persona.name == "anonymous_visitor":
            count = rng.randint(0, 2)
        else:
            days = max(0, stop - first) / DAY_MS
            # Log-normal engagement: a few customers are far more active than most.
            count = int(persona.sessions_per_day * days * rng.lognormvariate(0, 0.5) + rng.random())
        for _ in range(count):
            at = self.window.sample(rng, c.country.code, first + MINUTE_MS, stop)
            if at is None:
                continue
            device = c.devices[-1] if len(c.devices) > 1 and rng.random() < 0.25 else c.devices[0]
            campaign = self._utm(0.3 if device.platform == "web" else 0.03)
            heap.append((at, len(heap), _SESSION, (device, campaign, None)))
        return heap

    def _play(self, c: Customer, heap: list[tuple[int, int, int, Any]]) -> None:
        # Episodes run in time order so identity, cart and app version are
        # always as the person would have them at that moment.
        rng, end = self.rng, self.window.end_ms
        seq = len(heap)
        heapq.heapify(heap)
        while heap:
            at, _, kind, payload = heapq.heappop(heap)
            if at > end:
                break
            follow_up: _FollowUp | None = None
            if kind == _SESSION:
                device, campaign, landing = payload
                if at < c.busy_until:
                    # Sessions never overlap: the person comes back a little later.
                    later = c.busy_until + rng.randint(2, 45) * MINUTE_MS
                    heapq.heappush(heap, (later, seq, _SESSION, payload))
                    seq += 1
                    continue
                c.busy_until = self.session(c, device, at, campaign, landing)
                if c.cart and not c.cart_reminded and device.push and device.identified:
                    c.cart_reminded = True
                    remind = c.busy_until + rng.randint(2, 5) * HOUR_MS
                    heapq.heappush(heap, (remind, seq, _PUSH, (device, _CART_REMINDER)))
                    seq += 1
            elif kind == _EMAIL:
                follow_up = self._email(c, payload)
            else:
                device, campaign = payload
                follow_up = self._push(c, device, at, campaign)
            if follow_up is not None:
                heapq.heappush(heap, (follow_up[0], seq, _SESSION, follow_up[1:]))
                seq += 1

    def _finish(self, c: Customer) -> list[dict[str, Any]]:
        start, end, iso = self.window.start_ms, self.window.end_ms, self.window.iso
        events = [e for e in c.events if start <= e[0] <= end]
        # Stable sort: events were appended in sequence order, so ties keep it.
        events.sort(key=itemgetter(0))
        messages: list[dict[str, Any]] = []
        for at, _, message in events:
            self.counter += 1
            message["messageId"] = self.prefix + str(self.counter)
            message["timestamp"] = iso(at)
            messages.append(message)
        return messages

    def _utm(self, probability: float) -> dict[str, str] | None:
        if self.rng.random() >= probability:
            return None
        source, medium, name, content, _ = self.rng.choices(UTM_CAMPAIGNS, self.utm_weights)[0]
        return {"source": source, "medium": medium, "name": name, "content": content}

    def _email(self, c: Customer, email: _Email) -> _FollowUp | None:
        rng, persona = self.rng, c.persona
        send, cid, name, subject, path, sale = email
        if not (c.identified and c.email_opt_in):
            return None
        open_rate = persona.email_open * (1.3 if sale and persona.name == "bargain_hunter" else 1.0)
        if rng.random() >= open_rate:
            return None
        # Most opens come within hours of the send, a long tail over days.
        opened = send + min(int(rng.expovariate(1 / (3 * HOUR_MS))), 4 * DAY_MS)
        properties = {"campaign_id": cid, "campaign_name": name,
                      "email_id": f"em-{cid}-{c.number:05d}", "email_subject": subject}
        self.server(c, opened, "Email Opened", properties)
        if rng.random() >= persona.email_click:
            return None
        clicked = opened + rng.randint(5_000, 120_000)
        link_url = f"{WEB_ORIGIN}{path}?utm_source=newsletter&utm_medium=email&utm_campaign={name}"
        self.server(c, clicked, "Email Link Clicked",
                    {**properties, "link_id": f"{cid}-hero", "link_url": link_url})
        apps = [d for d in c.devices if d.installed and d.gone_ms is None and d.platform != "web"]
        webs = [d for d in c.devices if d.platform == "web"]
        # Universal links open the app when it is installed.
        device = apps[0] if apps and (not webs or rng.random() < 0.6) else webs[0] if webs else None
        if device is None:
            return None
        campaign = {"source": "newsletter", "medium": "email", "name": name, "content": cid}
        return clicked + rng.randint(1_500, 6_000), device, campaign, _landing(path)

    def _push(self, c: Customer, d: Device, at: int,
              campaign: tuple[str, str, str]) -> _FollowUp | None:
        if not d.installed or (d.gone_ms is not None and at >= d.gone_ms):
            return None
        rng = self.rng
        cid, name, title = campaign
        context = dict(d.static)
        context["app"] = self.app_ctx[d.release]
        context["network"], context["ip"] = network_context(rng, d)
        v = Visit(d, context, at)
        properties = {"campaign_id": cid, "campaign_name": name, "title": title}
        self.track(c, v, "Push Notification Received", properties)
        tap_rate = c.persona.push_tap * (2.5 if cid == _CART_REMINDER[0] else 1.0)
        if rng.random() >= tap_rate:
            return None
        v.at += rng.randint(10_000, 2 * HOUR_MS)
        self.track(c, v, "Push Notification Tapped", dict(properties))
        utm = {"source": "loopline", "medium": "push", "name": name, "content": cid}
        return v.at + rng.randint(400, 2_500), d, utm, _landing(_PUSH_PATHS.get(name, "/"))
