"""Settings → Team and Audit log: adding people, changing and removing roles, the last admin, the log itself."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from loopline.actions.accounts import AccountRejected, audit, do_grant_role, do_revoke_role
from loopline.domain.accounts import Role
from loopline.domain.team import TeamChangeRefused, check_team_change
from tests.console.conftest import PASSWORD, csrf_of, member, sign_in

JSON = {"Accept": "application/json"}
NEW_PASSWORD = "a long new password 42"


def _admin(client: Any, runtime: Any, workspace_id: str) -> str:
    assert sign_in(client, member(runtime, workspace_id)).status_code == 303
    return csrf_of(client, workspace_id)


def _team(client: Any, workspace_id: str) -> dict[str, str]:
    data = client.get(f"/console/w/{workspace_id}/settings/team", headers=JSON).json()
    return {item["email"]: item["role"] for item in data["members"]}


def _user_id(runtime: Any, email: str) -> str:
    return runtime.services.accounts.get_user_by_email(email=email).id


def _audit(client: Any, workspace_id: str, **filters: str) -> dict[str, Any]:
    answer = client.get(f"/console/w/{workspace_id}/settings/audit", params=filters, headers=JSON)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_rule_keeps_one_admin_in_every_workspace():
    roles = {"u1": Role.ADMIN, "u2": Role.MARKETER}
    for new_role in (None, Role.MARKETER, Role.AGENT):
        with pytest.raises(TeamChangeRefused) as refused:
            check_team_change(roles, target="u1", new_role=new_role, acting="u1")
        assert refused.value.code == "last_admin"
        assert refused.value.message.startswith("you are the workspace's only admin")
    check_team_change(roles, target="u1", new_role=Role.ADMIN, acting="u1")  # staying admin is no change
    check_team_change(roles, target="u2", new_role=None, acting="u1")
    check_team_change(roles | {"u3": Role.ADMIN}, target="u1", new_role=None, acting="u1")
    with pytest.raises(TeamChangeRefused) as stranger:
        check_team_change(roles, target="u9", new_role=None, acting="u1")
    assert stranger.value.code == "member_not_found"


def test_an_admin_adds_a_new_person_who_can_then_sign_in(client, runtime, workspace):
    token = _admin(client, runtime, workspace.id)
    added = client.post(f"/console/w/{workspace.id}/settings/team", follow_redirects=False, data={
        "csrf_token": token, "email": " Kim@Example.com ", "name": "Kim", "password": NEW_PASSWORD,
        "role": "marketer"})
    assert added.status_code == 303
    assert added.headers["location"] == f"/console/w/{workspace.id}/settings/team"
    assert _team(client, workspace.id) == {"ana@example.com": "admin", "kim@example.com": "marketer"}
    page = client.get(f"/console/w/{workspace.id}/settings/team")
    assert page.status_code == 200
    assert 'data-email="kim@example.com"' in page.text
    log = _audit(client, workspace.id, action="membership.changed")
    newest = log["entries"][0]
    assert (newest["actor"], newest["target"], newest["detail"]) == (
        "ana@example.com", "kim@example.com", {"role": "marketer", "previous_role": None})
    # The new account shows in this workspace's log too, never with its password.
    (created,) = _audit(client, workspace.id, action="user.created")["entries"]
    assert (created["actor"], created["target"]) == ("ana@example.com", "kim@example.com")
    assert NEW_PASSWORD not in str(created)
    client.cookies.clear()
    assert sign_in(client, "kim@example.com", NEW_PASSWORD).status_code == 303
    assert client.get(f"/console/w/{workspace.id}/campaigns").status_code == 200
    assert client.get(f"/console/w/{workspace.id}/settings/team").status_code == 403


def test_an_existing_account_gets_a_role_without_its_password_changing(client, runtime, workspace, other_workspace):
    member(runtime, other_workspace.id, role="analyst", email="lee@example.com")
    token = _admin(client, runtime, workspace.id)
    refused = client.post(f"/console/w/{workspace.id}/settings/team", data={
        "csrf_token": token, "email": "lee@example.com", "name": "", "password": NEW_PASSWORD, "role": "agent"})
    assert refused.status_code == 409
    assert "keeps their own password" in refused.text
    assert 'value="lee@example.com"' in refused.text  # the form keeps what was typed
    assert NEW_PASSWORD not in refused.text
    assert "lee@example.com" not in _team(client, workspace.id)
    granted = client.post(f"/console/w/{workspace.id}/settings/team", data={
        "csrf_token": token, "email": "lee@example.com", "password": "", "role": "agent"}, follow_redirects=False)
    assert granted.status_code == 303
    assert _team(client, workspace.id)["lee@example.com"] == "agent"
    again = client.post(f"/console/w/{workspace.id}/settings/team", headers=JSON | {"X-CSRF-Token": token},
                        data={"email": "lee@example.com", "role": "admin"})
    assert again.status_code == 409
    assert again.json()["code"] == "already_member"
    client.cookies.clear()
    assert sign_in(client, "lee@example.com", PASSWORD).status_code == 303  # still their own password


@pytest.mark.parametrize(("fields", "status", "code"), [
    ({"email": "not an address", "password": NEW_PASSWORD, "role": "marketer"}, 422, "invalid_email"),
    ({"email": "new@example.com", "password": "", "role": "marketer"}, 422, "password_required"),
    ({"email": "new@example.com", "password": "short", "role": "marketer"}, 422, "weak_password"),
    ({"email": "new@example.com", "password": NEW_PASSWORD, "role": "owner"}, 422, "invalid_role"),
])
def test_bad_input_is_refused_with_a_reason_and_nothing_changes(client, runtime, workspace, fields, status, code):
    token = _admin(client, runtime, workspace.id)
    answer = client.post(f"/console/w/{workspace.id}/settings/team", headers=JSON | {"X-CSRF-Token": token},
                         data=fields)
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["message"]
    assert runtime.services.accounts.get_user_by_email(email="new@example.com") is None
    assert _team(client, workspace.id) == {"ana@example.com": "admin"}
    page = client.post(f"/console/w/{workspace.id}/settings/team", data=fields | {"csrf_token": token})
    assert page.status_code == status
    assert 'data-testid="form-error"' in page.text


def test_roles_change_and_members_leave_but_the_last_admin_stays(client, runtime, workspace):
    token = _admin(client, runtime, workspace.id)
    member(runtime, workspace.id, role="analyst", email="lee@example.com")
    me, lee = _user_id(runtime, "ana@example.com"), _user_id(runtime, "lee@example.com")
    base = f"/console/w/{workspace.id}/settings/team"
    # Removing asks first: the button sits inside a disclosure that says what it will do.
    page = client.get(base).text
    assert re.search(r'<details class="confirm" data-testid="member-remove-confirm">\s*<summary>Remove…</summary>'
                     r'\s*<p>lee@example.com loses access to this workspace at once', page)
    for path, fields in ((f"{me}/role", {"role": "marketer"}), (f"{me}/remove", {})):
        refused = client.post(f"{base}/{path}", data=fields | {"csrf_token": token})
        assert refused.status_code == 409
        assert "only admin: make someone else an admin before you" in refused.text
    as_json = client.post(f"{base}/{me}/role", data={"role": "agent"}, headers=JSON | {"X-CSRF-Token": token})
    assert as_json.status_code == 409
    assert as_json.json()["code"] == "last_admin"
    assert _team(client, workspace.id) == {"ana@example.com": "admin", "lee@example.com": "analyst"}
    assert client.post(f"{base}/{lee}/role", data={"role": "admin", "csrf_token": token}).status_code == 200
    assert _team(client, workspace.id)["lee@example.com"] == "admin"
    stepped_down = client.post(f"{base}/{me}/role", data={"role": "marketer", "csrf_token": token},
                               follow_redirects=False)
    assert stepped_down.status_code == 303
    assert stepped_down.headers["location"] == "/console/"  # settings are no longer theirs to see
    assert client.get(base).status_code == 403
    client.cookies.clear()
    assert sign_in(client, "lee@example.com").status_code == 303
    token = csrf_of(client, workspace.id)
    assert client.post(f"{base}/{me}/remove", data={"csrf_token": token}).status_code == 200
    assert _team(client, workspace.id) == {"lee@example.com": "admin"}
    unknown = client.post(f"{base}/usr_nobody/remove", headers=JSON | {"X-CSRF-Token": token})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "member_not_found"
    removed = _audit(client, workspace.id, actor="lee@example.com")["entries"][0]
    assert (removed["action"], removed["target"], removed["detail"]) == (
        "membership.changed", "ana@example.com", {"role": None, "previous_role": "marketer"})


def test_team_changes_need_the_csrf_token_and_an_admin(client, runtime, workspace, other_workspace):
    _admin(client, runtime, workspace.id)
    forged = client.post(f"/console/w/{workspace.id}/settings/team", headers=JSON, data={
        "email": "kim@example.com", "password": NEW_PASSWORD, "role": "admin"})
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    assert runtime.services.accounts.get_user_by_email(email="kim@example.com") is None
    token = csrf_of(client, workspace.id)
    foreign = client.post(f"/console/w/{other_workspace.id}/settings/team", headers=JSON | {"X-CSRF-Token": token},
                          data={"email": "kim@example.com", "password": NEW_PASSWORD, "role": "admin"})
    assert foreign.status_code == 404
    assert runtime.services.accounts.get_user_by_email(email="kim@example.com") is None
    client.cookies.clear()
    assert sign_in(client, member(runtime, workspace.id, role="marketer", email="mo@example.com")).status_code == 303
    token = csrf_of(client, workspace.id)
    me = _user_id(runtime, "mo@example.com")
    climb = client.post(f"/console/w/{workspace.id}/settings/team/{me}/role", headers=JSON | {"X-CSRF-Token": token},
                        data={"role": "admin"})
    assert climb.status_code == 403
    assert runtime.services.accounts.memberships_of(user_id=me)[0].role == "marketer"


def test_the_audit_log_pages_newest_first_and_filters_by_action_and_person(client, runtime, workspace,
                                                                          other_workspace):
    _admin(client, runtime, workspace.id)
    for number in range(57):
        audit(runtime.services, action="segment.created" if number % 2 else "campaign.launched",
              actor="kim@example.com" if number % 3 else "lee@example.com", workspace_id=workspace.id,
              target=f"thing-{number:02d}")
    audit(runtime.services, action="segment.created", actor="eve@example.com", workspace_id=other_workspace.id,
          target="foreign")
    first = _audit(client, workspace.id)
    # 57 entries written here, and one from granting the admin's role before them.
    assert len(first["entries"]) == 50
    assert first["entries"][0]["target"] == "thing-56"
    assert first["entries"][49]["target"] == "thing-07"
    assert first["actions"] == ["campaign.launched", "membership.changed", "segment.created"]
    assert "eve@example.com" not in first["actors"]
    second = _audit(client, workspace.id, before=first["next"])
    assert [e["target"] for e in second["entries"]] == [f"thing-{n:02d}" for n in range(6, -1, -1)] + [
        "ana@example.com"]
    assert second["next"] is None
    segments = _audit(client, workspace.id, action="segment.created", actor="lee@example.com")
    assert [e["target"] for e in segments["entries"]] == [f"thing-{n:02d}" for n in (51, 45, 39, 33, 27, 21, 15, 9, 3)]
    foreign_cursor = client.get(f"/console/w/{workspace.id}/settings/audit", params={"before": "nope"}, headers=JSON)
    assert foreign_cursor.status_code == 422
    assert foreign_cursor.json()["code"] == "invalid_cursor"
    page = client.get(f"/console/w/{workspace.id}/settings/audit", params={"action": "membership.changed"})
    assert page.status_code == 200
    assert page.text.count('data-testid="audit-entry"') == 1
    assert "foreign" not in client.get(f"/console/w/{workspace.id}/settings/audit").text


def test_only_admins_of_the_workspace_read_its_audit_log(client, runtime, workspace, other_workspace):
    member(runtime, other_workspace.id, email="ana@example.com")
    for role in ("marketer", "analyst", "agent"):
        client.cookies.clear()
        email = member(runtime, workspace.id, role=role, email=f"{role}@example.com")
        assert sign_in(client, email).status_code == 303
        for section in ("audit", "team"):
            refused = client.get(f"/console/w/{workspace.id}/settings/{section}", headers=JSON)
            assert refused.status_code == 403, (role, section)
            assert refused.json()["code"] == "forbidden"
    client.cookies.clear()
    assert sign_in(client, "ana@example.com").status_code == 303
    assert client.get(f"/console/w/{workspace.id}/settings/audit", headers=JSON).status_code == 404
    assert client.get(f"/console/w/{other_workspace.id}/settings/audit", headers=JSON).status_code == 200


def test_two_admins_stepping_down_at_the_same_instant_leave_one_admin(runtime, workspace, monkeypatch):
    # Lee steps down while Ana's own step down is being decided: Lee's change must wait for
    # Ana's and then find Lee the only admin left. Were the rule checked outside the change,
    # Lee's change would go through at once and the workspace would end with no admin.
    services = runtime.services
    member(runtime, workspace.id)
    member(runtime, workspace.id, email="lee@example.com")
    ana, lee = _user_id(runtime, "ana@example.com"), _user_id(runtime, "lee@example.com")
    answers: dict[str, str] = {}

    def lee_steps_down() -> None:
        try:
            do_revoke_role(services, email="lee@example.com", workspace_id=workspace.id, acting_user_id=lee)
            answers["lee"] = "removed"
        except AccountRejected as refused:
            answers["lee"] = refused.code

    lee_thread = threading.Thread(target=lee_steps_down)
    change = services.accounts.set_membership

    def deciding(**arguments: Any) -> str | None:
        rule = arguments.pop("check")

        def rule_then_lee(team: dict[str, str]) -> None:
            rule(team)
            lee_thread.start()
            lee_thread.join(timeout=1.0)
            assert lee_thread.is_alive(), "Lee's change did not wait for Ana's"

        return change(**arguments, check=rule_then_lee)

    monkeypatch.setattr(services.accounts, "set_membership", deciding)
    do_grant_role(services, email="ana@example.com", workspace_id=workspace.id, role="marketer", acting_user_id=ana)
    lee_thread.join(timeout=30)
    assert answers == {"lee": "last_admin"}
    team = {user.email: role for user, role in services.accounts.members_of_workspace(workspace_id=workspace.id)}
    assert team == {"ana@example.com": "marketer", "lee@example.com": "admin"}
