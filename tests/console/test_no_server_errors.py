"""Every console route answers odd input with a 4xx, never a 5xx: unknown ids, strange text in
the path and the query, empty and malformed forms, and JSON where a form is expected."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Route

from loopline.console import routes
from tests.console.conftest import csrf_of, member, sign_in

ROUTERS = [pages.router for pages in routes.PAGE_ROUTERS] + [routes.router]

ODD = ["nope", "x" * 300, "%E2%80%AE", "..%2F..%2Fetc", "1'%20OR%201=1", "0"]


def _console_routes() -> list[tuple[str, set[str]]]:
    return [(route.path, set(route.methods or ())) for router in ROUTERS for route in router.routes
            if isinstance(route, Route) and route.path.startswith("/console/w/")]


def _fill(path: str, workspace_id: str, value: str) -> str:
    path = path.replace("{workspace_id}", workspace_id)
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.mark.parametrize("value", ODD)
def test_odd_paths_and_queries_get_no_server_error(client, runtime, workspace, value):
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    routes = _console_routes()
    assert len(routes) > 40  # every page family is mounted
    for path, methods in routes:
        if "GET" not in methods:
            continue
        url = _fill(path, workspace.id, value)
        for headers in ({}, {"Accept": "application/json"}):
            answer = client.get(url, params={"q": value, "cursor": value, "before": value, "source_id": value,
                                             "attribution": value, "template": value, "copy": value,
                                             "action": value, "actor": value}, headers=headers)
            assert answer.status_code < 500, (url, answer.status_code, answer.text[:300])


def test_empty_and_malformed_posts_get_no_server_error(client, runtime, workspace):
    assert sign_in(client, member(runtime, workspace.id)).status_code == 303
    token = csrf_of(client, workspace.id)
    posts = [path for path, methods in _console_routes() if "POST" in methods]
    assert len(posts) > 25  # every page family's changes are reached
    for path in posts:
        url = _fill(path, workspace.id, "nope")
        bodies: list[dict[str, Any]] = [
            {"data": {"csrf_token": token}},
            {"data": {"csrf_token": token, "name": "x" * 5000, "email": "not an address", "role": "king",
                      "definition": "{", "status": "nonsense", "holdout_percent": "many"}},
            {"content": b"{not json", "headers": {"X-CSRF-Token": token, "Content-Type": "application/json"}},
            {"json": {"anything": ["goes"]}, "headers": {"X-CSRF-Token": token}},
        ]
        for body in bodies:
            answer = client.post(url, follow_redirects=False, **body)
            assert answer.status_code < 500, (url, body.keys(), answer.status_code, answer.text[:300])
