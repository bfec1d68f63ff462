"""The demo shop in a real browser: its page view, identify and events travel through Segment's
own library (analytics.js 2.0, vendored) to the tracking API and show up on the customer's
profile. Every request the page makes goes to Loopline: nothing to Segment's CDN or API."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.console.browser import BROWSER, chromium_page, needs_browser
from tests.e2e.conftest import LiveServer

pytestmark = needs_browser


def _profile(live: LiveServer, reference: str) -> dict:
    answer = httpx.get(f"{live.url}/api/v1/profiles/{reference}",
                       headers={"Authorization": f"Bearer {live.workspace.secret_key}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_demo_shop_tracks_through_analytics_next_into_the_profile(live: LiveServer, shots: Path) -> None:
    from playwright.sync_api import expect

    assert BROWSER is not None
    requested: list[str] = []
    with chromium_page(viewport=(1100, 800)) as (page, problems):
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{live.url}/demo-site/?writeKey={live.workspace.write_key}")
        log = page.get_by_test_id("log")
        expect(log).to_contain_text("page view sent")
        page.get_by_test_id("email").fill("shopper@example.com")
        page.get_by_role("button", name="Sign in").click()
        expect(log).to_contain_text("identify shopper@example.com sent")
        page.locator("article[data-product=sku-grinder] button.add").click()
        page.locator("article[data-product=sku-kettle] button.add").click()
        expect(log).to_contain_text("Product Added: Gooseneck kettle sent")
        page.get_by_test_id("checkout").click()
        expect(log).to_contain_text("Order Completed sent")
        page.screenshot(path=str(shots / "demo-site.png"), full_page=True)
        assert not problems, problems

    ours = urlsplit(live.url).netloc
    assert {urlsplit(url).netloc for url in requested} == {ours}, requested
    paths = [urlsplit(url).path for url in requested]
    assert f"/v1/projects/{live.workspace.write_key}/settings" in paths
    # The library's own one-letter paths, as it sends them to Segment.
    assert {"/v1/p", "/v1/i", "/v1/t"} <= set(paths), paths

    live.settle()
    profile = _profile(live, "shopper@example.com")
    assert profile["traits"]["email"] == "shopper@example.com"
    kinds = [(event["type"], event.get("event") or event.get("name")) for event in profile["recent_events"]]
    assert kinds.count(("track", "Product Added")) == 2, kinds
    assert ("track", "Order Completed") in kinds
    # The page view came before the visitor signed in: it joined the profile through the anonymous id.
    assert ("page", "Home") in kinds, kinds
    order = next(e for e in profile["recent_events"] if e.get("event") == "Order Completed")
    assert order["properties"]["revenue"] == pytest.approx(98.0)
    library = order["context"]["library"]
    assert (library["name"], library["version"]) == ("analytics.js", "next-1.84.3")
