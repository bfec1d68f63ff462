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


def test_the_scheduler_thread_runs_a_campaign_scheduled_for_now(tmp_path):
    import time

    from fastapi.testclient import TestClient

    from loopline.actions.workspaces import do_create_workspace
    from loopline.api.app import create_app
    from loopline.bootstrap import build_runtime
    from loopline.config import Settings
    from tests.conftest import ADMIN_TOKEN
    from tests.engagement.conftest import Shop

    runtime = build_runtime(Settings(data_dir=tmp_path, scheduler_interval_s=0.05, segment_refresh_interval_s=3_600))
    with TestClient(create_app(runtime, admin_token=ADMIN_TOKEN)) as client:
        shop = Shop(client, runtime, do_create_workspace(runtime.services, name="Threaded"))
        shop.ingest(customers(3))
        shop.policy(opt_in_channels=[])
        campaign = shop.campaign(shop.segment())
        shop.move(campaign["id"], "schedule")
        deadline = time.monotonic() + 30
        while len(shop.outbox()) < 3:
            assert time.monotonic() < deadline, "the scheduler thread did not send the campaign"
            time.sleep(0.05)
        assert client.get("/health").json()["scheduler_error"] is None
