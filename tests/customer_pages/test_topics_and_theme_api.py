"""The topic catalogue and the theme over the management API: validation, conflicts, tenant isolation."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from loopline.actions.workspaces import WorkspaceCreated
from tests.conftest import bearer

NEWS = {"key": "news", "label": "Newsletter", "description": "Our monthly letter", "channels": ["sms", "email"],
        "default_status": "opted_in"}


def _problems(answer: Any) -> dict[str, str]:
    return {problem["path"]: problem["message"] for problem in answer.json()["problems"]}


def test_topics_are_created_listed_replaced_and_deleted(client: TestClient, workspace: WorkspaceCreated) -> None:
    secret = bearer(workspace.secret_key)
    created = client.post("/api/v1/topics", headers=secret, json=NEWS)
    assert created.status_code == 201, created.text
    body = created.json()
    # Channels come back in the platform's order, whatever order they were sent in.
    assert (body["key"], body["label"], body["channels"], body["default_status"]) == (
        "news", "Newsletter", ["email", "sms"], "opted_in")
    offers = client.post("/api/v1/topics", headers=secret, json={"key": "offers", "label": "Deals",
                                                                  "channels": ["push"]})
    assert offers.json()["default_status"] == "opted_out"  # the careful default: customers opt in
    listed = client.get("/api/v1/topics", headers=secret).json()["items"]
    assert [topic["key"] for topic in listed] == ["offers", "news"]  # by label: Deals, Newsletter

    replaced = client.put("/api/v1/topics/news", headers=secret, json={
        "label": "Monthly news", "channels": ["email"], "default_status": "opted_out"})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["label"], replaced.json()["channels"], replaced.json()["description"]) == (
        "Monthly news", ["email"], "")
    assert client.get("/api/v1/topics/news", headers=secret).json()["label"] == "Monthly news"
    renamed = client.put("/api/v1/topics/news", headers=secret, json={**NEWS, "key": "other"})
    assert renamed.status_code == 422
    assert "cannot change" in _problems(renamed)["key"]

    assert client.delete("/api/v1/topics/news", headers=secret).status_code == 204
    assert client.get("/api/v1/topics/news", headers=secret).status_code == 404
    assert client.delete("/api/v1/topics/news", headers=secret).json()["error"]["code"] == "topic_not_found"
    assert [topic["key"] for topic in client.get("/api/v1/topics", headers=secret).json()["items"]] == ["offers"]


def test_bad_topics_are_refused_with_every_problem_named(client: TestClient, workspace: WorkspaceCreated) -> None:
    secret = bearer(workspace.secret_key)
    bad = client.post("/api/v1/topics", headers=secret, json={
        "key": "Big News!", "label": "  ", "channels": ["email", "email", "fax"], "default_status": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_topic"
    problems = _problems(bad)
    assert set(problems) == {"key", "label", "channels.2", "default_status"}
    assert "lowercase" in problems["key"]
    reserved = client.post("/api/v1/topics", headers=secret, json={"key": "all", "label": "All", "channels": ["sms"]})
    assert "every topic" in _problems(reserved)["key"]
    no_channels = client.post("/api/v1/topics", headers=secret, json={"key": "x", "label": "X", "channels": []})
    assert set(_problems(no_channels)) == {"channels"}
    assert client.post("/api/v1/topics", headers=secret, json=NEWS).status_code == 201
    again = client.post("/api/v1/topics", headers=secret, json=NEWS | {"label": "Again"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "topic_taken")
    assert client.get("/api/v1/topics/news", headers=secret).json()["label"] == "Newsletter"  # nothing lost
    not_an_object = client.post("/api/v1/topics", headers=secret, json=[NEWS])
    assert not_an_object.status_code == 422


def test_another_workspaces_topics_and_theme_are_out_of_reach(client: TestClient, workspace: WorkspaceCreated,
                                                             other_workspace: WorkspaceCreated) -> None:
    a, b = bearer(workspace.secret_key), bearer(other_workspace.secret_key)
    assert client.post("/api/v1/topics", headers=a, json=NEWS).status_code == 201
    assert client.put("/api/v1/theme", headers=a, json={"brand_name": "Ana's shop"}).status_code == 200
    for method in ("GET", "PUT", "DELETE"):
        answer = client.request(method, "/api/v1/topics/news", headers=b, json=NEWS | {"label": "Mallory"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "topic_not_found"), method
    assert client.get("/api/v1/topics", headers=b).json()["items"] == []
    assert client.get("/api/v1/theme", headers=b).json()["brand_name"] == ""
    # B's own topic with the same key is B's: A's stays as it was.
    assert client.post("/api/v1/topics", headers=b, json=NEWS | {"label": "Mallory"}).status_code == 201
    assert client.get("/api/v1/topics/news", headers=a).json()["label"] == "Newsletter"
    assert client.get("/api/v1/theme", headers=a).json()["brand_name"] == "Ana's shop"


def test_the_theme_takes_only_validated_values(client: TestClient, workspace: WorkspaceCreated) -> None:
    secret = bearer(workspace.secret_key)
    default = client.get("/api/v1/theme", headers=secret).json()
    assert (default["primary_color"], default["font"], default["logo_url"]) == ("#1f6feb", "system", None)
    assert "serif" in default["fonts"]
    saved = client.put("/api/v1/theme", headers=secret, json={
        "brand_name": " Kim's Kitchen ", "logo_url": "https://cdn.example.com/logo.png", "primary_color": "#E4A",
        "background_color": "#fffdf5", "text_color": "#222222", "font": "serif"})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["brand_name"], body["primary_color"], body["font"]) == ("Kim's Kitchen", "#ee44aa", "serif")
    assert body["warnings"] == []
    bad = client.put("/api/v1/theme", headers=secret, json={
        "logo_url": "http://cdn.example.com/logo.png", "primary_color": "red;}body{display:none",
        "background_color": "#12345", "text_color": "url(https://evil.example/x)", "font": "Comic Sans"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_theme"
    assert set(_problems(bad)) == {"logo_url", "primary_color", "background_color", "text_color", "font"}
    assert "https" in _problems(bad)["logo_url"]
    assert client.get("/api/v1/theme", headers=secret).json()["primary_color"] == "#ee44aa"  # unchanged
    unreadable = client.put("/api/v1/theme", headers=secret, json={"background_color": "#ffffff",
                                                                   "text_color": "#eeeeee"})
    assert unreadable.status_code == 200  # allowed, but the person is told
    assert "contrast" in unreadable.json()["warnings"][0]
    # Unset fields go back to their defaults: a PUT replaces the whole theme.
    assert unreadable.json()["brand_name"] == ""
