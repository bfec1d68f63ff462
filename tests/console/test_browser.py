"""The console in a real browser (Debian's Chromium through playwright): sign in through the form,
see the overview with its chart drawn and its figures, open the outbox, a campaign's report and
a customer, sign out. Screenshots of each page are written to ``LOOPLINE_SCREENSHOTS`` (default:
the test's temporary directory) for reviewers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx

from loopline.actions.campaign_runs import CampaignRunner
from loopline.store.sql.tables import sandbox_outbox
from tests.conftest import basic
from tests.console.browser import ARGS, BROWSER, needs_browser, painted
from tests.console.conftest import PASSWORD, member
from tests.e2e.conftest import LiveServer

pytestmark = needs_browser


def _plant(live: LiveServer, *, events: int = 12) -> None:
    """Send a little traffic of this minute through the ingest API."""
    now = datetime.now(UTC).replace(microsecond=0)
    batch = [{"type": "identify", "userId": f"u-{n}", "traits": {"email": f"c{n}@example.com"}} for n in range(5)]
    batch += [{"type": "track", "userId": f"u-{n % 5}", "event": "Product Viewed",
               "timestamp": now.isoformat().replace("+00:00", "Z")} for n in range(events)]
    answer = httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key), json={"batch": batch})
    assert answer.status_code == 200, answer.text
    live.settle()


def _deliver(live: LiveServer) -> None:
    """Put an email and a text into the workspace's sandbox outbox, as the sandbox channel would."""
    now = datetime.now(UTC)
    rows = [
        {"send_key": "sk_browser_mail", "channel": "email", "address": "kim@example.com", "subject": "Hello",
         "body": "<html><body><h1>Hello Kim</h1><script>parent.document.title = 'ran';</script></body></html>"},
        {"send_key": "sk_browser_text", "channel": "sms", "address": "+4915112345678", "subject": None,
         "body": "Your code is 4711"},
    ]
    with live.runtime.services.engine.begin() as conn:
        conn.execute(sandbox_outbox.insert(), [{**row, "workspace_id": live.workspace.id, "profile_id": "p-kim",
                                                "url": None, "source_id": "cmp_browser", "delivered_at": now}
                                               for row in rows])


def _campaign(live: LiveServer) -> None:
    """Run a campaign with a control group to the sandbox for 20 customers, then plant some orders."""
    secret = {"Authorization": f"Bearer {live.workspace.secret_key}"}
    api = f"{live.url}/api/v1"
    people = [{"type": "identify", "userId": f"buyer-{n}", "traits": {"email": f"b{n}@example.com", "vip": True}}
              for n in range(20)]
    assert httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key),
                      json={"batch": people}).status_code == 200
    live.settle()
    assert httpx.put(f"{api}/contact-policy", headers=secret, json={"opt_in_channels": []}).status_code == 200
    segment = httpx.post(f"{api}/segments", headers=secret, json={
        "name": "VIPs", "condition": {"type": "trait", "trait": "vip", "operator": "eq", "value": True}}).json()
    assert httpx.post(f"{api}/segments/{segment['id']}/refresh", headers=secret).status_code == 200
    campaign = httpx.post(f"{api}/campaigns", headers=secret, json={"name": "VIP preview", "definition": {
        "audience": {"segments": [segment["id"]]}, "channels": ["email"], "holdout_percent": 50,
        "success_metric": {"event": "Order Completed", "within_days": 7},
        "variants": [{"name": "A", "split": 100, "content": {"email": {"subject": "Preview", "body": "<p>Hi</p>"}}}]}})
    assert campaign.status_code == 201, campaign.text
    assert httpx.post(f"{api}/campaigns/{campaign.json()['id']}/schedule", headers=secret).status_code == 200
    CampaignRunner(live.runtime.services).tick()
    orders = [{"type": "track", "userId": f"buyer-{n}", "event": "Order Completed"} for n in range(0, 20, 2)]
    assert httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key),
                      json={"batch": orders}).status_code == 200
    live.settle()


def test_sign_in_see_the_overview_and_the_outbox_and_sign_out(live: LiveServer, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    email = member(live.runtime, live.workspace.id)
    _plant(live)
    assert BROWSER is not None
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{live.url}/console/")
            expect(page).to_have_url(f"{live.url}/console/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", "not the password")
            page.click("button[type=submit]")
            expect(page.get_by_test_id("login-message")).to_have_text("Wrong e-mail address or password.")
            written.append(shots / "console-login.png")
            page.screenshot(path=str(written[-1]), full_page=True)

            assert problems == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
            problems.clear()
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{live.url}/console/w/{live.workspace.id}/")
            expect(page.get_by_test_id("workspace-name")).to_have_text("End-to-end shop")
            expect(page.get_by_test_id("events-hour")).to_have_text("12")
            expect(page.get_by_test_id("dau")).to_have_text("5")
            expect(page.get_by_test_id("new-customers")).to_have_text("5")
            # ECharts drew the line into its canvas: some pixels are not transparent.
            assert painted(page, "#activity-chart") > 1000
            expect(page.get_by_test_id("updated")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d UTC$"))
            written.append(shots / "console-overview.png")
            page.screenshot(path=str(written[-1]), full_page=True)
            # The Alpine.js component owns the figures: a refresh (every 15 s; called here) shows new events.
            component = "Alpine.$data(document.querySelector('[x-data]'))"
            assert page.evaluate(f"{component}.dau") == 5
            _plant(live, events=3)
            page.evaluate(f"{component}.refresh()")
            expect(page.get_by_test_id("events-hour")).to_have_text("15")
            assert not problems, problems

            # The outbox shows each message as its customer sees it: an email in a frame that runs nothing.
            _deliver(live)
            page.get_by_role("link", name="Outbox").click()
            expect(page).to_have_url(f"{live.url}/console/w/{live.workspace.id}/outbox")
            expect(page.get_by_test_id("message")).to_have_count(2)
            expect(page.get_by_test_id("body")).to_have_text("Your code is 4711")
            mail = page.frame_locator("iframe.email-frame")
            expect(mail.locator("h1")).to_have_text("Hello Kim")
            assert page.title().startswith("Outbox")  # the mail's script did not run: it would retitle
            written.append(shots / "console-outbox.png")
            page.screenshot(path=str(written[-1]), full_page=True)
            assert [p for p in problems if "Blocked script execution in 'about:srcdoc'" not in p] == []
            assert problems, "the browser reports the mail's script as blocked"
            problems.clear()

            # A campaign's report: its funnel and the conversion of each group with its interval, drawn.
            _campaign(live)
            page.get_by_role("link", name="Campaigns").click()
            page.get_by_test_id("campaign-link").click()
            expect(page.get_by_test_id("campaign-name")).to_have_text("VIP preview")
            expect(page.get_by_test_id("lift")).to_contain_text("points")
            assert painted(page, "#funnel-chart") > 1000
            assert painted(page, "#uplift-chart") > 1000
            written.append(shots / "console-campaign-report.png")
            page.screenshot(path=str(written[-1]), full_page=True)
            assert not problems, problems

            # A customer's 360° view: found by email, with the campaign's decision and why.
            page.get_by_role("link", name="Customers").click()
            page.get_by_test_id("customer-search").fill("b3@")
            page.get_by_role("button", name="Search").click()
            expect(page.get_by_test_id("customer-link")).to_have_count(1)
            page.get_by_test_id("customer-link").click()
            expect(page.get_by_test_id("customer-name")).to_have_text("b3@example.com")
            expect(page.get_by_test_id("messages")).to_contain_text("campaign")
            expect(page.get_by_test_id("timeline")).to_contain_text("email from campaign")
            written.append(shots / "console-customer.png")
            page.screenshot(path=str(written[-1]), full_page=True)
            assert not problems, problems

            page.get_by_test_id("logout").click()
            expect(page).to_have_url(f"{live.url}/console/login")
            page.goto(f"{live.url}/console/w/{live.workspace.id}/")
            expect(page).to_have_url(f"{live.url}/console/login")
        finally:
            browser.close()
    for path in written:
        assert path.stat().st_size > 10_000
        print(f"screenshot: {path}")
