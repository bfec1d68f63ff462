"""Console users, their memberships, sessions and the audit log in the operational store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.engine import writer
from loopline.store.sql.rows import as_dict, aware
from loopline.store.sql.tables import console_audit, console_memberships, console_sessions, console_users, workspaces

TeamCheck = Callable[[dict[str, str]], None]
"""Looks at a workspace's team (user id → role) before a change to it; raises to refuse the change."""


@dataclass(frozen=True, slots=True)
class UserRow:
    """A console user; ``password_hash`` is the argon2 hash."""

    id: str
    email: str
    name: str
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class MembershipRow:
    """A user's role in one workspace, with the workspace's name for display."""

    user_id: str
    workspace_id: str
    workspace_name: str
    role: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A signed-in browser, found by the hash of its token."""

    token_hash: str
    user_id: str
    created_at: datetime
    seen_at: datetime
    expires_at: datetime


class EmailTaken(ValueError):
    """Another user has this e-mail address."""


def _user(row: Any) -> UserRow:
    return UserRow(row.id, row.email, row.name, row.password_hash, aware(row.created_at),  # type: ignore[arg-type]
                   aware(row.disabled_at))


class SqlAccountStore:
    """Console accounts on SQLite or PostgreSQL."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    # -- users ----------------------------------------------------------------------------------

    def create_user(self, *, user_id: str, email: str, name: str, password_hash: str, now: datetime) -> UserRow:
        """Insert a user; raise EmailTaken when the address is in use."""
        try:
            with self._writer.begin() as conn:
                conn.execute(console_users.insert().values(
                    id=user_id, email=email, name=name, password_hash=password_hash, created_at=now, updated_at=now))
        except sa.exc.IntegrityError:
            raise EmailTaken(email) from None
        return UserRow(user_id, email, name, password_hash, now, None)

    def get_user(self, *, user_id: str) -> UserRow | None:
        """Return a user by id."""
        with self._engine.connect() as conn:
            row = conn.execute(console_users.select().where(console_users.c.id == user_id)).first()
        return _user(row) if row else None

    def get_user_by_email(self, *, email: str) -> UserRow | None:
        """Return a user by (normalised) e-mail address."""
        with self._engine.connect() as conn:
            row = conn.execute(console_users.select().where(console_users.c.email == email)).first()
        return _user(row) if row else None

    def set_password_hash(self, *, user_id: str, password_hash: str, now: datetime) -> None:
        """Replace a user's password hash."""
        with self._writer.begin() as conn:
            conn.execute(console_users.update().where(console_users.c.id == user_id)
                         .values(password_hash=password_hash, updated_at=now))

    def list_users(self) -> list[UserRow]:
        """Return every user, by e-mail address."""
        with self._engine.connect() as conn:
            rows = conn.execute(console_users.select().order_by(console_users.c.email)).all()
        return [_user(row) for row in rows]

    # -- memberships ----------------------------------------------------------------------------

    def set_membership(self, *, user_id: str, workspace_id: str, role: str, now: datetime,
                       check: TeamCheck | None = None) -> str | None:
        """Give a user a role in a workspace; return the role it replaced, if any.

        ``check`` sees the team as it stands inside the change's transaction and may refuse
        by raising (see ``_check_team``).
        """
        key = (console_memberships.c.user_id == user_id) & (console_memberships.c.workspace_id == workspace_id)
        with self._writer.begin() as conn:
            _check_team(conn, workspace_id, check)
            before = conn.execute(sa.select(console_memberships.c.role).where(key)).scalar()
            if before is None:
                conn.execute(console_memberships.insert().values(
                    user_id=user_id, workspace_id=workspace_id, role=role, created_at=now, updated_at=now))
            else:
                conn.execute(console_memberships.update().where(key).values(role=role, updated_at=now))
        return before

    def delete_membership(self, *, user_id: str, workspace_id: str, check: TeamCheck | None = None) -> str | None:
        """Remove a user's access to a workspace; return the role they had, if any (``check``: as above)."""
        key = (console_memberships.c.user_id == user_id) & (console_memberships.c.workspace_id == workspace_id)
        with self._writer.begin() as conn:
            _check_team(conn, workspace_id, check)
            before = conn.execute(sa.select(console_memberships.c.role).where(key)).scalar()
            conn.execute(console_memberships.delete().where(key))
        return before

    def memberships_of(self, *, user_id: str) -> list[MembershipRow]:
        """Return the workspaces a user belongs to, by workspace name."""
        query = (
            sa.select(console_memberships.c.user_id, console_memberships.c.workspace_id, workspaces.c.name,
                      console_memberships.c.role)
            .join(workspaces, workspaces.c.id == console_memberships.c.workspace_id)
            .where(console_memberships.c.user_id == user_id)
            .order_by(workspaces.c.name, workspaces.c.id)
        )
        with self._engine.connect() as conn:
            return [MembershipRow(*row) for row in conn.execute(query).all()]

    # -- sessions -------------------------------------------------------------------------------

    def create_session(self, *, token_hash: str, user_id: str, now: datetime, expires_at: datetime,
                       client: str, user_agent: str) -> None:
        """Store a new session by the hash of its token."""
        with self._writer.begin() as conn:
            conn.execute(console_sessions.insert().values(
                token_hash=token_hash, user_id=user_id, created_at=now, seen_at=now, expires_at=expires_at,
                client=client[:64], user_agent=user_agent[:200]))

    def get_session(self, *, token_hash: str) -> SessionRow | None:
        """Return a session by the hash of its token."""
        with self._engine.connect() as conn:
            row = conn.execute(console_sessions.select().where(console_sessions.c.token_hash == token_hash)).first()
        if row is None:
            return None
        return SessionRow(row.token_hash, row.user_id, aware(row.created_at), aware(row.seen_at),  # type: ignore[arg-type]
                          aware(row.expires_at))  # type: ignore[arg-type]

    def touch_session(self, *, token_hash: str, now: datetime) -> None:
        """Record activity on a session."""
        with self._writer.begin() as conn:
            conn.execute(console_sessions.update().where(console_sessions.c.token_hash == token_hash)
                         .values(seen_at=now))

    def delete_session(self, *, token_hash: str) -> bool:
        """Delete a session; return whether there was one."""
        with self._writer.begin() as conn:
            result = conn.execute(console_sessions.delete().where(console_sessions.c.token_hash == token_hash))
        return bool(result.rowcount)

    def delete_sessions_before(self, *, now: datetime) -> int:
        """Delete sessions past their end; return how many."""
        with self._writer.begin() as conn:
            result = conn.execute(console_sessions.delete().where(console_sessions.c.expires_at <= now))
        return int(result.rowcount)

    # -- audit log ------------------------------------------------------------------------------

    def record_audit(self, entry: dict[str, Any]) -> None:
        """Append one entry to the audit log."""
        with self._writer.begin() as conn:
            conn.execute(console_audit.insert().values(**entry))

    def list_audit(self, *, workspace_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Return the newest audit entries, of one workspace or instance-wide (``workspace_id`` None: all)."""
        query = console_audit.select().order_by(console_audit.c.at.desc(), console_audit.c.id.desc()).limit(limit)
        if workspace_id is not None:
            query = query.where(console_audit.c.workspace_id == workspace_id)
        with self._engine.connect() as conn:
            return [as_dict(row) for row in conn.execute(query).all()]

    def audit_page(self, *, workspace_id: str, before_id: str | None = None, action: str | None = None,
                   actor: str | None = None, limit: int = 50) -> list[dict[str, Any]] | None:
        """Return a workspace's audit entries newest first, optionally of one action or actor.

        ``before_id`` continues after that entry (the cursor of the previous page); None is
        returned when it names no entry of the workspace, so a forged cursor reads nothing.
        """
        query = (console_audit.select().where(console_audit.c.workspace_id == workspace_id)
                 .order_by(console_audit.c.at.desc(), console_audit.c.id.desc()).limit(limit))
        if action:
            query = query.where(console_audit.c.action == action)
        if actor:
            query = query.where(console_audit.c.actor == actor)
        with self._engine.connect() as conn:
            if before_id is not None:
                at = conn.execute(sa.select(console_audit.c.at).where(
                    console_audit.c.id == before_id, console_audit.c.workspace_id == workspace_id)).scalar()
                if at is None:
                    return None
                # Entries written in the same instant are told apart by their id, so none is skipped.
                query = query.where((console_audit.c.at < at)
                                    | ((console_audit.c.at == at) & (console_audit.c.id < before_id)))
            return [as_dict(row) for row in conn.execute(query).all()]

    def audit_choices(self, *, workspace_id: str) -> tuple[list[str], list[str]]:
        """Return the actions and the actors a workspace's audit log holds, each sorted (for its filters)."""
        where = console_audit.c.workspace_id == workspace_id
        with self._engine.connect() as conn:
            actions = conn.execute(sa.select(console_audit.c.action).where(where).distinct()).scalars().all()
            actors = conn.execute(sa.select(console_audit.c.actor).where(where).distinct()).scalars().all()
        return sorted(actions), sorted(actors)

    def members_of_workspace(self, *, workspace_id: str) -> list[tuple[UserRow, str]]:
        """Return a workspace's members with their roles, by e-mail address."""
        query = (sa.select(console_users, console_memberships.c.role)
                 .join(console_memberships, console_memberships.c.user_id == console_users.c.id)
                 .where(console_memberships.c.workspace_id == workspace_id)
                 .order_by(console_users.c.email))
        with self._engine.connect() as conn:
            return [(_user(row), str(row.role)) for row in conn.execute(query).all()]


def _check_team(conn: sa.Connection, workspace_id: str, check: TeamCheck | None) -> None:
    """Show ``check`` the workspace's team as the change will find it.

    The team is read inside the change's own transaction, after the workspace's row is
    locked on PostgreSQL (SQLite lets one writer in at a time anyway): two admins demoting
    each other at the same instant queue, and the second sees the first one's change, so a
    workspace never ends without an admin.
    """
    if check is None:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(workspaces.c.id).where(workspaces.c.id == workspace_id).with_for_update())
    team = conn.execute(sa.select(console_memberships.c.user_id, console_memberships.c.role)
                        .where(console_memberships.c.workspace_id == workspace_id))
    check({str(user_id): str(role) for user_id, role in team})
