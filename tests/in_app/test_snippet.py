"""The reference JavaScript: served with the right headers, shipped inside the package, and —
run against a fake DOM under Node — it shows message content as text only, follows safe links
only, and reports each interaction with the write key scoped to the customer named."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

HARNESS = Path(__file__).with_name("dom_harness.js")
HOSTILE = "<img src=x onerror=alert(1)>"


def _snippet() -> str:
    return (resources.files("loopline.api") / "static" / "in_app.js").read_text(encoding="utf-8")


def test_the_snippet_is_served_as_javascript_and_cached(client):
    response = client.get("/sdk/in-app.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in response.headers["cache-control"]
    assert response.text == _snippet()
    assert "Loopline.inApp" in response.text


def test_the_snippet_never_writes_markup_or_runs_strings_as_code():
    code = _snippet()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "setTimeout(\"", "javascript:"):
        assert sink not in code, sink
    assert re.search(r"\.textContent\s*=", code)


def test_the_snippet_is_part_of_the_package_sources():
    # The wheel holds everything under src/loopline that git tracks or may track: nothing ignores .js here.
    package = Path(resources.files("loopline").joinpath("api/static/in_app.js").__fspath__())  # type: ignore[attr-defined]
    assert package.is_file()
    root = Path(__file__).resolve().parents[2]
    ignored = subprocess.run(["git", "check-ignore", "-q", str(package)], cwd=root, check=False)
    assert ignored.returncode == 1  # 1: not ignored


def _message(key: str, **fields: Any) -> dict[str, Any]:
    base = {"send_key": key, "title": None, "body": "", "url": None, "layout": "modal", "image_url": None,
            "buttons": [], "dismissible": True, "priority": 5, "state": "pending",
            "created_at": "2026-06-15T10:00:00Z",
            "display": {"on_screen": None, "on_event": None, "until": "2999-01-01T00:00:00Z"}}
    return base | fields


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node]
    for child in node["children"]:
        found.extend(_walk(child))
    return found


def _classes(tree: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [n for n in _walk(tree) if f"loopline-in-app-{name}" in n["className"].split()]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the snippet")
def test_the_snippet_renders_text_only_follows_safe_links_and_reports_each_interaction(tmp_path):
    scenario = {
        "config": {"host": "https://loopline.example/", "writeKey": "llw_public", "userId": "u-1", "screen": "cart"},
        "due": [
            _message("sk_hostile", title=HOSTILE, body="<script>alert(2)</script>\nsecond line",
                     url="javascript:alert(3)", image_url="http://insecure.example/a.png", priority=9,
                     buttons=[{"id": "shop", "title": "<b>Shop</b>", "url": "javascript:alert(4)"}]),
            _message("sk_banner", title="Banner", body="Second", layout="banner",
                     image_url="https://cdn.example/b.png", created_at="2026-06-15T09:00:00Z"),
            _message("sk_elsewhere", body="Checkout only", display={
                "on_screen": "checkout", "on_event": None, "until": "2999-01-01T00:00:00Z"}),
            _message("sk_ended", body="Too late", display={
                "on_screen": None, "on_event": None, "until": "2001-01-01T00:00:00Z"}),
            _message("sk_event", body="Triggered", url="/cart?coupon=SECOND", display={
                "on_screen": None, "on_event": "Product Added", "until": "2999-01-01T00:00:00Z"}),
        ],
        # Sent before the banner, so it shows after it although it arrives while the first one is shown.
        "live": _message("sk_live", body="Live", layout="fullscreen", dismissible=False,
                         created_at="2026-06-15T08:00:00Z"),
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    snippet = tmp_path / "in_app.js"
    snippet.write_text(_snippet(), encoding="utf-8")
    run = subprocess.run(["node", str(HARNESS), str(snippet), str(path)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["violations"] == []
    steps = {step["label"]: step["tree"] for step in result["steps"]}

    # The hostile message shows first (highest priority), every part of it as plain text.
    first = steps["loaded"]
    (title,) = _classes(first, "title")
    assert (title["tag"], title["text"]) == ("H2", HOSTILE)
    (text,) = _classes(first, "body")
    assert text["text"] == "<script>alert(2)</script>\nsecond line"
    assert _classes(first, "button")[0]["text"] == "<b>Shop</b>"
    tags = {node["tag"] for node in _walk(first)}
    assert "IMG" not in tags  # an image over http is not loaded
    assert "SCRIPT" not in tags
    assert not _classes(first, "linked")  # a javascript: link is not followed
    (box,) = _classes(first, "box")
    assert (box["attributes"]["role"], box["attributes"]["aria-modal"]) == ("dialog", "true")
    assert result["head"]["children"][0]["tag"] == "STYLE"

    # The button's unsafe link is not followed; the banner comes next, with its https image.
    banner = steps["after first button"]
    assert _classes(banner, "banner")
    (image,) = [n for n in _walk(banner) if n["tag"] == "IMG"]
    assert image["attributes"]["src"] == "https://cdn.example/b.png"
    # Then the live message (full screen, not dismissible, yet closable: it has no other way out).
    live = steps["after close"]
    assert _classes(live, "fullscreen")
    assert _classes(live, "body")[0]["text"] == "Live"
    assert _classes(live, "close")
    assert _walk(steps["after escape"])[1:] == []  # nothing else is due: the checkout and ended ones wait
    assert _classes(steps["after event"], "body")[0]["text"] == "Triggered"
    assert _walk(steps["after link"])[1:] == []
    assert result["assigned"] == ["https://shop.example/cart?coupon=SECOND"]  # a path on the shop's own site

    calls = result["fetches"]
    assert calls[0] == {"url": "https://loopline.example/v1/in-app/messages?userId=u-1&writeKey=llw_public&screen=cart",
                        "method": "GET", "body": None, "headers": {}, "credentials": "omit", "keepalive": False}
    assert result["streams"] == [{"url": "https://loopline.example/v1/in-app/stream?userId=u-1&writeKey=llw_public"
                                         "&screen=cart", "closed": True}]
    reports = [(c["url"].removeprefix("https://loopline.example/v1/in-app/messages/"), json.loads(c["body"]))
               for c in calls[1:]]
    assert reports == [
        ("sk_hostile/viewed", {"writeKey": "llw_public", "userId": "u-1"}),
        ("sk_hostile/clicked", {"writeKey": "llw_public", "userId": "u-1", "button": "shop"}),
        ("sk_banner/viewed", {"writeKey": "llw_public", "userId": "u-1"}),
        ("sk_banner/dismissed", {"writeKey": "llw_public", "userId": "u-1"}),
        ("sk_live/viewed", {"writeKey": "llw_public", "userId": "u-1"}),
        ("sk_live/dismissed", {"writeKey": "llw_public", "userId": "u-1"}),
        ("sk_event/viewed", {"writeKey": "llw_public", "userId": "u-1"}),
        ("sk_event/clicked", {"writeKey": "llw_public", "userId": "u-1"}),
    ]
    for call in calls[1:]:
        # Simple requests: no preflight, no cookies, and they finish while the page unloads.
        assert (call["method"], call["headers"], call["credentials"], call["keepalive"]) == (
            "POST", {"Content-Type": "text/plain"}, "omit", True)
