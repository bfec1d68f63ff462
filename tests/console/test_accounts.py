"""Accounts: argon2 password hashes, roles per workspace, the audit log and the ``loopline users`` commands."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from loopline.actions.accounts import (
    AccountRejected,
    LoginRefused,
    LoginThrottle,
    do_create_user,
    do_grant_role,
    do_login,
    do_revoke_role,
)
from loopline.cli import app as cli_app
from loopline.config import Settings
from loopline.store.sql.tables import console_users
from tests.console.conftest import PASSWORD, member, sign_in

pytestmark = pytest.mark.usefixtures("client")


def _stored_hash(runtime, email):
    with runtime.services.engine.connect() as conn:
        return conn.execute(console_users.select().where(console_users.c.email == email)).one().password_hash


def test_passwords_are_stored_only_as_argon2_hashes(runtime):
    user = do_create_user(runtime.services, email="Ana@Example.com", password=PASSWORD)
    assert user.email == "ana@example.com"
    stored = _stored_hash(runtime, "ana@example.com")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    with pytest.raises(AccountRejected) as taken:
        do_create_user(runtime.services, email="ana@example.com", password=PASSWORD)
    assert taken.value.code == "email_taken"


def test_a_wrong_password_or_unknown_address_is_refused_alike(runtime):
    do_create_user(runtime.services, email="ana@example.com", password=PASSWORD)
    throttle = LoginThrottle(100)
    for email, password in (("ana@example.com", PASSWORD + "x"), ("nobody@example.com", PASSWORD),
                            ("ana@example.com", ""), ("", "")):
        with pytest.raises(LoginRefused) as refused:
            do_login(runtime.services, throttle, email=email, password=password, client="10.0.0.1")
        assert str(refused.value) == "wrong e-mail address or password"
    assert do_login(runtime.services, throttle, email=" ANA@example.com", password=PASSWORD, client="10.0.0.1").token


def test_a_hash_made_with_older_parameters_is_replaced_at_sign_in(runtime):
    do_create_user(runtime.services, email="ana@example.com", password=PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    user = runtime.services.accounts.get_user_by_email(email="ana@example.com")
    runtime.services.accounts.set_password_hash(user_id=user.id, password_hash=weak, now=runtime.services.clock.now())
    do_login(runtime.services, LoginThrottle(100), email="ana@example.com", password=PASSWORD, client="c")
    stored = _stored_hash(runtime, "ana@example.com")
    assert stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)


def test_roles_are_granted_changed_and_revoked_with_audit_entries(runtime, workspace):
    do_create_user(runtime.services, email="ana@example.com", password=PASSWORD)
    assert do_grant_role(runtime.services, email="ana@example.com", workspace_id=workspace.id, role="analyst") is None
    assert do_grant_role(runtime.services, email="ana@example.com", workspace_id=workspace.id, role="marketer") \
        == "analyst"
    for bad, code in (({"role": "owner"}, "invalid_role"), ({"workspace_id": "ws_nope"}, "workspace_not_found"),
                      ({"email": "bob@example.com"}, "user_not_found")):
        arguments = {"email": "ana@example.com", "workspace_id": workspace.id, "role": "agent"} | bad
        with pytest.raises(AccountRejected) as refused:
            do_grant_role(runtime.services, **arguments)
        assert refused.value.code == code
    assert do_revoke_role(runtime.services, email="ana@example.com", workspace_id=workspace.id) == "marketer"
    entries = runtime.services.accounts.list_audit(workspace_id=workspace.id)
    assert [(e["action"], e["target"], e["detail"]) for e in reversed(entries)] == [
        ("membership.changed", "ana@example.com", {"role": "analyst", "previous_role": None}),
        ("membership.changed", "ana@example.com", {"role": "marketer", "previous_role": "analyst"}),
        ("membership.changed", "ana@example.com", {"role": None, "previous_role": "marketer"}),
    ]


def test_sign_in_sign_out_and_failures_are_audited_without_secrets(client, runtime, workspace):
    email = member(runtime, workspace.id)
    assert sign_in(client, email, "not the password").status_code == 401
    assert sign_in(client, email).status_code == 303
    page = client.get(f"/console/w/{workspace.id}/")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    entries = runtime.services.accounts.list_audit()
    actions = [e["action"] for e in reversed(entries)]
    assert actions == ["user.created", "membership.changed", "login.failed", "login", "logout"]
    assert {e["actor"] for e in entries if e["action"] in ("login", "logout", "login.failed")} == {email}
    assert all(e["client"] == "testclient" for e in entries if e["action"].startswith(("login", "logout")))
    text = repr(entries)
    assert PASSWORD not in text
    assert "not the password" not in text
    assert token not in text


def _cli(tmp_path, *args, stdin=None):
    env = {"LOOPLINE_DATA_DIR": str(tmp_path / "cli"), "LOOPLINE_CONFIG_FILE": str(tmp_path / "none.toml")}
    return CliRunner().invoke(cli_app, list(args), env=env, input=stdin)


def test_the_cli_creates_users_grants_roles_and_reports_bad_input_in_one_line(tmp_path):
    from loopline.actions.workspaces import do_create_workspace
    from loopline.bootstrap import build_runtime

    runtime = build_runtime(Settings(data_dir=tmp_path / "cli"))
    try:
        workspace = do_create_workspace(runtime.services, name="Shop")
    finally:
        runtime.stop()
    created = _cli(tmp_path, "users", "create", "Bo@Example.com", "--name", "Bo", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert created.exit_code == 0, created.output
    assert "user bo@example.com created" in created.output
    generated = _cli(tmp_path, "users", "create", "cy@example.com", "--generate-password")
    assert generated.exit_code == 0
    assert "password: " in generated.output
    granted = _cli(tmp_path, "users", "grant", "bo@example.com", workspace.id, "analyst")
    assert granted.exit_code == 0
    assert f"bo@example.com is analyst of {workspace.id}" in granted.output
    listed = _cli(tmp_path, "users", "list")
    assert "bo@example.com" in listed.output
    assert "analyst of Shop" in listed.output
    for args, message in (
        (("users", "grant", "bo@example.com", workspace.id, "owner"), "unknown role 'owner'"),
        (("users", "grant", "zed@example.com", workspace.id, "admin"), "no user has the address zed@example.com"),
        (("users", "grant", "bo@example.com", "ws_missing", "admin"), "no workspace 'ws_missing'"),
        (("users", "revoke", "cy@example.com", workspace.id), "cy@example.com has no role in"),
        (("users", "create", "not-an-address", "--generate-password"), "enter an e-mail address"),
    ):
        result = _cli(tmp_path, *args)
        assert result.exit_code != 0, args
        assert message in str(result.exception), (args, result.exception)
    weak = _cli(tmp_path, "users", "create", "dee@example.com", stdin="short\nshort\n")
    assert weak.exit_code != 0
    assert "at least 12 characters" in str(weak.exception)
    assert _cli(tmp_path, "users", "grant", "bo@example.com", workspace.id, "admin").exit_code == 0
    for args in (("users", "revoke", "bo@example.com", workspace.id),
                 ("users", "grant", "bo@example.com", workspace.id, "agent")):
        kept = _cli(tmp_path, *args)
        assert kept.exit_code != 0, args
        assert "the workspace's only admin" in str(kept.exception), (args, kept.exception)
    assert "admin of Shop" in _cli(tmp_path, "users", "list").output
