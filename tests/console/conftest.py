"""Console helpers: people with roles in workspaces, and signing in through the form."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from loopline.actions.accounts import do_create_user, do_grant_role
from loopline.config import Settings
from tests.e2e.conftest import LiveServer, run_live_server

PASSWORD = "correct horse battery staple"


def member(runtime: Any, workspace_id: str, *, role: str = "admin", email: str = "ana@example.com") -> str:
    """Create a user (once) and give them ``role`` in the workspace; return the e-mail address."""
    if runtime.services.accounts.get_user_by_email(email=email) is None:
        do_create_user(runtime.services, email=email, password=PASSWORD, name="Ana")
    do_grant_role(runtime.services, email=email, workspace_id=workspace_id, role=role)
    return email


def login_token(client: Any) -> str:
    """Open the sign-in form and return its CSRF token."""
    page = client.get("/console/login")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    """Submit the sign-in form; return the response (not followed)."""
    token = login_token(client)
    return client.post("/console/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=False)


def csrf_of(client: Any, workspace_id: str) -> str:
    """Return the CSRF token a signed-in page carries."""
    page = client.get(f"/console/w/{workspace_id}/")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


class Clock:
    """A clock a test moves."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def signed_in(client: Any, runtime: Any, workspace: Any) -> Any:
    """The API client, signed in as an admin of the workspace."""
    email = member(runtime, workspace.id)
    assert sign_in(client, email).status_code == 303
    return client


@pytest.fixture
def live(embedded_settings: Settings) -> Iterator[LiveServer]:
    """The platform served over HTTP in this process, on the embedded stores."""
    with run_live_server(embedded_settings) as server:
        yield server


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where browser tests write screenshots: ``LOOPLINE_SCREENSHOTS``, else the test's own folder."""
    folder = Path(os.environ.get("LOOPLINE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
