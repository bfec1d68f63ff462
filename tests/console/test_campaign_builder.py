"""The campaign builder over HTTP: what the form stores, what it refuses and how, who may use it,
the audience's size, and the preview rendered for a customer."""

from __future__ import annotations

import re
from typing import Any

from loopline.domain.campaign_forms import blank_form, definition_of_form, form_of
from loopline.domain.campaigns import parse_campaign
from tests.console.conftest import member, sign_in
from tests.engagement.conftest import customers, shop  # noqa: F401 - the shop fixture serves these tests too

JSON = {"Accept": "application/json"}


def _form(csrf: str, segment_id: str, **changes: Any) -> dict[str, Any]:
    """Return a filled-in builder form: two variants on email and SMS, a control group, a time in UTC."""
    fields: dict[str, Any] = {
        "csrf_token": csrf, "name": "Summer sale", "objective": "Sell the summer collection",
        "metric_event": "Order Completed", "metric_within_days": "5", "metric_revenue_property": "revenue",
        "include": [segment_id], "channels": ["email", "sms"],
        "v0_name": "Warm", "v0_split": "60",
        "v0_email_subject": "Hi {{ traits.firstName }}", "v0_email_body": "<p>20% off, {{ traits.firstName }}</p>",
        "v0_sms_body": "Sale: 20% off",
        "v1_name": "Plain", "v1_split": "40",
        "v1_email_subject": "Summer sale", "v1_email_body": "<p>20% off</p>", "v1_sms_body": "20% off now",
        "holdout_percent": "20", "schedule_kind": "at", "schedule_at": "2026-07-01T09:00",
        "topic": "promotions", "priority": "marketing", "rank": "7", "action": "save",
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


def _signed_in(shop: Any, role: str = "marketer") -> tuple[str, str]:  # noqa: F811
    """Sign in with ``role``; return the workspace's builder URL and the page's CSRF token."""
    assert sign_in(shop.client, member(shop.runtime, shop.workspace.id, role=role)).status_code == 303
    base = f"/console/w/{shop.workspace.id}/campaigns"
    # The token from the builder's own form: the page every role that may open it can read.
    found = re.search(r'name="csrf_token" value="([^"]+)"', shop.client.get(f"{base}/new").text)
    assert found
    return base, found.group(1)


def _stored(shop: Any) -> list[dict[str, Any]]:  # noqa: F811
    response = shop.client.get("/api/v1/campaigns", headers=shop.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_the_form_stores_exactly_what_was_entered_and_shows_it_again(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(12))
    shop.policy(global_control_percent=5)
    segment_id = shop.segment()
    base, csrf = _signed_in(shop)
    page = shop.client.get(f"{base}/new", headers=JSON).json()
    assert page["global_control_percent"] == 5  # the note beside the box says how many that is
    assert [(s["id"], s["member_count"]) for s in page["segments"] if s["name"] == "Pro"] == [(segment_id, 12)]
    assert page["form"]["variants"][0]["split"] == "100"

    saved = shop.client.post(f"{base}/new", data=_form(csrf, segment_id), follow_redirects=False)
    assert saved.status_code == 303, saved.text
    [row] = _stored(shop)
    assert saved.headers["location"] == f"{base}/{row['id']}/edit?saved=1"
    stored = shop.client.get(f"/api/v1/campaigns/{row['id']}", headers=shop.headers).json()
    assert stored["name"] == "Summer sale"
    assert stored["status"] == "draft"
    definition = stored["definition"]
    assert definition["objective"] == "Sell the summer collection"
    assert definition["success_metric"] == {"event": "Order Completed", "where": [], "within_days": 5,
                                            "revenue_property": "revenue"}
    assert definition["audience"] == {"segments": [segment_id], "exclude": []}
    assert definition["channels"] == ["email", "sms"]
    assert definition["every_channel"] is False
    assert [(v["name"], v["split"]) for v in definition["variants"]] == [("Warm", 60), ("Plain", 40)]
    assert definition["variants"][0]["content"] == {
        "email": {"subject": "Hi {{ traits.firstName }}", "body": "<p>20% off, {{ traits.firstName }}</p>",
                  "url": None, "push": None, "in_app": None},
        "sms": {"subject": None, "body": "Sale: 20% off", "url": None, "push": None, "in_app": None}}
    assert definition["holdout_percent"] == 20
    assert definition["global_control"] is False  # the box was not ticked
    assert (definition["topic"], definition["priority"], definition["rank"]) == ("promotions", "marketing", 7)
    assert definition["schedule"]["kind"] == "at"
    assert definition["schedule"]["at"] == "2026-07-01T09:00:00Z"
    assert definition["schedule"]["best_time"] is None

    # The saved campaign opens in the builder with the form as it was typed.
    edit = shop.client.get(f"{base}/{row['id']}/edit?saved=1")
    assert edit.status_code == 200
    assert 'data-testid="saved"' in edit.text
    form = shop.client.get(f"{base}/{row['id']}/edit", headers=JSON).json()["form"]
    assert form["name"] == "Summer sale"
    assert form["metric"] == {"event": "Order Completed", "within_days": "5", "revenue_property": "revenue"}
    assert [(v["name"], v["split"], v["content"]["sms"]["body"]) for v in form["variants"]] == [
        ("Warm", "60", "Sale: 20% off"), ("Plain", "40", "20% off now")]
    assert (form["holdout_percent"], form["global_control"], form["rank"]) == ("20", False, "7")
    assert form["schedule"]["kind"] == "at"
    assert form["schedule"]["at"] == "2026-07-01T09:00"

    # Saving again with "send now" changes the campaign and schedules it; each step is in the audit log.
    sent = shop.client.post(f"{base}/{row['id']}/edit", data=_form(
        csrf, segment_id, name="Summer sale 2", schedule_kind="now", schedule_at="", action="schedule"),
        follow_redirects=False)
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"{base}/{row['id']}"
    again = shop.client.get(f"/api/v1/campaigns/{row['id']}", headers=shop.headers).json()
    assert (again["name"], again["status"], again["definition"]["schedule"]["kind"]) == (
        "Summer sale 2", "scheduled", "now")
    log = shop.runtime.services.accounts.list_audit(workspace_id=shop.workspace.id)
    mine = [(entry["action"], entry["target"]) for entry in log if entry["action"].startswith("campaign.")]
    assert sorted(mine) == sorted([("campaign.created", row["id"]), ("campaign.updated", row["id"]),
                                   ("campaign.scheduled", row["id"])])
    created = next(entry for entry in log if entry["action"] == "campaign.created")
    assert created["actor"] == "ana@example.com"
    assert created["detail"]["channels"] == ["email", "sms"]
    assert "content" not in str(created["detail"])


def test_editing_keeps_what_the_form_does_not_show(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(3))
    segment_id = shop.segment()
    campaign = shop.campaign(segment_id, offer="summer-20", costs={"currency": "EUR", "fixed": 250},
                             expires_after_hours=48)
    base, csrf = _signed_in(shop)
    form = shop.client.get(f"{base}/{campaign['id']}/edit", headers=JSON).json()["form"]
    fields = {"csrf_token": csrf, "name": form["name"], "include": form["include"], "channels": form["channels"],
              "v0_name": "A", "v0_split": "100", "v0_email_subject": "New subject", "v0_email_body": "<p>New</p>",
              "holdout_percent": "0", "global_control": "on", "schedule_kind": "now", "topic": "all",
              "priority": "marketing", "rank": "5", "action": "save",
              # The expiry is on the form: it comes back as the page showed it.
              "expires_after_hours": form["limits"]["expires_after_hours"]}
    assert form["limits"]["expires_after_hours"] == "48"
    assert shop.client.post(f"{base}/{campaign['id']}/edit", data=fields, follow_redirects=False).status_code == 303
    definition = shop.client.get(f"/api/v1/campaigns/{campaign['id']}", headers=shop.headers).json()["definition"]
    assert definition["variants"][0]["content"]["email"]["subject"] == "New subject"
    assert definition["offer"] == "summer-20"
    assert definition["costs"]["fixed"] == 250
    assert definition["expires_after_hours"] == 48
    assert definition["success_metric"] is None  # the form's metric was left empty: no goal any more


def test_a_form_with_mistakes_comes_back_with_the_messages_and_nothing_is_stored(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(3))
    segment_id = shop.segment()
    base, csrf = _signed_in(shop)

    not_a_number = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, holdout_percent="lots"))
    assert not_a_number.status_code == 422
    assert re.search(r'data-path="definition.holdout_percent">enter a number<', not_a_number.text)
    assert 'value="lots"' in not_a_number.text  # the person's input is kept
    assert 'value="Summer sale"' in not_a_number.text
    assert "Sale: 20% off</textarea>" in not_a_number.text

    splits = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, v1_split="30"), headers=JSON)
    assert splits.status_code == 422
    assert splits.json()["error"]["code"] == "invalid_campaign"
    assert "variant splits must add up to 100" in splits.json()["message"]

    too_large = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, holdout_percent="80"))
    assert too_large.status_code == 422
    assert 'data-path="definition.holdout_percent"' in too_large.text
    assert 'value="80"' in too_large.text

    broken = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, v0_email_subject="Hi {{ traits.firstName"))
    assert broken.status_code == 422
    assert 'data-path="definition.variants.0.content.email.subject"' in broken.text

    nobody = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, include=None), headers=JSON)
    assert nobody.status_code == 422
    assert [p["path"] for p in nobody.json()["problems"]] == ["definition.audience.segments"]

    unknown = shop.client.post(f"{base}/new", data=_form(csrf, "seg_nothing"), headers=JSON)
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_segment"
    assert _stored(shop) == []

    assert shop.client.post(f"{base}/new", data=_form(csrf, segment_id), follow_redirects=False).status_code == 303
    taken = shop.client.post(f"{base}/new", data=_form(csrf, segment_id))
    assert taken.status_code == 409
    assert re.search(r'data-path="name">a campaign named &#39;Summer sale&#39; already exists<', taken.text)
    assert len(_stored(shop)) == 1


def test_adding_a_variant_shares_the_split_and_saves_nothing(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(3))
    segment_id = shop.segment()
    base, csrf = _signed_in(shop)
    one = _form(csrf, segment_id, v1_name=None, v1_split=None, v1_email_subject=None, v1_email_body=None,
                v1_sms_body=None, v0_split="100", action="add_variant")
    added = shop.client.post(f"{base}/new", data=one, headers=JSON)
    assert added.status_code == 200
    variants = added.json()["form"]["variants"]
    assert [(v["name"], v["split"]) for v in variants] == [("Warm", "50"), ("B", "50")]
    assert variants[0]["content"]["email"]["subject"] == "Hi {{ traits.firstName }}"
    removed = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, action="remove_variant"), headers=JSON)
    assert [(v["name"], v["split"]) for v in removed.json()["form"]["variants"]] == [("Warm", "100")]
    assert _stored(shop) == []


def test_the_audience_size_counts_included_minus_excluded_members(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(12) + [{"type": "identify", "userId": f"u-{index:05d}", "traits": {"vip": True}}
                                 for index in range(4)])
    pro = shop.segment()
    created = shop.client.post("/api/v1/segments", headers=shop.headers, json={
        "name": "VIPs", "condition": {"type": "trait", "trait": "vip", "operator": "eq", "value": True}})
    vips = created.json()["id"]
    assert shop.client.post(f"/api/v1/segments/{vips}/refresh", headers=shop.headers).status_code == 200
    base, _ = _signed_in(shop, role="analyst")
    size = shop.client.get(f"{base}/new/audience", params={"include": [pro]}, headers=JSON).json()
    assert size["size"] == 12
    minus = shop.client.get(f"{base}/new/audience", params={"include": [pro], "exclude": [vips]}, headers=JSON)
    assert minus.json()["size"] == 8
    fragment = shop.client.get(f"{base}/new/audience", params={"include": [vips]})
    assert re.search(r'data-testid="audience-size">4<', fragment.text)
    nothing = shop.client.get(f"{base}/new/audience")
    assert 'data-testid="audience-none"' in nothing.text


def test_the_preview_renders_each_channel_for_a_named_customer(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(5))
    segment_id = shop.segment()
    base, csrf = _signed_in(shop, role="analyst")  # looking is not changing: an analyst may preview
    fields = _form(csrf, segment_id, preview_customer="c00003@example.com")
    shown = shop.client.post(f"{base}/new/preview", data=fields, headers=JSON)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["customer"]["profile_id"]
    assert body["customer"]["email"] == "c00003@example.com"
    assert body["by_channel"]["email"]["subject"] == "Hi Kim3"
    assert body["by_channel"]["email"]["body"] == "<p>20% off, Kim3</p>"
    assert body["by_channel"]["sms"]["body"] == "Sale: 20% off"

    # Without a name, the audience's first member; the second variant when asked for.
    first = shop.client.post(f"{base}/new/preview", data=_form(csrf, segment_id, preview_variant="1"), headers=JSON)
    assert first.json()["customer"]["email"] == "c00000@example.com"
    assert first.json()["variant"]["name"] == "Plain"
    assert first.json()["by_channel"]["sms"]["body"] == "20% off now"

    # The page's fragment: the email in a frame that runs nothing, inside the phone and the desktop.
    page = shop.client.post(f"{base}/new/preview", data=fields)
    assert page.status_code == 200
    assert 'data-testid="preview-phone"' in page.text
    assert 'data-testid="preview-desktop"' in page.text
    assert page.text.count('sandbox=""') == 2
    assert 'srcdoc="&lt;p&gt;20% off, Kim3&lt;/p&gt;"' in page.text
    assert re.search(r'data-testid="preview-subject">Hi Kim3<', page.text)

    unknown = shop.client.post(f"{base}/new/preview", data=_form(csrf, segment_id, preview_customer="nobody@x.org"),
                               headers=JSON)
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "profile_not_found"


def test_a_template_error_shows_as_a_message_in_the_preview(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(2))
    segment_id = shop.segment()
    base, csrf = _signed_in(shop)
    broken = shop.client.post(f"{base}/new/preview", headers=JSON,
                              data=_form(csrf, segment_id, v0_email_subject="Hi {{ traits.firstName"))
    assert broken.status_code == 200
    assert broken.json()["by_channel"]["email"]["error"]
    assert broken.json()["by_channel"]["sms"]["error"] is None  # the other channel still shows
    missing = shop.client.post(f"{base}/new/preview", data=_form(csrf, segment_id, v0_sms_body="Hi {{ traits.nope }}"))
    assert missing.status_code == 200
    assert re.search(r'data-testid="preview-error" data-channel="sms">SMS: [^<]*missing_variable', missing.text)


def test_roles_workspaces_and_csrf_guard_the_builder(shop: Any, other_workspace: Any) -> None:  # noqa: F811
    shop.ingest(customers(2))
    segment_id = shop.segment()
    client = shop.client
    base, csrf = _signed_in(shop, role="analyst")  # an analyst may look: the token comes from the page
    refused = client.post(f"{base}/new", data=_form(csrf, segment_id), headers=JSON)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert _stored(shop) == []

    client.cookies.clear()
    base, csrf = _signed_in(shop, role="marketer")
    elsewhere = f"/console/w/{other_workspace.id}/campaigns"
    assert client.get(f"{elsewhere}/new", headers=JSON).status_code == 404
    assert client.post(f"{elsewhere}/new", data=_form(csrf, segment_id), headers=JSON).status_code == 404
    assert client.post(f"{elsewhere}/new/preview", data=_form(csrf, segment_id), headers=JSON).status_code == 404
    assert client.get(f"{elsewhere}/new/audience", headers=JSON).status_code == 404
    forged = client.post(f"{base}/new", data=_form("not-the-token", segment_id), headers=JSON)
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    assert _stored(shop) == []
    assert client.get(f"{base}/cmp_nothing/edit", headers=JSON).status_code == 404

    client.cookies.clear()
    assert sign_in(client, member(shop.runtime, shop.workspace.id, role="agent", email="al@example.com")
                   ).status_code == 303
    assert client.get(f"{base}/new", headers=JSON).status_code == 403


def test_the_list_links_to_the_builder_and_a_draft_to_its_edit_page(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(2))
    campaign = shop.campaign(shop.segment())
    base, _ = _signed_in(shop)
    listed = shop.client.get(base)
    assert f'href="{base}/new" data-testid="new-campaign"' in listed.text
    report = shop.client.get(f"{base}/{campaign['id']}")
    assert f'href="{base}/{campaign["id"]}/edit" data-testid="edit-campaign"' in report.text
    shop.move(campaign["id"], "schedule")
    assert 'data-testid="edit-campaign"' not in shop.client.get(f"{base}/{campaign['id']}").text


def test_each_kind_of_schedule_goes_through_the_form_and_back() -> None:
    form = blank_form()
    form["include"], form["name"] = ["seg_1"], "Weekly"
    form["variants"][0]["content"]["email"] = {"subject": "Hi", "body": "<p>Hi</p>"}
    cases = [
        ({"kind": "local_time", "at": "2026-07-01T09:00"}, {"kind": "local_time", "at": "2026-07-01T09:00:00"}),
        ({"kind": "recurring", "cron": "0 9 * * MON", "time_zone": "Europe/Berlin"},
         {"kind": "recurring", "cron": "0 9 * * MON", "time_zone": "Europe/Berlin"}),
        ({"kind": "now", "best_time": True, "within_hours": "48"}, {"kind": "now", "best_time": {
            "within_hours": 48, "fixed_time_control_percent": 10}}),
    ]
    for typed, expected in cases:
        form["schedule"] = {**blank_form()["schedule"], **typed}
        body, problems = definition_of_form(form)
        assert problems == []
        stored = parse_campaign(body["definition"]).model_dump(mode="json")
        assert {key: stored["schedule"][key] for key in expected} == expected
        shown = form_of("Weekly", stored)
        assert {key: shown["schedule"][key] for key in typed} == typed


def test_numbers_that_are_not_numbers_are_named_not_guessed() -> None:
    form = blank_form()
    form["holdout_percent"], form["rank"], form["variants"][0]["split"] = "nan", "2.5", "ten"
    form["metric"]["event"], form["metric"]["within_days"] = "Order Completed", "a week"
    _, problems = definition_of_form(form)
    assert sorted((p["path"], p["message"]) for p in problems) == [
        ("definition.holdout_percent", "enter a number"),
        ("definition.rank", "enter a whole number"),
        ("definition.success_metric.within_days", "enter a whole number"),
        ("definition.variants.0.split", "enter a number"),
    ]


def test_the_campaigns_own_limits_go_through_the_form_and_back(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(3))
    segment_id = shop.segment()
    base, csrf = _signed_in(shop)
    limits = {"throttle_per_minute": "600", "window_start": "09:00", "window_end": "20:30",
              "expires_after_hours": "36"}
    assert shop.client.post(f"{base}/new", data=_form(csrf, segment_id, **limits),
                            follow_redirects=False).status_code == 303
    (stored,) = _stored(shop)
    definition = shop.client.get(f"/api/v1/campaigns/{stored['id']}", headers=shop.headers).json()["definition"]
    assert definition["schedule"]["throttle_per_minute"] == 600
    assert definition["schedule"]["window"] == {"start": "09:00:00", "end": "20:30:00"}
    assert definition["expires_after_hours"] == 36
    shown = shop.client.get(f"{base}/{stored['id']}/edit", headers=JSON).json()["form"]["limits"]
    assert shown == limits
    # Emptied on the form, they are gone from the campaign.
    cleared = _form(csrf, segment_id, throttle_per_minute="", window_start="", window_end="", expires_after_hours="")
    assert shop.client.post(f"{base}/{stored['id']}/edit", data=cleared, follow_redirects=False).status_code == 303
    definition = shop.client.get(f"/api/v1/campaigns/{stored['id']}", headers=shop.headers).json()["definition"]
    assert definition["schedule"]["throttle_per_minute"] is None
    assert definition["schedule"]["window"] is None
    assert definition["expires_after_hours"] is None


def test_mistaken_limits_are_named_and_nothing_is_stored(shop: Any) -> None:  # noqa: F811
    shop.ingest(customers(3))
    segment_id = shop.segment()
    base, csrf = _signed_in(shop)
    fast = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, throttle_per_minute="fast"))
    assert fast.status_code == 422
    assert re.search(r'data-path="definition.schedule.throttle_per_minute">enter a whole number<', fast.text)
    assert 'value="fast"' in fast.text
    half = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, window_start="09:00"), headers=JSON)
    assert half.status_code == 422
    assert any(p["path"].startswith("definition.schedule.window") for p in half.json()["problems"]), half.json()
    same = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, window_start="09:00", window_end="09:00"),
                            headers=JSON)
    assert same.status_code == 422
    assert "differ" in same.json()["message"]
    zero = shop.client.post(f"{base}/new", data=_form(csrf, segment_id, expires_after_hours="0"), headers=JSON)
    assert zero.status_code == 422
    assert [p["path"] for p in zero.json()["problems"]] == ["definition.expires_after_hours"]
    assert _stored(shop) == []
