"""The reference script in a real browser (headless Chromium, when one is installed): a shop's page
on another origin loads it from the server, shows the customer's message as text, and reports
it as viewed across origins."""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopline.config import Settings
from loopline.ports import Outbound
from tests.conftest import basic, bearer
from tests.e2e.conftest import LiveServer, run_live_server

# The browser comes from the environment, as the test servers do (.ci/run installs Debian's
# chromium and sets it); a laptop without it skips these tests.
BROWSER = os.environ.get("LOOPLINE_TEST_CHROMIUM") or None
pytestmark = pytest.mark.skipif(BROWSER is None or not os.access(BROWSER, os.X_OK),
                                reason="needs Chromium: set LOOPLINE_TEST_CHROMIUM to its path")
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def live(embedded_settings: Settings) -> Iterator[LiveServer]:
    with run_live_server(embedded_settings.model_copy(update={"in_app_stream_max_seconds": 5.0})) as server:
        yield server


@pytest.fixture
def shop_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static web server for the shop's own pages, on another port (so another origin)."""
    site = tmp_path / "site"
    site.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_shop_page_shows_the_message_as_text_and_reports_it_viewed(live: LiveServer, shop_site, tmp_path):
    site, origin = shop_site
    key = live.workspace.write_key
    assert httpx.post(f"{live.url}/v1/identify", headers=basic(key), json={"userId": "u-web"}).status_code == 200
    live.settle()
    profile = httpx.get(f"{live.url}/api/v1/profiles/u-web", headers=bearer(live.workspace.secret_key)).json()["id"]
    (answer,) = live.runtime.services.channels["in_app"].deliver([Outbound(
        "sk_browser", live.workspace.id, "cmp_web", profile, "in_app", profile, HOSTILE, "Twenty percent off",
        "https://shop.example/sale", {"buttons": [{"id": "shop", "title": "Shop now"}]})])
    assert answer.accepted
    (site / "cart.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>Cart</title></head><body><h1>Cart</h1>'
        f'<script src="{live.url}/sdk/in-app.js"></script>'
        f'<script>Loopline.inApp.start({{host: "{live.url}", writeKey: "{key}", userId: "u-web", screen: "cart"}});'
        "</script></body></html>", encoding="utf-8")
    assert BROWSER is not None
    run = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}/b",
                          "--virtual-time-budget=3000", "--dump-dom", f"{origin}/cart.html"],
                         capture_output=True, text=True, timeout=120, check=False)
    dom = run.stdout
    assert 'class="loopline-in-app-overlay"' in dom, (dom[-2000:], run.stderr[-2000:])
    title = re.search(r'<h2 class="loopline-in-app-title">(.*?)</h2>', dom)
    assert title is not None
    assert title.group(1) == "&lt;img src=x onerror=alert(1)&gt;"  # text, not an element
    assert "<img" not in dom
    assert '<button class="loopline-in-app-button" type="button">Shop now</button>' in dom
    # The report went from the shop's origin to the server: the message is now viewed.
    (message,) = httpx.get(f"{live.url}/v1/in-app/messages", headers=basic(key), params={"userId": "u-web"}).json()[
        "messages"]
    assert message["state"] == "viewed"
