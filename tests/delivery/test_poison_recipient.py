"""F8: one recipient the relay refuses for good inside a batch of 500 fails alone, is suppressed, and
the batch is never retried as a whole."""

from __future__ import annotations

from tests.engagement.conftest import customers, person


def test_a_poison_recipient_fails_alone_and_is_suppressed(shop, relay):
    handler, port = relay
    shop.ingest([*customers(499), person("u-gone", email="gone@example.com", firstName="Gone")])
    shop.policy(opt_in_channels=[])
    put = shop.client.put("/api/v1/channels/providers", headers=shop.headers, json={"channel": "email", "provider": {
        "kind": "smtp", "host": "127.0.0.1", "port": port, "security": "none", "sender_address": "news@shop.example"}})
    assert put.status_code == 200, put.text
    segment = shop.segment()
    first = shop.campaign(segment, name="First")
    shop.move(first["id"], "schedule")
    shop.tick()
    delivered = [recipients[0] for _, recipients, _ in handler.received]
    assert len(delivered) == len(set(delivered)) == 499  # every other recipient once
    assert "gone@example.com" not in delivered
    (poison,) = shop.sends("u-gone")
    assert (poison["state"], poison["reason"]) == ("failed", "smtp_550")
    listed = shop.client.get("/api/v1/suppressions/email/gone@example.com", headers=shop.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["reason"] == "hard_bounce"
    # The next campaign does not try the refused address again, and nobody gets the first twice.
    shop.tick()
    assert len(handler.received) == 499
    second = shop.campaign(segment, name="Second")
    shop.move(second["id"], "schedule")
    shop.tick()
    assert len(handler.received) == 998
    reasons = {(row["state"], row["reason"]) for row in shop.sends("u-gone") if row["source_id"] == second["id"]}
    assert reasons == {("skipped", "suppressed")}
