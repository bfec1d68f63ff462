"""F1 and F2 over a real SMTP relay: a worker that dies after the relay accepted leaves sends nobody
can vouch for, and they are never sent again; one that dies after its claim but before the relay
was called leaves sends that provably went nowhere, and another worker sends them exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loopline.actions.delivery import do_deliver_due, do_reconcile
from loopline.channels.email import SmtpChannel
from tests.delivery.test_unsubscribe import _relay
from tests.engagement.channels import ProcessDied
from tests.engagement.conftest import NOW, customers

PATIENCE = timedelta(hours=1)  # well past send_unknown_after_s: the dead worker's claims are stale


def _queued(shop, relay, key, count: int = 3):
    _, port = relay
    pem, _ = key
    shop.ingest(customers(count))
    shop.opt_in([f"u-{i:05d}" for i in range(count)])
    assert shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                           json={"channel": "email", "provider": _relay(port, pem)}).status_code == 200
    # Throttled to nothing per tick, the campaign only queues; the test's worker does the sending.
    campaign = shop.campaign(shop.segment(), schedule={"kind": "now", "throttle_per_minute": 1})
    shop.move(campaign["id"], "schedule")
    shop.tick()
    return campaign


def _states(shop, count: int = 3) -> list[tuple[str, str]]:
    return sorted((row["state"], row["reason"]) for i in range(count) for row in shop.sends(f"u-{i:05d}"))


def test_f1_a_worker_killed_after_the_relay_accepted_never_sends_twice(shop, relay, key, monkeypatch):
    handler, _ = relay
    _queued(shop, relay, key)
    sent_before = len(handler.received)
    deliver = SmtpChannel.deliver

    def accepted_then_killed(self, messages, **kwargs):
        deliver(self, messages, **kwargs)
        raise ProcessDied  # SIGKILL after the relay said 250, before the ledger heard of it

    monkeypatch.setattr(SmtpChannel, "deliver", accepted_then_killed)
    services = shop.runtime.services
    with pytest.raises(ProcessDied):
        do_deliver_due(services, now=NOW + timedelta(minutes=1))
    handed = len(handler.received) - sent_before
    assert handed >= 1
    monkeypatch.setattr(SmtpChannel, "deliver", deliver)
    # A relay cannot be asked what it accepted: the sends end failed, and nothing goes twice.
    do_reconcile(services, now=NOW + PATIENCE)
    for minutes in (61, 62, 120):
        do_deliver_due(services, now=NOW + timedelta(minutes=minutes))
        do_reconcile(services, now=NOW + timedelta(minutes=minutes) + PATIENCE)
    recipients = [rcpt for _, (rcpt,), _ in handler.received]
    assert len(recipients) == len(set(recipients))
    assert ("failed", "outcome_unknown") in _states(shop)


def test_a_worker_killed_after_marking_its_sends_handed_over_sends_them_at_most_once(shop, relay, key,
                                                                                       monkeypatch):
    handler, _ = relay
    _queued(shop, relay, key)
    before = _states(shop)
    sent_before = len(handler.received)

    def killed_before_the_call(self, messages, **kwargs):
        raise ProcessDied  # SIGKILL after the sends were marked handed over, before a byte reached the relay

    monkeypatch.setattr(SmtpChannel, "deliver", killed_before_the_call)
    services = shop.runtime.services
    with pytest.raises(ProcessDied):
        do_deliver_due(services, now=NOW + timedelta(minutes=1))
    monkeypatch.undo()
    dying = [state for state, _ in _states(shop)].count("sending")
    assert 1 <= dying <= [state for state, _ in before].count("queued")
    # Nobody can tell whether those reached the relay: they fail rather than risk a second copy.
    do_reconcile(services, now=NOW + PATIENCE)
    assert len(handler.received) == sent_before
    assert _states(shop).count(("failed", "outcome_unknown")) == dying


def test_f2_claims_never_marked_handed_go_again_exactly_once(shop, relay, key, monkeypatch):
    handler, _ = relay
    _queued(shop, relay, key)
    services = shop.runtime.services
    sent_before = len(handler.received)

    def killed_at_the_claim(**kwargs):
        raise ProcessDied  # SIGKILL between the claim's commit and marking the sends handed over

    monkeypatch.setattr(services.send_ledger, "mark_handed", killed_at_the_claim)
    with pytest.raises(ProcessDied):
        do_deliver_due(services, now=NOW + timedelta(minutes=1))
    monkeypatch.undo()
    assert len(handler.received) == sent_before
    stuck = [row for row in _states(shop) if row[0] == "sending"]
    assert stuck, "the dead worker's claims are still in sending"
    # Once the claims are stale they are queued again, and the next worker sends each once.
    do_reconcile(services, now=NOW + PATIENCE)
    do_deliver_due(services, now=NOW + PATIENCE)
    recipients = [rcpt for _, (rcpt,), _ in handler.received]
    assert sorted(recipients) == [f"c{i:05d}@example.com" for i in range(3)]
    assert _states(shop) == [("sent", "")] * 3
