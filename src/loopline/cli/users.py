"""``loopline users``: console accounts (create, grant and revoke roles, set passwords, list).

Accounts live in the operational store only, so these commands work beside a running
server (SQLite in WAL mode and PostgreSQL both take a second writer).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from loopline.actions.accounts import AccountRejected, do_create_user, do_grant_role, do_revoke_role, do_set_password
from loopline.cli.errors import CliError
from loopline.config import Settings, load_settings
from loopline.ports import Clock
from loopline.services import SystemClock
from loopline.store import migrations
from loopline.store.sql.accounts import SqlAccountStore
from loopline.store.sql.engine import create_store_engine
from loopline.store.sql.workspaces import SqlWorkspaceStore

console = Console()


@dataclass
class AccountStores:
    """The operational store's account and workspace tables, without the event store."""

    settings: Settings
    accounts: SqlAccountStore
    workspaces: SqlWorkspaceStore
    clock: Clock


@contextmanager
def account_stores(settings: Settings | None = None) -> Iterator[AccountStores]:
    """Open the operational store (upgrading its schema) for account commands, and close it after."""
    settings = settings or load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_store_engine(settings.resolved_database_url)
    try:
        migrations.upgrade(engine)
        yield AccountStores(settings, SqlAccountStore(engine), SqlWorkspaceStore(engine), SystemClock())
    except AccountRejected as error:
        raise CliError(str(error)) from None
    finally:
        engine.dispose()


def generate_password() -> str:
    """Return a random password of about 128 bits, easy to copy."""
    return secrets.token_urlsafe(16)


def register(app: typer.Typer) -> None:
    """Add the users commands."""
    users = typer.Typer(help="Console accounts: people who sign in to the web console.", no_args_is_help=True)
    app.add_typer(users, name="users")

    @users.command("create")
    def create(
        email: str,
        name: Annotated[str, typer.Option(help="The person's name, as the console shows it.")] = "",
        generate: Annotated[bool, typer.Option("--generate-password", help="Make a random password and print it.")
                            ] = False,
    ) -> None:
        """Create a user; asks for the password (twice) unless one is generated."""
        password = generate_password() if generate else typer.prompt(
            "Password (at least 12 characters)", hide_input=True, confirmation_prompt=True)
        with account_stores() as stores:
            user = do_create_user(stores, email=email, password=password, name=name)
        console.print(f"user [bold]{user.email}[/bold] created ({user.id})")
        if generate:
            console.print(f"password: {password}  (shown once)", soft_wrap=True)
        console.print("give them a role with: loopline users grant EMAIL WORKSPACE_ID ROLE", soft_wrap=True)

    @users.command("grant")
    def grant(email: str, workspace_id: str,
              role: Annotated[str, typer.Argument(help="admin, marketer, analyst or agent.")]) -> None:
        """Give a user a role in a workspace (replacing the role they had there)."""
        with account_stores() as stores:
            before = do_grant_role(stores, email=email, workspace_id=workspace_id, role=role)
        change = f" (was {before})" if before else ""
        console.print(f"{email.strip().lower()} is {role.strip().lower()} of {workspace_id}{change}")

    @users.command("revoke")
    def revoke(email: str, workspace_id: str) -> None:
        """Take away a user's access to a workspace."""
        with account_stores() as stores:
            before = do_revoke_role(stores, email=email, workspace_id=workspace_id)
        if before is None:
            raise CliError(f"{email.strip().lower()} has no role in {workspace_id}")
        console.print(f"{email.strip().lower()} no longer has access to {workspace_id} (was {before})")

    @users.command("password")
    def password(
        email: str,
        generate: Annotated[bool, typer.Option("--generate-password", help="Make a random password and print it.")
                            ] = False,
    ) -> None:
        """Set a user's password; asks for it (twice) unless one is generated."""
        new = generate_password() if generate else typer.prompt(
            "New password (at least 12 characters)", hide_input=True, confirmation_prompt=True)
        with account_stores() as stores:
            do_set_password(stores, email=email, password=new)
        console.print(f"password of {email.strip().lower()} changed")
        if generate:
            console.print(f"password: {new}  (shown once)", soft_wrap=True)

    @users.command("list")
    def list_users() -> None:
        """List users and their roles per workspace."""
        with account_stores() as stores:
            rows = [(user, stores.accounts.memberships_of(user_id=user.id)) for user in stores.accounts.list_users()]
        table = Table("email", "name", "roles")
        for user, memberships in rows:
            roles = ", ".join(f"{m.role} of {m.workspace_name} ({m.workspace_id})" for m in memberships) or "none"
            table.add_row(user.email, user.name, roles)
        console.print(table)
