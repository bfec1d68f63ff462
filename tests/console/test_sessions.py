"""Sessions and request safety: cookie flags, expiry, logout, CSRF and sign-in rate limits."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from loopline.actions.accounts import token_hash
from loopline.actions.workspaces import do_create_workspace
from loopline.api.app import create_app
from loopline.bootstrap import build_runtime
from loopline.store.sql.tables import console_sessions
from tests.conftest import ADMIN_TOKEN
from tests.console.conftest import Clock, csrf_of, member, sign_in


def _cookie(response, name):
    headers = [value for key, value in response.headers.multi_items() if key == "set-cookie"]
    return next(value for value in headers if value.startswith(name + "="))


def test_the_session_cookie_is_http_only_and_same_site_and_only_its_hash_is_stored(client, runtime, workspace):
    signed = sign_in(client, member(runtime, workspace.id))
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/"
    cookie = _cookie(signed, "loopline_session")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # the public URL is http here
    token = cookie.split(";")[0].split("=", 1)[1]
    with runtime.services.engine.connect() as conn:
        stored = [row.token_hash for row in conn.execute(console_sessions.select())]
    assert stored == [token_hash(token)]
    assert token not in stored


def test_cookies_are_secure_when_the_console_is_served_over_https(embedded_settings):
    runtime = build_runtime(embedded_settings.model_copy(update={"public_url": "https://crm.example.com",
                                                                 "data_dir": embedded_settings.data_dir / "https"}))
    own = do_create_workspace(runtime.services, name="Secure shop")
    email = member(runtime, own.id)
    with TestClient(create_app(runtime, admin_token=ADMIN_TOKEN), base_url="https://testserver") as client:
        form = client.get("/console/login")
        assert "Secure" in _cookie(form, "loopline_login")
        signed = sign_in(client, email)
        assert signed.status_code == 303
        assert "Secure" in _cookie(signed, "loopline_session")


def test_a_session_ends_after_its_lifetime_and_after_an_idle_gap(client, runtime, workspace):
    clock = Clock(runtime.services.clock.now())
    runtime.services.clock = clock
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    page = f"/console/w/{workspace.id}/overview.json"
    for _ in range(13):  # active every 59 minutes: never idle, but 12 hours is the most a sign-in lasts
        assert client.get(page).status_code == 200
        clock.at += timedelta(minutes=59)
    refused = client.get(page)
    assert refused.status_code == 401
    assert refused.json()["code"] == "not_signed_in"

    assert sign_in(client, "ana@example.com").status_code == 303
    assert client.get(page).status_code == 200
    clock.at += timedelta(minutes=61)
    assert client.get(page).status_code == 401
    browser = client.get(f"/console/w/{workspace.id}/", follow_redirects=False)
    assert browser.status_code == 303
    assert browser.headers["location"] == "/console/login"


def test_logout_ends_the_session_even_for_a_copy_of_its_cookie(client, runtime, workspace):
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    copied = dict(client.cookies)
    token = csrf_of(client, workspace.id)
    out = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    assert 'loopline_session=""' in _cookie(out, "loopline_session")
    client.cookies.update(copied)
    assert client.get(f"/console/w/{workspace.id}/overview.json").status_code == 401


def test_unsafe_requests_without_the_right_csrf_token_are_refused(client, runtime, workspace):
    email = member(runtime, workspace.id)
    no_form = client.post("/console/login", data={"email": email, "password": "whatever password"})
    assert no_form.status_code == 403
    assert "reload the page" in no_form.text
    client.get("/console/login")
    wrong = client.post("/console/login", data={"email": email, "password": "x", "csrf_token": "forged"})
    assert wrong.status_code == 403
    assert sign_in(client, email).status_code == 303
    for attempt in ({}, {"data": {"csrf_token": "forged"}}, {"headers": {"X-CSRF-Token": "forged"}}):
        refused = client.post("/console/logout", **attempt)
        assert refused.status_code == 403, attempt
        assert "<h1>Not allowed</h1>" in refused.text
    as_json = client.post("/console/logout", headers={"Accept": "application/json"})
    assert as_json.status_code == 403
    assert as_json.json()["code"] == "csrf_failed"
    assert client.get(f"/console/w/{workspace.id}/overview.json").status_code == 200  # still signed in
    token = csrf_of(client, workspace.id)
    # HTMX sends the token as a header.
    assert client.post("/console/logout", headers={"X-CSRF-Token": token}, follow_redirects=False).status_code == 303


def test_sign_in_attempts_are_limited_per_address_and_client(client, runtime, workspace):
    email = member(runtime, workspace.id)
    for _ in range(5):
        assert sign_in(client, email, "wrong password!").status_code == 401
    limited = sign_in(client, email)  # even the right password waits
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "Too many sign-in attempts" in limited.text
    assert sign_in(client, "other@example.com", "wrong password!").status_code == 401  # another address is not held


def test_pages_carry_a_content_security_policy_without_inline_scripts(client, runtime, workspace):
    page = client.get("/console/login")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    html = client.get(f"/console/w/{workspace.id}/").text
    # Every script is a file from this server (the JSON data block is not executed).
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/console/static/' in tag or 'type="application/json"' in tag, tag
