"""The console's topics and theme settings: admins change them through forms (CSRF, audit log), a form that
does not validate comes back with the input and the problems, and other roles and workspaces are kept out."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import bearer
from tests.console.conftest import csrf_of, member, sign_in

JSON = {"Accept": "application/json"}
NEWS = {"key": "news", "label": "Newsletter", "description": "Once a month", "channels": ["email", "sms"],
        "default_status": "opted_in"}


def _audit(runtime: Any, workspace_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    entries = runtime.services.accounts.list_audit(workspace_id=workspace_id)
    return [(e["action"], e["target"], e["detail"]) for e in entries if e["action"].startswith(("topic.", "theme."))]


def test_an_admin_adds_edits_and_deletes_topics_through_the_forms(signed_in: Any, runtime: Any,
                                                                  workspace: Any) -> None:
    client, base = signed_in, f"/console/w/{workspace.id}/settings/topics"
    csrf = csrf_of(client, workspace.id)
    empty = client.get(base)
    assert empty.status_code == 200
    assert 'data-testid="no-topics"' in empty.text
    assert client.get(base, headers=JSON).json()["topics"] == []

    created = client.post(base, data={**NEWS, "csrf_token": csrf}, follow_redirects=False)
    assert created.status_code == 303
    assert created.headers["location"] == f"{base}?saved=news"
    listing = client.get(created.headers["location"])
    assert listing.text.count('data-testid="topic-row"') == 1
    assert 'data-testid="topic-saved"' in listing.text
    (topic,) = client.get(base, headers=JSON).json()["topics"]
    assert {k: topic[k] for k in NEWS} == NEWS
    # What the console wrote is what the API reads: one catalogue.
    api = client.get("/api/v1/topics/news", headers=bearer(workspace.secret_key)).json()
    assert (api["label"], api["channels"]) == ("Newsletter", ["email", "sms"])

    edit = client.get(f"{base}/news")
    assert edit.status_code == 200
    assert 'data-testid="topic-key">news<' in edit.text
    saved = client.post(f"{base}/news", data={"label": "Monthly letter", "channels": "email",
                                              "default_status": "opted_out", "csrf_token": csrf},
                        follow_redirects=False)
    assert saved.status_code == 303
    assert client.get(f"{base}/news", headers=JSON).json()["topic"]["channels"] == ["email"]

    deleted = client.post(f"{base}/news/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert deleted.status_code == 303
    assert client.get(base, headers=JSON).json()["topics"] == []
    assert client.get(f"{base}/news", headers=JSON).status_code == 404
    email = "ana@example.com"
    assert [(action, target) for action, target, _ in _audit(runtime, workspace.id)] == [
        ("topic.deleted", "news"), ("topic.updated", "news"), ("topic.created", "news")]
    updated = next(detail for action, _, detail in _audit(runtime, workspace.id) if action == "topic.updated")
    assert updated == {"label": "Monthly letter", "description": "", "channels": ["email"],
                       "default_status": "opted_out"}
    entries = runtime.services.accounts.list_audit(workspace_id=workspace.id)
    assert {e["actor"] for e in entries if e["action"].startswith("topic.")} == {email}


def test_a_topic_that_does_not_validate_comes_back_with_the_input_and_each_problem(
        signed_in: Any, runtime: Any, workspace: Any) -> None:
    client, base = signed_in, f"/console/w/{workspace.id}/settings/topics"
    csrf = csrf_of(client, workspace.id)
    refused = client.post(base, data={"key": "Big News", "label": "Weekly <deals>", "description": "kept text",
                                      "default_status": "opted_in", "csrf_token": csrf})
    assert refused.status_code == 422
    assert 'value="Big News"' in refused.text
    assert 'value="Weekly &lt;deals&gt;"' in refused.text
    assert ">kept text</textarea>" in refused.text
    assert 'data-testid="problem-key"' in refused.text
    assert 'data-testid="problem-channels"' in refused.text
    assert 'data-testid="form-error"' in refused.text
    as_json = client.post(base, data={"key": "x", "label": "", "channels": "email", "csrf_token": csrf},
                          headers=JSON)
    assert as_json.status_code == 422
    body = as_json.json()
    assert body["error"]["code"] == "invalid_topic"
    assert [p["path"] for p in body["problems"]] == ["label"]
    assert body["form"]["key"] == "x"
    assert client.post(base, data={**NEWS, "csrf_token": csrf}).status_code == 200  # saved, then the list
    taken = client.post(base, data={**NEWS, "label": "Again", "csrf_token": csrf}, headers=JSON)
    assert (taken.status_code, taken.json()["error"]["code"]) == (422, "topic_taken")
    assert client.get(base, headers=JSON).json()["topics"][0]["label"] == "Newsletter"
    assert [action for action, _, _ in _audit(runtime, workspace.id)] == ["topic.created"]
    # Without the CSRF token nothing is saved.
    forged = client.post(base, data={**NEWS, "key": "forged"})
    assert forged.status_code == 403
    assert [t["key"] for t in client.get(base, headers=JSON).json()["topics"]] == ["news"]


def test_an_admin_sets_the_theme_and_a_bad_colour_is_shown_back(signed_in: Any, runtime: Any,
                                                               workspace: Any) -> None:
    client, base = signed_in, f"/console/w/{workspace.id}/settings/theme"
    csrf = csrf_of(client, workspace.id)
    shown = client.get(base, headers=JSON).json()
    assert (shown["theme"]["primary_color"], shown["theme"]["font"]) == ("#1f6feb", "system")
    assert [font["name"] for font in shown["fonts"]][:2] == ["system", "humanist"]
    saved = client.post(base, data={"brand_name": "Kim's Kitchen", "primary_color": "#0A7D33", "font": "rounded",
                                    "background_color": "#fffdf5", "text_color": "#202020", "logo_url": "",
                                    "csrf_token": csrf}, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert 'data-testid="theme-saved"' in page.text
    assert re.search(r'style="--brand-primary:#0a7d33;[^"]*--brand-font:ui-rounded', page.text)
    api = client.get("/api/v1/theme", headers=bearer(workspace.secret_key)).json()
    assert (api["brand_name"], api["primary_color"], api["font"]) == ("Kim's Kitchen", "#0a7d33", "rounded")

    refused = client.post(base, data={"brand_name": "Other", "primary_color": "green;}", "font": "rounded",
                                      "logo_url": "javascript:alert(1)", "csrf_token": csrf})
    assert refused.status_code == 422
    assert 'value="green;}"' in refused.text
    assert 'value="Other"' in refused.text
    assert 'data-testid="problem-primary_color"' in refused.text
    assert 'data-testid="problem-logo_url"' in refused.text
    assert client.get("/api/v1/theme", headers=bearer(workspace.secret_key)).json()["brand_name"] == "Kim's Kitchen"
    ((action, target, detail),) = _audit(runtime, workspace.id)
    assert (action, target) == ("theme.updated", workspace.id)
    assert detail == {"brand_name": "Kim's Kitchen", "primary_color": "#0a7d33", "background_color": "#fffdf5",
                      "text_color": "#202020", "font": "rounded"}


def test_other_roles_and_other_workspaces_are_kept_out(client: Any, runtime: Any, workspace: Any,
                                                       other_workspace: Any) -> None:
    assert client.post("/api/v1/topics", headers=bearer(other_workspace.secret_key), json=NEWS).status_code == 201
    assert sign_in(client, member(runtime, workspace.id, role="admin")).status_code == 303
    csrf = csrf_of(client, workspace.id)
    foreign = f"/console/w/{other_workspace.id}/settings"
    for path in ("/topics", "/topics/news", "/theme"):
        answer = client.get(foreign + path, headers=JSON)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "workspace_not_found"), path
    for path, data in (("/topics", NEWS), ("/topics/news", NEWS), ("/topics/news/delete", {}),
                       ("/theme", {"brand_name": "Mallory"})):
        assert client.post(foreign + path, data={**data, "csrf_token": csrf}).status_code == 404, path
    other = client.get("/api/v1/topics/news", headers=bearer(other_workspace.secret_key)).json()
    assert other["label"] == "Newsletter"
    assert client.get(f"/console/w/{workspace.id}/settings/topics/news", headers=JSON).status_code == 404

    client.cookies.clear()
    assert sign_in(client, member(runtime, workspace.id, role="marketer", email="mo@example.com")).status_code == 303
    csrf = csrf_of(client, workspace.id)
    mine = f"/console/w/{workspace.id}/settings"
    for path in ("/topics", "/theme"):
        assert client.get(mine + path).status_code == 403, path
        assert client.post(mine + path, data={**NEWS, "csrf_token": csrf}).status_code == 403, path
    assert client.get("/api/v1/topics", headers=bearer(workspace.secret_key)).json()["items"] == []
    assert _audit(runtime, workspace.id) == []
