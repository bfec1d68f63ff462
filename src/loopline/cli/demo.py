"""``loopline demo``: seed a demo workspace (a fashion shop with an app) and run the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from loopline.actions.accounts import AccountServices, do_create_user, do_grant_role, do_set_password
from loopline.actions.ingest import IngestOutcome
from loopline.actions.projection import do_project_once
from loopline.actions.workspaces import do_create_workspace
from loopline.bootstrap import Runtime, build_runtime
from loopline.cli.serve import run_server
from loopline.cli.users import account_stores, generate_password
from loopline.config import load_settings
from loopline.demo.engagement import seed_engagement
from loopline.demo.generator import DemoPlan, estimate_messages, generate_messages
from loopline.domain.events import EventRecord

console = Console()
MARKER = "demo.json"
DEMO_EMAIL = "demo@loopline.local"
COMMIT_EVENTS = 20_000


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console,
    )


def _write_marker(marker: Path, keys: dict[str, Any]) -> None:
    # It holds the demo's keys and console password so they can be printed again: owner only.
    marker.write_bytes(orjson.dumps(keys))
    marker.chmod(0o600)


def seed_demo(runtime: Runtime, plan: DemoPlan) -> dict[str, Any]:
    """Create the demo workspace and ingest the generated history through the real pipeline."""
    created = do_create_workspace(runtime.services, name="Demo fashion shop")
    received_at = runtime.services.clock.now()
    with _progress() as progress:
        task = progress.add_task("generating and ingesting events", total=estimate_messages(plan))
        pending: list[EventRecord] = []
        for batch in generate_messages(plan):
            records, outcome = runtime.pipeline.prepare(
                workspace_id=created.id, payload={"batch": batch}, kind=None,
                received_at=received_at,
            )
            if outcome.errors:
                raise RuntimeError(f"the demo generator produced invalid events: {outcome.errors[:3]}")
            pending.extend(records)
            # Larger commits amortise the append; the writer still owns every write.
            if len(pending) >= COMMIT_EVENTS:
                runtime.pipeline.commit_sync(pending, IngestOutcome())
                progress.advance(task, len(pending))
                pending = []
        runtime.pipeline.commit_sync(pending, IngestOutcome())
        progress.advance(task, len(pending))
        progress.update(task, total=progress.tasks[0].completed)
        stored = runtime.services.events.count(workspace_id=created.id)
        project = progress.add_task("building profiles", total=stored)
        while moved := do_project_once(runtime.services, limit=20_000):
            progress.advance(project, moved)
        journeys = seed_engagement(runtime.services, workspace_id=created.id, progress=progress,
                                   since=plan.end - timedelta(days=plan.days))
    console.print(f"{journeys} template journeys active; send events to see them run (GET /api/v1/outbox)")
    return {"id": created.id, "write_key": created.write_key, "secret_key": created.secret_key}


def create_demo_login(services: AccountServices, *, workspace_id: str) -> dict[str, str]:
    """Create the demo user, administrator of the demo workspace, with a random password."""
    password = generate_password()
    if services.accounts.get_user_by_email(email=DEMO_EMAIL) is None:
        do_create_user(services, email=DEMO_EMAIL, password=password, name="Demo", actor="loopline demo")
    else:  # left by an interrupted run: its password was never printed, so give it a new one
        do_set_password(services, email=DEMO_EMAIL, password=password, actor="loopline demo")
    do_grant_role(services, email=DEMO_EMAIL, workspace_id=workspace_id, role="admin", actor="loopline demo")
    return {"email": DEMO_EMAIL, "password": password}


def register(app: typer.Typer) -> None:
    """Add the demo command."""

    @app.command("demo")
    def demo(
        customers: Annotated[int, typer.Option(help="Customers to simulate.")] = 5_000,
        days: Annotated[int, typer.Option(help="Days of history.")] = 90,
        serve: Annotated[bool, typer.Option(help="Start the server after seeding.")] = True,
    ) -> None:
        """Seed a demo workspace with realistic customers and events, then run the server."""
        settings = load_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        marker = settings.data_dir / MARKER
        if marker.exists():
            keys = orjson.loads(marker.read_bytes())
            console.print("demo workspace already seeded; reusing it")
        else:
            runtime = build_runtime(settings)
            runtime.writer.start()
            try:
                plan = DemoPlan(customers=customers, days=days, end=datetime.now(UTC))
                keys = seed_demo(runtime, plan)
                keys["console"] = create_demo_login(runtime.services, workspace_id=keys["id"])
            finally:
                runtime.stop()
            _write_marker(marker, keys)
        if "console" not in keys:
            # Seeded before the console existed: add its login now, once.
            with account_stores(settings) as stores:
                keys["console"] = create_demo_login(stores, workspace_id=keys["id"])
            _write_marker(marker, keys)
        url = settings.resolved_public_url + "/console/login"
        banner = [
            f"demo workspace: [bold]{keys['id']}[/bold]",
            f"write key:  {keys['write_key']}",
            f"secret key: {keys['secret_key']}",
            f"console:    [bold]{url}[/bold]",
            f"  e-mail:   {keys['console']['email']}",
            f"  password: {keys['console']['password']}",
            f"demo shop:  {settings.resolved_public_url}/demo-site/?writeKey={keys['write_key']}",
        ]
        if serve:
            run_server(settings, host=settings.host, port=settings.port, banner=banner)
        else:
            for line in banner:
                console.print(line, soft_wrap=True)
