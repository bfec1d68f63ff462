"""The ``loopline`` command line."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from loopline.cli import admin, analyze, bench, demo, serve, users
from loopline.cli.errors import CliError

app = typer.Typer(
    name="loopline",
    help="Loopline: customer data, segments, campaigns and journeys in one Python platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
serve.register(app)
demo.register(app)
admin.register(app)
users.register(app)
bench.register(app)
analyze.register(app)
# soft_wrap keeps each error on one line whatever the terminal width (or none).
err = Console(stderr=True, soft_wrap=True)


def main() -> None:
    """Run the command line, turning failures into one readable line and exit code 1."""
    try:
        app()
    except CliError as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - a CLI answers in words, not tracebacks
        err.print(f"[red]error:[/red] {type(error).__name__}: {error}")
        sys.exit(1)
