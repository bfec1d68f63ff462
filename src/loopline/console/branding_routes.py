"""The settings pages for what customers see: the topic catalogue and the theme of customer-facing pages.

Admins only (``Page.SETTINGS``); every change goes through the topic and theme actions and is
written to the audit log. A form that does not validate comes back with a 422, the person's
input and each problem; JSON clients get the same data with the same status.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from loopline.actions.accounts import audit
from loopline.actions.themes import ThemeRejected, do_set_theme, theme_of
from loopline.actions.topics import (
    TopicNotFound,
    TopicRejected,
    TopicTaken,
    do_create_topic,
    do_delete_topic,
    do_replace_topic,
    get_topic,
)
from loopline.console.branding import theme_form, theme_page, topic_form, topic_page, topics_page
from loopline.console.web import (
    SECURITY_HEADERS,
    Access,
    ConsoleError,
    access_page,
    check_csrf,
    client_of,
    json_response,
    page_response,
    runtime_of,
    wants_json,
)
from loopline.domain.accounts import Page

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
TOPICS = "/w/{workspace_id}/settings/topics"
THEME = "/w/{workspace_id}/settings/theme"
NOT_FOUND = ConsoleError(404, "topic_not_found", "no such topic in this workspace")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _audit(request: Request, access: Access, action: str, target: str, detail: dict[str, Any]) -> None:
    audit(runtime_of(request).services, action=action, actor=access.viewer.user.email,
          user_id=access.viewer.user.id, workspace_id=access.workspace_id, target=target, detail=detail,
          client=client_of(request))


def _refused(request: Request, access: Access, template: str, data: dict[str, Any]) -> Response:
    response = page_response(request, access, template, data, Page.SETTINGS, section=_section(template))
    response.status_code = 422
    return response


def _section(template: str) -> str:
    return "theme" if template == "settings_theme.html" else "topics"


async def _fields(request: Request) -> tuple[dict[str, str], list[str]]:
    """Return the form's single fields and its ticked channels."""
    form = await request.form()
    single = {key: value for key, value in form.items() if isinstance(value, str)}
    return single, [value for value in form.getlist("channels") if isinstance(value, str)]


@router.get(TOPICS)
def topics(request: Request, workspace_id: str, saved: str | None = None) -> Response:
    """The topic catalogue with a form for a new topic; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    data = topics_page(runtime_of(request).services, workspace_id=workspace_id, saved=(saved or "")[:100] or None)
    return page_response(request, access, "settings_topics.html", data, Page.SETTINGS, section="topics")


@router.post(TOPICS)
async def create_topic(request: Request, workspace_id: str) -> Response:
    """Add a topic; the list again with the problems and the input kept when it does not validate."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    services = runtime_of(request).services
    form = topic_form(*await _fields(request))
    try:
        row = do_create_topic(services, workspace_id=workspace_id, data=form)
    except TopicRejected as error:
        return _refused(request, access, "settings_topics.html", topics_page(
            services, workspace_id=workspace_id, form=form, problems=error.problems,
            error={"code": "invalid_topic", "message": "The topic was not saved: correct what is marked below."}))
    except TopicTaken:
        return _refused(request, access, "settings_topics.html", topics_page(
            services, workspace_id=workspace_id, form=form, problems=[
                {"path": "key", "message": "another topic of this workspace has this key"}],
            error={"code": "topic_taken", "message": "The topic was not saved: its key is taken."}))
    _audit(request, access, "topic.created", row.key, {"label": row.label, "channels": row.channels,
                                                       "default_status": row.default_status})
    if wants_json(request):
        return json_response(topic_page(services, workspace_id=workspace_id, row=row)["topic"], status=201)
    return _redirect(f"/console/w/{workspace_id}/settings/topics?saved={row.key}")


@router.get(TOPICS + "/{topic_key}")
def topic(request: Request, workspace_id: str, topic_key: str) -> Response:
    """One topic's edit form; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    services = runtime_of(request).services
    try:
        row = get_topic(services, workspace_id=workspace_id, key=topic_key)
    except TopicNotFound:
        raise NOT_FOUND from None
    data = topic_page(services, workspace_id=workspace_id, row=row)
    return page_response(request, access, "settings_topic.html", data, Page.SETTINGS, section="topics")


@router.post(TOPICS + "/{topic_key}")
async def replace_topic(request: Request, workspace_id: str, topic_key: str) -> Response:
    """Save a topic's label, description, channels and default; the form again with the problems when refused."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    services = runtime_of(request).services
    try:
        before = get_topic(services, workspace_id=workspace_id, key=topic_key)
    except TopicNotFound:
        raise NOT_FOUND from None
    single, channels = await _fields(request)
    form = topic_form(single | {"key": topic_key}, channels)
    try:
        row = do_replace_topic(services, workspace_id=workspace_id, key=topic_key, data=form)
    except TopicRejected as error:
        return _refused(request, access, "settings_topic.html", topic_page(
            services, workspace_id=workspace_id, row=before, form=form, problems=error.problems,
            error={"code": "invalid_topic", "message": "The topic was not saved: correct what is marked below."}))
    except TopicNotFound:
        raise NOT_FOUND from None
    changed = {name: getattr(row, name) for name in ("label", "description", "channels", "default_status")
               if getattr(row, name) != getattr(before, name)}
    _audit(request, access, "topic.updated", row.key, changed)
    if wants_json(request):
        return json_response(topic_page(services, workspace_id=workspace_id, row=row)["topic"])
    return _redirect(f"/console/w/{workspace_id}/settings/topics?saved={row.key}")


@router.post(TOPICS + "/{topic_key}/delete")
def delete_topic(request: Request, workspace_id: str, topic_key: str) -> Response:
    """Remove a topic from the catalogue (the consents customers gave for it stay), then show the list."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    try:
        do_delete_topic(runtime_of(request).services, workspace_id=workspace_id, key=topic_key)
    except TopicNotFound:
        raise NOT_FOUND from None
    _audit(request, access, "topic.deleted", topic_key, {})
    if wants_json(request):
        return json_response({"deleted": topic_key})
    return _redirect(f"/console/w/{workspace_id}/settings/topics")


@router.get(THEME)
def theme(request: Request, workspace_id: str, saved: bool = False) -> Response:
    """The theme of customer-facing pages, with a preview; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    data = theme_page(runtime_of(request).services, workspace_id=workspace_id, saved=saved)
    return page_response(request, access, "settings_theme.html", data, Page.SETTINGS, section="theme")


@router.post(THEME)
async def save_theme(request: Request, workspace_id: str) -> Response:
    """Save the theme; the form again with the problems and the input kept when it does not validate."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    services = runtime_of(request).services
    single, _ = await _fields(request)
    form = theme_form(single)
    before = theme_of(services, workspace_id=workspace_id)
    try:
        after = do_set_theme(services, workspace_id=workspace_id, data=form)
    except ThemeRejected as error:
        return _refused(request, access, "settings_theme.html", theme_page(
            services, workspace_id=workspace_id, form=form, problems=error.problems,
            error={"code": "invalid_theme", "message": "The theme was not saved: correct what is marked below."}))
    changed = {name: value for name, value in after.model_dump().items() if getattr(before, name) != value}
    _audit(request, access, "theme.updated", workspace_id, changed)
    if wants_json(request):
        return json_response(theme_page(services, workspace_id=workspace_id)["theme"])
    return _redirect(f"/console/w/{workspace_id}/settings/theme?saved=true")
