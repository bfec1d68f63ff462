"""The demo data generator: determinism, volume, Segment validity and business consistency."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import phonenumbers
import pytest

from loopline.demo.generator import BATCH_SIZE, DemoPlan, estimate_messages, generate_messages
from loopline.demo.geo import COUNTRIES
from loopline.demo.window import Window
from loopline.domain.events import IngestLimits, parse_message

END = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
MAX_BYTES = 32 * 1024
SERVER_EVENTS = {
    "Order Cancelled", "Product Returned", "Order Refunded", "Email Opened", "Email Link Clicked",
}


def run(plan: DemoPlan) -> list[dict[str, Any]]:
    return [message for batch in generate_messages(plan) for message in batch]


@pytest.fixture(scope="module")
def plan() -> DemoPlan:
    return DemoPlan(customers=60, days=90, seed=11, end=END)


@pytest.fixture(scope="module")
def messages(plan: DemoPlan) -> list[dict[str, Any]]:
    return run(plan)


@pytest.fixture(scope="module")
def larger() -> list[dict[str, Any]]:
    # Enough customers for rates (conversion, cancellations, push opt-in) to be meaningful.
    return run(DemoPlan(customers=400, days=90, seed=3, end=END))


def when(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(message["timestamp"])


def by_event(messages: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("event") == event]


def test_same_plan_gives_identical_output(plan, messages):
    assert run(plan) == messages


def test_other_seed_gives_other_output(plan, messages):
    other = run(DemoPlan(customers=plan.customers, days=plan.days, seed=plan.seed + 1, end=END))
    assert other != messages


def test_batches_are_bounded_and_non_empty():
    batches = list(generate_messages(DemoPlan(customers=40, end=END)))
    assert len(batches) > 1
    assert all(0 < len(batch) <= BATCH_SIZE for batch in batches)
    assert all(len(batch) == BATCH_SIZE for batch in batches[:-1])


def test_zero_customers_yield_nothing():
    assert list(generate_messages(DemoPlan(customers=0, end=END))) == []


def test_plan_requires_an_aware_end():
    with pytest.raises(ValueError, match="aware"):
        DemoPlan(end=datetime(2025, 6, 30))
    with pytest.raises(ValueError, match="days"):
        DemoPlan(days=0, end=END)


def test_volume_scales_with_customers_and_days(messages):
    double = run(DemoPlan(customers=120, days=90, seed=11, end=END))
    shorter = run(DemoPlan(customers=60, days=30, seed=11, end=END))
    assert 1.5 < len(double) / len(messages) < 2.6
    assert len(shorter) < 0.6 * len(messages)
    # Default-sized per-customer volume: 200k+ messages for 5,000 customers.
    assert len(double) / 120 > 40


def test_estimate_is_close_to_actual_volume():
    plan = DemoPlan(customers=300, days=60, seed=5, end=END)
    actual = len(run(plan))
    assert 0.8 * actual <= estimate_messages(plan) <= 1.6 * actual


def test_message_ids_are_unique_and_deterministic(messages):
    ids = [m["messageId"] for m in messages]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("demo-11-") for i in ids)


def test_every_message_has_the_fields_its_type_needs(messages):
    for m in messages:
        assert m["type"] in {"track", "page", "screen", "identify"}
        assert m.get("userId") or m.get("anonymousId")
        assert isinstance(m["context"]["library"]["name"], str)
        if m["type"] == "track":
            assert isinstance(m["event"], str)
            assert m["event"].strip()
            assert isinstance(m["properties"], dict)
        elif m["type"] in {"page", "screen"}:
            assert m["name"]
            assert m["properties"]["name"] == m["name"]
        else:
            assert m["userId"].startswith("u-")
            assert m["traits"]


def test_device_messages_carry_a_realistic_context(messages):
    for m in messages:
        context = m["context"]
        if m.get("event") in SERVER_EVENTS:
            assert "userId" in m
            assert "anonymousId" not in m
            continue
        assert {"locale", "timezone", "ip", "location", "screen"} <= context.keys()
        assert {"country", "region", "city", "latitude", "longitude"} <= context["location"].keys()
        if "userAgent" in context:
            assert context["userAgent"].startswith("Mozilla/5.0")
            assert "device" not in context
            if m["type"] == "page":
                assert context["page"]["url"].startswith("https://")
        else:
            device = context["device"]
            assert device["type"] in {"ios", "android"}
            assert {"id", "manufacturer", "model", "advertisingId"} <= device.keys()
            assert context["os"]["name"] == ("iOS" if device["type"] == "ios" else "Android")
            assert {"name", "version", "build"} <= context["app"].keys()
            assert {"wifi", "carrier"} <= context["network"].keys()


def test_messages_share_no_mutable_objects(messages):
    # Consumers may enrich or redact messages in place; that must not leak
    # into other messages.
    seen: set[int] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict | list):
            assert id(value) not in seen
            seen.add(id(value))
            for item in value.values() if isinstance(value, dict) else value:
                walk(item)

    for m in messages:
        walk(m)


def test_timestamps_are_in_range_and_chronological_per_person(plan, messages):
    start = plan.end - timedelta(days=plan.days)
    last: dict[str, datetime] = {}
    for m in messages:
        assert m["timestamp"].endswith("Z")
        moment = when(m)
        assert start <= moment <= plan.end
        for key in (m.get("userId"), m.get("anonymousId")):
            if key:
                assert moment >= last.get(key, moment)
                last[key] = moment


def test_messages_are_portable_json_within_the_size_limit(messages):
    def finite(value: Any) -> bool:
        if isinstance(value, float):
            return math.isfinite(value)
        if isinstance(value, dict):
            return all(finite(v) for v in value.values())
        if isinstance(value, list):
            return all(finite(v) for v in value)
        return True

    for m in messages:
        assert len(orjson.dumps(m)) <= MAX_BYTES
        assert finite(m)


def test_messages_pass_ingest_validation(messages):
    received = END + timedelta(minutes=5)
    for m in messages:
        record = parse_message(
            m, workspace_id="ws", default_type=None, batch_sent_at=None, batch_context=None,
            received_at=received, new_message_id=lambda: "unused", limits=IngestLimits(),
        )
        assert record.timestamp_flag is None
        assert record.message_id == m["messageId"]


def test_installs_are_anonymous_and_identify_links_the_device(larger):
    installs = by_event(larger, "Application Installed")
    assert installs
    assert all("userId" not in m for m in installs)
    linked = {m["anonymousId"] for m in larger if m["type"] == "identify"}
    installed = {m["anonymousId"] for m in installs}
    assert installed & linked
    # Some visitors never identify.
    assert installed - linked


def test_identify_traits_are_well_formed(larger):
    full = [m["traits"] for m in larger if m["type"] == "identify" and "email" in m["traits"]]
    assert full
    for traits in full:
        assert traits["email"].count("@") == 1
        datetime.strptime(traits["birthday"], "%Y-%m-%d")
        assert traits["createdAt"].endswith("Z")
        assert traits["loyalty_tier"] in {"bronze", "silver", "gold", "platinum"}
        if "phone" in traits:
            assert phonenumbers.is_valid_number(phonenumbers.parse(traits["phone"]))
    with_phone = sum("phone" in t for t in full) / len(full)
    assert 0.45 < with_phone < 0.75


def test_cancellations_and_returns_refer_to_earlier_orders_of_the_same_user(larger):
    orders: dict[str, dict[str, Any]] = {}
    for m in larger:
        event = m.get("event")
        if event == "Order Completed":
            props = m["properties"]
            assert props["order_id"] not in orders
            assert props["currency"] == "EUR"
            assert props["products"]
            assert props["total"] == round(props["subtotal"] - props["discount"] + props["shipping"], 2)
            assert abs(props["revenue"] + props["tax"] - (props["subtotal"] - props["discount"])) < 0.02
            for line in props["products"]:
                assert {"product_id", "sku", "name", "category", "price", "quantity"} <= line.keys()
            orders[props["order_id"]] = {**props, "userId": m["userId"], "at": when(m)}
        elif event in {"Order Cancelled", "Product Returned", "Order Refunded"}:
            order = orders[m["properties"]["order_id"]]
            assert order["userId"] == m["userId"]
            assert when(m) > order["at"]
            if event == "Order Cancelled":
                assert m["properties"]["total"] == order["total"]
            elif event == "Order Refunded":
                assert 0 < m["properties"]["total"] <= order["total"]
            else:
                ids = {line["product_id"] for line in order["products"]}
                assert m["properties"]["product_id"] in ids
    cancelled = {m["properties"]["order_id"] for m in by_event(larger, "Order Cancelled")}
    returned = {m["properties"]["order_id"] for m in by_event(larger, "Product Returned")}
    assert not cancelled & returned


def test_funnel_and_rates_look_like_a_real_shop(larger):
    counts = Counter(m.get("event") for m in larger)
    views, adds, orders = counts["Product Viewed"], counts["Product Added"], counts["Order Completed"]
    assert views > 5 * adds > 5 * orders > 0
    sessions = counts["Application Opened"] + sum(
        1 for m in larger if m["type"] == "page" and not m["properties"]["referrer"].startswith(
            "https://www.ateliernord.example")
    )
    assert 0.02 < orders / sessions < 0.1
    assert counts["Order Cancelled"] <= 0.12 * orders
    assert 0.04 * orders <= counts["Order Refunded"] <= 0.22 * orders
    for event in ("Email Opened", "Email Link Clicked", "Push Notification Received",
                  "Push Notification Tapped", "Application Updated", "Products Searched",
                  "Cart Viewed", "Checkout Started"):
        assert counts[event] > 0, event


def test_push_tokens_and_campaigns(larger):
    devices: dict[str, bool] = {}
    for m in larger:
        device = m["context"].get("device")
        if device is not None:
            devices[device["id"]] = "token" in device
    assert 0.55 < sum(devices.values()) / len(devices) < 0.85
    assert any("campaign" in m["context"] for m in larger if m["type"] == "page")
    email = by_event(larger, "Email Link Clicked")[0]["properties"]
    assert {"campaign_id", "email_id", "link_url"} <= email.keys()


def test_activity_follows_a_daily_rhythm(larger):
    opens = by_event(larger, "Application Opened")
    by_hour = defaultdict(int)
    for m in opens:
        by_hour[when(m).hour] += 1
    # Evenings in Europe are far busier than the small hours.
    assert sum(by_hour[h] for h in range(17, 21)) > 4 * sum(by_hour[h] for h in range(0, 4))


def test_local_time_offsets_match_the_tz_database():
    zoneinfo = pytest.importorskip("zoneinfo")
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), 365)
    for code, country in COUNTRIES.items():
        try:
            zone = zoneinfo.ZoneInfo(country.timezone)
        except zoneinfo.ZoneInfoNotFoundError:
            pytest.skip("no time-zone database on this host")
        for index, offset in enumerate(window.offsets[code]):
            noon = datetime.fromtimestamp((window.first_day + index) * 86_400 + 43_200, tz=UTC)
            local = noon.astimezone(zone).utcoffset()
            assert local is not None
            assert offset == local // timedelta(milliseconds=1), (code, noon)
