"""Shared fixtures: a runtime on the embedded stores or on PostgreSQL, and an API client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from loopline.actions.workspaces import WorkspaceCreated, do_create_workspace
from loopline.api.app import create_app
from loopline.bootstrap import Runtime, build_runtime
from loopline.config import Settings

POSTGRES_ENV = "LOOPLINE_TEST_POSTGRES_URL"
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
# The isolation matrix and the schema sweep present wrong keys on purpose, far more than
# a client address may per minute; the per-address limit has tests of its own.
GENEROUS: dict[str, Any] = {"failed_key_attempts_per_minute": 1_000_000,
                             # Tests refresh segments themselves; the background pass has a test of its own.
                             "segment_refresh_interval_s": 3_600,
                             # Tests tick the campaign scheduler with a clock they set; its thread has its own test.
                             "scheduler_interval_s": 3_600,
                             # Journey tests drive the engine themselves; the projector hook has its own test.
                             "journey_triggers_after_projection": False}


def postgres_url_or_skip() -> str:
    """Return the test PostgreSQL URL or skip the test with the reason."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: this test needs a PostgreSQL server")
    return url


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, str]]:
    """Create a fresh PostgreSQL schema for one test; yield (url, schema) and drop it after."""
    url = postgres_url_or_skip()
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield url, schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if request.param == "embedded":
        return Settings(data_dir=tmp_path, **GENEROUS)
    url, schema = request.getfixturevalue("pg_schema")
    separator = "&" if "?" in url else "?"
    return Settings(
        data_dir=tmp_path,
        **GENEROUS,
        database_url=f"{url}{separator}options=-csearch_path%3D{schema}",
        analytics_url=f"{url}{separator}schema={schema}",
    )


@pytest.fixture(params=["embedded", "postgres"])
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for the embedded default and for PostgreSQL (skipped without a server)."""
    return _settings(tmp_path, request)


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    """Settings for the embedded default only."""
    return Settings(data_dir=tmp_path, **GENEROUS)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime on the chosen stores, stopped after the test."""
    rt = build_runtime(settings)
    yield rt
    rt.services.close()  # closing twice is harmless when the app already stopped it


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """An API client; the app starts and stops the runtime."""
    app = create_app(runtime, admin_token=ADMIN_TOKEN)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def workspace(runtime: Runtime) -> WorkspaceCreated:
    """A fresh workspace with its keys."""
    return do_create_workspace(runtime.services, name="Test shop")


@pytest.fixture
def other_workspace(runtime: Runtime) -> WorkspaceCreated:
    """A second workspace, for isolation tests."""
    return do_create_workspace(runtime.services, name="Other shop")


def basic(key: str) -> dict[str, str]:
    """Return the Basic auth header Segment SDKs send for a write key."""
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def bearer(key: str) -> dict[str, str]:
    """Return the bearer header for a secret key."""
    return {"Authorization": f"Bearer {key}"}


def settle(runtime: Runtime) -> None:
    """Wait until every committed event is projected into profiles."""
    runtime.projector.catch_up()


def track(user: str, event: str = "Product Viewed", **kw: Any) -> dict[str, Any]:
    """Return a minimal track message."""
    return {"userId": user, "event": event, **kw}
