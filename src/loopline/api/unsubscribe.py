"""The one-click unsubscribe link: a confirmation page on GET, the unsubscribe itself on POST.

No API key, no cookie: the link's signature is the authority (RFC 8058). Answers are small
HTML pages for people, in the workspace's theme and linking to the customer's preference
center; a link that does not verify is a 400 whose page says so, and whose JSON form (for
clients asking for JSON) carries the machine-readable code.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from loopline.actions.preferences import customer_frame
from loopline.actions.unsubscribe import do_unsubscribe, read_unsubscribe
from loopline.api.customer_pages import render_page
from loopline.api.errors import ApiError
from loopline.domain.themes import Theme
from loopline.domain.unsubscribe import ONE_CLICK_BODY, BadUnsubscribeLink, UnsubscribeLink
from loopline.services import Services

router = APIRouter(tags=["unsubscribe"])
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "An HTML page for the customer.", "content": {"text/html": {"schema": {"type": "string"}}}},
    400: {"description": "The link was not written by this server or was altered (`bad_unsubscribe_link`)."},
}


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


async def _page(request: Request, link: UnsubscribeLink, title: str, paragraphs: list[str],
                form: dict[str, object] | None = None) -> HTMLResponse:
    """Answer in the workspace's theme, with a link to the customer's preference center."""
    theme, name, preferences = await run_in_threadpool(customer_frame, _services(request),
                                                       workspace_id=link.workspace_id, profile_id=link.profile_id)
    return render_page("message.html", theme, workspace_name=name, title=title, paragraphs=paragraphs, form=form,
                       preferences_url=preferences)


def _refused(request: Request, error: BadUnsubscribeLink) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return render_page("message.html", Theme(), status=400, title="This link does not work",
                           paragraphs=[f"{error}. Nothing was changed."])
    raise ApiError(400, "bad_unsubscribe_link", str(error))


def _topic_words(channel: str, topic: str) -> str:
    return f"{channel} messages" if topic == "all" else f"{channel} messages about “{topic}”"


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, responses=_RESPONSES)
async def confirm_unsubscribe(request: Request, token: str) -> Response:
    """Show what the link unsubscribes from, with a button; a GET changes nothing (scanners fetch links)."""
    try:
        link = await run_in_threadpool(read_unsubscribe, _services(request), token=token)
    except BadUnsubscribeLink as error:
        return _refused(request, error)
    name, value = ONE_CLICK_BODY.split("=")
    return await _page(request, link, "Unsubscribe", [f"Stop receiving {_topic_words(link.channel, link.topic)}?"],
                       form={"fields": [(name, value)], "button": "Unsubscribe"})


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, responses=_RESPONSES)
async def one_click_unsubscribe(request: Request, token: str) -> Response:
    """Unsubscribe at once (RFC 8058 one-click, or the confirmation page's button); repeating it is harmless."""
    try:
        link = await run_in_threadpool(do_unsubscribe, _services(request), request.app.state.runtime.pipeline,
                                       token=token)
    except BadUnsubscribeLink as error:
        return _refused(request, error)
    return await _page(request, link, "You are unsubscribed",
                       [f"You will get no more {_topic_words(link.channel, link.topic)}."])
