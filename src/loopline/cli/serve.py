"""``loopline serve`` and ``loopline db upgrade``."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from loopline.api.app import create_app
from loopline.bootstrap import build_runtime, freeze_start_up_objects
from loopline.cli.errors import CliError
from loopline.config import Settings, load_settings
from loopline.serverfile import read_server_file, remove_server_file, write_server_file
from loopline.store import migrations
from loopline.store.sql.engine import create_store_engine

console = Console()


def run_server(settings: Settings, *, host: str, port: int, banner: list[str] | None = None) -> None:
    """Run the platform in this process until interrupted."""
    running = read_server_file(settings.data_dir)
    if running is not None:
        raise CliError(f"a server already runs on this data directory at {running.url}")
    runtime = build_runtime(settings)
    url = f"http://{host}:{port}"
    info = write_server_file(settings.data_dir, url=url)
    app = create_app(runtime, admin_token=info.admin_token)
    freeze_start_up_objects()
    console.print(f"Loopline is running at [bold]{url}[/bold]  (API docs: {url}/api/docs)", soft_wrap=True)
    for line in banner or []:
        console.print(line, soft_wrap=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        remove_server_file(settings.data_dir, info)


def register(app: typer.Typer) -> None:
    """Add the serve and db commands."""

    @app.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
        port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    ) -> None:
        """Run the API, the ingest writer and the projector."""
        settings = load_settings()
        run_server(settings, host=host or settings.host, port=port or settings.port)

    db = typer.Typer(help="Operational store schema.", no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def upgrade() -> None:
        """Apply pending migrations (safe to run again)."""
        settings = load_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_store_engine(settings.resolved_database_url)
        migrations.upgrade(engine)
        console.print(f"operational store at revision {migrations.current_revision(engine)}")
        engine.dispose()
