"""Administrative commands; they go through the running server when there is one.

The embedded event store has one writer, the server. When ``loopline serve`` runs on
the data directory these commands call its API with the admin token from the server
file; otherwise they open the stores themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loopline.actions.imports import ImportRejected, do_import_customers
from loopline.actions.privacy import do_erase, erasure_json, iter_export
from loopline.actions.profiles import ProfileNotFound
from loopline.actions.workspaces import do_create_workspace
from loopline.bootstrap import Runtime, build_runtime
from loopline.cli.errors import CliError
from loopline.config import load_settings
from loopline.serverfile import ServerInfo, read_server_file

console = Console()


@contextmanager
def local_runtime() -> Iterator[Runtime]:
    """Open the stores in this process, with the writer running, and close them after."""
    runtime = build_runtime(load_settings())
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def running_server() -> ServerInfo | None:
    """Return the server running on the configured data directory, if any."""
    return read_server_file(load_settings().data_dir)


def _call(
    info: ServerInfo, method: str, path: str, workspace: str | None = None, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {info.admin_token}"}
    if workspace:
        headers["X-Loopline-Workspace"] = workspace
    response = httpx.request(method, info.url + path, headers=headers, timeout=600, **kw)
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise CliError(message)
    return response


def _workspace(runtime: Runtime | None, info: ServerInfo | None, given: str | None) -> str:
    if given:
        return given
    if runtime is not None:
        rows = runtime.services.workspaces.list_workspaces()
        if len(rows) == 1:
            return rows[0].id
    raise CliError("name the workspace with --workspace ID")


def register(app: typer.Typer) -> None:
    """Add the workspace, import, export and erase commands."""
    workspace = typer.Typer(help="Workspaces (tenants).", no_args_is_help=True)
    imports = typer.Typer(help="Import data.", no_args_is_help=True)
    export = typer.Typer(help="Export data.", no_args_is_help=True)
    erase = typer.Typer(help="Erase data.", no_args_is_help=True)
    app.add_typer(workspace, name="workspace")
    app.add_typer(imports, name="import")
    app.add_typer(export, name="export")
    app.add_typer(erase, name="erase")

    @workspace.command("create")
    def create(
        name: str,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    ) -> None:
        """Create a workspace and print its id, write key and secret key (shown once)."""
        info = running_server()
        if info is not None:
            data = _call(info, "POST", "/api/v1/workspaces", json={"name": name}).json()
        else:
            with local_runtime() as runtime:
                created = do_create_workspace(runtime.services, name=name)
            data = {"id": created.id, "name": created.name, "write_key": created.write_key,
                    "secret_key": created.secret_key}
        result = {"id": data["id"], "write_key": data["write_key"], "secret_key": data["secret_key"]}
        if as_json:
            sys.stdout.write(orjson.dumps(result).decode() + "\n")
        else:
            console.print(f"workspace [bold]{result['id']}[/bold] ({name})")
            console.print(f"write key:  {result['write_key']}")
            console.print(f"secret key: {result['secret_key']}  (shown once; store it safely)")

    @imports.command("customers")
    def import_customers(
        file: Annotated[Path, typer.Argument(help="A CSV file with a header row.")],
        workspace_id: Annotated[str, typer.Option("--workspace", help="Workspace id.")],
    ) -> None:
        """Import customers and prospects from CSV (upsert by user_id, email or phone)."""
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CliError(f"cannot read {file}: {error.strerror or error}") from None
        info = running_server()
        if info is not None:
            with console.status(f"importing {file.name} through the running server"):
                report = _call(info, "POST", "/api/v1/imports", workspace_id,
                               params={"filename": file.name}, content=data).json()
        else:
            rows = max(0, data.count(b"\n") - 1)
            with local_runtime() as runtime, _progress() as progress:
                task = progress.add_task(f"importing {file.name}", total=rows or None)
                try:
                    report = do_import_customers(
                        runtime.services, runtime.pipeline, workspace_id=workspace_id, data=data,
                        filename=file.name, progress=lambda n: progress.advance(task, n),
                    ).as_json()
                except ImportRejected as rejected:
                    raise CliError(str(rejected)) from None
        console.print(f"imported {report['rows_imported']} of {report['rows_total']} rows; "
                      f"{report['rows_failed']} failed")
        for row_error in report["errors"][:20]:
            console.print(f"  line {row_error['row']}: {row_error['message']}")

    @export.command("profile")
    def export_profile(
        reference: str,
        workspace_id: Annotated[str | None, typer.Option("--workspace", help="Workspace id.")] = None,
    ) -> None:
        """Print everything stored about one person as JSON (GDPR access request)."""
        info = running_server()
        if info is not None:
            ws = _workspace(None, info, workspace_id)
            with httpx.stream("GET", f"{info.url}/api/v1/profiles/{reference}/export",
                              headers={"Authorization": f"Bearer {info.admin_token}",
                                       "X-Loopline-Workspace": ws}, timeout=600) as response:
                if response.status_code >= 400:
                    response.read()
                    raise CliError(response.json()["error"]["message"])
                for chunk in response.iter_bytes():
                    sys.stdout.buffer.write(chunk)
        else:
            with local_runtime() as runtime:
                ws = _workspace(runtime, None, workspace_id)
                try:
                    for chunk in iter_export(runtime.services, workspace_id=ws, reference=reference):
                        sys.stdout.buffer.write(chunk)
                except ProfileNotFound:
                    raise CliError(f"no profile in {ws} matches {reference!r}") from None
        sys.stdout.buffer.write(b"\n")

    @erase.command("profile")
    def erase_profile(
        reference: str,
        workspace_id: Annotated[str | None, typer.Option("--workspace", help="Workspace id.")] = None,
    ) -> None:
        """Erase one person (profile, identities, devices, consents, events) and suppress their ids."""
        info = running_server()
        if info is not None:
            ws = _workspace(None, info, workspace_id)
            data = _call(info, "POST", f"/api/v1/profiles/{reference}/erase", ws).json()
        else:
            with local_runtime() as runtime:
                ws = _workspace(runtime, None, workspace_id)
                try:
                    data = erasure_json(do_erase(runtime.services, workspace_id=ws, reference=reference))
                except ProfileNotFound:
                    raise CliError(f"no profile in {ws} matches {reference!r}") from None
        console.print(f"erasure {data['id']}: {data['status']}, {data['deleted_events']} events deleted")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)
