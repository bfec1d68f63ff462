"""The preference center in a real browser (Debian's Chromium through playwright), as a customer on a phone:
open the link, opt out of the newsletter by email, save, see the confirmation; the next newsletter then skips
them while another customer still gets it. The page runs under its strict policy without a single error.
Screenshots go to ``LOOPLINE_SCREENSHOTS`` (default: the test's temporary directory)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from loopline.actions.campaign_runs import CampaignRunner
from tests.conftest import basic
from tests.console.browser import ARGS, BROWSER, needs_browser, watch_errors
from tests.e2e.conftest import LiveServer

pytestmark = needs_browser
TOPICS = [
    {"key": "news", "label": "Newsletter", "description": "What is new in the shop, once a month.",
     "channels": ["email", "sms"], "default_status": "opted_in"},
    {"key": "offers", "label": "Special offers", "description": "Sales and coupons, now and then.",
     "channels": ["email", "push"], "default_status": "opted_out"},
    {"key": "orders", "label": "Order updates", "channels": ["sms", "push"], "default_status": "opted_in"},
]


def _shop(live: LiveServer) -> dict[str, str]:
    """Two customers who opted in to email, the topic catalogue and a theme; return the API's headers."""
    secret = {"Authorization": f"Bearer {live.workspace.secret_key}"}
    people = [{"type": "identify", "userId": f"fan-{n}", "traits": {"email": f"fan{n}@example.com", "fan": True}}
              for n in range(2)]
    assert httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key),
                      json={"batch": people}).status_code == 200
    live.settle()
    for user in ("fan-0", "fan-1"):
        assert httpx.put(f"{live.url}/api/v1/profiles/{user}/consents", headers=secret, json={
            "choices": [{"channel": "email", "status": "opted_in"}]}).status_code == 200
    for topic in TOPICS:
        assert httpx.post(f"{live.url}/api/v1/topics", headers=secret, json=topic).status_code == 201
    assert httpx.put(f"{live.url}/api/v1/theme", headers=secret, json={
        "brand_name": "Greenleaf Market", "primary_color": "#1d7a46", "background_color": "#fbfaf5",
        "text_color": "#1c2b22", "font": "humanist"}).status_code == 200
    return secret


def _newsletter(live: LiveServer, secret: dict[str, str]) -> None:
    """Run this month's newsletter (topic ``news``, by email) to every fan."""
    api = f"{live.url}/api/v1"
    segment = httpx.post(f"{api}/segments", headers=secret, json={
        "name": "Fans", "condition": {"type": "trait", "trait": "fan", "operator": "eq", "value": True}}).json()
    assert httpx.post(f"{api}/segments/{segment['id']}/refresh", headers=secret).json()["members"] == 2
    campaign = httpx.post(f"{api}/campaigns", headers=secret, json={"name": "June newsletter", "definition": {
        "audience": {"segments": [segment["id"]]}, "channels": ["email"], "topic": "news",
        "variants": [{"name": "A", "split": 100, "content": {"email": {"subject": "News", "body": "<p>Hi</p>"}}}]}})
    assert campaign.status_code == 201, campaign.text
    assert httpx.post(f"{api}/campaigns/{campaign.json()['id']}/schedule", headers=secret).status_code == 200
    CampaignRunner(live.runtime.services).tick()


def test_a_customer_opts_out_of_a_topic_on_a_phone_and_the_next_campaign_skips_them(live: LiveServer,
                                                                                    shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    secret = _shop(live)
    link = httpx.get(f"{live.url}/api/v1/profiles/fan-0/preferences-link", headers=secret).json()["url"]
    url = live.url + urlsplit(link).path  # the public address may name another host than this test server
    assert BROWSER is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=ARGS, headless=True)
        try:
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                     device_scale_factor=2)
            problems = watch_errors(phone)
            phone.goto(url)
            expect(phone.locator("h1")).to_have_text("Your subscriptions")
            expect(phone.get_by_test_id("brand-name")).to_have_text("Greenleaf Market")
            news = phone.locator("section[data-topic=news]")
            email_news = news.get_by_label("Email")
            expect(email_news).to_be_checked()  # the newsletter's default for someone who never chose
            expect(phone.locator("section[data-topic=offers]").get_by_label("Email")).not_to_be_checked()
            # The themed colour reached the button: the page's style element ran under the policy's hash.
            save = phone.get_by_test_id("save")
            assert save.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(29, 122, 70)"
            # One column that fits the phone: nothing sticks out sideways.
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390

            email_news.uncheck()
            save.click()
            expect(phone.get_by_test_id("saved")).to_have_text("Your choices were saved (1 changed).")
            expect(phone.locator("section[data-topic=news]").get_by_label("Email")).not_to_be_checked()
            # Untouched boxes keep what they showed: texts need an opt-in never given, push does not.
            expect(phone.locator("section[data-topic=news]").get_by_label("Text messages")).not_to_be_checked()
            expect(phone.locator("section[data-topic=orders]").get_by_label("Push notifications")).to_be_checked()
            phone.screenshot(path=str(shots / "preferences.png"), full_page=True)
            assert not problems, problems

            desktop = browser.new_page(viewport={"width": 1280, "height": 900})
            desktop_problems = watch_errors(desktop)
            desktop.goto(url)
            expect(desktop.locator("section[data-topic=news]").get_by_label("Email")).not_to_be_checked()
            desktop.screenshot(path=str(shots / "preferences-desktop.png"), full_page=True)
            assert not desktop_problems, desktop_problems
        finally:
            browser.close()

    view = httpx.get(f"{live.url}/api/v1/profiles/fan-0", headers=secret).json()
    assert {(c["channel"], c["topic"], c["status"], c["source"]) for c in view["consents"]} == {
        ("email", "all", "opted_in", "api"), ("email", "news", "opted_out", "preference_center")}
    _newsletter(live, secret)
    (skipped,) = httpx.get(f"{live.url}/api/v1/profiles/fan-0/sends", headers=secret).json()["items"]
    assert (skipped["state"], skipped["reason"]) == ("skipped", "unsubscribed")
    (sent,) = httpx.get(f"{live.url}/api/v1/profiles/fan-1/sends", headers=secret).json()["items"]
    assert sent["state"] == "sent"
    outbox = httpx.get(f"{live.url}/api/v1/outbox", headers=secret).json()["items"]
    assert [message["address"] for message in outbox] == ["fan1@example.com"]
    assert (shots / "preferences.png").stat().st_size > 10_000
    assert (shots / "preferences-desktop.png").stat().st_size > 10_000
