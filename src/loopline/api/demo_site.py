"""The demo site: a small shop page whose tracking runs through Segment's real browser library.

It shows a site owner what moving from Segment takes (one ``cdnURL`` option), and lets the
browser tests prove that the library's own requests are understood by the tracking API.
The page takes the workspace's write key from its address (write keys are public: they
ship in every tracked page).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from starlette.responses import Response

router = APIRouter(prefix="/demo-site", include_in_schema=False)
FILES = {"": ("index.html", "text/html; charset=utf-8"), "shop.js": ("shop.js", "text/javascript; charset=utf-8"),
         "shop.css": ("shop.css", "text/css; charset=utf-8")}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@cache
def _file(name: str) -> bytes:
    return (resources.files("loopline.api") / "static" / "demo_site" / name).read_bytes()


def _serve(path: str) -> Response:
    name, media_type = FILES[path]
    return Response(_file(name), media_type=media_type, headers=HEADERS)


@router.get("/")
def demo_shop() -> Response:
    """The shop page."""
    return _serve("")


@router.get("/shop.js")
def demo_shop_script() -> Response:
    """The shop's tracking code."""
    return _serve("shop.js")


@router.get("/shop.css")
def demo_shop_styles() -> Response:
    """The shop's styles."""
    return _serve("shop.css")
