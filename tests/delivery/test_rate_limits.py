"""A provider's rate (messages per second): a hand-over passes on what the rate allows, keeps the rest
in the queue spread over the next seconds without counting an attempt, and every message still
goes exactly once."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from loopline.actions.delivery import do_deliver_due
from loopline.store.sql.tables import sends
from tests.delivery.test_retries import FlakyGateway, flaky  # noqa: F401 - the gateway fixture
from tests.engagement.conftest import NOW, person

PHONES = [f"+4915200000{i:03d}" for i in range(6)]


def _ledger(shop) -> list[tuple[str, str, int]]:
    with shop.runtime.services.engine.connect() as conn:
        return sorted((r.state, r.reason, r.attempts) for r in conn.execute(sa.select(sends)))


def test_a_provider_rate_holds_back_the_excess_and_everyone_still_gets_one(shop, flaky):  # noqa: F811
    shop.ingest([person(f"u-{i}", phone=phone) for i, phone in enumerate(PHONES)])
    shop.policy(opt_in_channels=[])
    put = shop.client.put("/api/v1/channels/providers", headers=shop.headers, json={"channel": "sms", "provider": {
        "kind": "sms_gateway", "shape": "twilio", "base_url": flaky, "sender": "+15017122661", "account": "AC1",
        "secret": "token", "rate_per_second": 2}})
    assert put.status_code == 200, put.text
    assert put.json()["rate_per_second"] == 2
    campaign = shop.campaign(shop.segment(), channels=["sms"], variants=[
        {"name": "A", "split": 100, "content": {"sms": {"body": "Flash sale"}}}])
    shop.move(campaign["id"], "schedule")
    shop.tick()
    assert len(FlakyGateway.seen) == 2  # one second's worth
    held = [row for row in _ledger(shop) if row[1] == "rate_limited"]
    assert held == [("queued", "rate_limited", 0)] * 4  # waiting, and no attempt spent
    services = shop.runtime.services
    do_deliver_due(services, now=NOW + timedelta(seconds=1))
    assert len(FlakyGateway.seen) == 4  # the bucket refilled by two
    for seconds in (2, 3, 10):
        do_deliver_due(services, now=NOW + timedelta(seconds=seconds))
    assert sorted(FlakyGateway.seen) == PHONES
    assert _ledger(shop) == [("sent", "", 1)] * 6
