"""``loopline bench NAME``: benchmarks that print one JSON line of ratios measured in one run."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from loopline.bench import BENCHES
from loopline.cli.errors import CliError


def register(app: typer.Typer) -> None:
    """Add the bench command."""

    @app.command("bench")
    def bench(
        name: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(BENCHES))}.")],
        scale: Annotated[float, typer.Option(help="1.0 = the sizes in PERFORMANCE targets.")] = 1.0,
    ) -> None:
        """Run a benchmark and print its result as one JSON line."""
        runner = BENCHES.get(name)
        if runner is None:
            raise CliError(f"unknown benchmark {name!r}; choose one of {', '.join(sorted(BENCHES))}")
        result = runner(scale=scale)
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
