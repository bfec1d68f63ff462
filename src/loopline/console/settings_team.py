"""The settings pages about people: the workspace's team with its roles, and its audit log.

Accounts change only through the account actions (which write their own audit entries);
this module reads the team and turns the actions' refusals (the last admin among them,
checked inside the change) into answers a person understands.
"""

from __future__ import annotations

from typing import Any

from loopline.actions.accounts import AccountRejected, do_create_user, do_grant_role, do_revoke_role
from loopline.console.web import ConsoleError, instant_text
from loopline.domain.accounts import AccountInvalid, Role, normalise_email, parse_role
from loopline.services import Services

AUDIT_PAGE = 50
ROLE_NOTES = {
    Role.ADMIN: "everything, including people and settings",
    Role.MARKETER: "builds and runs segments, campaigns and journeys",
    Role.ANALYST: "reads analytics and results; builds segments and dashboards",
    Role.AGENT: "looks customers up and sees what was sent to them",
}


def team_page(services: Services, *, workspace_id: str, viewer_id: str) -> dict[str, Any]:
    """Return the workspace's members with their roles, and the roles one may give."""
    members = [{"user_id": user.id, "email": user.email, "name": user.name, "role": role,
                "you": user.id == viewer_id, "disabled": user.disabled_at is not None}
               for user, role in services.accounts.members_of_workspace(workspace_id=workspace_id)]
    roles = [{"role": role.value, "note": ROLE_NOTES[role]} for role in Role]
    return {"workspace_id": workspace_id, "members": members, "roles": roles,
            "admins": sum(1 for member in members if member["role"] == Role.ADMIN.value)}


def add_member(services: Services, *, workspace_id: str, actor: str, form: dict[str, str]) -> str:
    """Give a person a role here, creating their account when the address has none; return the address.

    A password is taken only for a new account: an existing person keeps theirs.
    """
    try:
        email = normalise_email(form.get("email", ""))
        role = parse_role(form.get("role", ""))
    except AccountInvalid as error:
        raise ConsoleError(422, error.code, str(error)) from None
    password = form.get("password", "")
    user = services.accounts.get_user_by_email(email=email)
    if user is None:
        if not password:
            raise ConsoleError(422, "password_required", f"{email} has no account yet: type a password for it "
                                                         "(at least 12 characters) and tell it to them")
        try:
            do_create_user(services, email=email, password=password, name=form.get("name", ""), actor=actor,
                           workspace_id=workspace_id)
        except AccountRejected as error:
            raise ConsoleError(409 if error.code == "email_taken" else 422, error.code, str(error)) from None
    elif password:
        raise ConsoleError(409, "user_exists", f"{email} has an account already and keeps their own password: "
                                               "leave the password empty to give them a role here")
    elif any(member.workspace_id == workspace_id for member in services.accounts.memberships_of(user_id=user.id)):
        raise ConsoleError(409, "already_member", f"{email} is a member of this workspace already: "
                                                  "change their role in the list instead")
    _grant(services, email=email, workspace_id=workspace_id, role=role, actor=actor)
    return email


def change_role(services: Services, *, workspace_id: str, actor_id: str, actor: str, user_id: str,
                role_text: str) -> str:
    """Give a member another role (never taking the last admin's); return their address."""
    try:
        role = parse_role(role_text)
    except AccountInvalid as error:
        raise ConsoleError(422, error.code, str(error)) from None
    email = _member_email(services, workspace_id=workspace_id, user_id=user_id)
    _grant(services, email=email, workspace_id=workspace_id, role=role, actor=actor, actor_id=actor_id)
    return email


def remove_member(services: Services, *, workspace_id: str, actor_id: str, actor: str, user_id: str) -> str:
    """Take a member out of the workspace (never the last admin); return their address."""
    email = _member_email(services, workspace_id=workspace_id, user_id=user_id)
    try:
        do_revoke_role(services, email=email, workspace_id=workspace_id, actor=actor, acting_user_id=actor_id)
    except AccountRejected as error:
        raise _refusal(error) from None
    return email


def _member_email(services: Services, *, workspace_id: str, user_id: str) -> str:
    """Return a member's address, or answer 404; the last-admin rule runs inside the change itself."""
    members = services.accounts.members_of_workspace(workspace_id=workspace_id)
    email = next((user.email for user, _ in members if user.id == user_id), None)
    if email is None:
        raise ConsoleError(404, "member_not_found", "this person is not a member of the workspace")
    return email


def _grant(services: Services, *, email: str, workspace_id: str, role: Role, actor: str, actor_id: str = "") -> None:
    try:
        do_grant_role(services, email=email, workspace_id=workspace_id, role=role.value, actor=actor,
                      acting_user_id=actor_id)
    except AccountRejected as error:
        raise _refusal(error) from None


def _refusal(error: AccountRejected) -> ConsoleError:
    # The last admin's role is checked again inside the change: another admin may have
    # stepped down since this page looked (409, as the check before the change answers).
    return ConsoleError(409 if error.code == "last_admin" else 422, error.code, str(error))


def audit_page(services: Services, *, workspace_id: str, before: str | None, action: str | None,
               actor: str | None) -> dict[str, Any]:
    """Return one page of the workspace's audit log, newest first, with the cursor of the next page."""
    action, actor = (action or "").strip()[:64] or None, (actor or "").strip()[:254] or None
    cursor = (before or "").strip()[:40] or None
    # One more than a page is read to know whether there is a next page without counting.
    rows = services.accounts.audit_page(workspace_id=workspace_id, before_id=cursor, action=action, actor=actor,
                                        limit=AUDIT_PAGE + 1)
    if rows is None:
        raise ConsoleError(422, "invalid_cursor", "this page of the audit log does not exist; start from the newest")
    actions, actors = services.accounts.audit_choices(workspace_id=workspace_id)
    entries = [{"id": row["id"], "at": instant_text(row["at"]), "actor": row["actor"], "action": row["action"],
                "target": row["target"], "detail": row["detail"] or {}, "client": row["client"]}
               for row in rows[:AUDIT_PAGE]]
    next_cursor = entries[-1]["id"] if len(rows) > AUDIT_PAGE else None
    return {"workspace_id": workspace_id, "entries": entries, "next": next_cursor, "before": cursor,
            "filters": {"action": action, "actor": actor}, "actions": actions, "actors": actors,
            "page_size": AUDIT_PAGE}
