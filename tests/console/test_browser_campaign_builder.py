"""The campaign builder in a real browser (Debian's Chromium through playwright), along the path a
marketer takes: Campaigns → New campaign, name it, pick a segment and see the audience's size,
write a personalised email and see it on a phone and a desktop, keep half out as a control
group, send it now; then the messages in the outbox and the uplift drawn in the report.
Screenshots go to ``LOOPLINE_SCREENSHOTS`` (default: the test's temporary directory)."""

from __future__ import annotations

from pathlib import Path

import httpx

from loopline.actions.campaign_runs import CampaignRunner
from tests.conftest import basic
from tests.console.browser import BROWSER, needs_browser, painted, signed_in_page
from tests.console.conftest import member
from tests.e2e.conftest import LiveServer

pytestmark = needs_browser
CUSTOMERS = 20


def _plant(live: LiveServer) -> str:
    """Send 20 customers with an email address, a first name and the VIP trait; return the VIP segment's id."""
    secret = {"Authorization": f"Bearer {live.workspace.secret_key}"}
    api = f"{live.url}/api/v1"
    people = [{"type": "identify", "userId": f"buyer-{n}",
               "traits": {"email": f"b{n}@example.com", "first_name": f"Buyer{n}", "vip": True}}
              for n in range(CUSTOMERS)]
    assert httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key),
                      json={"batch": people}).status_code == 200
    live.settle()
    assert httpx.put(f"{api}/contact-policy", headers=secret, json={"opt_in_channels": []}).status_code == 200
    segment = httpx.post(f"{api}/segments", headers=secret, json={
        "name": "VIPs", "condition": {"type": "trait", "trait": "vip", "operator": "eq", "value": True}})
    assert segment.status_code == 201, segment.text
    assert httpx.post(f"{api}/segments/{segment.json()['id']}/refresh", headers=secret).status_code == 200
    return str(segment.json()["id"])


def _order(live: LiveServer) -> None:
    """Every other customer orders: the report then has conversions in both groups."""
    orders = [{"type": "track", "userId": f"buyer-{n}", "event": "Order Completed"} for n in range(0, CUSTOMERS, 2)]
    assert httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key),
                      json={"batch": orders}).status_code == 200
    live.settle()


def test_build_preview_and_send_a_campaign_then_see_it_delivered_and_measured(live: LiveServer, shots: Path) -> None:
    from playwright.sync_api import expect

    email = member(live.runtime, live.workspace.id, role="marketer")
    _plant(live)
    assert BROWSER is not None
    written: list[Path] = []
    with signed_in_page(live, email, viewport=(1400, 1000)) as (page, problems):
        page.get_by_role("link", name="Campaigns").click()
        page.get_by_test_id("new-campaign").click()
        expect(page).to_have_url(f"{live.url}/console/w/{live.workspace.id}/campaigns/new")
        expect(page.get_by_test_id("builder-title")).to_have_text("New campaign")

        page.get_by_test_id("campaign-name-input").fill("VIP thanks")
        page.get_by_test_id("metric-event").fill("Order Completed")
        page.get_by_test_id("include-VIPs").check()
        # The audience's size is fetched as the segments are picked.
        expect(page.get_by_test_id("audience-size")).to_have_text(str(CUSTOMERS))

        page.get_by_test_id("v0-email-subject").fill("Thank you, {{ traits.first_name }}")
        page.get_by_test_id("v0-email-body").fill(
            "<h1>Hello {{ traits.first_name }}</h1><p>As a VIP you get 20% off this week.</p>")
        page.get_by_test_id("preview-customer").fill("b7@example.com")
        # The preview follows the form: rendered for the named customer on a phone and a desktop.
        expect(page.get_by_test_id("preview-subject")).to_have_text("Thank you, Buyer7")
        expect(page.get_by_test_id("phone-email-subject")).to_have_text("Thank you, Buyer7")
        expect(page.frame_locator("iframe.desktop-email").locator("h1")).to_have_text("Hello Buyer7")
        expect(page.frame_locator("iframe.phone-email").locator("h1")).to_have_text("Hello Buyer7")
        expect(page.get_by_test_id("preview-phone")).to_be_visible()
        expect(page.get_by_test_id("preview-desktop")).to_be_visible()
        # Only the chosen channel's fields show: SMS is not chosen, then chosen.
        expect(page.get_by_test_id("v0-sms-body")).to_be_hidden()
        page.get_by_test_id("channel-sms").check()
        expect(page.get_by_test_id("v0-sms-body")).to_be_visible()
        page.get_by_test_id("channel-sms").uncheck()
        expect(page.get_by_test_id("v0-sms-body")).to_be_hidden()

        # Any change reloads the preview (after 600 ms): wait for it, so the pictures below
        # are not taken of an element being swapped out.
        with page.expect_response(lambda response: "/campaigns/new/preview" in response.url):
            page.get_by_test_id("holdout").fill("50")
        page.wait_for_timeout(100)  # htmx swaps the answer in after its settle delay (20 ms)
        expect(page.get_by_test_id("schedule")).to_have_text("Save and send now")
        written.append(shots / "campaign-builder.png")
        page.screenshot(path=str(written[-1]), full_page=True)
        written.append(shots / "campaign-preview-phone.png")
        page.get_by_test_id("preview-phone").screenshot(path=str(written[-1]))
        assert not problems, problems

        page.get_by_test_id("schedule").click()
        expect(page.get_by_test_id("campaign-name")).to_have_text("VIP thanks")
        campaign_id = page.url.rsplit("/", 1)[-1]
        stored = live.runtime.services.campaigns.get(workspace_id=live.workspace.id, campaign_id=campaign_id)
        assert stored is not None
        assert stored.status == "scheduled"
        assert stored.definition["holdout_percent"] == 50

        CampaignRunner(live.runtime.services).tick()
        delivered = live.runtime.services.sandbox.list_outbox(workspace_id=live.workspace.id, limit=100,
                                                              source_id=campaign_id)
        assert 0 < len(delivered) < CUSTOMERS  # half were held out, by a hash of each customer
        page.get_by_role("link", name="Outbox").click()
        expect(page.get_by_test_id("message")).to_have_count(len(delivered))
        first = delivered[0]
        name = f"Buyer{first['address'].removeprefix('b').removesuffix('@example.com')}"
        expect(page.get_by_test_id("subject").first).to_have_text(f"Thank you, {name}")
        # A delivered email carries its open-tracking pixel, on the public address (another origin
        # here), which the console's policy blocks: reading the outbox records no open.
        pixels = [p for p in problems if p.startswith("Loading the image") and "/o/" in p]
        assert [p for p in problems if p not in pixels] == []
        problems.clear()

        _order(live)
        page.goto(f"{live.url}/console/w/{live.workspace.id}/campaigns/{campaign_id}")
        expect(page.get_by_test_id("lift")).to_contain_text("points")
        assert painted(page, "#uplift-chart") > 1000
        written.append(shots / "campaign-builder-report.png")
        page.screenshot(path=str(written[-1]), full_page=True)
        assert not problems, problems
    for path in written:
        assert path.stat().st_size > 10_000
        print(f"screenshot: {path}")
