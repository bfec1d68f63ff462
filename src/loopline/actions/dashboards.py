"""Personal dashboards: create, rename and delete them, save reports to them and remove reports.

A dashboard belongs to one person in one workspace: every action names both, and a dashboard
of someone else is as unknown as one that does not exist. Every change goes to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ulid import ULID

from loopline.actions.accounts import audit
from loopline.domain.dashboards import (
    DashboardInvalid,
    check_room,
    clean_name,
    moved_report,
    retitled_report,
    saved_report,
    with_report,
    without_report,
)
from loopline.ports import DashboardRow
from loopline.services import Services


class DashboardNotFound(LookupError):
    """The person has no such dashboard (or saved report) in this workspace."""


@dataclass(frozen=True, slots=True)
class Owner:
    """Who acts: the dashboard's owner, as the audit log names them, and from where."""

    workspace_id: str
    user_id: str
    email: str
    client: str = ""


def list_dashboards(services: Services, owner: Owner) -> list[DashboardRow]:
    """Return the person's dashboards in the workspace, by name."""
    return services.dashboards.for_user(workspace_id=owner.workspace_id, user_id=owner.user_id)


def get_dashboard(services: Services, owner: Owner, dashboard_id: str) -> DashboardRow:
    """Return one of the person's dashboards; raise DashboardNotFound."""
    row = services.dashboards.get(workspace_id=owner.workspace_id, user_id=owner.user_id, dashboard_id=dashboard_id)
    if row is None:
        raise DashboardNotFound(dashboard_id)
    return row


def do_create_dashboard(services: Services, owner: Owner, *, name: object) -> DashboardRow:
    """Create an empty dashboard; raise DashboardInvalid for a bad name or when the person has too many."""
    clean = clean_name(name)
    check_room(len(list_dashboards(services, owner)))
    now = services.clock.now()
    row = DashboardRow(id="dsh_" + str(ULID()).lower(), workspace_id=owner.workspace_id, user_id=owner.user_id,
                       name=clean, reports=[], created_at=now, updated_at=now)
    services.dashboards.create(row)
    _audit(services, owner, "dashboard.created", row.id, {"name": clean})
    return row


def do_rename_dashboard(services: Services, owner: Owner, dashboard_id: str, *, name: object) -> DashboardRow:
    """Rename a dashboard; raise DashboardInvalid or DashboardNotFound."""
    clean = clean_name(name)
    current = get_dashboard(services, owner, dashboard_id)
    row = _replace(services, owner, current, name=clean, reports=current.reports)
    _audit(services, owner, "dashboard.renamed", dashboard_id, {"from": current.name, "to": clean})
    return row


def do_delete_dashboard(services: Services, owner: Owner, dashboard_id: str) -> None:
    """Delete a dashboard with its saved reports; raise DashboardNotFound."""
    current = get_dashboard(services, owner, dashboard_id)
    if not services.dashboards.delete(workspace_id=owner.workspace_id, user_id=owner.user_id,
                                      dashboard_id=dashboard_id):
        raise DashboardNotFound(dashboard_id)
    _audit(services, owner, "dashboard.deleted", dashboard_id,
           {"name": current.name, "reports": len(current.reports)})


def do_add_report(services: Services, owner: Owner, dashboard_id: str, *, title: object,
                  definition: Any) -> tuple[DashboardRow, dict[str, Any]]:
    """Save a report to a dashboard; return the dashboard and the saved entry.

    Raise DashboardInvalid (bad title or definition, dashboard full) or DashboardNotFound.
    """
    entry = saved_report("rpt_" + str(ULID()).lower(), title, definition)
    current = get_dashboard(services, owner, dashboard_id)
    row = _replace(services, owner, current, name=current.name, reports=with_report(current.reports, entry))
    _audit(services, owner, "dashboard.report_added", dashboard_id,
           {"report_id": entry["id"], "title": entry["title"], "report": entry["definition"]["report"]})
    return row, entry


def do_remove_report(services: Services, owner: Owner, dashboard_id: str, report_id: str) -> DashboardRow:
    """Remove a saved report from a dashboard; raise DashboardNotFound when either is unknown."""
    current, kept, removed = _report_change(services, owner, dashboard_id, report_id,
                                            lambda reports: without_report(reports, report_id))
    row = _replace(services, owner, current, name=current.name, reports=kept)
    _audit(services, owner, "dashboard.report_removed", dashboard_id,
           {"report_id": report_id, "title": removed.get("title", "")})
    return row


def do_move_report(services: Services, owner: Owner, dashboard_id: str, report_id: str, *,
                   direction: object) -> DashboardRow:
    """Move a saved report one place ``up`` or ``down``; raise DashboardInvalid or DashboardNotFound."""
    current, moved, _ = _report_change(services, owner, dashboard_id, report_id,
                                       lambda reports: moved_report(reports, report_id, direction))
    if moved == current.reports:
        return current  # the first cannot go up, the last not down: nothing to store or to log
    row = _replace(services, owner, current, name=current.name, reports=moved)
    _audit(services, owner, "dashboard.report_moved", dashboard_id,
           {"report_id": report_id, "position": [entry["id"] for entry in moved].index(report_id) + 1})
    return row


def do_retitle_report(services: Services, owner: Owner, dashboard_id: str, report_id: str, *,
                      title: object) -> DashboardRow:
    """Give a saved report a new title; raise DashboardInvalid or DashboardNotFound."""
    current, retitled, before = _report_change(services, owner, dashboard_id, report_id,
                                               lambda reports: retitled_report(reports, report_id, title))
    row = _replace(services, owner, current, name=current.name, reports=retitled)
    after = next(entry["title"] for entry in retitled if entry.get("id") == report_id)
    _audit(services, owner, "dashboard.report_retitled", dashboard_id,
           {"report_id": report_id, "from": before.get("title", ""), "to": after})
    return row


def _report_change(services: Services, owner: Owner, dashboard_id: str, report_id: str,
                   change: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None],
                   ) -> tuple[DashboardRow, list[dict[str, Any]], dict[str, Any]]:
    """Return the dashboard, its reports after ``change``, and the report as it was.

    ``change`` answers None when the report is not on the dashboard: DashboardNotFound then.
    """
    current = get_dashboard(services, owner, dashboard_id)
    changed = change(current.reports)
    if changed is None:
        raise DashboardNotFound(report_id)
    return current, changed, next(entry for entry in current.reports if entry.get("id") == report_id)


def _replace(services: Services, owner: Owner, current: DashboardRow, *, name: str,
             reports: list[dict[str, Any]]) -> DashboardRow:
    row = services.dashboards.update(workspace_id=owner.workspace_id, user_id=owner.user_id,
                                     dashboard_id=current.id, name=name, reports=reports, now=services.clock.now())
    if row is None:  # deleted meanwhile, in another tab
        raise DashboardNotFound(current.id)
    return row


def _audit(services: Services, owner: Owner, action: str, target: str, detail: dict[str, Any]) -> None:
    audit(services, action=action, actor=owner.email, user_id=owner.user_id, workspace_id=owner.workspace_id,
          target=target, detail=detail, client=owner.client)


__all__ = [
    "DashboardInvalid", "DashboardNotFound", "Owner", "do_add_report", "do_create_dashboard", "do_delete_dashboard",
    "do_move_report", "do_remove_report", "do_rename_dashboard", "do_retitle_report", "get_dashboard",
    "list_dashboards",
]
