"""The settings pages: channels and providers, keys, the contact policy, team and roles, the audit log.

Only admins open them (``Page.SETTINGS``). A change is a form posted to the page's own address
(with the CSRF token) and answered with a redirect back to the page; a refused form is shown
again with the problem and what was typed (passwords excepted), with a 4xx status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from loopline.actions.contact_policy import PolicyRejected
from loopline.console.settings import (
    Actor,
    channels_page,
    issue_key,
    keys_page,
    policy_page,
    policy_problems,
    remove_provider,
    revoke_key,
    set_policy,
    set_provider,
    settings_index,
)
from loopline.console.settings_forms import FormInvalid, policy_from_form, provider_from_json, smtp_from_form
from loopline.console.settings_team import AUDIT_PAGE, add_member, audit_page, change_role, remove_member, team_page
from loopline.console.web import (
    SECURITY_HEADERS,
    Access,
    ConsoleError,
    access_page,
    check_csrf,
    client_of,
    page_response,
    runtime_of,
    wants_json,
)
from loopline.domain.accounts import Page
from loopline.services import Services

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
T = TypeVar("T")


def _services(request: Request) -> Services:
    return runtime_of(request).services


def _actor(request: Request, access: Access) -> Actor:
    return Actor(access.viewer.user.email, access.viewer.user.id, client_of(request))


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _refused(request: Request, access: Access, template: str, data: dict[str, Any], error: ConsoleError) -> Response:
    """Answer a refused form: the error for JSON clients, else the page again with the error and the input."""
    if wants_json(request):
        raise error
    response = page_response(request, access, template, data | {"error": {"code": error.code,
                                                                           "message": error.message}},
                             Page.SETTINGS)
    response.status_code = error.status
    return response


async def _form(request: Request) -> Any:
    return await request.form()


async def _run(function: Callable[..., T], /, **kwargs: Any) -> T:
    # Account and store actions block (password hashing, database writes): off the event loop.
    return await run_in_threadpool(function, **kwargs)


def _base(workspace_id: str) -> str:
    return f"/console/w/{workspace_id}/settings"


@router.get("/w/{workspace_id}/settings")
def index(request: Request, workspace_id: str) -> Response:
    """The settings sections, linked."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    data = settings_index(_services(request), workspace_id=workspace_id)
    return page_response(request, access, "settings.html", data, Page.SETTINGS)


# -- team ------------------------------------------------------------------------------------------


@router.get("/w/{workspace_id}/settings/team")
def team(request: Request, workspace_id: str) -> Response:
    """The workspace's members and their roles."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    data = team_page(_services(request), workspace_id=workspace_id, viewer_id=access.viewer.user.id)
    return page_response(request, access, "settings_team.html", data | {"form": {}}, Page.SETTINGS)


@router.post("/w/{workspace_id}/settings/team")
async def team_add(request: Request, workspace_id: str) -> Response:
    """Add a person: a new account with the typed password, or a role for an existing account."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    form = await _form(request)
    fields = {name: str(form.get(name) or "") for name in ("email", "name", "password", "role")}
    services = _services(request)
    try:
        await _run(add_member, services=services, workspace_id=workspace_id, actor=access.viewer.user.email,
                   form=fields)
    except ConsoleError as error:
        data = team_page(services, workspace_id=workspace_id, viewer_id=access.viewer.user.id)
        kept = {name: fields[name] for name in ("email", "name", "role")}
        return _refused(request, access, "settings_team.html", data | {"form": kept}, error)
    return _back(f"{_base(workspace_id)}/team")


async def _team_change(request: Request, workspace_id: str, user_id: str, role: str | None) -> Response:
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    services, me = _services(request), access.viewer.user
    try:
        if role is None:
            await _run(remove_member, services=services, workspace_id=workspace_id, actor_id=me.id, actor=me.email,
                       user_id=user_id)
        else:
            await _run(change_role, services=services, workspace_id=workspace_id, actor_id=me.id, actor=me.email,
                       user_id=user_id, role_text=role)
    except ConsoleError as error:
        data = team_page(services, workspace_id=workspace_id, viewer_id=me.id)
        return _refused(request, access, "settings_team.html", data | {"form": {}}, error)
    if user_id == me.id and (role or "").strip().lower() != "admin":
        # They gave up the right to see settings here: go where they still may.
        return _back("/console/")
    return _back(f"{_base(workspace_id)}/team")


@router.post("/w/{workspace_id}/settings/team/{user_id}/role")
async def team_role(request: Request, workspace_id: str, user_id: str) -> Response:
    """Give a member another role; the last admin keeps theirs."""
    role = str((await _form(request)).get("role") or "")
    return await _team_change(request, workspace_id, user_id, role)


@router.post("/w/{workspace_id}/settings/team/{user_id}/remove")
async def team_remove(request: Request, workspace_id: str, user_id: str) -> Response:
    """Take a member out of the workspace; the last admin stays."""
    return await _team_change(request, workspace_id, user_id, None)


# -- audit log -------------------------------------------------------------------------------------


@router.get("/w/{workspace_id}/settings/audit")
def audit_log(request: Request, workspace_id: str, before: str | None = None, action: str | None = None,
              actor: str | None = None) -> Response:
    """The workspace's audit log, newest first, a page at a time, by action and by person."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    data = audit_page(_services(request), workspace_id=workspace_id, before=before, action=action, actor=actor)
    return page_response(request, access, "settings_audit.html", data, Page.SETTINGS, page_size=AUDIT_PAGE)


# -- contact policy --------------------------------------------------------------------------------


@router.get("/w/{workspace_id}/settings/policy")
def policy(request: Request, workspace_id: str) -> Response:
    """The contact policy as a form."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    data = policy_page(_services(request), workspace_id=workspace_id)
    return page_response(request, access, "settings_policy.html", data, Page.SETTINGS)


@router.post("/w/{workspace_id}/settings/policy")
async def policy_save(request: Request, workspace_id: str) -> Response:
    """Replace the contact policy with the form's."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    document, values = policy_from_form(await _form(request))
    services = _services(request)
    try:
        await _run(set_policy, services=services, workspace_id=workspace_id, actor=_actor(request, access),
                   document=document)
    except PolicyRejected as error:
        problems = policy_problems(error)
        refusal = ConsoleError(422, error.code, "; ".join(f"{p['where']}: {p['message']}" for p in problems))
        data = policy_page(services, workspace_id=workspace_id) | {"form": values, "problems": problems}
        return _refused(request, access, "settings_policy.html", data, refusal)
    return _back(f"{_base(workspace_id)}/policy")


# -- channels and providers ------------------------------------------------------------------------


@router.get("/w/{workspace_id}/settings/channels")
def channels(request: Request, workspace_id: str) -> Response:
    """Each channel with its provider (secrets only as set or not) or the sandbox."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    data = channels_page(_services(request), workspace_id=workspace_id)
    return page_response(request, access, "settings_channels.html", data | {"form": {}}, Page.SETTINGS)


@router.post("/w/{workspace_id}/settings/channels/email/smtp")
async def channels_smtp(request: Request, workspace_id: str) -> Response:
    """Send email through an SMTP relay."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    document, values = smtp_from_form(await _form(request))
    return await _save_provider(request, access, "email", document, {"smtp": values})


@router.post("/w/{workspace_id}/settings/channels/provider")
async def channels_json(request: Request, workspace_id: str) -> Response:
    """Set any channel's provider from its JSON document."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    form = await _form(request)
    channel, text = str(form.get("channel") or ""), str(form.get("provider") or "")
    kept = {"json": {"channel": channel, "provider": text}}
    try:
        document = provider_from_json(text)
    except FormInvalid as error:
        data = channels_page(_services(request), workspace_id=workspace_id) | {"form": kept}
        return _refused(request, access, "settings_channels.html", data, ConsoleError(422, error.code, error.message))
    return await _save_provider(request, access, channel, document, kept)


async def _save_provider(request: Request, access: Access, channel: str, document: dict[str, Any],
                         kept: dict[str, Any]) -> Response:
    services, workspace_id = _services(request), access.workspace_id
    try:
        await _run(set_provider, services=services, workspace_id=workspace_id, actor=_actor(request, access),
                   channel=channel, data=document)
    except ConsoleError as error:
        data = channels_page(services, workspace_id=workspace_id) | {"form": kept}
        return _refused(request, access, "settings_channels.html", data, error)
    return _back(f"{_base(workspace_id)}/channels")


@router.post("/w/{workspace_id}/settings/channels/{channel}/remove")
async def channels_remove(request: Request, workspace_id: str, channel: str) -> Response:
    """Remove a channel's provider: its messages go to the sandbox again."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    await _run(remove_provider, services=_services(request), workspace_id=workspace_id,
               actor=_actor(request, access), channel=channel)
    return _back(f"{_base(workspace_id)}/channels")


# -- API keys --------------------------------------------------------------------------------------


@router.get("/w/{workspace_id}/settings/keys")
def keys(request: Request, workspace_id: str) -> Response:
    """The workspace's API keys by prefix (never their secrets)."""
    access = access_page(request, workspace_id, Page.SETTINGS)
    data = keys_page(_services(request), workspace_id=workspace_id)
    return page_response(request, access, "settings_keys.html", data | {"form": {}}, Page.SETTINGS)


@router.post("/w/{workspace_id}/settings/keys")
async def keys_create(request: Request, workspace_id: str) -> Response:
    """Issue a key and show its text on this response only."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    form = await _form(request)
    kind, label = str(form.get("kind") or ""), str(form.get("label") or "")
    services = _services(request)
    try:
        issued = await _run(issue_key, services=services, workspace_id=workspace_id, actor=_actor(request, access),
                            kind_text=kind, label=label)
    except ConsoleError as error:
        data = keys_page(services, workspace_id=workspace_id) | {"form": {"kind": kind, "label": label}}
        return _refused(request, access, "settings_keys.html", data, error)
    data = keys_page(services, workspace_id=workspace_id, issued=issued) | {"form": {}}
    response = page_response(request, access, "settings_keys.html", data, Page.SETTINGS)
    response.status_code = 201
    return response


@router.post("/w/{workspace_id}/settings/keys/{key_id}/revoke")
async def keys_revoke(request: Request, workspace_id: str, key_id: str) -> Response:
    """Revoke a key at once."""
    access = access_page(request, workspace_id, Page.SETTINGS, edit=True)
    await _run(revoke_key, services=_services(request), workspace_id=workspace_id, actor=_actor(request, access),
               key_id=key_id)
    runtime_of(request).keys.forget(key_id)
    return _back(f"{_base(workspace_id)}/keys")
