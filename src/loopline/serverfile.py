"""The server file: how commands find a server running on the same data directory.

The embedded DuckDB file has a single writer, the server. Administrative commands that
need the event store read this file and go through the server's API with the admin
token it holds (the file is readable by its owner only).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

NAME = "server.json"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Where a running server listens and the token that administers it."""

    url: str
    pid: int
    admin_token: str


def write_server_file(data_dir: Path, *, url: str) -> ServerInfo:
    """Create the server file with a fresh admin token, readable by its owner only."""
    info = ServerInfo(url=url, pid=os.getpid(), admin_token=secrets.token_urlsafe(32))
    path = data_dir / NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps({"url": info.url, "pid": info.pid, "admin_token": info.admin_token}))
    return info


def remove_server_file(data_dir: Path, info: ServerInfo) -> None:
    """Remove the server file if it is still ours."""
    found = read_server_file(data_dir, check_alive=False)
    if found is not None and found.admin_token == info.admin_token:
        (data_dir / NAME).unlink(missing_ok=True)


def read_server_file(data_dir: Path, *, check_alive: bool = True) -> ServerInfo | None:
    """Return the running server of a data directory, or None when none answers."""
    path = data_dir / NAME
    try:
        data = orjson.loads(path.read_bytes())
        info = ServerInfo(url=data["url"], pid=int(data["pid"]), admin_token=data["admin_token"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not check_alive:
        return info
    try:
        os.kill(info.pid, 0)
        httpx.get(f"{info.url}/health", timeout=2.0).raise_for_status()
    except (OSError, httpx.HTTPError):
        return None
    return info
