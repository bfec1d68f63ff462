"""Personal dashboards over HTTP: create, save reports to, open (each report run again), rename,
remove a report, delete; refusals keep the person's input; nobody else reaches them; every
change is in the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from loopline.console.web import csrf_for
from loopline.store.sql.tables import console_audit
from tests.console.conftest import member, sign_in
from tests.engagement.conftest import shop  # noqa: F401 - the shop fixture serves these tests too

JSON = {"Accept": "application/json"}
TREND = {"report": "events", "since": "2026-06-10", "until": "2026-06-12", "event": "Product Viewed"}


def csrf_of(client: Any) -> str:
    """Return the CSRF token of the signed-in session (derived from its cookie, as every page derives it)."""
    return csrf_for(client.cookies["loopline_session"])


def _as(client: Any, runtime: Any, workspace_id: str, email: str, role: str = "analyst") -> None:
    client.cookies.clear()
    assert sign_in(client, member(runtime, workspace_id, role=role, email=email)).status_code == 303


def _save(client: Any, ws: str, body: dict[str, Any], *, status: int = 201) -> dict[str, Any]:
    saved = client.post(f"/console/w/{ws}/analytics/save", json=body, headers={"X-CSRF-Token": csrf_of(client), **JSON})
    assert saved.status_code == status, saved.text
    answer: dict[str, Any] = saved.json()
    return answer


def _form(client: Any, url: str, data: dict[str, str] | None = None, *, json: bool = True) -> Any:
    headers = JSON if json else {}
    return client.post(url, data={"csrf_token": csrf_of(client), **(data or {})}, headers=headers,
                       follow_redirects=False)


@pytest.fixture
def planted(shop: Any) -> Any:  # noqa: F811
    shop.ingest([{"type": "track", "userId": f"u{n}", "event": "Product Viewed",
                  "timestamp": f"2026-06-1{n % 2}T10:0{n}:00Z"} for n in range(5)])
    _as(shop.client, shop.runtime, shop.workspace.id, "ana@example.com")
    return shop


def _audit(runtime: Any, workspace_id: str) -> list[tuple[str, str, str]]:
    with runtime.services.engine.connect() as conn:
        rows = conn.execute(sa.select(console_audit.c.action, console_audit.c.actor, console_audit.c.target)
                            .where(console_audit.c.workspace_id == workspace_id,
                                   console_audit.c.action.like("dashboard.%"))
                            .order_by(console_audit.c.at, console_audit.c.id)).all()
    return [tuple(row) for row in rows]


def test_save_open_rename_remove_and_delete(planted: Any) -> None:
    client, runtime, ws = planted.client, planted.runtime, planted.workspace.id
    first = _save(client, ws, {"title": "Views per day", "definition": TREND, "new_dashboard": "  Product  "})
    dashboard = first["dashboard"]
    assert (dashboard["name"], dashboard["reports"]) == ("Product", 1)
    assert dashboard["href"] == f"/console/w/{ws}/analytics/dashboards/{dashboard['id']}"
    second = _save(client, ws, {"title": "Users by day", "dashboard_id": dashboard["id"],
                                "definition": {**TREND, "measure": "users"}})
    assert second["dashboard"]["reports"] == 2

    listed = client.get(f"/console/w/{ws}/analytics/dashboards", headers=JSON).json()["items"]
    assert [(item["name"], item["reports"]) for item in listed] == [("Product", 2)]
    opened = client.get(dashboard["href"], headers=JSON).json()
    assert opened["name"] == "Product"
    assert [(r["title"], r["answer"]["total"], r["error"]) for r in opened["reports"]] == [
        ("Views per day", 5, None), ("Users by day", 5, None)]
    assert opened["reports"][0]["answer"]["series"] == [{"date": "2026-06-10", "value": 3},
                                                        {"date": "2026-06-11", "value": 2}]
    # Each report runs again when the dashboard opens: new events show at once.
    planted.ingest([{"type": "track", "userId": "u9", "event": "Product Viewed", "timestamp": "2026-06-11T12:00:00Z"}])
    again = client.get(dashboard["href"], headers=JSON).json()
    assert [r["answer"]["total"] for r in again["reports"]] == [6, 6]
    page = client.get(dashboard["href"])
    assert page.status_code == 200
    assert page.text.count('data-testid="saved-report"') == 2
    assert f'id="chart-{first["report"]["id"]}"' in page.text
    assert 'x-data="dashboard"' in page.text

    renamed = _form(client, f"{dashboard['href']}/rename", {"name": "Products"})
    assert renamed.json() == {"id": dashboard["id"], "name": "Products"}
    removed = _form(client, f"{dashboard['href']}/reports/{first['report']['id']}/delete")
    assert removed.json()["reports"] == [second["report"]["id"]]
    assert [r["title"] for r in client.get(dashboard["href"], headers=JSON).json()["reports"]] == ["Users by day"]
    # Browsers' forms are answered with a redirect to where the change shows.
    browser = _form(client, f"{dashboard['href']}/rename", {"name": "Shop"}, json=False)
    assert (browser.status_code, browser.headers["location"]) == (303, dashboard["href"])
    deleted = _form(client, f"{dashboard['href']}/delete", json=False)
    assert (deleted.status_code, deleted.headers["location"]) == (303, f"/console/w/{ws}/analytics/dashboards")
    assert client.get(dashboard["href"], headers=JSON).status_code == 404
    assert client.get(f"/console/w/{ws}/analytics/dashboards", headers=JSON).json()["items"] == []
    # The explorer offers the person's dashboards to save to.
    _form(client, f"/console/w/{ws}/analytics/dashboards", {"name": "Weekly"})
    assert [d["name"] for d in client.get(f"/console/w/{ws}/analytics", headers=JSON).json()["dashboards"]] == [
        "Weekly"]

    # Every change is in the audit log, by whom and of which dashboard (all in the same instant here).
    actions = _audit(runtime, ws)
    assert {actor for _, actor, _ in actions} == {"ana@example.com"}
    assert sorted(action for action, _, target in actions if target == dashboard["id"]) == [
        "dashboard.created", "dashboard.deleted", "dashboard.renamed", "dashboard.renamed",
        "dashboard.report_added", "dashboard.report_added", "dashboard.report_removed"]
    assert sorted(action for action, _, target in actions if target != dashboard["id"]) == ["dashboard.created"]


def test_saved_reports_are_reordered_and_retitled_in_place(planted: Any) -> None:
    client, runtime, ws = planted.client, planted.runtime, planted.workspace.id
    first = _save(client, ws, {"title": "Views", "definition": TREND, "new_dashboard": "Product"})
    href, ids = first["dashboard"]["href"], [first["report"]["id"]]
    for title in ("Users", "Sessions"):
        ids.append(_save(client, ws, {"title": title, "dashboard_id": first["dashboard"]["id"],
                                      "definition": {**TREND, "measure": "users"}})["report"]["id"])

    def order() -> list[str]:
        return [r["title"] for r in client.get(href, headers=JSON).json()["reports"]]

    moved = _form(client, f"{href}/reports/{ids[2]}/move", {"direction": "up"})
    assert [r["title"] for r in moved.json()["reports"]] == ["Views", "Sessions", "Users"]
    assert _form(client, f"{href}/reports/{ids[0]}/move", {"direction": "down"}).status_code == 200
    assert order() == ["Sessions", "Views", "Users"]
    assert _form(client, f"{href}/reports/{ids[1]}/move", {"direction": "down"}).status_code == 200  # last stays
    assert order() == ["Sessions", "Views", "Users"]
    retitled = _form(client, f"{href}/reports/{ids[1]}/title", {"title": "  People   per day "}, json=False)
    assert (retitled.status_code, retitled.headers["location"]) == (303, href)
    assert order() == ["Sessions", "Views", "People per day"]
    # The page offers the moves that make sense: no "up" for the first, no "down" for the last.
    page = client.get(href).text
    assert page.count('data-testid="move-up"') == 2
    assert page.count('data-testid="move-down"') == 2
    assert 'value="People per day"' in page

    for path, fields, status, code in (
        (f"{href}/reports/{ids[0]}/move", {"direction": "sideways"}, 422, "invalid_direction"),
        (f"{href}/reports/{ids[0]}/title", {"title": "   "}, 422, "invalid_title"),
        (f"{href}/reports/{ids[0]}/title", {"title": "x" * 201}, 422, "invalid_title"),
        (f"{href}/reports/rpt_missing/move", {"direction": "up"}, 404, None),
        (f"{href}/reports/rpt_missing/title", {"title": "Fine"}, 404, None),
    ):
        refused = _form(client, path, fields)
        assert refused.status_code == status, (path, refused.text)
        if code:
            assert refused.json()["code"] == code
    as_page = _form(client, f"{href}/reports/{ids[0]}/title", {"title": ""}, json=False)
    assert as_page.status_code == 422
    assert "give the report a title" in as_page.text
    assert order() == ["Sessions", "Views", "People per day"]  # nothing changed by the refusals
    actions = [action for action, _, _ in _audit(runtime, ws)]
    assert actions.count("dashboard.report_moved") == 2
    assert actions.count("dashboard.report_retitled") == 1


def test_refusals_say_why_and_keep_the_input(planted: Any) -> None:
    client, ws = planted.client, planted.workspace.id
    bad = _save(client, ws, {"title": "Backwards", "new_dashboard": "Mine",
                             "definition": {**TREND, "until": "2026-06-01"}}, status=422)
    assert (bad["error"]["code"], bad["error"]["message"]) == ("invalid_report", "until must be after since")
    # The refused report made no dashboard.
    assert client.get(f"/console/w/{ws}/analytics/dashboards", headers=JSON).json()["items"] == []
    assert _save(client, ws, {"title": "  ", "new_dashboard": "Mine", "definition": TREND},
                 status=422)["error"]["code"] == "invalid_title"
    assert _save(client, ws, {"title": "Live", "new_dashboard": "Mine", "definition": {"report": "live"}},
                 status=422)["error"]["code"] == "invalid_report"
    assert _save(client, ws, {"title": "T", "new_dashboard": "", "definition": TREND},
                 status=422)["error"]["code"] == "invalid_name"
    assert _save(client, ws, {"title": "T", "dashboard_id": "dsh_nothing", "definition": TREND},
                 status=404)["error"]["code"] == "dashboard_not_found"

    # A browser's form comes back with the message and what the person typed.
    long_name = "x" * 101
    page = _form(client, f"/console/w/{ws}/analytics/dashboards", {"name": long_name}, json=False)
    assert page.status_code == 422
    assert "a dashboard&#39;s name has at most 100 characters" in page.text
    assert re.search(rf'name="name" value="{long_name}"', page.text)
    made = _form(client, f"/console/w/{ws}/analytics/dashboards", {"name": "Mine"}).json()
    renamed = _form(client, f"{made['href']}/rename", {"name": "   "}, json=False)
    assert renamed.status_code == 422
    assert "give the dashboard a name" in renamed.text


def test_dashboards_belong_to_one_person_in_one_workspace(planted: Any, other_workspace: Any) -> None:
    client, runtime, ws = planted.client, planted.runtime, planted.workspace.id
    saved = _save(client, ws, {"title": "Views", "new_dashboard": "Ana's", "definition": TREND})
    href, report_id = saved["dashboard"]["href"], saved["report"]["id"]

    # A colleague in the same workspace sees none of it and can change none of it.
    _as(client, runtime, ws, "bo@example.com", role="admin")
    assert client.get(f"/console/w/{ws}/analytics/dashboards", headers=JSON).json()["items"] == []
    assert client.get(href, headers=JSON).status_code == 404
    for path, data in ((f"{href}/rename", {"name": "Mine now"}), (f"{href}/delete", {}),
                       (f"{href}/reports/{report_id}/delete", {})):
        answer = _form(client, path, data)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "dashboard_not_found"
    assert _save(client, ws, {"title": "Sneaky", "dashboard_id": saved["dashboard"]["id"], "definition": TREND},
                 status=404)["error"]["code"] == "dashboard_not_found"

    # A member of another workspace only: the workspace itself is unknown.
    _as(client, runtime, other_workspace.id, "cy@example.com")
    assert client.get(href, headers=JSON).status_code == 404
    assert client.get(f"/console/w/{ws}/analytics/dashboards", headers=JSON).status_code == 404
    assert _form(client, f"{href}/delete").status_code == 404

    # Agents may not open analytics at all; unsafe requests need the CSRF token.
    _as(client, runtime, ws, "al@example.com", role="agent")
    assert client.get(f"/console/w/{ws}/analytics/dashboards", headers=JSON).status_code == 403
    assert _form(client, f"/console/w/{ws}/analytics/dashboards", {"name": "X"}).status_code == 403
    _as(client, runtime, ws, "ana@example.com")
    no_token = client.post(f"{href}/delete", headers=JSON)
    assert no_token.status_code == 403
    assert no_token.json()["error"]["code"] == "csrf_failed"
    # Ana's dashboard is intact after all of it.
    opened = client.get(href, headers=JSON).json()
    assert (opened["name"], [r["title"] for r in opened["reports"]]) == ("Ana's", ["Views"])


def test_a_saved_report_that_cannot_run_any_more_says_why(planted: Any) -> None:
    client, ws = planted.client, planted.workspace.id
    segment_id = planted.segment()
    by_segment = {**TREND, "group_by": {"source": "segment", "segment_id": segment_id}}
    saved = _save(client, ws, {"title": "Pro or not", "new_dashboard": "Segments", "definition": by_segment})
    href = saved["dashboard"]["href"]
    before = client.get(href, headers=JSON).json()["reports"][0]
    assert [(g["group"], g["total"]) for g in before["answer"]["groups"]] == [("not member", 5)]
    assert planted.client.delete(f"/api/v1/segments/{segment_id}", headers=planted.headers).status_code == 204
    after = client.get(href, headers=JSON).json()["reports"][0]
    assert after["answer"] is None
    assert after["error"]["code"] == "unknown_segment"
    page = client.get(href)
    assert page.status_code == 200
    assert "This report cannot run now: the report names segments this workspace does not have" in page.text
