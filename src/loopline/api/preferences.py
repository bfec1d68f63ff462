"""The preference center (``/preferences/{token}``): a customer's topics × channels, and saving their choices.

No login and no cookie: the signed token in the address is the authority, as for unsubscribe
links. A POST from anywhere else is refused when the browser says where it comes from (the
``Origin`` header): only the page itself submits its form. A link that does not verify gets a
400 page saying so, and nothing changes.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from loopline.actions.preferences import BadPreferenceLink, PreferenceView, do_save_preferences, read_preferences
from loopline.api.body import read_limited
from loopline.api.customer_pages import render_page
from loopline.domain.preferences import CHANNEL_NAMES
from loopline.domain.themes import Theme
from loopline.services import Services

router = APIRouter(tags=["preference center"], include_in_schema=False)
MAX_FORM_BYTES = 32 * 1024
MAX_FORM_FIELDS = 1_000  # topics × channels, well above what a catalogue holds
FORM_TYPE = "application/x-www-form-urlencoded"


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _same_origin(request: Request) -> bool:
    """Return whether a POST may come from the page itself: no ``Origin`` said, or ours (as served or public)."""
    sent = request.headers.get("origin")
    if sent is None:
        return True  # older browsers and mail clients say nothing; the signed token still holds
    ours = {_origin(str(request.base_url)), _origin(_services(request).settings.resolved_public_url)}
    return sent.lower() in ours


def _shown(view: PreferenceView, *, saved: bool = False, status: int = 200, error: str = "") -> HTMLResponse:
    return render_page("preferences.html", view.theme, status=status, workspace_name=view.workspace_name,
                       title="Your subscriptions", topics=view.grid["topics"], leave=view.grid["leave"],
                       channel_labels=CHANNEL_NAMES, saved=saved, changed=view.changed, error=error)


def _refused(status: int, message: str) -> HTMLResponse:
    return render_page("message.html", Theme(), status=status, title="This link does not work",
                       paragraphs=[f"{message}. Nothing was changed.",
                               "Open the link from your most recent message, or ask the sender for a new one."])


@router.get("/preferences/{token}", response_class=HTMLResponse)
async def show_preferences(request: Request, token: str) -> Response:
    """Show the customer's topics × channels with their current choices; a GET changes nothing."""
    try:
        view = await run_in_threadpool(read_preferences, _services(request), token=token)
    except BadPreferenceLink as error:
        return _refused(400, str(error).capitalize())
    return _shown(view)


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def save_preferences(request: Request, token: str) -> Response:
    """Save the customer's choices (ticked boxes are subscriptions), then show the page with a confirmation."""
    if not _same_origin(request):
        return _refused(403, "This form was sent from another site")
    # Anything but the page's own form could read as "every box unticked": refuse it rather than guess.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        return _refused(415, "The form was not sent as a web form")
    raw = await read_limited(request, limit=MAX_FORM_BYTES)
    try:
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return _refused(400, "The form could not be read")
    ticked = {name for name, values in form.items() if "on" in values}
    try:
        view = await run_in_threadpool(do_save_preferences, _services(request), token=token, ticked=ticked)
    except BadPreferenceLink as error:
        return _refused(400, str(error).capitalize())
    return _shown(view, saved=True)
