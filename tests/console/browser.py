"""What every browser test of the console shares: Chromium's path, signing in through the form,
collecting the page's errors, and checking that a chart was drawn. The live server and the
screenshot folder are fixtures in this folder's conftest."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.console.conftest import PASSWORD
from tests.e2e.conftest import LiveServer

BROWSER = os.environ.get("LOOPLINE_TEST_CHROMIUM") or None
needs_browser = pytest.mark.skipif(BROWSER is None or not os.access(BROWSER, os.X_OK),
                                   reason="needs Chromium: set LOOPLINE_TEST_CHROMIUM to its path")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def watch_errors(page: Any) -> list[str]:
    """Collect the page's console errors and uncaught exceptions into the returned list."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def browser_sign_in(page: Any, live: LiveServer, email: str, password: str = PASSWORD) -> None:
    """Sign in through the console's form and wait for the workspace's overview."""
    from playwright.sync_api import expect

    page.goto(f"{live.url}/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live.url}/console/w/{live.workspace.id}/")


def painted(page: Any, selector: str, *, enough: int = 1000) -> int:
    """Return how many pixels of a chart's one canvas are not transparent.

    It waits for the canvas, then up to five seconds for ``enough`` pixels: the chart script
    runs after the page loads and ECharts animates its first drawing.
    """
    from playwright.sync_api import expect

    canvas = page.locator(f"{selector} canvas")
    expect(canvas).to_have_count(1)
    deadline = time.monotonic() + 5
    while True:
        count = int(canvas.evaluate(
            "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; }"))
        if count >= enough or time.monotonic() > deadline:
            return count
        page.wait_for_timeout(100)


@contextmanager
def chromium_page(*, viewport: tuple[int, int] = (1280, 900), **options: Any) -> Iterator[tuple[Any, list[str]]]:
    """Open Debian's Chromium with one page of ``viewport``; yield the page and the errors it logs; close it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, **options)
            yield page, watch_errors(page)
        finally:
            browser.close()


@contextmanager
def signed_in_page(live: LiveServer, email: str, *, viewport: tuple[int, int] = (1280, 900),
                   ) -> Iterator[tuple[Any, list[str]]]:
    """A page signed in to the console as ``email`` (see ``chromium_page``)."""
    with chromium_page(viewport=viewport) as (page, problems):
        browser_sign_in(page, live, email)
        yield page, problems
