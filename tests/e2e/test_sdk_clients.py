"""The official Segment and RudderStack Python SDKs, unmodified, against a live server.

Each SDK sends a realistic customer journey (anonymous visit, sign-up, orders, a
cancellation, page, screen, group and alias) over real HTTP, with its own batching,
gzip and sync settings. The management API must then show one person: the traits, every
identifier (the anonymous ids merged into the user), the orders and revenue net of the
cancellation, and every event. The SDKs' error callbacks must never have been called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import httpx
import pytest
import rudderstack.analytics as rudder_analytics
import segment.analytics as segment_analytics
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests.conftest import bearer
from tests.e2e.conftest import LiveServer

USER = "u-sdk-ana"
DEVICE = "anon-sdk-phone"
LAPTOP = "anon-sdk-laptop"
EMAIL = "Ana.Lisboa@Example.com"
PHONE = "+49 30 1234567"
Errors = list[tuple[str, Any]]

# (how the SDK is driven, sync mode, gzip): each setting is exercised both ways per SDK.
MODES = [
    pytest.param("module", True, False, id="module-sync-plain"),
    pytest.param("module", False, True, id="module-async-gzip"),
    pytest.param("client", True, True, id="client-sync-gzip"),
    pytest.param("client", False, False, id="client-async-plain"),
]


def send_journey(sdk: Any) -> None:
    """Send one customer's journey through an SDK client or module (same call signatures)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def at(minute: int) -> datetime:
        # Explicit, strictly increasing event times: last-write-wins never sees a tie.
        return start + timedelta(minutes=minute)

    sdk.identify(anonymous_id=DEVICE, traits={"plan": "free", "locale": "pt-PT"}, timestamp=at(0))
    sdk.track(anonymous_id=DEVICE, event="Product Viewed", timestamp=at(1),
              properties={"product_id": "p-1", "category": "shoes", "price": 60})
    sdk.identify(user_id=USER, anonymous_id=DEVICE, timestamp=at(2), traits={
        "email": EMAIL, "phone": PHONE, "firstName": "Ana", "plan": "pro"})
    sdk.track(user_id=USER, event="Order Completed", timestamp=at(3), properties={
        "order_id": "o-1", "revenue": 100.0, "currency": "EUR", "products": [
            {"product_id": "p-1", "category": "shoes", "price": 60, "quantity": 1},
            {"product_id": "p-2", "category": "bags", "price": 40, "quantity": 1}]})
    sdk.track(user_id=USER, event="Order Completed", timestamp=at(4), properties={
        "order_id": "o-2", "revenue": 45.5, "currency": "EUR",
        "products": [{"product_id": "p-3", "category": "shoes", "price": 45.5, "quantity": 1}]})
    sdk.track(user_id=USER, event="Order Cancelled", timestamp=at(5),
              properties={"order_id": "o-2", "total": 45.5, "currency": "EUR"})
    sdk.page(user_id=USER, category="Shop", name="Home", timestamp=at(6),
             properties={"url": "https://shop.example.com/", "title": "Home"})
    sdk.screen(user_id=USER, name="Cart", timestamp=at(7), properties={"items": 0})
    sdk.group(user_id=USER, group_id="g-acme", timestamp=at(8),
              traits={"name": "Acme", "industry": "retail"})
    sdk.track(anonymous_id=LAPTOP, event="Application Opened", timestamp=at(9))
    sdk.alias(previous_id=LAPTOP, user_id=USER, timestamp=at(10))


JOURNEY_EVENTS = 11


@contextmanager
def module_settings(module: ModuleType, **settings: Any) -> Iterator[ModuleType]:
    """Configure an SDK module's global settings for one test, and restore them after."""
    names = [*settings, "default_client"]
    saved = {name: getattr(module, name) for name in names}
    for name, value in settings.items():
        setattr(module, name, value)
    module.default_client = None
    try:
        yield module
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


@contextmanager
def segment_sdk(server: LiveServer, how: str, sync: bool, gzip: bool,
                on_error: Callable[[Exception, Any], None]) -> Iterator[Any]:
    """A Segment SDK client or configured module pointed at the live server."""
    options = {"host": server.url, "on_error": on_error, "sync_mode": sync, "gzip": gzip,
               "max_retries": 2}
    if how == "module":
        with module_settings(segment_analytics, write_key=server.workspace.write_key, **options) as module:
            yield module
    else:
        yield SegmentClient(server.workspace.write_key, **options)


@contextmanager
def rudder_sdk(server: LiveServer, how: str, sync: bool, gzip: bool,
               on_error: Callable[[Exception, Any], None]) -> Iterator[Any]:
    """A RudderStack SDK client or configured module pointed at the live server."""
    options = {"on_error": on_error, "sync_mode": sync, "gzip": gzip, "max_retries": 2}
    if how == "module":
        with module_settings(rudder_analytics, write_key=server.workspace.write_key,
                             dataPlaneUrl=server.url, **options) as module:
            yield module
    else:
        yield RudderClient(server.workspace.write_key, host=server.url, **options)


SDKS = [pytest.param(segment_sdk, "segment", id="segment"),
        pytest.param(rudder_sdk, "rudderstack", id="rudderstack")]


def deliver(sdk: Any, sync: bool) -> None:
    """Make sure everything queued reached the server, using the SDK's own calls."""
    if not sync:  # in sync mode every call already waited for its answer
        sdk.flush()
        sdk.join()


def profile(server: LiveServer, reference: str) -> dict[str, Any]:
    """Return a profile through the management API (bounded wait for projection)."""
    server.settle()
    response = httpx.get(f"{server.url}/api/v1/profiles/{reference}",
                         headers=bearer(server.workspace.secret_key), timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(("how", "sync", "gzip"), MODES)
@pytest.mark.parametrize(("make_sdk", "logger"), SDKS)
def test_sdk_journey_lands_on_one_profile(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture,
    make_sdk: Any, logger: str, how: str, sync: bool, gzip: bool,
) -> None:
    caplog.set_level(logging.WARNING, logger=logger)
    errors: Errors = []
    with make_sdk(live_server, how, sync, gzip,
                  lambda error, batch: errors.append((repr(error), batch))) as sdk:
        send_journey(sdk)
        deliver(sdk, sync)
    assert errors == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith(logger)] == []

    body = profile(live_server, USER)
    assert body["traits"]["firstName"] == "Ana"
    assert body["traits"]["email"] == EMAIL
    assert body["traits"]["plan"] == "pro"  # the later identify wins
    assert body["traits"]["locale"] == "pt-PT"  # the anonymous profile's traits came along
    identities = {(i["kind"], i["value"]) for i in body["identities"]}
    assert identities == {
        ("user_id", USER), ("anonymous_id", DEVICE), ("anonymous_id", LAPTOP),
        ("email", "ana.lisboa@example.com"), ("phone", "+49301234567"),
    }
    for reference in (DEVICE, LAPTOP, "ana.lisboa@example.com", "+49301234567", body["id"]):
        assert profile(live_server, reference)["id"] == body["id"]
    assert any(m for m in body["merges"]), "the alias merged the laptop's profile"

    computed = body["computed"]
    assert computed["events"] == JOURNEY_EVENTS
    assert computed["orders"] == 2
    assert computed["cancelled_orders"] == 1
    assert computed["gross_revenue"] == pytest.approx(145.5)
    assert computed["net_revenue"] == pytest.approx(100.0)
    assert computed["favourite_category"] == "shoes"
    assert computed["last_order_at"] is not None

    events = body["recent_events"]
    assert len(events) == JOURNEY_EVENTS
    assert {e["type"] for e in events} == {"identify", "track", "page", "screen", "group", "alias"}
    assert sorted(e["event"] for e in events if e["type"] == "track") == [
        "Application Opened", "Order Cancelled", "Order Completed", "Order Completed",
        "Product Viewed"]
    assert len({e["messageId"] for e in events}) == JOURNEY_EVENTS


@pytest.mark.parametrize(("make_sdk", "logger"), SDKS)
def test_sdk_retry_of_the_same_messages_is_not_stored_twice(
    live_server: LiveServer, make_sdk: Any, logger: str,
) -> None:
    errors: Errors = []
    with make_sdk(live_server, "client", True, True,
                  lambda error, batch: errors.append((repr(error), batch))) as sdk:
        for _ in range(2):  # an SDK retry after a lost answer resends the same messageId
            sdk.track(user_id=USER, event="Order Completed", message_id="retry-1",
                      properties={"order_id": "o-9", "revenue": 10})
    assert errors == []
    computed = profile(live_server, USER)["computed"]
    assert (computed["orders"], computed["events"]) == (1, 1)


@pytest.mark.parametrize(("make_sdk", "logger"), SDKS)
def test_sdk_reports_a_wrong_write_key_through_its_error_callback(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture, make_sdk: Any, logger: str,
) -> None:
    """The other side of "on_error records nothing": a refusal does reach the callback."""
    caplog.set_level(logging.CRITICAL, logger=logger)  # the SDK logs the refusal; expected here
    errors: Errors = []
    wrong = live_server.workspace.write_key[:-4] + "AAAA"
    server = replace(live_server, workspace=replace(live_server.workspace, write_key=wrong))
    with make_sdk(server, "client", False, False,
                  lambda error, batch: errors.append((str(error), batch))) as sdk:
        sdk.track(user_id=USER, event="Product Viewed")
        deliver(sdk, sync=False)
    # Reported once, with its status: a refusal is not retried as if the network had failed.
    assert len(errors) == 1, errors
    assert "401" in errors[0][0]
    assert "invalid_write_key" in errors[0][0]
    assert live_server.runtime.services.events.count(workspace_id=live_server.workspace.id) == 0
