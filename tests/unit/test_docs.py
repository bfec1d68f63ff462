"""Docs are tested: every setting, command and route is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer.main
from fastapi.routing import APIRoute

from loopline.api import campaigns, exports, ingest, journeys, management, reports, segments, suppression_list
from loopline.cli import app as cli_app
from loopline.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_every_setting_is_documented():
    text = read("docs/configuration.md")
    for name in Settings.model_fields:
        assert f"`{name}`" in text, f"setting {name} missing from docs/configuration.md"
        assert f"`LOOPLINE_{name.upper()}`" in text


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{prefix}{name} "))
        else:
            found.append(f"{prefix}{name}")
    return found


def test_every_command_is_documented():
    text = read("README.md")
    group = typer.main.get_command(cli_app)
    commands = _commands(group)  # type: ignore[arg-type]
    assert "serve" in commands
    for command in commands:
        assert f"loopline {command}" in text, f"command {command!r} missing from README.md"


def test_every_route_is_documented():
    text = read("docs/api.md")
    routers = (ingest.router, management.router, suppression_list.router, exports.router, segments.router,
               reports.router, campaigns.router, journeys.router)
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = re.sub(r"\{[^}]+\}", "{", route.path)
            documented = re.sub(r"\{[^}]+\}", "{", text)
            for method in route.methods:
                assert f"{method} {path}" in documented, f"{method} {route.path} missing from docs/api.md"


def test_every_benchmark_has_its_figures_in_the_benchmarks_page():
    from loopline.bench import BENCHES

    text = read("docs/benchmarks.md")
    for name in BENCHES:
        assert f"## `{name}`" in text, f"benchmark {name!r} has no section in docs/benchmarks.md"
