"""Read an experiment run elsewhere: one CSV row per customer, a group column and outcome columns.

The statistics live in ``loopline.domain.experiments``; this module only turns a file into
per-group arrays for it and refuses, with one sentence naming the column and the line, a file
that cannot be analysed. Empty cells (and the usual spellings of "no value") are missing
values: they are counted per group and outcome and reported, never silently dropped.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from loopline.actions.imports import decode_csv

# How spreadsheets, R, pandas and databases write "no value" into a CSV cell.
MISSING_SPELLINGS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a"})
# Spreadsheets export yes/no columns as TRUE/FALSE; they mean 1 and 0.
TRUTH = {"true": 1.0, "false": 0.0}
GROUPS_LISTED = 20


class ExperimentFileRejected(ValueError):
    """The file cannot be analysed as asked; the message names the file, column or line."""


@dataclass(slots=True)
class ExperimentTable:
    """Outcome values per group (NaN = missing), groups in order of first appearance."""

    groups: dict[str, dict[str, NDArray[np.float64]]]
    rows: int
    rows_without_group: int = 0
    columns: tuple[str, ...] = field(default=())

    def missing(self, outcome: str) -> dict[str, int]:
        """Return the number of missing cells of ``outcome`` per group (groups with none left out)."""
        counts = {group: int(np.isnan(values[outcome]).sum()) for group, values in self.groups.items()}
        return {group: count for group, count in counts.items() if count}


def read_experiment_csv(
    path: Path, *, group_column: str, control: str, outcomes: Sequence[str]
) -> ExperimentTable:
    """Read ``path`` into per-group outcome arrays, or raise ExperimentFileRejected saying what is wrong."""
    if not outcomes:
        raise ExperimentFileRejected("name at least one outcome column")
    if len(set(outcomes)) != len(outcomes):
        raise ExperimentFileRejected("an outcome column is named twice")
    if group_column in outcomes:
        raise ExperimentFileRejected(f"{group_column!r} is the group column; it cannot be an outcome too")
    reader, header = _open(path)
    positions = _positions(path, header, [group_column, *outcomes])
    group_at, outcome_at = positions[0], positions[1:]
    values: dict[str, dict[str, list[float]]] = {}
    rows = without_group = 0
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # blank lines are not customers
        rows += 1
        group = _cell(row, group_at).strip()
        if not group:
            without_group += 1
            continue
        columns = values.setdefault(group, {name: [] for name in outcomes})
        for name, position in zip(outcomes, outcome_at, strict=True):
            columns[name].append(_number(_cell(row, position), name, reader.line_num, rows))
    if rows == 0:
        raise ExperimentFileRejected(f"{path} has a header but no data rows")
    if control not in values:
        raise ExperimentFileRejected(
            f"no row of {path} has {control!r} in column {group_column!r}; its groups are {_listing(values)}")
    groups = {group: {name: np.asarray(column, dtype=float) for name, column in columns.items()}
              for group, columns in values.items()}
    return ExperimentTable(groups=groups, rows=rows, rows_without_group=without_group, columns=tuple(header))


def _open(path: Path) -> tuple[_Reader, list[str]]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ExperimentFileRejected(f"cannot read {path}: {error.strerror or error}") from None
    # Same decoding as the customer import: UTF-8 with or without BOM, Latin-1 lines tolerated.
    text = decode_csv(data)
    if not text.strip():
        raise ExperimentFileRejected(f"{path} is empty")
    reader = _Reader(text, path)
    header = [name.strip() for name in next(reader)]
    return reader, header


class _Reader:
    """Iterates CSV rows and turns a malformed one into ExperimentFileRejected with its line."""

    def __init__(self, text: str, path: Path) -> None:
        self._reader = csv.reader(io.StringIO(text, newline=""))
        self._path = path

    @property
    def line_num(self) -> int:
        """Return the file line the last row ended on (quoted cells may span lines)."""
        return self._reader.line_num

    def __iter__(self) -> _Reader:
        return self

    def __next__(self) -> list[str]:
        try:
            return next(self._reader)
        except csv.Error as error:
            raise ExperimentFileRejected(f"{self._path} line {self._reader.line_num}: {error}") from None


def _positions(path: Path, header: list[str], wanted: list[str]) -> list[int]:
    absent = [name for name in wanted if name not in header]
    if absent:
        names = ", ".join(repr(name) for name in absent)
        plural = "columns" if len(absent) > 1 else "column"
        available = ", ".join(repr(name) for name in header)
        raise ExperimentFileRejected(f"{path} has no {plural} {names}; its columns are {available}")
    doubled = [name for name in wanted if header.count(name) > 1]
    if doubled:
        raise ExperimentFileRejected(f"{path} has more than one column named {doubled[0]!r}")
    return [header.index(name) for name in wanted]


def _cell(row: list[str], position: int) -> str:
    # A short row (a spreadsheet drops trailing empty cells) has empty cells at its end.
    return row[position] if position < len(row) else ""


def _number(cell: str, column: str, line: int, row: int) -> float:
    text = cell.strip()
    lowered = text.lower()
    if lowered in MISSING_SPELLINGS:
        return math.nan
    if lowered in TRUTH:
        return TRUTH[lowered]
    try:
        value = float(text)
    except ValueError:
        raise ExperimentFileRejected(
            f"column {column!r} has a value that is not a number, {text[:40]!r}, on line {line} (data row {row})"
        ) from None
    if not math.isfinite(value):
        raise ExperimentFileRejected(
            f"column {column!r} has a value that is not a finite number, {text!r}, on line {line} (data row {row})")
    return value


def _listing(values: dict[str, dict[str, list[float]]]) -> str:
    names = [repr(name) for name in values]
    shown = ", ".join(names[:GROUPS_LISTED])
    more = len(names) - GROUPS_LISTED
    return shown + (f" and {more} more" if more > 0 else "")
