"""Landing pages open in the workspace's theme: the frame and stylesheet around the author's page."""

from __future__ import annotations

import re

from tests.tracking.conftest import shop  # noqa: F401 - the tracking shop serves this test too
from tests.tracking.test_purls import EMAIL, PLEASE, PageShop, pages  # noqa: F401


def test_a_landing_page_wears_the_theme_and_a_dead_link_the_default(pages: PageShop) -> None:  # noqa: F811
    pages.page()
    pages.send(content=EMAIL)
    assert pages.client.put("/api/v1/theme", headers=pages.headers, json={
        "brand_name": "Spring Shop", "primary_color": "#aa3300", "logo_url": "https://cdn.example.com/l.png",
    }).status_code == 200
    page = pages.visit(pages.purl("u-00001"))
    assert page.status_code == 200
    assert "--brand-primary:#aa3300;" in page.text
    assert '<img src="https://cdn.example.com/l.png" alt="Spring Shop"' in page.text
    assert re.search(r'<div class="ll-page"><h1>Hello Kim1</h1>', page.text)
    policy = page.headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline';" in policy  # authors may style their own pages
    assert "script" not in policy
    assert page.headers["Referrer-Policy"] == "no-referrer"
    (sheet,) = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page.text)
    assert pages.client.get(sheet).status_code == 200
    dead = pages.client.get("/p/AAAAAAAAAAAAAAAAAAAA", headers=PLEASE)
    assert dead.status_code == 404
    assert "This page is not available" in dead.text
    assert "--brand-primary:#1f6feb;" in dead.text  # no workspace to take a theme from
