"""A live server: the real app under uvicorn on a loopback port, in a background thread.

End-to-end tests talk to it over real HTTP, as the SDKs and other clients do. The
server owns its runtime (the app's lifespan starts and stops the writer and projector),
so shutting it down also proves the runtime stops cleanly.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from loopline.actions.workspaces import WorkspaceCreated, do_create_workspace
from loopline.api.app import create_app
from loopline.bootstrap import Runtime, build_runtime
from loopline.config import Settings
from tests.conftest import ADMIN_TOKEN

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class LiveServer:
    """A running server: where it listens, its runtime, a workspace and the admin token."""

    url: str
    runtime: Runtime
    workspace: WorkspaceCreated
    admin_token: str

    def settle(self) -> None:
        """Project every committed event into profiles now."""
        self.runtime.projector.catch_up()


def _loopback_socket() -> socket.socket:
    """Bind a listening socket on a free loopback port; uvicorn serves on it (no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextmanager
def run_live_server(settings: Settings) -> Iterator[LiveServer]:
    """Serve a fresh runtime on ``settings`` until the block ends, then shut down cleanly."""
    runtime = build_runtime(settings)
    sock = _loopback_socket()
    served = False
    try:
        workspace = do_create_workspace(runtime.services, name="End-to-end shop")
        app = create_app(runtime, admin_token=ADMIN_TOKEN)
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
            access_log=False, ws="none", lifespan="on",
        )
        server = uvicorn.Server(config)
        failures: list[BaseException] = []

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as error:  # reported by the test, not lost in the thread
                failures.append(error)

        thread = threading.Thread(target=serve, name="live-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(STOP_TIMEOUT_S)
                raise RuntimeError(f"the live server did not start: {failures or 'timeout'}")
            time.sleep(0.01)
        served = True  # from here on the app's lifespan stops the runtime
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/health", timeout=5).json()["status"] == "ok"
        try:
            yield LiveServer(url=url, runtime=runtime, workspace=workspace, admin_token=ADMIN_TOKEN)
        finally:
            server.should_exit = True
            thread.join(STOP_TIMEOUT_S)
        assert not thread.is_alive(), "the live server did not stop"
        assert not failures, f"the live server failed: {failures!r}"
    finally:
        sock.close()
        if not served:
            runtime.services.close()
        runtime.services.engine.dispose()


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """A live server on a fresh data directory: embedded stores, and PostgreSQL when configured."""
    with run_live_server(settings) as server:
        yield server


@pytest.fixture
def embedded_live_server(embedded_settings: Settings) -> Iterator[LiveServer]:
    """A live server on the embedded stores only."""
    with run_live_server(embedded_settings) as server:
        yield server
