"""The pure account rules: roles and pages, e-mail and password checks, session lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loopline.domain.accounts import (
    AccountInvalid,
    Page,
    Role,
    SessionPolicy,
    check_password,
    cookie_is_secure,
    may_view,
    normalise_email,
    parse_role,
)

T0 = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def test_every_role_sees_the_overview_and_only_admins_the_settings():
    for role in Role:
        assert may_view(role, Page.OVERVIEW)
    assert [role for role in Role if may_view(role, Page.SETTINGS)] == [Role.ADMIN]
    assert not may_view(Role.AGENT, Page.CAMPAIGNS)
    assert may_view(Role.AGENT, Page.CUSTOMERS)
    assert may_view(Role.AGENT, Page.OUTBOX)
    assert not may_view(Role.ANALYST, Page.OUTBOX)


def test_roles_are_parsed_strictly():
    assert parse_role(" Marketer ") is Role.MARKETER
    with pytest.raises(AccountInvalid) as refused:
        parse_role("owner")
    assert refused.value.code == "invalid_role"
    assert "admin, marketer, analyst, agent" in str(refused.value)


@pytest.mark.parametrize("text", ["", "ana", "ana@", "@example.com", "ana@example", "a b@example.com",
                                  "x" * 250 + "@example.com"])
def test_malformed_addresses_are_refused(text):
    with pytest.raises(AccountInvalid) as refused:
        normalise_email(text)
    assert refused.value.code == "invalid_email"


def test_addresses_are_stored_trimmed_and_lowercased():
    assert normalise_email("  Ana@Example.COM ") == "ana@example.com"


def test_passwords_need_length_and_may_not_be_the_address():
    with pytest.raises(AccountInvalid, match="at least 12"):
        check_password("short", email="ana@example.com")
    with pytest.raises(AccountInvalid, match="e-mail address"):
        check_password("Ana@Example.com", email="ana@example.com")
    with pytest.raises(AccountInvalid) as refused:
        check_password("x" * 2000, email="ana@example.com")
    assert refused.value.code == "invalid_password"
    check_password("correct horse battery", email="ana@example.com")


def test_a_session_ends_at_its_lifetime_or_after_an_idle_gap():
    policy = SessionPolicy(lifetime=timedelta(hours=12), idle=timedelta(minutes=60))
    ends = policy.expires_at(created_at=T0)
    assert ends == T0 + timedelta(hours=12)
    assert policy.is_live(expires_at=ends, seen_at=T0, now=T0 + timedelta(minutes=59))
    assert not policy.is_live(expires_at=ends, seen_at=T0, now=T0 + timedelta(minutes=60))
    late = T0 + timedelta(hours=11, minutes=59)
    assert policy.is_live(expires_at=ends, seen_at=late, now=late)
    assert not policy.is_live(expires_at=ends, seen_at=ends, now=ends)
    assert not policy.needs_touch(seen_at=T0, now=T0 + timedelta(seconds=59))
    assert policy.needs_touch(seen_at=T0, now=T0 + timedelta(minutes=1))


def test_cookies_are_secure_behind_https_only():
    assert cookie_is_secure("https://crm.example.com")
    assert cookie_is_secure("HTTPS://crm.example.com")
    assert not cookie_is_secure("http://127.0.0.1:8000")
