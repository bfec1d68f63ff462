"""The management API (bearer secret key): profiles, consents, privacy, keys, workspaces."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from loopline.actions.imports import ImportRejected, do_import_customers
from loopline.actions.merges import MergeNotFound, UnmergeRefused, do_unmerge
from loopline.actions.privacy import do_erase, erasure_json, iter_export
from loopline.actions.profiles import (
    ProfileNotFound,
    do_update_consents,
    find_profile,
    get_profile_view,
)
from loopline.actions.workspaces import do_create_workspace, do_issue_key, do_revoke_key
from loopline.api.auth import access_workspace, require_admin
from loopline.api.body import read_limited
from loopline.api.errors import ApiError, JsonResponse
from loopline.domain.consent import ConsentRejected
from loopline.domain.keys import KeyKind
from loopline.services import Services

router = APIRouter(prefix="/api/v1", tags=["management"])
Workspace = Annotated[str, Depends(access_workspace)]
MAX_IMPORT_BYTES = 512 * 1024 * 1024


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


def _not_found(reference: str) -> ApiError:
    return ApiError(404, "profile_not_found", f"no profile in this workspace matches {reference[:80]!r}")


class ConsentChoice(BaseModel):
    """One consent choice."""

    channel: str = Field(description="email, sms, push, in_app or web_push")
    topic: str = Field(default="all", description="a topic name, or 'all'")
    status: str = Field(description="opted_in or opted_out")
    source: str = Field(default="api", max_length=100)


class ConsentUpdate(BaseModel):
    """Consent choices to record."""

    choices: list[ConsentChoice] = Field(min_length=1, max_length=100)


class WorkspaceCreate(BaseModel):
    """A new workspace."""

    name: str = Field(min_length=1, max_length=200)


class KeyCreate(BaseModel):
    """A new key for the calling workspace."""

    kind: KeyKind
    label: str = Field(default="", max_length=200)


@router.get("/profiles")
def list_profiles(
    request: Request,
    workspace_id: Workspace,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
) -> dict[str, Any]:
    """List profiles, optionally those with an identifier starting with ``search``."""
    page = _services(request).lookups.list_profiles(
        workspace_id=workspace_id, limit=limit, cursor=cursor, search=search
    )
    return {
        "items": [
            {"id": p.profile_id, "traits": p.traits, "computed": p.computed.as_json()}
            for p in page.items
        ],
        "next_cursor": page.next_cursor,
    }


@router.get("/profiles/{reference}")
def get_profile(request: Request, reference: str, workspace_id: Workspace) -> dict[str, Any]:
    """Return the 360° view of a profile found by id, userId, anonymousId, email or phone."""
    try:
        return get_profile_view(_services(request), workspace_id=workspace_id, reference=reference)
    except ProfileNotFound:
        raise _not_found(reference) from None


@router.put("/profiles/{reference}/consents")
def put_consents(
    request: Request, reference: str, body: ConsentUpdate, workspace_id: Workspace
) -> dict[str, Any]:
    """Record consent choices per channel and topic."""
    try:
        consents = do_update_consents(
            _services(request), workspace_id=workspace_id, reference=reference,
            choices=[c.model_dump() for c in body.choices],
        )
    except ProfileNotFound:
        raise _not_found(reference) from None
    except ConsentRejected as error:
        raise ApiError(400, "invalid_consent", str(error)) from None
    return {"consents": consents}


@router.get("/profiles/{reference}/export", response_model=None)
def export_profile(request: Request, reference: str, workspace_id: Workspace) -> StreamingResponse:
    """Stream everything stored about one person in this workspace as one JSON document."""
    services = _services(request)
    try:
        find_profile(services, workspace_id=workspace_id, reference=reference)
    except ProfileNotFound:
        raise _not_found(reference) from None
    return StreamingResponse(
        iter_export(services, workspace_id=workspace_id, reference=reference),
        media_type="application/json",
    )


@router.post("/profiles/{reference}/erase", status_code=202)
def erase_profile(request: Request, reference: str, workspace_id: Workspace) -> dict[str, Any]:
    """Erase a person: profile, identities, devices, consents and events; suppress their ids."""
    services = _services(request)
    try:
        row = do_erase(services, workspace_id=workspace_id, reference=reference)
    except ProfileNotFound:
        raise _not_found(reference) from None
    request.app.state.runtime.pipeline.reload_suppressions()
    return erasure_json(row)


@router.get("/erasures/{erasure_id}")
def get_erasure(request: Request, erasure_id: str, workspace_id: Workspace) -> dict[str, Any]:
    """Return an erasure job's status."""
    row = _services(request).privacy.get_erasure(workspace_id=workspace_id, erasure_id=erasure_id)
    if row is None:
        raise ApiError(404, "erasure_not_found", "no such erasure in this workspace")
    return erasure_json(row)


@router.get("/keys")
def list_keys(request: Request, workspace_id: Workspace) -> dict[str, Any]:
    """List the workspace's keys (ids and labels; secrets are never shown again)."""
    rows = _services(request).workspaces.list_keys(workspace_id=workspace_id)
    return {"items": [
        {"id": r.id, "kind": r.kind, "label": r.label, "created_at": r.created_at.isoformat(),
         "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}
        for r in rows
    ]}


@router.post("/keys", status_code=201)
def create_key(request: Request, body: KeyCreate, workspace_id: Workspace) -> dict[str, Any]:
    """Issue a key; its text is in this response only."""
    issued = do_issue_key(_services(request), workspace_id=workspace_id, kind=body.kind,
                          label=body.label)
    return {"id": issued.id, "kind": issued.kind, "key": issued.key}


@router.delete("/keys/{key_id}", status_code=204, response_model=None)
def revoke_key(request: Request, key_id: str, workspace_id: Workspace) -> None:
    """Revoke a key at once."""
    if not do_revoke_key(_services(request), workspace_id=workspace_id, key_id=key_id):
        raise ApiError(404, "key_not_found", "no active key with this id in this workspace")
    request.app.state.runtime.keys.forget(key_id)


@router.post("/workspaces", status_code=201, dependencies=[Depends(require_admin)])
def create_workspace(request: Request, body: WorkspaceCreate) -> JsonResponse:
    """Create a workspace with a write key and a secret key (instance administrator only)."""
    created = do_create_workspace(_services(request), name=body.name)
    return JsonResponse(
        {"id": created.id, "name": created.name, "write_key": created.write_key,
         "secret_key": created.secret_key},
        status_code=201,
    )


@router.post(
    "/imports",
    responses={413: {"description": "The CSV body is over the import limit."}},
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_customers(
    request: Request,
    workspace_id: Workspace,
    filename: Annotated[str, Query(max_length=300)] = "upload.csv",
) -> dict[str, Any]:
    """Import customers and prospects from a CSV body (upsert by identifier, per-row errors)."""
    data = await read_limited(request, limit=MAX_IMPORT_BYTES)
    if not data.strip():
        raise ApiError(400, "empty_file", "the CSV file is empty")
    runtime = request.app.state.runtime
    try:
        report = await run_in_threadpool(
            do_import_customers, runtime.services, runtime.pipeline,
            workspace_id=workspace_id, data=data, filename=filename,
        )
    except ImportRejected as error:
        raise ApiError(400, "invalid_csv", str(error)) from None
    return report.as_json()


@router.post("/merges/{merge_id}/undo",
             responses={409: {"description": "The merge cannot be undone (see the message)."}})
def undo_merge(request: Request, merge_id: str, workspace_id: Workspace) -> dict[str, Any]:
    """Undo a merge: both profiles come back and their events follow their identifiers."""
    try:
        return do_unmerge(_services(request), workspace_id=workspace_id, merge_id=merge_id)
    except MergeNotFound:
        raise ApiError(404, "merge_not_found", "no such merge in this workspace") from None
    except UnmergeRefused as error:
        raise ApiError(409, "unmerge_refused", str(error)) from None
