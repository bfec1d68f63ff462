"""The one-click unsubscribe link: a confirmation page on GET, the unsubscribe itself on POST.

No API key, no cookie: the link's signature is the authority (RFC 8058). Answers are small
HTML pages for people; a link that does not verify is a 400 whose page says so, and whose
JSON form (for clients asking for JSON) carries the machine-readable code.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from loopline.actions.unsubscribe import do_unsubscribe, read_unsubscribe
from loopline.api.errors import ApiError
from loopline.domain.unsubscribe import ONE_CLICK_BODY, BadUnsubscribeLink
from loopline.services import Services

router = APIRouter(tags=["unsubscribe"])
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
line-height:1.5}}button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "An HTML page for the customer.", "content": {"text/html": {"schema": {"type": "string"}}}},
    400: {"description": "The link was not written by this server or was altered (`bad_unsubscribe_link`)."},
}


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _refused(request: Request, error: BadUnsubscribeLink) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return _page("This link does not work", f"<p>{escape(str(error))}. Nothing was changed.</p>", 400)
    raise ApiError(400, "bad_unsubscribe_link", str(error))


def _topic_words(channel: str, topic: str) -> str:
    return f"{channel} messages" if topic == "all" else f"{channel} messages about “{escape(topic)}”"


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, responses=_RESPONSES)
async def confirm_unsubscribe(request: Request, token: str) -> Response:
    """Show what the link unsubscribes from, with a button; a GET changes nothing (scanners fetch links)."""
    try:
        link = await run_in_threadpool(read_unsubscribe, _services(request), token=token)
    except BadUnsubscribeLink as error:
        return _refused(request, error)
    name, value = ONE_CLICK_BODY.split("=")
    return _page("Unsubscribe", (
        f"<p>Stop receiving {_topic_words(link.channel, link.topic)}?</p>"
        f'<form method="post"><input type="hidden" name="{name}" value="{value}">'
        "<button type=\"submit\">Unsubscribe</button></form>"))


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, responses=_RESPONSES)
async def one_click_unsubscribe(request: Request, token: str) -> Response:
    """Unsubscribe at once (RFC 8058 one-click, or the confirmation page's button); repeating it is harmless."""
    try:
        link = await run_in_threadpool(do_unsubscribe, _services(request), request.app.state.runtime.pipeline,
                                       token=token)
    except BadUnsubscribeLink as error:
        return _refused(request, error)
    return _page("You are unsubscribed", f"<p>You will get no more {_topic_words(link.channel, link.topic)}.</p>")
