"""Settings: the index, the contact policy form, channels and providers, API keys — access, validation, audit."""

from __future__ import annotations

import re
from typing import Any

import pytest

from loopline.actions.contact_policy import get_policy
from tests.console.conftest import csrf_of, member, sign_in

JSON = {"Accept": "application/json"}
RELAY_PASSWORD = "relay-password-never-shown"
POLICY_FORM: dict[str, Any] = {
    "cap_limit": ["3", "1", ""], "cap_window_hours": ["168", "24", ""], "cap_channel": ["", "push", ""],
    "cap_scope": ["all", "per_campaign", "all"], "defer_when_capped": "on", "quiet_enabled": "on",
    "quiet_start": "21:30", "quiet_end": "07:00", "quiet_channels": ["push", "sms"],
    "default_time_zone": "Europe/Berlin", "opt_in_channels": ["email"], "offer_window_hours": "48",
    "global_control_percent": "5",
}
SECTIONS = ("team", "policy", "channels", "keys", "audit")


def _admin(client: Any, runtime: Any, workspace_id: str) -> str:
    assert sign_in(client, member(runtime, workspace_id)).status_code == 303
    return csrf_of(client, workspace_id)


def _entries(client: Any, workspace_id: str, action: str) -> list[dict[str, Any]]:
    data = client.get(f"/console/w/{workspace_id}/settings/audit", params={"action": action}, headers=JSON).json()
    entries: list[dict[str, Any]] = data["entries"]
    return entries


def test_the_index_links_every_section_with_its_figures(client, runtime, workspace):
    _admin(client, runtime, workspace.id)
    data = client.get(f"/console/w/{workspace.id}/settings", headers=JSON).json()
    base = f"/console/w/{workspace.id}/settings"
    assert [(s["key"], s["href"]) for s in data["sections"]] == [
        (key, f"{base}/{key}") for key in ("team", "policy", "channels", "keys", "topics", "theme", "audit")]
    figures = {s["key"]: s["figure"] for s in data["sections"]}
    assert figures["team"] == "1 member"
    assert figures["keys"] == "2 active keys"  # a new workspace's write key and secret key
    assert figures["channels"] == "0 of 5 channels with their own provider"
    page = client.get(base)
    assert page.status_code == 200
    for key in ("team", "policy", "channels", "keys", "topics", "theme", "audit"):
        assert f'href="{base}/{key}"' in page.text


@pytest.mark.parametrize("role", ["marketer", "analyst", "agent"])
def test_only_admins_open_settings(client, runtime, workspace, role):
    assert sign_in(client, member(runtime, workspace.id, role=role)).status_code == 303
    token = csrf_of(client, workspace.id)
    for path in ("", *[f"/{section}" for section in SECTIONS]):
        refused = client.get(f"/console/w/{workspace.id}/settings{path}", headers=JSON)
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "forbidden"
    writes = {"/policy": POLICY_FORM, "/keys": {"kind": "secret"}, "/channels/email/remove": {}}
    for path, fields in writes.items():
        refused = client.post(f"/console/w/{workspace.id}/settings{path}", data=fields,
                              headers=JSON | {"X-CSRF-Token": token})
        assert refused.status_code == 403, path
    assert len(runtime.services.workspaces.list_keys(workspace_id=workspace.id)) == 2
    assert runtime.services.contact_policies.get(workspace_id=workspace.id) is None


def test_another_workspaces_admin_finds_nothing(client, runtime, workspace, other_workspace):
    token = _admin(client, runtime, other_workspace.id)
    for path in ("", *[f"/{section}" for section in SECTIONS]):
        assert client.get(f"/console/w/{workspace.id}/settings{path}", headers=JSON).status_code == 404, path
    taken = client.post(f"/console/w/{workspace.id}/settings/keys", data={"kind": "secret", "csrf_token": token})
    assert taken.status_code == 404
    assert len(runtime.services.workspaces.list_keys(workspace_id=workspace.id)) == 2


def test_the_policy_form_saves_the_policy_and_audits_what_changed(client, runtime, workspace):
    token = _admin(client, runtime, workspace.id)
    form = client.get(f"/console/w/{workspace.id}/settings/policy", headers=JSON).json()
    assert form["policy"]["caps"] == []
    assert form["policy"]["quiet_hours"] is None
    assert len(form["form"]["caps"]) == 2  # empty rows to add caps without scripts
    saved = client.post(f"/console/w/{workspace.id}/settings/policy", data=POLICY_FORM | {"csrf_token": token},
                        follow_redirects=False)
    assert saved.status_code == 303
    policy = get_policy(runtime.services, workspace_id=workspace.id).model_dump(mode="json")
    assert policy == {
        "caps": [{"limit": 3, "window_hours": 168.0, "channel": None, "per_campaign": False},
                 {"limit": 1, "window_hours": 24.0, "channel": "push", "per_campaign": True}],
        "quiet_hours": {"start": "21:30:00", "end": "07:00:00", "channels": ["push", "sms"]},
        "defer_when_capped": True, "default_time_zone": "Europe/Berlin", "opt_in_channels": ["email"],
        "offer_window_hours": 48.0, "global_control_percent": 5.0}
    shown = client.get(f"/console/w/{workspace.id}/settings/policy").text
    assert 'value="21:30"' in shown
    assert 'value="Europe/Berlin"' in shown
    assert shown.count('data-testid="cap-row"') == 4
    [entry] = _entries(client, workspace.id, "policy.changed")
    assert entry["actor"] == "ana@example.com"
    assert set(entry["detail"]["changed"]) == {"caps", "quiet_hours", "defer_when_capped", "default_time_zone",
                                               "opt_in_channels", "offer_window_hours", "global_control_percent"}


def test_a_refused_policy_is_shown_again_with_its_problems_and_nothing_changes(client, runtime, workspace):
    token = _admin(client, runtime, workspace.id)
    bad = POLICY_FORM | {"cap_limit": ["three", "1", ""], "quiet_end": "21:30", "default_time_zone": "Mars/Base",
                         "global_control_percent": "50", "csrf_token": token}
    page = client.post(f"/console/w/{workspace.id}/settings/policy", data=bad)
    assert page.status_code == 422
    problems = re.findall(r"<li><strong>([^<]+)</strong>", page.text)
    assert problems == ["Cap 1, limit", "Quiet hours", "Default time zone", "Global control percent"]
    assert 'value="three"' in page.text
    assert 'value="Mars/Base"' in page.text
    as_json = client.post(f"/console/w/{workspace.id}/settings/policy", data=bad, headers=JSON)
    assert as_json.status_code == 422
    assert as_json.json()["code"] == "invalid_policy"
    assert "Cap 1, limit" in as_json.json()["message"]
    assert runtime.services.contact_policies.get(workspace_id=workspace.id) is None
    assert _entries(client, workspace.id, "policy.changed") == []
    forged = client.post(f"/console/w/{workspace.id}/settings/policy", data=POLICY_FORM)
    assert forged.status_code == 403
    assert runtime.services.contact_policies.get(workspace_id=workspace.id) is None


def test_an_smtp_provider_is_set_shown_without_its_password_and_removed(client, runtime, workspace):
    token = _admin(client, runtime, workspace.id)
    smtp = {"host": "smtp.example.com", "port": "2525", "security": "starttls", "username": "shop",
            "password": RELAY_PASSWORD, "sender_address": "news@shop.example", "sender_name": "Shop",
            "connections": "2", "rate_per_second": "", "csrf_token": token}
    saved = client.post(f"/console/w/{workspace.id}/settings/channels/email/smtp", data=smtp, follow_redirects=False)
    assert saved.status_code == 303
    data = client.get(f"/console/w/{workspace.id}/settings/channels", headers=JSON).json()
    email = next(item for item in data["channels"] if item["channel"] == "email")
    assert email["carried_by"] == "smtp"
    assert email["provider"]["host"] == "smtp.example.com"
    assert email["provider"]["port"] == 2525
    assert email["secrets"] == {"password": True, "dkim_private_key": False, "events_secret": False}
    assert [item["carried_by"] for item in data["channels"]] == ["smtp", "sandbox", "sandbox", "sandbox", "sandbox"]
    page = client.get(f"/console/w/{workspace.id}/settings/channels").text
    assert "password: set" in page
    assert RELAY_PASSWORD not in page
    assert RELAY_PASSWORD not in str(data)
    # Saving again without the password keeps the stored one.
    client.post(f"/console/w/{workspace.id}/settings/channels/email/smtp", data=smtp | {"password": "",
                                                                                         "sender_name": "Shop 2"})
    again = client.get(f"/console/w/{workspace.id}/settings/channels", headers=JSON).json()["smtp"]
    assert again["sender_name"] == "Shop 2"
    assert runtime.services.secrets.open(runtime.services.providers.get(
        workspace_id=workspace.id, channel="email").sealed) == {"password": RELAY_PASSWORD}
    entries = _entries(client, workspace.id, "provider.set")
    assert [(e["actor"], e["target"], e["detail"]["kind"]) for e in entries] == [
        ("ana@example.com", "email", "smtp")] * 2
    assert RELAY_PASSWORD not in str(entries)
    removed = client.post(f"/console/w/{workspace.id}/settings/channels/email/remove", data={"csrf_token": token},
                          follow_redirects=False)
    assert removed.status_code == 303
    assert runtime.services.providers.get(workspace_id=workspace.id, channel="email") is None
    assert [e["target"] for e in _entries(client, workspace.id, "provider.removed")] == ["email"]
    gone = client.post(f"/console/w/{workspace.id}/settings/channels/email/remove", headers=JSON | {
        "X-CSRF-Token": token})
    assert gone.status_code == 404
    assert gone.json()["code"] == "provider_not_found"


def test_a_provider_typed_as_json_is_validated_by_the_action(client, runtime, workspace):
    token = _admin(client, runtime, workspace.id)
    url = f"/console/w/{workspace.id}/settings/channels/provider"
    broken = client.post(url, data={"channel": "sms", "provider": '{"kind": "sms_gateway",', "csrf_token": token})
    assert broken.status_code == 422
    assert "not valid JSON" in broken.text
    assert "{&#34;kind&#34;: &#34;sms_gateway&#34;," in broken.text  # kept in the textarea
    wrong = client.post(url, headers=JSON | {"X-CSRF-Token": token}, data={
        "channel": "push", "provider": '{"kind": "smtp", "host": "h", "sender_address": "a@b.example"}'})
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "invalid_provider"
    assert "does not carry this channel" in wrong.json()["message"]
    missing = client.post(url, headers=JSON | {"X-CSRF-Token": token}, data={
        "channel": "sms", "provider": '{"kind": "sms_gateway", "shape": "twilio", "base_url": "https://sms.example",'
                                      ' "sender": "Shop", "account": "AC1"}'})
    assert missing.status_code == 422
    assert "secret" in missing.json()["message"]
    assert runtime.services.providers.in_workspace(workspace_id=workspace.id) == []
    assert _entries(client, workspace.id, "provider.set") == []
    saved = client.post(url, data={"channel": "sms", "csrf_token": token, "provider": (
        '{"kind": "sms_gateway", "shape": "twilio", "base_url": "https://sms.example", "sender": "Shop",'
        ' "account": "AC1", "secret": "gateway-token-xyz"}')})
    assert saved.status_code == 200
    sms = next(i for i in client.get(f"/console/w/{workspace.id}/settings/channels", headers=JSON).json()["channels"]
               if i["channel"] == "sms")
    assert sms["carried_by"] == "sms_gateway"
    assert sms["secrets"] == {"secret": True}
    assert "gateway-token-xyz" not in client.get(f"/console/w/{workspace.id}/settings/channels").text


def test_a_keys_secret_is_shown_once_then_never_and_revoking_works_at_once(client, runtime, workspace):
    token = _admin(client, runtime, workspace.id)
    made = client.post(f"/console/w/{workspace.id}/settings/keys", data={"kind": "secret", "label": "Reporting",
                                                                       "csrf_token": token})
    assert made.status_code == 201
    key_text = re.search(r'data-testid="new-key-text">([^<]+)<', made.text).group(1)
    assert key_text.startswith("lls_")
    key_id = key_text.split("_")[1]
    # The key works against the management API.
    assert client.get("/api/v1/keys", headers={"Authorization": f"Bearer {key_text}"}).status_code == 200
    listing = client.get(f"/console/w/{workspace.id}/settings/keys", headers=JSON).json()
    assert listing["new_key"] is None
    assert listing["keys"][0] | {"created_at": None} == {
        "id": key_id, "kind": "secret", "label": "Reporting", "prefix": f"lls_{key_id}_…", "created_at": None,
        "revoked_at": None, "active": True}
    secret = key_text.split("_", 2)[2]
    assert secret not in client.get(f"/console/w/{workspace.id}/settings/keys").text
    assert secret not in str(listing)
    [created] = _entries(client, workspace.id, "key.created")
    assert (created["actor"], created["target"], created["detail"]) == (
        "ana@example.com", key_id, {"kind": "secret", "label": "Reporting"})
    assert secret not in str(created)
    revoked = client.post(f"/console/w/{workspace.id}/settings/keys/{key_id}/revoke", data={"csrf_token": token},
                          follow_redirects=False)
    assert revoked.status_code == 303
    assert client.get("/api/v1/keys", headers={"Authorization": f"Bearer {key_text}"}).status_code == 401
    assert [e["target"] for e in _entries(client, workspace.id, "key.revoked")] == [key_id]
    twice = client.post(f"/console/w/{workspace.id}/settings/keys/{key_id}/revoke", headers=JSON | {
        "X-CSRF-Token": token})
    assert twice.status_code == 404
    assert twice.json()["code"] == "key_not_found"
    bad = client.post(f"/console/w/{workspace.id}/settings/keys", data={"kind": "root", "label": "x",
                                                                      "csrf_token": token})
    assert bad.status_code == 422
    assert "choose the kind of key" in bad.text
    assert len(runtime.services.workspaces.list_keys(workspace_id=workspace.id)) == 3
