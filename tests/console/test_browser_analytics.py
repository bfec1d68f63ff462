"""The analytics explorer and a dashboard in a real browser (Debian's Chromium through playwright):
build a trend of "Product Viewed" grouped by a property, see its chart drawn and its table, save
it to a new dashboard, open the dashboard and see the chart again. Screenshots ``analytics.png``
and ``dashboard.png`` go to ``LOOPLINE_SCREENSHOTS`` (default: the test's temporary directory)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.conftest import basic
from tests.console.browser import BROWSER, needs_browser, painted, signed_in_page
from tests.console.conftest import member
from tests.e2e.conftest import LiveServer

pytestmark = needs_browser


def _plant(live: LiveServer) -> None:
    """Five product views yesterday: three on iOS by two customers, two on Android by one."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    views = [("u-1", "ios"), ("u-1", "ios"), ("u-2", "ios"), ("u-3", "android"), ("u-3", "android")]
    batch = [{"type": "track", "userId": user, "event": "Product Viewed", "properties": {"platform": platform},
              "timestamp": (yesterday + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")}
             for n, (user, platform) in enumerate(views)]
    answer = httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key), json={"batch": batch})
    assert answer.status_code == 200, answer.text
    live.settle()


def test_build_a_trend_save_it_and_open_the_dashboard(live: LiveServer, shots: Path) -> None:
    from playwright.sync_api import expect

    email = member(live.runtime, live.workspace.id, role="analyst")
    _plant(live)
    assert BROWSER is not None
    written: list[Path] = []
    with signed_in_page(live, email) as (page, problems):
        page.get_by_role("link", name="Analytics", exact=True).click()
        expect(page).to_have_url(f"{live.url}/console/w/{live.workspace.id}/analytics")

        # A trend (the first report kind) of one event, grouped by an event property.
        expect(page.get_by_test_id("report-kind")).to_have_value("events")
        page.get_by_test_id("event").fill("Product Viewed")
        page.get_by_test_id("group-source").select_option("event")
        page.get_by_test_id("group-path").fill("platform")
        definition = page.get_by_test_id("definition")
        expect(definition).to_have_value(re.compile(r'"group_by": \{\s+"source": "event",\s+"path": "platform"'))
        page.get_by_test_id("run").click()
        expect(page.get_by_test_id("report-result")).to_be_visible()
        table = page.get_by_test_id("report-table")
        expect(table.locator("thead th")).to_have_text(["date", "ios", "android"])
        expect(table.locator("tbody tr")).to_have_count(31)  # the last 30 days and the total
        expect(table.locator("tbody tr").last.locator("td")).to_have_text(["total", "3", "2"])
        assert painted(page, "#report-chart") > 1000
        written.append(shots / "analytics.png")
        page.screenshot(path=str(written[-1]), full_page=True)

        # Saved to a new dashboard, which then opens with the report run again and drawn.
        page.get_by_test_id("save-title").fill("Views by platform")
        expect(page.get_by_test_id("save-dashboard")).to_have_value("")  # no dashboard yet: a new one
        page.get_by_test_id("save-new-dashboard").fill("Product")
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("saved-link")).to_have_text("Saved to Product: open the dashboard")
        page.get_by_test_id("saved-link").click()
        expect(page.get_by_test_id("dashboard-title")).to_have_text("Product")
        expect(page.get_by_test_id("saved-report")).to_have_count(1)
        expect(page.get_by_test_id("saved-report").locator("h2")).to_have_text("Views by platform")
        expect(page.locator(".report-card tbody tr").last.locator("td")).to_have_text(["total", "3", "2"])
        assert painted(page, ".report-card .report-chart") > 1000
        written.append(shots / "dashboard.png")
        page.screenshot(path=str(written[-1]), full_page=True)
        assert problems == [], problems

        # The list of dashboards links it; deleting asks first, then the list is empty.
        page.get_by_role("link", name="Your dashboards").click()
        expect(page.get_by_test_id("dashboard-link")).to_have_text(["Product"])
        page.get_by_test_id("dashboard-link").click()
        asked: list[str] = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.get_by_role("button", name="Delete the dashboard").click()
        expect(page).to_have_url(f"{live.url}/console/w/{live.workspace.id}/analytics/dashboards")
        expect(page.get_by_test_id("no-dashboards")).to_be_visible()
        assert asked == ["Delete this dashboard and its saved reports?"]
        assert problems == [], problems
    for path in written:
        assert path.stat().st_size > 10_000
        print(f"screenshot: {path}")


def _plant_every_kind(live: LiveServer) -> tuple[str, str]:
    """Views, carts and orders (with product categories and places) yesterday and the day before, and one now."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(days=2)).replace(hour=9, minute=0, second=0)
    products = [{"category": "shoes"}, {"category": "socks"}]
    batch = []
    for n in range(6):
        at = start + timedelta(days=n % 2, minutes=n)
        context = {"location": {"country": "DE" if n % 3 else "FR"}, "os": {"name": "iOS" if n % 2 else "Android"}}
        for step, (event, properties) in enumerate((("Product Viewed", {"price": 10 * (n + 1), "platform": "ios"}),
                                                     ("Product Added", {}),
                                                     ("Order Completed", {"products": products}))):
            if step == 2 and n % 2:
                continue
            batch.append({"type": "track", "userId": f"u-{n}", "event": event, "properties": properties,
                          "context": context,
                          "timestamp": (at + timedelta(minutes=5 * step)).isoformat().replace("+00:00", "Z")})
    batch.append({"type": "track", "userId": "u-0", "event": "App Opened", "timestamp": now.isoformat()})
    answer = httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key), json={"batch": batch})
    assert answer.status_code == 200, answer.text
    live.settle()
    return start.date().isoformat(), (now + timedelta(days=1)).date().isoformat()


def test_every_report_kind_is_drawn_and_tabled(live: LiveServer, shots: Path) -> None:
    from playwright.sync_api import expect

    email = member(live.runtime, live.workspace.id, role="marketer", email="mo@example.com")
    since, until = _plant_every_kind(live)
    span = {"since": since, "until": until}
    by_os = {"group_by": {"source": "context", "path": "os.name"}}
    steps = [{"event": "Product Viewed"}, {"event": "Product Added"}, {"event": "Order Completed"}]
    requests = [
        {"report": "funnel", **span, "steps": steps}, {"report": "funnel", **span, "steps": steps, **by_os},
        {"report": "retention", **span, "period": "day", "periods": 3},
        {"report": "retention", **span, "period": "day", "periods": 3, **by_os},
        {"report": "paths", **span, "from": "Product Viewed", "depth": 2},
        {"report": "distribution", **span, "event": "Product Viewed", "property": "price"},
        {"report": "distribution", **span, "of": "events_per_user", **by_os},
        {"report": "sessions", **span}, {"report": "sessions", **span, **by_os},
        {"report": "geography", **span}, {"report": "active_users", **span},
        {"report": "active_users", **span, **by_os}, {"report": "new_vs_returning", **span},
        {"report": "new_vs_returning", **span, **by_os}, {"report": "affinity", **span}, {"report": "live"},
    ]
    assert BROWSER is not None
    with signed_in_page(live, email) as (page, problems):
        page.goto(f"{live.url}/console/w/{live.workspace.id}/analytics")
        page.get_by_text("The request as JSON").click()
        heading = page.locator("[data-testid=report-result] h2")
        label = re.compile(r"^(Funnel|Retention|Paths|Distribution|Sessions and heatmap|Geography|Active users"
                           r"|New and returning|Bought together|Live)\b")
        for drawn, request in enumerate(requests, start=1):
            page.get_by_test_id("definition").fill(json.dumps(request))
            page.get_by_test_id("run").click()
            expect(page.locator("[x-data=explorer]")).to_have_attribute("data-drawn", str(drawn))
            expect(heading).to_have_text(label)
            expect(page.get_by_test_id("report-error")).to_be_hidden()
            assert painted(page, "#report-chart") > 500, request
            assert page.get_by_test_id("report-table").locator("tbody tr").count() > 0, request
            assert problems == [], (request, problems)
            if request["report"] == "paths":
                page.screenshot(path=str(shots / "analytics-paths.png"), full_page=True)
        # An invalid request is refused with the engine's message, and the last chart stays.
        page.get_by_test_id("definition").fill(json.dumps({"report": "events", "since": until, "until": since}))
        page.get_by_test_id("run").click()
        expect(page.get_by_test_id("report-error")).to_have_text("until must be after since")
    # The refusal is a 422 answer, which the browser reports as a failed resource; nothing else went wrong.
    assert [p for p in problems if "422" not in p] == []
