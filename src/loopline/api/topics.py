"""The topic catalogue (``/api/v1/topics``) and the theme of customer-facing pages (``/api/v1/theme``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from loopline.actions.preferences import preferences_url
from loopline.actions.profiles import ProfileNotFound, find_profile
from loopline.actions.themes import ThemeRejected, do_set_theme, theme_of
from loopline.actions.topics import (
    TopicNotFound,
    TopicRejected,
    TopicTaken,
    do_create_topic,
    do_delete_topic,
    do_replace_topic,
    get_topic,
    list_topics,
)
from loopline.api.auth import access_workspace
from loopline.api.errors import ApiError
from loopline.domain.themes import FONTS, Theme, contrast_warnings
from loopline.ports import TopicRow
from loopline.services import Services

router = APIRouter(tags=["topics and theme"])
Workspace = Annotated[str, Depends(access_workspace)]
TopicKey = Annotated[str, Path(max_length=100)]
TOPIC = "/api/v1/topics/{topic_key}"


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


class TopicWrite(BaseModel):
    """A topic as sent: checked by the domain, which names every problem (so everything is optional here)."""

    key: str | None = None
    label: Any = None
    description: Any = ""
    channels: Any = None
    default_status: Any = "opted_out"


class TopicRead(BaseModel):
    """A topic of the catalogue."""

    key: str
    label: str
    description: str
    channels: list[str]
    default_status: Literal["opted_in", "opted_out"]
    created_at: datetime
    updated_at: datetime


class TopicList(BaseModel):
    """The workspace's topics, by label."""

    items: list[TopicRead]


def _read(row: TopicRow) -> TopicRead:
    return TopicRead(key=row.key, label=row.label, description=row.description, channels=row.channels,
                     default_status=row.default_status,  # type: ignore[arg-type]
                     created_at=row.created_at, updated_at=row.updated_at)


def _not_found() -> ApiError:
    return ApiError(404, "topic_not_found", "no such topic in this workspace")


def _rejected(error: TopicRejected | ThemeRejected, code: str) -> ApiError:
    return ApiError(422, code, str(error), extra={"problems": error.problems})


def _data(body: BaseModel) -> dict[str, Any]:
    return {key: value for key, value in body.model_dump().items() if value is not None}


_WRITE_ANSWERS: dict[int | str, dict[str, Any]] = {
    422: {"description": "The topic is invalid (`invalid_topic`); `problems` names each part."}}


@router.get("/api/v1/topics", response_model=TopicList)
def list_workspace_topics(request: Request, workspace_id: Workspace) -> TopicList:
    """List the workspace's topics: what customers choose from in the preference center."""
    return TopicList(items=[_read(row) for row in list_topics(_services(request), workspace_id=workspace_id)])


@router.post("/api/v1/topics", status_code=201, response_model=TopicRead, responses={
    **_WRITE_ANSWERS, 409: {"description": "The workspace has a topic with this key (`topic_taken`)."}})
def create_topic(request: Request, body: TopicWrite, workspace_id: Workspace) -> TopicRead:
    """Add a topic to the catalogue; campaigns name it by its key."""
    try:
        return _read(do_create_topic(_services(request), workspace_id=workspace_id, data=_data(body)))
    except TopicRejected as error:
        raise _rejected(error, "invalid_topic") from None
    except TopicTaken:
        raise ApiError(409, "topic_taken", "the workspace has a topic with this key already") from None


@router.get(TOPIC, response_model=TopicRead)
def read_topic(request: Request, topic_key: TopicKey, workspace_id: Workspace) -> TopicRead:
    """Return one topic."""
    try:
        return _read(get_topic(_services(request), workspace_id=workspace_id, key=topic_key))
    except TopicNotFound:
        raise _not_found() from None


@router.put(TOPIC, response_model=TopicRead, responses=_WRITE_ANSWERS)
def replace_topic(request: Request, topic_key: TopicKey, body: TopicWrite, workspace_id: Workspace) -> TopicRead:
    """Replace a topic's label, description, channels and default; its key cannot change."""
    try:
        return _read(do_replace_topic(_services(request), workspace_id=workspace_id, key=topic_key,
                                      data=_data(body)))
    except TopicRejected as error:
        raise _rejected(error, "invalid_topic") from None
    except TopicNotFound:
        raise _not_found() from None


@router.delete(TOPIC, status_code=204, response_model=None)
def delete_topic(request: Request, topic_key: TopicKey, workspace_id: Workspace) -> None:
    """Remove a topic from the catalogue; the consents customers recorded for it stay."""
    try:
        do_delete_topic(_services(request), workspace_id=workspace_id, key=topic_key)
    except TopicNotFound:
        raise _not_found() from None


class ThemeRead(Theme):
    """The theme, with the font stacks it may pick from and any readability warning."""

    fonts: list[str]
    warnings: list[str]


def _theme(theme: Theme) -> ThemeRead:
    return ThemeRead(**theme.model_dump(), fonts=list(FONTS), warnings=contrast_warnings(theme))


@router.get("/api/v1/theme", response_model=ThemeRead)
def read_theme(request: Request, workspace_id: Workspace) -> ThemeRead:
    """Return how the workspace's customer-facing pages look (the default until it is set)."""
    return _theme(theme_of(_services(request), workspace_id=workspace_id))


class ThemeWrite(BaseModel):
    """A theme as sent: checked by the domain, which names every problem."""

    brand_name: Any = ""
    logo_url: Any = None
    primary_color: Any = None
    background_color: Any = None
    text_color: Any = None
    font: Any = None


@router.put("/api/v1/theme", response_model=ThemeRead, responses={
    422: {"description": "The theme is invalid (`invalid_theme`): a colour that is not hex, a logo that is not "
                         "https, an unknown font; `problems` names each part."}})
def put_theme(request: Request, body: ThemeWrite, workspace_id: Workspace) -> ThemeRead:
    """Set the theme of the preference center, unsubscribe pages and landing pages; unset fields take defaults."""
    try:
        return _theme(do_set_theme(_services(request), workspace_id=workspace_id, data=_data(body)))
    except ThemeRejected as error:
        raise _rejected(error, "invalid_theme") from None


class PreferencesLink(BaseModel):
    """The address of one customer's preference center."""

    url: str


@router.get("/api/v1/profiles/{reference}/preferences-link", response_model=PreferencesLink)
def read_preferences_link(request: Request, reference: Annotated[str, Path(max_length=320)],
                          workspace_id: Workspace) -> PreferencesLink:
    """Return the signed address of a customer's preference center, to put in a message or an app."""
    services = _services(request)
    try:
        profile = find_profile(services, workspace_id=workspace_id, reference=reference)
    except ProfileNotFound:
        raise ApiError(404, "profile_not_found", "no profile in this workspace has that id or identifier") from None
    return PreferencesLink(url=preferences_url(services, workspace_id=workspace_id, profile_id=profile.profile_id))
