"""Console accounts: create users, grant roles, sign in and out; every change goes to the audit log."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from ulid import ULID

from loopline.config import Settings
from loopline.domain.accounts import (
    AccountInvalid,
    Role,
    SessionPolicy,
    check_password,
    normalise_email,
    parse_role,
)
from loopline.domain.ratelimit import ClientLimit
from loopline.domain.team import TeamChangeRefused, check_team_change
from loopline.ports import Clock
from loopline.store.sql.accounts import EmailTaken, MembershipRow, SqlAccountStore, TeamCheck, UserRow
from loopline.store.sql.workspaces import SqlWorkspaceStore

TOKEN_BYTES = 32
MAX_TRACKED_LOGINS = 50_000
# argon2-cffi's defaults (RFC 9106 low-memory profile); a stored hash made with other
# parameters is replaced at the next successful sign-in.
HASHER = PasswordHasher()
# Verified when the e-mail address is unknown, so a refusal takes as long either way and
# does not tell which addresses have accounts.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


class AccountServices(Protocol):
    """What account actions need: the full ``Services``, or only the operational store's parts.

    The command line manages accounts beside a running server, whose embedded event store
    it may not open, so these actions ask for no more than this.
    """

    settings: Settings
    accounts: SqlAccountStore
    workspaces: SqlWorkspaceStore
    clock: Clock


class AccountRejected(ValueError):
    """A request about accounts that cannot be done; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class LoginRefused(PermissionError):
    """Wrong e-mail address or password (deliberately not saying which)."""


class LoginThrottled(PermissionError):
    """Too many sign-in attempts for this address and client; ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many sign-in attempts; try again in {retry_after:.0f} seconds")
        self.retry_after = retry_after


class LoginThrottle:
    """Counts sign-in attempts per e-mail address from one client address, and per client address.

    The first (``per_minute``) is keyed by both, so an attacker elsewhere cannot lock a person
    out; the second (ten times as many over all e-mail addresses) keeps one client from trying
    a password on many accounts quickly. Counts live in this process, like the key failures.
    """

    def __init__(self, per_minute: int) -> None:
        self._limit = ClientLimit(per_minute, max_keys=MAX_TRACKED_LOGINS)

    def take(self, *, email: str, client: str) -> None:
        """Count one attempt; raise LoginThrottled past the limit."""
        wait = self._limit.wait(subject=f"{email}|{client}", client=client, now=time.monotonic())
        if wait > 0:
            raise LoginThrottled(max(1.0, wait))


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: its token goes in the cookie and is never stored."""

    token: str
    user: UserRow


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who a console request acts for: the user, their session and their workspaces."""

    user: UserRow
    token_hash: str
    memberships: list[MembershipRow] = field(default_factory=list)

    def role_in(self, workspace_id: str) -> Role | None:
        """Return the user's role in a workspace, or None when they are not a member."""
        for membership in self.memberships:
            if membership.workspace_id == workspace_id:
                return Role(membership.role)
        return None


def token_hash(token: str) -> str:
    """Return the stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _policy(services: AccountServices) -> SessionPolicy:
    settings = services.settings
    return SessionPolicy(lifetime=timedelta(hours=settings.console_session_hours),
                         idle=timedelta(minutes=settings.console_idle_minutes))


def audit(services: AccountServices, *, action: str, actor: str, user_id: str | None = None,
          workspace_id: str | None = None, target: str = "", detail: dict[str, Any] | None = None,
          client: str = "") -> None:
    """Append an entry to the audit log (never with a password or token in it)."""
    services.accounts.record_audit({
        "id": str(ULID()), "at": services.clock.now(), "user_id": user_id, "actor": actor[:254],
        "workspace_id": workspace_id, "action": action, "target": target[:254], "detail": detail or {},
        "client": client[:64],
    })


def do_create_user(services: AccountServices, *, email: str, password: str, name: str = "",
                   actor: str = "cli", workspace_id: str | None = None) -> UserRow:
    """Create a console user with an argon2 hash of the password; raise AccountRejected.

    ``workspace_id`` names the workspace the person is being added to, so the creation shows
    in that workspace's audit log (users themselves belong to the instance).
    """
    try:
        address = normalise_email(email)
        check_password(password, email=address)
    except AccountInvalid as error:
        raise AccountRejected(error.code, str(error)) from None
    try:
        user = services.accounts.create_user(
            user_id="usr_" + str(ULID()).lower(), email=address, name=name.strip()[:200],
            password_hash=HASHER.hash(password), now=services.clock.now())
    except EmailTaken:
        raise AccountRejected("email_taken", f"a user with the address {address} exists already") from None
    audit(services, action="user.created", actor=actor, user_id=user.id, target=address, workspace_id=workspace_id)
    return user


def do_set_password(services: AccountServices, *, email: str, password: str, actor: str = "cli") -> UserRow:
    """Replace a user's password; their sessions stay valid only until they end."""
    user = _user_by_email(services, email)
    try:
        check_password(password, email=user.email)
    except AccountInvalid as error:
        raise AccountRejected(error.code, str(error)) from None
    services.accounts.set_password_hash(user_id=user.id, password_hash=HASHER.hash(password), now=services.clock.now())
    audit(services, action="user.password_changed", actor=actor, user_id=user.id, target=user.email)
    return user


def _user_by_email(services: AccountServices, email: str) -> UserRow:
    try:
        address = normalise_email(email)
    except AccountInvalid as error:
        raise AccountRejected(error.code, str(error)) from None
    user = services.accounts.get_user_by_email(email=address)
    if user is None:
        raise AccountRejected("user_not_found", f"no user has the address {address}")
    return user


def do_grant_role(services: AccountServices, *, email: str, workspace_id: str, role: str,
                  actor: str = "cli", acting_user_id: str = "") -> str | None:
    """Give a user a role in a workspace (replacing another); return the previous role.

    The workspace's last admin keeps the role (``last_admin``); ``acting_user_id`` is who
    asks, so the refusal can speak to them.
    """
    user = _user_by_email(services, email)
    try:
        chosen = parse_role(role)
    except AccountInvalid as error:
        raise AccountRejected(error.code, str(error)) from None
    if services.workspaces.get_workspace(workspace_id=workspace_id) is None:
        raise AccountRejected("workspace_not_found", f"no workspace {workspace_id!r}")
    try:
        before = services.accounts.set_membership(
            user_id=user.id, workspace_id=workspace_id, role=chosen.value, now=services.clock.now(),
            check=_keeps_an_admin(target=user.id, new_role=chosen, acting=acting_user_id))
    except TeamChangeRefused as refused:
        raise AccountRejected(refused.code, refused.message) from None
    audit(services, action="membership.changed", actor=actor, workspace_id=workspace_id, target=user.email,
          detail={"role": chosen.value, "previous_role": before})
    return before


def do_revoke_role(services: AccountServices, *, email: str, workspace_id: str, actor: str = "cli",
                   acting_user_id: str = "") -> str | None:
    """Remove a user's access to a workspace; return the role they had (None: they had none).

    The workspace's last admin stays (``last_admin``).
    """
    user = _user_by_email(services, email)
    try:
        before = services.accounts.delete_membership(
            user_id=user.id, workspace_id=workspace_id,
            check=_keeps_an_admin(target=user.id, new_role=None, acting=acting_user_id))
    except TeamChangeRefused as refused:
        raise AccountRejected(refused.code, refused.message) from None
    if before is not None:
        audit(services, action="membership.changed", actor=actor, workspace_id=workspace_id, target=user.email,
              detail={"role": None, "previous_role": before})
    return before


def _keeps_an_admin(*, target: str, new_role: Role | None, acting: str) -> TeamCheck:
    """Return the check that refuses a change leaving the workspace without an admin (run inside the change)."""
    def check(roles: dict[str, str]) -> None:
        if target in roles:  # someone joining takes no role from anybody
            check_team_change({user: Role(role) for user, role in roles.items()}, target=target, new_role=new_role,
                              acting=acting)

    return check


def do_login(services: AccountServices, throttle: LoginThrottle, *, email: str, password: str, client: str,
             user_agent: str = "") -> SignedIn:
    """Check a password and open a session; raise LoginThrottled or LoginRefused."""
    address = email.strip().lower()[:254]
    throttle.take(email=address, client=client)
    user = services.accounts.get_user_by_email(email=address) if address else None
    if not _verify(user.password_hash if user else _DUMMY_HASH, password[:1024]) or user is None \
            or user.disabled_at is not None:
        audit(services, action="login.failed", actor=address or "(empty)", user_id=user.id if user else None,
              target=address, client=client)
        raise LoginRefused("wrong e-mail address or password")
    now = services.clock.now()
    if HASHER.check_needs_rehash(user.password_hash):
        services.accounts.set_password_hash(user_id=user.id, password_hash=HASHER.hash(password), now=now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # Ended sessions are deleted when they are next presented; those never presented again
    # (a closed browser) are swept here, so the table holds about the sessions in use.
    services.accounts.delete_sessions_before(now=now)
    services.accounts.create_session(token_hash=token_hash(token), user_id=user.id, now=now,
                                     expires_at=_policy(services).expires_at(created_at=now), client=client,
                                     user_agent=user_agent)
    audit(services, action="login", actor=user.email, user_id=user.id, target=user.email, client=client)
    return SignedIn(token, user)


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def do_resume_session(services: AccountServices, *, token: str) -> Viewer | None:
    """Return who a session token signs in, recording activity; None when it is unknown or over."""
    hashed = token_hash(token)
    row = services.accounts.get_session(token_hash=hashed)
    if row is None:
        return None
    now, policy = services.clock.now(), _policy(services)
    if not policy.is_live(expires_at=row.expires_at, seen_at=row.seen_at, now=now):
        services.accounts.delete_session(token_hash=hashed)
        return None
    user = services.accounts.get_user(user_id=row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    if policy.needs_touch(seen_at=row.seen_at, now=now):
        services.accounts.touch_session(token_hash=hashed, now=now)
    return Viewer(user, hashed, services.accounts.memberships_of(user_id=user.id))


def do_logout(services: AccountServices, *, viewer: Viewer, client: str = "") -> None:
    """End the viewer's session (the token no longer signs anyone in) and record it."""
    services.accounts.delete_session(token_hash=viewer.token_hash)
    audit(services, action="logout", actor=viewer.user.email, user_id=viewer.user.id, target=viewer.user.email,
          client=client)
