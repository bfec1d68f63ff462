"""A benchmark server in its own process: the real Loopline app, or a bare endpoint as the limit.

``python -m loopline.bench.server --app loopline --data-dir DIR`` binds a free loopback
port, prints one JSON line (port, write key, workspace) when it is ready to serve, runs
uvicorn exactly as ``loopline serve`` does until SIGTERM, shuts down cleanly
(the runtime commits and projects what is queued) and prints one JSON line of figures.
``BenchServer`` starts and stops such a process from the bench.
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from loopline.bootstrap import Runtime
    from loopline.domain.events import EventRecord
    from loopline.ports import AppendResult

HOST = "127.0.0.1"
READY_TIMEOUT_S = 120.0


def _commit_sizes(runtime: Runtime) -> list[int]:
    """Record the size of every append the writer makes, to size the limit's batches like it."""
    sizes: list[int] = []
    store = runtime.services.events
    append = store.append

    def recording_append(records: Sequence[EventRecord]) -> AppendResult:
        sizes.append(len(records))
        return append(records)

    store.append = recording_append  # type: ignore[method-assign]
    return sizes


def _loopline_app(data_dir: Path) -> tuple[FastAPI, dict[str, Any], list[int]]:
    from loopline.actions.workspaces import do_create_workspace
    from loopline.api.app import create_app
    from loopline.bootstrap import build_runtime
    from loopline.config import Settings

    runtime = build_runtime(Settings(data_dir=data_dir))
    workspace = do_create_workspace(runtime.services, name="Benchmark shop")
    sizes = _commit_sizes(runtime)
    return create_app(runtime), {"write_key": workspace.write_key, "workspace_id": workspace.id}, sizes


def _bare_app() -> FastAPI:
    """Return the limit: FastAPI answering the ingest route without any work behind it."""
    app = FastAPI()
    for path in ("/v1/track", "/v1/batch"):
        app.add_api_route(path, _bare_endpoint, methods=["POST"])
    return app


async def _bare_endpoint(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"success": True})


def serve(app_name: str, data_dir: Path) -> None:
    """Serve until signalled, announcing readiness and final figures on stdout."""
    import uvicorn

    sizes: list[int] = []
    info: dict[str, Any] = {}
    if app_name == "loopline":
        app, info, sizes = _loopline_app(data_dir)
    else:
        app = _bare_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    info.update(port=sock.getsockname()[1], pid=os.getpid())
    # The same uvicorn settings as ``loopline serve``: uvloop and httptools when installed.
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    original_startup = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original_startup(sockets=sockets)
        _emit(info)

    server.startup = startup  # type: ignore[method-assign]
    # uvicorn re-raises the signal that stopped it once it has shut down; a no-op handler
    # lets this process report its figures and exit 0 instead of dying on the signal.
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run(sockets=[sock])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ordered = sorted(sizes)
    _emit({
        "commits": len(sizes),
        "committed_events": sum(sizes),
        "median_commit": ordered[len(ordered) // 2] if ordered else 0,
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    })


def _emit(value: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", choices=("loopline", "bare"), required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    serve(args.app, args.data_dir)


class ServerFailed(RuntimeError):
    """The benchmark server did not start or stop as expected."""


class BenchServer:
    """A server subprocess: ``start`` it, ``stop`` it cleanly; leaving the ``with`` block kills it if still up."""

    def __init__(self, app_name: str, data_dir: Path) -> None:
        self.app_name = app_name
        self.data_dir = data_dir
        self.log_path = data_dir / f"server-{app_name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> None:
        """Start the process and wait until it serves; kill it if it does not come up."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            # The command is this interpreter and this module; no outside input reaches it.
            self._process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "loopline.bench.server", "--app", self.app_name,
                 "--data-dir", str(self.data_dir)],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
            )
        try:
            self.info = self._read_line(READY_TIMEOUT_S)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        return int(self.info["port"])

    def stop(self, timeout_s: float) -> dict[str, Any]:
        """Ask for a clean shutdown, wait for it, and return the server's closing figures."""
        process = self._require()
        process.send_signal(signal.SIGTERM)
        figures = self._read_line(timeout_s)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise ServerFailed(self._explain("did not exit after shutting down")) from None
        if code != 0:
            raise ServerFailed(self._explain(f"exited with status {code}"))
        return figures

    def _require(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise ServerFailed("the server was not started")
        return self._process

    def _read_line(self, timeout_s: float) -> dict[str, Any]:
        process = self._require()
        assert process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([process.stdout], [], [], min(left, 1.0))
            if ready:
                line = process.stdout.readline()
                if not line:
                    raise ServerFailed(self._explain("exited early"))
                value: dict[str, Any] = orjson.loads(line)
                return value
            if process.poll() is not None:
                raise ServerFailed(self._explain("exited early"))
        raise ServerFailed(self._explain(f"gave no answer within {timeout_s:.0f} s"))

    def _explain(self, what: str) -> str:
        tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:] if self.log_path.exists() else ""
        return f"the {self.app_name} benchmark server {what}; its log ends with:\n{tail}"


if __name__ == "__main__":
    main()
