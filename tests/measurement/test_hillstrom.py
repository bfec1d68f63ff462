"""A real randomized experiment, Hillstrom's e-mail test, must come out exactly as published.

64,000 customers were split at random into a men's e-mail, a women's e-mail and a no-e-mail
control group (``../shared/data/README.md`` beside the project root has the published table).
The figures are checked at their published rounding, through the domain functions (raw
arrays and SQL-style sums, the campaign report's path) and through ``loopline analyze
experiment --json``, the user's path; all three must agree.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from loopline.domain.experiments import ExperimentResult, Mean, OutcomeKind, Proportion, analyze, analyze_arrays

ROOT = Path(__file__).resolve().parents[2]
# The data set is shared with the product brief in ../shared/data beside the project root;
# a compressed copy travels with the tests so that a clone alone can run them, and it must
# be the same file byte for byte.
SHARED_DATA_ENV = "LOOPLINE_SHARED_DATA"
COPY = ROOT / "tests" / "data" / "hillstrom.csv.gz"
SHA256 = "997b3f280114df97d1f5a5db75a8a369c4f45add5535d2781b2b5d1eeea43563"
CONTROL = "No E-Mail"
OUTCOMES = ("visit", "conversion", "spend")
# The README's table: customers, visit rate, conversion rate, spend per customer.
PUBLISHED = {
    "Mens E-Mail": (21_307, "18.28", "1.25", "1.42"),
    "Womens E-Mail": (21_387, "15.14", "0.88", "1.08"),
    "No E-Mail": (21_306, "10.62", "0.57", "0.65"),
}
# Lift over the control in percentage points: visits, conversion.
PUBLISHED_LIFTS = {"Mens E-Mail": ("+7.66", "+0.68"), "Womens E-Mail": ("+4.52", "+0.31")}
CLI_TIMEOUT_S = 300


def hillstrom_csv() -> Path:
    """Return the data file: the shared one where it is, else the tests' own copy, unpacked once."""
    folder = os.environ.get(SHARED_DATA_ENV)
    shared = Path(folder) / "hillstrom.csv" if folder else ROOT.parent / "shared" / "data" / "hillstrom.csv"
    if shared.is_file():
        return shared
    unpacked = Path(tempfile.gettempdir()) / f"loopline-hillstrom-{SHA256[:12]}.csv"
    if not unpacked.is_file():
        partial = unpacked.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(gzip.decompress(COPY.read_bytes()))
        partial.replace(unpacked)  # atomic: parallel workers never read half a file
    return unpacked


def test_the_copy_is_the_shared_data_set():
    assert hashlib.sha256(gzip.decompress(COPY.read_bytes())).hexdigest() == SHA256
    assert hashlib.sha256(hillstrom_csv().read_bytes()).hexdigest() == SHA256


def read_columns() -> dict[str, dict[str, np.ndarray]]:
    """Read the file with the standard library alone, independently of the CLI's reader."""
    values: dict[str, dict[str, list[float]]] = {}
    with hillstrom_csv().open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            group = values.setdefault(row["segment"], {name: [] for name in OUTCOMES})
            for name in OUTCOMES:
                group[name].append(float(row[name]))
    return {group: {name: np.array(column) for name, column in columns.items()} for group, columns in values.items()}


@pytest.fixture(scope="module")
def columns() -> dict[str, dict[str, np.ndarray]]:
    return read_columns()


@pytest.fixture(scope="module")
def result(columns: dict[str, dict[str, np.ndarray]]) -> ExperimentResult:
    return analyze_arrays(columns, control=CONTROL)


def percent(value: float | None) -> str:
    assert value is not None
    return f"{value * 100:.2f}"


def test_the_published_table_comes_out_at_its_rounding(result: ExperimentResult):
    assert next(group.group for group in result.groups) == CONTROL
    for name, (customers, visit, conversion, spend) in PUBLISHED.items():
        group = result.group(name)
        assert group.n == customers
        assert percent(group.outcomes["visit"].value) == visit
        assert percent(group.outcomes["conversion"].value) == conversion
        assert f"{group.outcomes['spend'].value:.2f}" == spend
        assert {o.kind for o in group.outcomes.values()} == {OutcomeKind.BINARY, OutcomeKind.NUMERIC}
        assert group.outcomes["spend"].kind is OutcomeKind.NUMERIC


def test_the_published_lifts_come_out_and_both_visit_lifts_are_highly_significant(result: ExperimentResult):
    for name, (visit_lift, conversion_lift) in PUBLISHED_LIFTS.items():
        visit, conversion = result.group(name).outcomes["visit"], result.group(name).outcomes["conversion"]
        assert visit.lift is not None
        assert conversion.lift is not None
        assert f"{visit.lift * 100:+.2f}" == visit_lift
        assert f"{conversion.lift * 100:+.2f}" == conversion_lift
        assert visit.p_value is not None
        assert visit.p_value < 0.001
        assert visit.significant is True
        assert visit.lift_ci is not None
        assert 0 < visit.lift_ci[0] < visit.lift < visit.lift_ci[1]
    control = result.group(CONTROL).outcomes["visit"]
    assert (control.lift, control.lift_ci, control.relative_lift, control.p_value) == (None, None, None, None)


def test_sums_as_sql_would_give_them_produce_the_same_report(columns, result: ExperimentResult):
    """Campaign reports aggregate in SQL (count, sum, sum of squares); the numbers must not move."""
    summaries: dict[str, dict[str, Proportion | Mean]] = {}
    for group, values in columns.items():
        visit, conversion, spend = (values[name] for name in OUTCOMES)
        n, total, squares = len(spend), float(spend.sum()), float((spend**2).sum())
        summaries[group] = {
            "visit": Proportion(n=len(visit), successes=int(visit.sum())),
            "conversion": Proportion(n=len(conversion), successes=int(conversion.sum())),
            "spend": Mean(n=n, mean=total / n, variance=(squares - total**2 / n) / (n - 1)),
        }
    from_sums = analyze(summaries, control=CONTROL).as_json()
    assert_same_report(from_sums, result.as_json(), tolerance=1e-9)


def test_the_command_prints_the_same_figures_as_json(result: ExperimentResult):
    beside = Path(sys.executable).with_name("loopline")
    command = [str(beside) if beside.exists() else "loopline", "analyze", "experiment", str(hillstrom_csv()),
               "--group-column", "segment", "--control", CONTROL, *(arg for name in OUTCOMES
                                                                    for arg in ("--outcome", name)), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    printed = orjson.loads(done.stdout)
    # The documented shape: {"control", "groups": [{"group", "n", "outcomes": {name: {...}}}]}.
    assert printed["control"] == CONTROL
    documented = {"value", "lift", "lift_ci", "relative_lift", "p_value"}
    for group in printed["groups"]:
        assert {"group", "n", "outcomes"} <= group.keys()
        assert set(group["outcomes"]) == set(OUTCOMES)
        for outcome in group["outcomes"].values():
            assert documented <= outcome.keys()
    control = printed["groups"][0]
    assert control["group"] == CONTROL
    assert all(control["outcomes"][name][key] is None for name in OUTCOMES for key in documented - {"value"})
    by_name = {group["group"]: group for group in printed["groups"]}
    for name, (customers, visit, conversion, spend) in PUBLISHED.items():
        outcomes = by_name[name]["outcomes"]
        assert by_name[name]["n"] == customers
        assert (percent(outcomes["visit"]["value"]), percent(outcomes["conversion"]["value"])) == (visit, conversion)
        assert f"{outcomes['spend']['value']:.2f}" == spend
    for name, (visit_lift, conversion_lift) in PUBLISHED_LIFTS.items():
        outcomes = by_name[name]["outcomes"]
        assert f"{outcomes['visit']['lift'] * 100:+.2f}" == visit_lift
        assert f"{outcomes['conversion']['lift'] * 100:+.2f}" == conversion_lift
        assert outcomes["visit"]["p_value"] < 0.001
    # The same code computes both: the command's numbers are the domain's, bit for bit.
    assert_same_report({k: v for k, v in printed.items() if k not in {"rows", "rows_without_group"}},
                       result.as_json(), tolerance=0)
    assert (printed["rows"], printed["rows_without_group"]) == (64_000, 0)


def assert_same_report(actual: Any, expected: Any, *, tolerance: float) -> None:
    """Compare two JSON reports, numbers to a relative ``tolerance``."""
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys()
        for key in expected:
            assert_same_report(actual[key], expected[key], tolerance=tolerance)
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for left, right in zip(actual, expected, strict=True):
            assert_same_report(left, right, tolerance=tolerance)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=tolerance, abs=tolerance)
    else:
        assert actual == expected
