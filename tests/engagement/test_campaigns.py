"""Campaigns end to end: from a segment through the contact policy and the ledger into the sandbox outbox."""

from __future__ import annotations

from tests.engagement.conftest import NOW, customers


def test_a_campaign_reaches_every_consenting_member_once_and_says_why_not_for_the_rest(shop):
    shop.ingest(customers(6) + customers(2, plan="free")[0:0])
    shop.opt_in([f"u-{i:05d}" for i in range(4)])  # two of the six never opted in to email
    segment = shop.segment()
    campaign = shop.campaign(segment)
    assert campaign["status"] == "draft"
    assert shop.move(campaign["id"], "schedule")["status"] == "scheduled"

    report = shop.tick()
    assert report.started == [campaign["id"]]
    assert report.completed == [campaign["id"]]
    delivered = shop.outbox(source_id=campaign["id"])
    assert sorted(m["address"] for m in delivered) == [f"c{i:05d}@example.com" for i in range(4)]
    assert {m["subject"] for m in delivered} == {f"Hi Kim{i}" for i in range(4)}
    assert shop.report(campaign["id"])["totals"] == {"sent": 4, "skipped": 2}

    why = shop.sends("u-00005", source_id=campaign["id"])
    assert [(s["state"], s["reason"]) for s in why] == [("skipped", "no_consent")]
    assert "consent" in why[0]["detail"]
    assert shop.move(campaign["id"], "pause", status=409)["code"] == "campaign_state"

    shop.tick(NOW)  # a completed campaign never sends again
    assert len(shop.outbox(source_id=campaign["id"])) == 4
