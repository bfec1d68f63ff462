"""``loopline analyze experiment``: the campaign report's uplift statistics, for an experiment run elsewhere.

The numbers come from ``loopline.domain.experiments``, the code campaign reports use, so a
CSV exported from another tool and a campaign measured here are judged the same way. The
statistics libraries load on first use, inside the command, to keep every other command's
start-up light.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from loopline.cli.errors import CliError

if TYPE_CHECKING:
    from loopline.actions.experiments import ExperimentTable
    from loopline.domain.experiments import ExperimentResult, OutcomeResult

# Piped output gets 120 columns rather than rich's default of 80, which would fold the tables.
PIPED_WIDTH = 120
BAR_WIDTH = 40
BAR_STYLE = "cyan"
WHISKER_STYLE = "bold"
WHISKER_ON_BAR_STYLE = "bold black on cyan"


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` commands."""
    analyze = typer.Typer(help="Analyse experiments and their outcomes.", no_args_is_help=True)
    app.add_typer(analyze, name="analyze")

    @analyze.command("experiment")
    def experiment(  # noqa: PLR0917 - typer maps each parameter to an argument or option
        file: Annotated[Path, typer.Argument(help="A CSV file with a header row, one row per customer.")],
        group_column: Annotated[str, typer.Option("--group-column", help="The column naming each customer's group.")],
        control: Annotated[str, typer.Option("--control", help="The control group's value in the group column.")],
        outcome: Annotated[list[str], typer.Option(
            "--outcome", help="An outcome column, 0/1 or a number per customer; repeat for more.")],
        numeric: Annotated[list[str] | None, typer.Option(
            "--numeric", help="Treat this outcome as a number even when it holds only 0 and 1.")] = None,
        alpha: Annotated[float, typer.Option(
            "--alpha", help="Significance level; intervals are at 1 − alpha (0.05: 95 %).")] = 0.05,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    ) -> None:
        """Compare every group with the control: rate or mean, lift with confidence interval, p-value."""
        from loopline.actions.experiments import ExperimentFileRejected, read_experiment_csv
        from loopline.domain.experiments import ExperimentError, OutcomeKind, analyze_arrays

        forced = numeric or []
        unknown = [name for name in forced if name not in outcome]
        if unknown:
            raise CliError(f"--numeric {unknown[0]!r} is not one of the --outcome columns")
        if not 0 < alpha < 1:
            raise CliError(f"--alpha is a probability between 0 and 1, got {alpha}")
        try:
            table = read_experiment_csv(file, group_column=group_column, control=control, outcomes=outcome)
            result = analyze_arrays(table.groups, control=control, alpha=alpha,
                                    kinds=dict.fromkeys(forced, OutcomeKind.NUMERIC))
        except (ExperimentFileRejected, ExperimentError) as error:
            raise CliError(str(error)) from None
        if as_json:
            data = {**result.as_json(), "rows": table.rows, "rows_without_group": table.rows_without_group}
            sys.stdout.write(orjson.dumps(data).decode() + "\n")
        else:
            show(result, table, group_column=group_column)


def show(result: ExperimentResult, table: ExperimentTable, *, group_column: str) -> None:
    """Print one table and one bar chart per outcome, then the notes."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=PIPED_WIDTH)
    console.print(
        f"[bold]{len(result.groups)} groups[/bold], {table.rows:,} rows; control group [bold]{result.control}"
        f"[/bold]; {result.ci_level:.0%} confidence intervals; significant at α = {result.alpha:g}"
    )
    for name in result.groups[0].outcomes:
        console.print()
        console.print(_outcome_table(result, name))
        console.print(_chart(result, name))
    notes = _notes(result, table, group_column)
    if notes:
        console.print()
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)


def _outcome_table(result: ExperimentResult, name: str) -> Table:
    first = result.groups[0].outcomes[name]
    binary = first.kind == "binary"
    measure = "rate" if binary else "mean"
    table = Table(title=f"{name} ({measure} per customer)", title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAD)
    table.add_column("group")
    for header in ("n", measure, f"lift [{result.ci_level:.0%} CI]", "relative", "p-value", "significant",
                   "n/group needed"):
        table.add_column(header, justify="right")
    for group in result.groups:
        outcome = group.outcomes[name]
        cells = ["control", "", "", "", ""] if group.is_control else _lift_cells(outcome, binary)
        table.add_row(group.group, f"{outcome.n:,}", _value(outcome.value, binary), *cells)
    return table


def _lift_cells(outcome: OutcomeResult, binary: bool) -> list[str]:
    if outcome.lift is None:
        return ["—"] * 5
    interval = "" if outcome.lift_ci is None else (
        f" [{_signed(outcome.lift_ci[0], binary)}, {_signed(outcome.lift_ci[1], binary)}]")
    relative = "—" if outcome.relative_lift is None else f"{outcome.relative_lift * 100:+.1f} %"
    p_value = "—" if outcome.p_value is None else ("< 0.001" if outcome.p_value < 0.001 else f"{outcome.p_value:.3f}")
    significant = {True: "yes", False: "no", None: "—"}[outcome.significant]
    needed = "—" if outcome.sample_size_needed is None else f"{outcome.sample_size_needed:,}"
    unit = " pp" if binary else ""
    return [_signed(outcome.lift, binary) + unit + interval, relative, p_value, significant, needed]


def _value(value: float | None, binary: bool) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.2f} %" if binary else _number(value)


def _signed(value: float, binary: bool) -> str:
    return f"{value * 100:+.2f}" if binary else ("+" if value >= 0 else "") + _number(value)


def _number(value: float) -> str:
    # Money-like means read best to the cent; tiny ones keep three significant digits.
    return f"{value:,.2f}" if abs(value) >= 0.1 or value == 0 else f"{value:.3g}"


def _chart(result: ExperimentResult, name: str) -> Group:
    """Draw each group's rate or mean as a bar, its confidence interval as a whisker ├─┤ over it."""
    shown = [(group, group.outcomes[name]) for group in result.groups if group.outcomes[name].value is not None]
    if not shown:
        return Group(Text("(no values to chart)"))
    ends = [end for _, outcome in shown for end in (outcome.value_ci or (outcome.value, outcome.value))]
    low, high = min(0.0, *(e for e in ends if e is not None)), max(0.0, *(e for e in ends if e is not None))
    span = (high - low) or 1.0
    width = max(len(group.group) for group, _ in shown)
    binary = shown[0][1].kind == "binary"
    lines = [Text(f"{name}: {'rate' if binary else 'mean'} per group, whiskers at the "
                  f"{result.ci_level:.0%} confidence interval", style="dim")]
    for group, outcome in shown:
        assert outcome.value is not None
        line = Text(f"  {group.group:<{width}}  ")
        line.append_text(_bar(outcome.value, outcome.value_ci, low, span))
        interval = "" if outcome.value_ci is None else (
            f"  [{_value(outcome.value_ci[0], binary)} – {_value(outcome.value_ci[1], binary)}]")
        line.append(f"  {_value(outcome.value, binary)}{interval}")
        lines.append(line)
    return Group(*lines)


def _bar(value: float, interval: tuple[float, float] | None, low: float, span: float) -> Text:
    def cell(x: float) -> int:
        return min(BAR_WIDTH - 1, max(0, round((x - low) / span * BAR_WIDTH)))

    zero, end = round(-low / span * BAR_WIDTH), round((value - low) / span * BAR_WIDTH)
    filled = set(range(min(zero, end), max(zero, end)))
    chars = ["█" if i in filled else " " for i in range(BAR_WIDTH)]
    whisker: set[int] = set()
    if interval is not None:
        start, stop = cell(interval[0]), cell(interval[1])
        for i in range(start, stop + 1):
            chars[i] = "├" if i == start else "┤" if i == stop else "─"
            whisker.add(i)
        if start == stop:
            chars[start] = "┼"
    text = Text()
    for i, char in enumerate(chars):
        on_bar = i in filled
        style = (WHISKER_ON_BAR_STYLE if on_bar else WHISKER_STYLE) if i in whisker else (BAR_STYLE if on_bar else "")
        text.append(char, style=style)
    return text


def _notes(result: ExperimentResult, table: ExperimentTable, group_column: str) -> list[str]:
    notes = []
    if table.rows_without_group:
        notes.append(f"{table.rows_without_group:,} rows have no value in {group_column!r} and were left out")
    for name in result.groups[0].outcomes:
        missing = table.missing(name)
        if missing:
            where = ", ".join(f"{group} {count:,}" for group, count in missing.items())
            notes.append(f"{sum(missing.values()):,} empty cells in {name!r} were left out ({where})")
    for group in result.groups:
        for name, outcome in group.outcomes.items():
            notes.extend(f"{group.group}, {name}: {note}" for note in outcome.notes)
    return notes
