"""``loopline analyze experiment``: readable output, JSON, and one clear line for every bad input.

The error cases run the command line's own entry point in this process (``main()`` is what
the installed ``loopline`` script calls); one of them also runs the installed script as a
separate process, so what a user sees is proven end to end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from loopline.cli import main

SUBPROCESS_TIMEOUT_S = 300
SMALL = (
    "customer,arm,visited,revenue\n"
    "1,control,0,0\n"
    "2,control,1,12.5\n"
    "3,control,0,\n"           # revenue not recorded: a missing cell
    "4,variant A,1,30\n"
    "5,variant A,1,NA\n"       # another spelling of a missing cell
    "6,variant A,0,0\n"
    "7,,1,5\n"                 # no group: left out, and said so
    "8,control,1,4\n"
    "9,variant A,1,22.0\n"
)


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``loopline ARGS`` through its entry point; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["loopline", *args])
    try:
        main()
        code = 0
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else int(leaving.code is not None)
    out, err = capsys.readouterr()
    return code, out, err


def experiment(path: Path, *extra: str) -> list[str]:
    return ["analyze", "experiment", str(path), "--group-column", "arm", "--control", "control", *extra]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.csv"
    path.write_text(SMALL, encoding="utf-8")
    return path


def test_json_has_every_group_with_missing_cells_counted(monkeypatch, capsys, small: Path):
    code, out, err = run(monkeypatch, capsys, *experiment(small, "--outcome", "visited", "--outcome", "revenue",
                                                         "--json"))
    assert (code, err) == (0, "")
    data = orjson.loads(out)
    assert data["control"] == "control"
    assert (data["rows"], data["rows_without_group"]) == (9, 1)
    control, variant = data["groups"]
    assert (control["group"], control["n"], variant["group"], variant["n"]) == ("control", 4, "variant A", 4)
    assert control["outcomes"]["visited"]["value"] == 0.5
    assert control["outcomes"]["visited"]["lift"] is None
    assert variant["outcomes"]["visited"]["value"] == 0.75
    assert variant["outcomes"]["visited"]["lift"] == pytest.approx(0.25)
    assert variant["outcomes"]["visited"]["kind"] == "binary"
    revenue = variant["outcomes"]["revenue"]
    assert (revenue["kind"], revenue["n"], revenue["missing"]) == ("numeric", 3, 1)
    assert revenue["value"] == pytest.approx(52 / 3)
    assert revenue["lift"] == pytest.approx(52 / 3 - 16.5 / 3)
    assert control["outcomes"]["revenue"]["missing"] == 1


def test_the_table_and_chart_are_readable(monkeypatch, capsys, small: Path):
    code, out, _ = run(monkeypatch, capsys, *experiment(small, "--outcome", "visited", "--outcome", "revenue"))
    assert code == 0
    assert "2 groups, 9 rows; control group control; 95% confidence intervals" in out
    assert "visited (rate per customer)" in out
    assert "revenue (mean per customer)" in out
    assert "50.00 %" in out
    assert "+25.00 pp" in out
    assert "whiskers at the 95% confidence interval" in out
    assert "█" in out
    assert "├" in out
    assert "┤" in out
    assert "1 rows have no value in 'arm' and were left out" in out
    assert "2 empty cells in 'revenue' were left out (control 1, variant A 1)" in out


def test_numeric_forces_a_zero_one_column_to_be_a_mean(monkeypatch, capsys, small: Path):
    code, out, _ = run(monkeypatch, capsys, *experiment(small, "--outcome", "visited", "--numeric", "visited",
                                                         "--json"))
    assert code == 0
    assert orjson.loads(out)["groups"][1]["outcomes"]["visited"]["kind"] == "numeric"


def test_alpha_sets_the_interval_level(monkeypatch, capsys, small: Path):
    code, out, _ = run(monkeypatch, capsys, *experiment(small, "--outcome", "visited", "--alpha", "0.1", "--json"))
    assert code == 0
    assert orjson.loads(out)["ci_level"] == pytest.approx(0.9)


BAD_FILES = {
    "empty.csv": "",
    "header.csv": "customer,arm,visited,revenue\n",
    "words.csv": "customer,arm,visited,revenue\n1,control,1,3\n2,control,yes,4\n",
    "infinite.csv": "customer,arm,visited,revenue\n1,control,1,inf\n",
    "no-control.csv": "customer,arm,visited\n1,A,1\n2,B,0\n",
}


@pytest.mark.parametrize(("file", "args", "message"), [
    ("absent.csv", ("--outcome", "visited"), "cannot read {path}: No such file or directory"),
    ("empty.csv", ("--outcome", "visited"), "{path} is empty"),
    ("header.csv", ("--outcome", "visited"), "{path} has a header but no data rows"),
    ("small.csv", ("--outcome", "bought", "--outcome", "spend"),
     "{path} has no columns 'bought', 'spend'; its columns are 'customer', 'arm', 'visited', 'revenue'"),
    ("words.csv", ("--outcome", "visited"),
     "column 'visited' has a value that is not a number, 'yes', on line 3 (data row 2)"),
    ("infinite.csv", ("--outcome", "revenue"),
     "column 'revenue' has a value that is not a finite number, 'inf', on line 2 (data row 1)"),
    ("no-control.csv", ("--outcome", "visited"),
     "no row of {path} has 'control' in column 'arm'; its groups are 'A', 'B'"),
    ("small.csv", ("--outcome", "arm"), "'arm' is the group column; it cannot be an outcome too"),
    ("small.csv", ("--outcome", "visited", "--numeric", "revenue"),
     "--numeric 'revenue' is not one of the --outcome columns"),
    ("small.csv", ("--outcome", "visited", "--alpha", "1.5"), "--alpha is a probability between 0 and 1, got 1.5"),
])
def test_bad_input_is_one_clear_line_and_exit_code_one(monkeypatch, capsys, tmp_path: Path, small: Path,
                                                        file: str, args: tuple[str, ...], message: str):
    path = tmp_path / file
    if file in BAD_FILES:
        path.write_text(BAD_FILES[file], encoding="utf-8")
    code, out, err = run(monkeypatch, capsys, *experiment(path, *args))
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert err.strip().splitlines() == [f"error: {message.format(path=path)}"]


def test_the_installed_command_reports_an_error_in_one_line(tmp_path: Path):
    beside = Path(sys.executable).with_name("loopline")
    command = [str(beside) if beside.exists() else "loopline",
               *experiment(tmp_path / "absent.csv", "--outcome", "visited")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    expected = f"error: cannot read {tmp_path / 'absent.csv'}: No such file or directory"
    assert done.stderr.strip().splitlines() == [expected]
