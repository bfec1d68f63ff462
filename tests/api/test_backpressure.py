"""Overload and failure answers: 429 and 503 with Retry-After, and never a 2xx unstored."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from loopline.actions.workspaces import do_create_workspace
from loopline.api.app import create_app
from loopline.bootstrap import build_runtime
from loopline.config import Settings
from tests.conftest import basic, track


def serve(tmp_path: Path, **overrides):
    runtime = build_runtime(Settings(data_dir=tmp_path, **overrides))
    return runtime, TestClient(create_app(runtime))


def batch(n: int, prefix: str = "m") -> dict:
    return {"batch": [{"type": "track", **track(f"u{i}", messageId=f"{prefix}{i}")} for i in range(n)]}


def test_a_workspace_over_its_rate_gets_429_and_others_do_not(tmp_path):
    runtime, client = serve(tmp_path, workspace_events_per_second=10)
    noisy = do_create_workspace(runtime.services, name="noisy")
    quiet = do_create_workspace(runtime.services, name="quiet")
    with client:
        assert client.post("/v1/batch", json=batch(20), headers=basic(noisy.write_key)).status_code == 200
        limited = client.post("/v1/batch", json=batch(20, "n"), headers=basic(noisy.write_key))
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        assert client.post("/v1/batch", json=batch(5), headers=basic(quiet.write_key)).status_code == 200
        assert runtime.services.events.count(workspace_id=noisy.id) == 20
        assert runtime.services.events.count(workspace_id=quiet.id) == 5


def test_a_full_commit_queue_answers_503_with_retry_after(tmp_path):
    runtime, client = serve(tmp_path, ingest_queue_events=10)
    ws = do_create_workspace(runtime.services, name="w")
    with client:
        response = client.post("/v1/batch", json=batch(11), headers=basic(ws.write_key))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"]["code"] == "overloaded"
        assert client.post("/v1/batch", json=batch(10), headers=basic(ws.write_key)).status_code == 200
        assert runtime.services.events.count(workspace_id=ws.id) == 10


def test_a_failed_commit_is_never_acknowledged_and_a_retry_stores_once(tmp_path, monkeypatch):
    runtime, client = serve(tmp_path)
    ws = do_create_workspace(runtime.services, name="w")
    real_append = runtime.services.events.append

    def broken(records):
        raise OSError("disk unavailable")

    with client:
        monkeypatch.setattr(runtime.services.events, "append", broken)
        failed = client.post("/v1/batch", json=batch(3), headers=basic(ws.write_key))
        assert failed.status_code == 503
        assert failed.json()["error"]["code"] == "store_unavailable"
        assert "Retry-After" in failed.headers
        monkeypatch.setattr(runtime.services.events, "append", real_append)
        for _ in range(2):
            assert client.post("/v1/batch", json=batch(3), headers=basic(ws.write_key)).status_code == 200
        assert runtime.services.events.count(workspace_id=ws.id) == 3


@pytest.mark.parametrize("path", ["/v1/track", "/v1/batch"])
def test_bad_key_attempts_store_nothing(tmp_path, path):
    runtime, client = serve(tmp_path)
    ws = do_create_workspace(runtime.services, name="w")
    body = track("u") if path == "/v1/track" else batch(1)
    with client:
        for _ in range(20):
            assert client.post(path, json=body, headers=basic("llw_unknown_secret")).status_code == 401
        assert runtime.services.events.count(workspace_id=ws.id) == 0
