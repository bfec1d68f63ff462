"""A workspace's team: the rule that keeps at least one admin in every workspace.

Without an admin nobody could add people, change roles or reach the settings of a workspace
again from the console, so taking the admin role from its last holder is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from loopline.domain.accounts import Role


class TeamChangeRefused(ValueError):
    """A change to a workspace's members that cannot be made; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def check_team_change(roles: Mapping[str, Role], *, target: str, new_role: Role | None, acting: str) -> None:
    """Refuse a change that would leave the workspace without an admin.

    ``roles`` maps each member (by user id) to their role; ``new_role`` None removes ``target``
    from the workspace. ``acting`` is who asks, so the message can speak to them.
    """
    if target not in roles:
        raise TeamChangeRefused("member_not_found", "this person is not a member of the workspace")
    if roles[target] is not Role.ADMIN or new_role is Role.ADMIN:
        return
    admins = [user for user, role in roles.items() if role is Role.ADMIN]
    if admins == [target]:
        who = "you are" if target == acting else "this person is"
        what = "remove" if new_role is None else "change the role of"
        raise TeamChangeRefused("last_admin", f"{who} the workspace's only admin: make someone else an admin "
                                              f"before you {what} the last one")
