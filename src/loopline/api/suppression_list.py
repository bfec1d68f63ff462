"""The suppression list over the management API (bearer secret key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from loopline.actions.suppression_list import (
    SuppressionNotFound,
    do_suppress_contacts,
    do_unsuppress_contact,
    get_suppression,
    list_suppressions,
)
from loopline.api.auth import access_workspace
from loopline.api.errors import ApiError
from loopline.domain.suppression_list import (
    CHANNELS,
    DEFAULT_REASON,
    DEFAULT_SOURCE,
    MAX_ENTRIES,
    MAX_NOTE,
    MAX_SEARCH,
    REASONS,
    SuppressionBatchRejected,
    SuppressionRejected,
)
from loopline.services import Services

router = APIRouter(prefix="/api/v1", tags=["management"])
Workspace = Annotated[str, Depends(access_workspace)]
# Channels and reasons are published as enums, but checked by the domain so that every
# invalid entry of a batch is reported with its index, not only the first one pydantic meets.
CHANNEL_SCHEMA: dict[str, Any] = {"enum": list(CHANNELS)}
# The address may hold a "/" (a web push endpoint, a base64 token), so it runs to the end.
ENTRY = "/suppressions/{channel}/{address:path}"
Channel = Annotated[str, Path(json_schema_extra=CHANNEL_SCHEMA)]


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


def _rejected(error: SuppressionRejected) -> ApiError:
    return ApiError(400, error.code, error.message)


def _not_found() -> ApiError:
    # The address is not repeated: a caller learns nothing it did not send.
    return ApiError(404, "suppression_not_found", "this address is not on the suppression list for the channel")


class SuppressionEntryCreate(BaseModel):
    """An address never to be messaged on a channel, and why."""

    channel: str = Field(description="email, sms, push or web_push", json_schema_extra=CHANNEL_SCHEMA)
    address: str = Field(
        description="an email address (compared in lower case), a phone number in international "
        "format (+ and the country code; stored in E.164) or a push token"
    )
    reason: str = Field(default=DEFAULT_REASON, json_schema_extra={"enum": list(REASONS)})
    note: str | None = Field(default=None, description=f"free text for people, at most {MAX_NOTE} characters")
    source: str = Field(default=DEFAULT_SOURCE, description="what added the entry, e.g. a bounce processor")


class SuppressionCreate(BaseModel):
    """Entries to add; all are stored or, when one is invalid, none."""

    entries: list[SuppressionEntryCreate] = Field(min_length=1, max_length=MAX_ENTRIES)


class SuppressionRead(BaseModel):
    """An entry of the suppression list."""

    channel: str
    address: str
    reason: str
    note: str | None
    source: str
    created_at: datetime
    updated_at: datetime


class SuppressionPage(BaseModel):
    """A page of entries, and the cursor of the next page (null on the last)."""

    items: list[SuppressionRead]
    next_cursor: str | None


class SuppressionReport(BaseModel):
    """What adding entries did: new entries, updated ones, and repeats within the request."""

    received: int
    created: int
    updated: int
    duplicates: int


@router.get("/suppressions", response_model=SuppressionPage)
def list_suppression_list(
    *,
    request: Request,
    workspace_id: Workspace,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    channel: Annotated[str | None, Query(json_schema_extra=CHANNEL_SCHEMA)] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=MAX_SEARCH)] = None,
) -> dict[str, Any]:
    """List the suppression list by channel and address, optionally one channel's or starting with ``search``."""
    try:
        return list_suppressions(
            _services(request), workspace_id=workspace_id, limit=limit, cursor=cursor, channel=channel, search=search
        )
    except SuppressionRejected as error:
        raise _rejected(error) from None


@router.post("/suppressions", response_model=SuppressionReport)
def add_to_suppression_list(*, request: Request, body: SuppressionCreate, workspace_id: Workspace) -> dict[str, Any]:
    """Add addresses or update their reason; an invalid entry is reported by index and none is stored."""
    try:
        report = do_suppress_contacts(
            _services(request), workspace_id=workspace_id, entries=[entry.model_dump() for entry in body.entries]
        )
    except SuppressionBatchRejected as error:
        raise ApiError(400, "invalid_entries", str(error), extra={"errors": error.errors}) from None
    except SuppressionRejected as error:
        raise _rejected(error) from None
    return report.as_json()


@router.get(ENTRY, response_model=SuppressionRead)
def get_suppression_entry(
    *, request: Request, channel: Channel, address: str, workspace_id: Workspace
) -> dict[str, Any]:
    """Return the entry of an address on a channel (the address is normalised first)."""
    try:
        return get_suppression(_services(request), workspace_id=workspace_id, channel=channel, address=address)
    except SuppressionRejected as error:
        raise _rejected(error) from None
    except SuppressionNotFound:
        raise _not_found() from None


@router.delete(ENTRY, status_code=204, response_model=None)
def remove_from_suppression_list(*, request: Request, channel: Channel, address: str, workspace_id: Workspace) -> None:
    """Remove an address from the suppression list of a channel; its consent decides again."""
    try:
        do_unsuppress_contact(_services(request), workspace_id=workspace_id, channel=channel, address=address)
    except SuppressionRejected as error:
        raise _rejected(error) from None
    except SuppressionNotFound:
        raise _not_found() from None
