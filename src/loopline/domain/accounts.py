"""Console accounts: roles and what each may see, e-mail and password rules, session lifetimes.

Pure decisions only: hashing, token generation and the clock are the caller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    """What a person may do in one workspace."""

    ADMIN = "admin"  # everything, including people and settings
    MARKETER = "marketer"  # builds and runs segments, campaigns and journeys
    ANALYST = "analyst"  # reads analytics and results, changes nothing that reaches customers
    AGENT = "agent"  # customer service: looks customers up and sees what was sent to them


class Page(StrEnum):
    """The console's pages, in navigation order."""

    OVERVIEW = "overview"
    ANALYTICS = "analytics"
    SEGMENTS = "segments"
    CUSTOMERS = "customers"
    CAMPAIGNS = "campaigns"
    JOURNEYS = "journeys"
    OUTBOX = "outbox"
    SETTINGS = "settings"


# The one table of who sees what. Every console route asks ``may_view``; navigation shows only
# the pages a role may open (and only those that exist).
PAGES_BY_ROLE: dict[Role, frozenset[Page]] = {
    Role.ADMIN: frozenset(Page),
    Role.MARKETER: frozenset({Page.OVERVIEW, Page.ANALYTICS, Page.SEGMENTS, Page.CUSTOMERS, Page.CAMPAIGNS,
                              Page.JOURNEYS, Page.OUTBOX}),
    Role.ANALYST: frozenset({Page.OVERVIEW, Page.ANALYTICS, Page.SEGMENTS, Page.CAMPAIGNS, Page.JOURNEYS}),
    Role.AGENT: frozenset({Page.OVERVIEW, Page.CUSTOMERS, Page.OUTBOX}),
}

# Who may change what. Viewing is not changing: an analyst reads campaigns but builds only
# segments and dashboards; an agent changes nothing in the console's pages.
EDITS_BY_ROLE: dict[Role, frozenset[Page]] = {
    Role.ADMIN: frozenset(Page),
    Role.MARKETER: frozenset({Page.ANALYTICS, Page.SEGMENTS, Page.CAMPAIGNS, Page.JOURNEYS}),
    Role.ANALYST: frozenset({Page.ANALYTICS, Page.SEGMENTS}),
    Role.AGENT: frozenset(),
}

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is a denial of service
MAX_EMAIL = 254
# Deliberately plain: the address only names an account, nothing is sent to it.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


class AccountInvalid(ValueError):
    """Input that cannot make an account; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_role(text: str) -> Role:
    """Return the role named by ``text`` or raise AccountInvalid."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise AccountInvalid("invalid_role", f"unknown role {text!r}; choose one of {names}") from None


def may_view(role: Role, page: Page) -> bool:
    """Return whether a member with ``role`` may open ``page``."""
    return page in PAGES_BY_ROLE[role]


def may_edit(role: Role, page: Page) -> bool:
    """Return whether ``role`` may change what ``page`` shows (save a segment, launch a campaign …)."""
    return page in EDITS_BY_ROLE[role]


def normalise_email(text: str) -> str:
    """Return the address as stored (trimmed, lowercased) or raise AccountInvalid."""
    email = text.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise AccountInvalid("invalid_email", "enter an e-mail address like name@example.com")
    return email


def check_password(password: str, *, email: str) -> None:
    """Raise AccountInvalid for a password too short, too long or equal to the e-mail address."""
    if len(password) < MIN_PASSWORD:
        raise AccountInvalid("weak_password", f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountInvalid("invalid_password", f"a password may have at most {MAX_PASSWORD} characters")
    if password.strip().lower() == email:
        raise AccountInvalid("weak_password", "the password may not be the e-mail address")


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a console session lives, in all and without activity."""

    lifetime: timedelta
    idle: timedelta
    # Writing ``seen_at`` on every request would make every page view a write; once a
    # minute is precise enough for an idle timeout measured in tens of minutes.
    touch_every: timedelta = timedelta(minutes=1)

    def expires_at(self, *, created_at: datetime) -> datetime:
        """Return when a session created at ``created_at`` ends at the latest."""
        return created_at + self.lifetime

    def is_live(self, *, expires_at: datetime, seen_at: datetime, now: datetime) -> bool:
        """Return whether a session is still valid at ``now``."""
        return now < expires_at and now - seen_at < self.idle

    def needs_touch(self, *, seen_at: datetime, now: datetime) -> bool:
        """Return whether the session's last activity should be written now."""
        return now - seen_at >= self.touch_every


def cookie_is_secure(public_url: str) -> bool:
    """Return whether cookies must be Secure: the console is reached over https."""
    return public_url.lower().startswith("https://")
