"""Pages customers open without signing in: the preference center, unsubscribe answers, landing pages.

They share one frame (``templates/page.html``) and one stylesheet, themed per workspace: the
theme is written as CSS custom properties in a ``<style>`` element whose SHA-256 the page's
Content-Security-Policy names, so no other inline style and no script can run on the page.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from loopline.domain.themes import Theme, css_variables

HERE = Path(__file__).parent
STYLESHEET = "/customer-pages/style.css"
_STYLESHEET_TEXT = (HERE / "customer.css").read_bytes()
_STYLESHEET_VERSION = hashlib.sha256(_STYLESHEET_TEXT).hexdigest()[:12]  # a new file is a new address
pages = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                    trim_blocks=True, lstrip_blocks=True)
router = APIRouter(tags=["customer pages"], include_in_schema=False)
BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store",
                "X-Robots-Tag": "noindex",
                # The token in the address stays on this server: other sites (a logo's host) get no referrer.
                "Referrer-Policy": "same-origin"}


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def strict_policy(theme_css: str) -> str:
    """Return the policy of a page of ours: this server's stylesheet, the theme's own style element, no script."""
    return (f"default-src 'none'; style-src 'self' 'sha256-{_digest(theme_css)}'; img-src https: data:; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def frame_context(theme: Theme, *, workspace_name: str = "") -> dict[str, Any]:
    """Return what the frame needs: the theme's style (validated values only), the brand and the stylesheet."""
    return {"theme_css": Markup(css_variables(theme)), "brand_name": theme.brand_name or workspace_name,  # noqa: S704
            "logo_url": theme.logo_url, "stylesheet": f"{STYLESHEET}?v={_STYLESHEET_VERSION}"}


def render_page(template: str, theme: Theme, *, status: int = 200, workspace_name: str = "",
                headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """Render a customer page in the workspace's theme, with the strict policy unless ``headers`` bring their own."""
    frame = frame_context(theme, workspace_name=workspace_name)
    html = pages.get_template(template).render(frame | context)
    answer = headers or BASE_HEADERS | {"Content-Security-Policy": strict_policy(str(frame["theme_css"]))}
    return HTMLResponse(html, status_code=status, headers=answer)


@router.get(STYLESHEET)
def stylesheet() -> Response:
    """Serve the customer pages' stylesheet; its address changes with its content, so it may be cached long."""
    return Response(_STYLESHEET_TEXT, media_type="text/css", headers={
        "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
