"""Tenant isolation and roles: a person sees only their workspaces, and only the pages their role allows."""

from __future__ import annotations

import pytest

from loopline.console.web import BUILT_PAGES
from loopline.domain.accounts import PAGES_BY_ROLE, Page, Role
from tests.console.conftest import member, sign_in


def test_another_workspace_answers_404_like_one_that_does_not_exist(client, runtime, workspace, other_workspace):
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    for target in (other_workspace.id, "ws_does_not_exist"):
        page = client.get(f"/console/w/{target}/")
        assert page.status_code == 404
        assert "no such workspace" in page.text
        assert other_workspace.id not in page.text or target == other_workspace.id
        data = client.get(f"/console/w/{target}/overview.json")
        assert data.status_code == 404
        assert data.json()["code"] == "workspace_not_found"
        accept = client.get(f"/console/w/{target}/", headers={"Accept": "application/json"})
        assert accept.status_code == 404
        assert accept.json()["error"]["code"] == "workspace_not_found"
        assert client.get(f"/console/w/{target}/_running").status_code == 404
    assert "Other shop" not in client.get(f"/console/w/{workspace.id}/").text


def test_without_a_session_pages_send_browsers_to_sign_in_and_scripts_get_401(client, workspace):
    page = client.get(f"/console/w/{workspace.id}/", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/console/login"
    data = client.get(f"/console/w/{workspace.id}/overview.json")
    assert data.status_code == 401
    assert data.json()["code"] == "not_signed_in"
    assert client.get("/console/", follow_redirects=False).headers["location"] == "/console/login"
    client.cookies.set("loopline_session", "made-up", path="/console")
    assert client.get(f"/console/w/{workspace.id}/overview.json").status_code == 401


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_every_role_opens_the_overview_and_navigation_links_only_built_pages(client, runtime, workspace, role):
    assert sign_in(client, member(runtime, workspace.id, role=role)).status_code == 303
    page = client.get("/console/", follow_redirects=True)
    assert page.status_code == 200
    assert page.url.path == f"/console/w/{workspace.id}/"
    assert client.get(f"/console/w/{workspace.id}/overview.json").json()["role"] == role
    links = list(page.text.split('href="')[1:])
    console_links = {link.split('"')[0] for link in links if link.startswith("/console/") and "static" not in link}
    allowed = PAGES_BY_ROLE[Role(role)]
    expected = {f"/console/w/{workspace.id}/{suffix}" for page, _, suffix in BUILT_PAGES if page in allowed}
    assert console_links == {"/console/", *expected}
    # Every linked page opens for this role; every other page answers 403.
    for page_name, _, suffix in BUILT_PAGES:
        answer = client.get(f"/console/w/{workspace.id}/{suffix}")
        assert answer.status_code == (200 if page_name in allowed else 403), (suffix, answer.text[:300])
        # Each page's data is also JSON, for the same people.
        data = client.get(f"/console/w/{workspace.id}/{suffix}", headers={"Accept": "application/json"})
        assert data.status_code == answer.status_code, suffix
        assert data.headers["content-type"] == "application/json", suffix
        assert isinstance(data.json(), dict), suffix


def test_a_member_of_several_workspaces_picks_one(client, runtime, workspace, other_workspace):
    email = member(runtime, workspace.id, role="analyst")
    member(runtime, other_workspace.id, role="agent", email=email)
    assert sign_in(client, email).status_code == 303
    home = client.get("/console/", follow_redirects=False)
    assert home.headers["location"] == "/console/workspaces"
    picker = client.get("/console/workspaces")
    assert "Test shop" in picker.text
    assert "Other shop" in picker.text
    listed = client.get("/console/workspaces", headers={"Accept": "application/json"}).json()
    assert {(w["name"], w["role"]) for w in listed["workspaces"]} == {("Test shop", "analyst"), ("Other shop", "agent")}
    assert client.get(f"/console/w/{other_workspace.id}/").status_code == 200
    assert "Switch workspace" in client.get(f"/console/w/{workspace.id}/").text


def test_revoking_a_role_closes_the_workspace_at_once(client, runtime, workspace):
    from loopline.actions.accounts import do_revoke_role

    member(runtime, workspace.id)  # the admin who stays (a workspace always keeps one)
    email = member(runtime, workspace.id, role="marketer", email="lee@example.com")
    assert sign_in(client, email).status_code == 303
    assert client.get(f"/console/w/{workspace.id}/overview.json").status_code == 200
    do_revoke_role(runtime.services, email=email, workspace_id=workspace.id)
    assert client.get(f"/console/w/{workspace.id}/overview.json").status_code == 404
    picker = client.get("/console/workspaces")
    assert "not a member of any workspace" in picker.text


def test_a_page_the_role_may_not_open_answers_403(client, runtime, workspace, monkeypatch):
    # Every role may open the overview today; take it from agents to see the one check refuse.
    monkeypatch.setitem(PAGES_BY_ROLE, Role.AGENT, frozenset({Page.CUSTOMERS, Page.OUTBOX}))
    assert sign_in(client, member(runtime, workspace.id, role="agent")).status_code == 303
    page = client.get(f"/console/w/{workspace.id}/")
    assert page.status_code == 403
    assert "your role (agent) may not open this page" in page.text
    data = client.get(f"/console/w/{workspace.id}/overview.json")
    assert data.status_code == 403
    assert data.json()["code"] == "forbidden"
    assert client.get(f"/console/w/{workspace.id}/_running").status_code == 403
