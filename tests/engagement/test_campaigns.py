"""Campaigns end to end: from a segment through the contact policy and the ledger into the sandbox outbox."""

from __future__ import annotations

from datetime import timedelta

from tests.engagement.conftest import NOW, customers, person


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


def test_preview_renders_for_a_named_profile_and_a_test_send_reaches_only_them(shop):
    shop.ingest([*customers(3), person("u-anon", email="anon@example.com")])
    shop.opt_in(["u-00001"])
    campaign = shop.campaign(shop.segment(), holdout_percent=0)
    preview = shop.client.post(f"/api/v1/campaigns/{campaign['id']}/preview", headers=shop.headers,
                               json={"profile": "c00001@example.com"})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["messages"]["email"] == {"subject": "Hi Kim1", "body": "<p>20% off for u-00001</p>", "url": None}
    assert body["decision"] == {"action": "queue", "channel": "email", "reason": "", "detail": "",
                                "not_before": None}
    assert body["variant"] == "A"
    # Someone without the trait: the error shows before anything is sent.
    missing = shop.client.post(f"/api/v1/campaigns/{campaign['id']}/preview", headers=shop.headers,
                               json={"profile": "u-anon"}).json()
    assert missing["messages"]["email"]["error"] == "missing_variable"
    assert missing["decision"]["reason"] == "no_consent"

    sent = shop.client.post(f"/api/v1/campaigns/{campaign['id']}/test-send", headers=shop.headers,
                            json={"profile": "u-00001"})
    assert sent.status_code == 200, sent.text
    assert (sent.json()["state"], sent.json()["source_kind"]) == ("sent", "test")
    assert [m["address"] for m in shop.outbox()] == ["c00001@example.com"]
    refused = shop.client.post(f"/api/v1/campaigns/{campaign['id']}/test-send", headers=shop.headers,
                               json={"profile": "u-00002"}).json()  # never opted in: consent holds for tests too
    assert (refused["state"], refused["reason"]) == ("skipped", "no_consent")
    assert campaign["status"] == "draft"
    assert shop.client.post(f"/api/v1/campaigns/{campaign['id']}/preview", headers=shop.headers,
                            json={"profile": "nobody@example.com"}).json()["error"]["code"] == "profile_not_found"


def test_a_customer_whose_template_cannot_render_is_recorded_as_failed_never_sent_blank(shop):
    shop.ingest([*customers(2), person("u-anon", email="anon@example.com")])
    shop.policy(opt_in_channels=[])
    campaign = shop.campaign(shop.segment())
    shop.move(campaign["id"], "schedule")
    shop.tick()
    assert shop.report(campaign["id"])["by_state"] == {"sent": {"": 2}, "failed": {"missing_variable": 1}}
    assert "anon@example.com" not in [m["address"] for m in shop.outbox()]
    (failed,) = shop.sends("u-anon")
    assert "default" in failed["detail"]


def _definition(segment: str, **changes):
    base = {"audience": {"segments": [segment]}, "channels": ["email"],
            "variants": [{"name": "A", "split": 100, "content": {"email": {"subject": "s", "body": "b"}}}]}
    return base | changes


def test_bad_campaigns_are_refused_with_the_problem_and_where_it_is(shop):
    shop.ingest(customers(1))
    segment = shop.segment()
    cases = [
        (_definition(segment, variants=[{"name": "A", "split": 100, "content": {
            "email": {"subject": "{{ tratis.x }}", "body": "b"}}}]),
         "template_unknown_name", "definition.variants.0.content.email.subject"),
        (_definition(segment, variants=[{"name": "A", "split": 100, "content": {
            "email": {"body": "{% for i in range(10) %}"}}}]),
         "template_syntax", "definition.variants.0.content.email.body"),
        (_definition(segment, variants=[{"name": "A", "split": 100, "content": {
            "email": {"body": "{{ ''.__class__ }}{% macro m() %}{% endmacro %}"}}}]), "template_forbidden", None),
        (_definition("seg_missing"), "unknown_segment", "definition.audience"),
        (_definition(segment, variants=[
            {"name": "A", "split": 60, "content": {"email": {"body": "a"}}},
            {"name": "B", "split": 30, "content": {"email": {"body": "b"}}}]), "invalid_request", None),
        (_definition(segment, channels=["push"]), "invalid_request", None),
        (_definition(segment, schedule={"kind": "recurring", "cron": "every monday"}), "invalid_request", None),
        (_definition(segment, schedule={"kind": "at", "at": "2026-07-01T09:00:00"}), "invalid_request", None),
        (_definition(segment, schedule={"time_zone": "Mars/Olympus"}), "invalid_request", None),
        (_definition(segment, topic="Not A Topic"), "invalid_request", None),
    ]
    for definition, code, path in cases:
        response = shop.client.post("/api/v1/campaigns", headers=shop.headers,
                                    json={"name": "Broken", "definition": definition})
        assert response.status_code == 422, (definition, response.text)
        error = response.json()["error"]
        assert error["code"] == code, (definition, error)
        assert error["message"]
        if path is not None:
            assert path in [p["path"] for p in response.json()["problems"]], response.text
    assert shop.client.get("/api/v1/campaigns", headers=shop.headers).json()["items"] == []


def test_lifecycle_moves_the_state_does_not_allow_are_refused_and_cancel_skips_what_waits(shop):
    shop.ingest(customers(3))
    shop.policy(opt_in_channels=[], quiet_hours={"start": "00:00", "end": "23:59", "channels": ["email"]})
    campaign = shop.campaign(shop.segment())
    cid = campaign["id"]
    assert shop.move(cid, "resume", status=409)["error"]["code"] == "campaign_state"
    assert shop.move(cid, "schedule")["status"] == "scheduled"
    assert shop.move(cid, "unschedule")["status"] == "draft"
    shop.move(cid, "schedule")
    shop.tick()
    assert shop.report(cid)["status"] == "running"  # every send waits for the quiet hours to end
    edit = shop.client.put(f"/api/v1/campaigns/{cid}", headers=shop.headers,
                           json={"name": "Renamed", "definition": _definition(campaign["definition"]["audience"]
                                                                              ["segments"][0])})
    assert edit.status_code == 409
    assert edit.json()["error"]["code"] == "campaign_not_editable"
    assert shop.move(cid, "cancel")["status"] == "cancelled"
    assert shop.report(cid)["by_state"] == {"skipped": {"campaign_cancelled": 3}}
    shop.tick(NOW + timedelta(days=1))
    assert shop.outbox() == []
    assert shop.move(cid, "resume", status=409)["error"]["code"] == "campaign_state"
    missing = shop.client.post("/api/v1/campaigns/cmp_nothing/pause", headers=shop.headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "campaign_not_found")


def test_a_message_can_name_the_last_product_each_customer_viewed(shop):
    shop.ingest([
        *customers(2),
        {"type": "track", "userId": "u-00000", "event": "Product Viewed", "timestamp": "2026-06-10T10:00:00Z",
         "properties": {"name": "Trail shoes", "price": 120}},
        {"type": "track", "userId": "u-00000", "event": "Product Viewed", "timestamp": "2026-06-12T10:00:00Z",
         "properties": {"name": "Rain jacket", "price": 90}},
    ])
    shop.policy(opt_in_channels=[])
    campaign = shop.campaign(shop.segment(), variants=[{"name": "A", "split": 100, "content": {"email": {
        "subject": "Still thinking?",
        "body": "{{ recommendations.last_viewed_product.name | default('Our picks') }} is waiting"}}}])
    preview = shop.client.post(f"/api/v1/campaigns/{campaign['id']}/preview", headers=shop.headers,
                               json={"profile": "u-00000"}).json()
    assert preview["messages"]["email"]["body"] == "Rain jacket is waiting"
    shop.move(campaign["id"], "schedule")
    shop.tick()
    bodies = {m["address"]: m["body"] for m in shop.outbox()}
    assert bodies == {"c00000@example.com": "Rain jacket is waiting", "c00001@example.com": "Our picks is waiting"}


def test_an_audience_of_overlapping_segments_reaches_each_member_once_and_leaves_out_the_excluded(shop):
    shop.ingest(customers(6))
    shop.policy(opt_in_channels=[])
    everyone, again = shop.segment("Pro"), shop.segment("Pro, counted twice")
    left_out = shop.client.post("/api/v1/segments", headers=shop.headers, json={
        "name": "Kim2", "condition": {"type": "trait", "trait": "firstName", "operator": "eq", "value": "Kim2"}})
    assert left_out.status_code == 201, left_out.text
    excluded = left_out.json()["id"]
    assert shop.client.post(f"/api/v1/segments/{excluded}/refresh", headers=shop.headers).status_code == 200
    audience = {"segments": [everyone, again], "exclude": [excluded]}
    campaign = shop.campaign(everyone, audience=audience)
    shop.move(campaign["id"], "schedule")
    shop.tick()
    addresses = [m["address"] for m in shop.outbox(source_id=campaign["id"])]
    assert sorted(addresses) == [f"c{i:05d}@example.com" for i in (0, 1, 3, 4, 5)]
    assert shop.report(campaign["id"])["totals"] == {"sent": 5}
    assert shop.sends("u-00002", source_id=campaign["id"]) == []
