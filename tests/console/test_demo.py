"""``loopline demo`` creates a console login for the demo workspace and prints it, again on every run."""

from __future__ import annotations

import re

import orjson
from typer.testing import CliRunner

from loopline.actions.accounts import LoginThrottle, do_login
from loopline.cli import app as cli_app
from loopline.cli.users import account_stores
from loopline.config import Settings


def _demo(tmp_path):
    env = {"LOOPLINE_DATA_DIR": str(tmp_path / "demo"), "LOOPLINE_CONFIG_FILE": str(tmp_path / "none.toml"),
           "COLUMNS": "200"}
    result = CliRunner().invoke(cli_app, ["demo", "--customers", "20", "--days", "2", "--no-serve"], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    login = re.search(r"console:\s+(\S+)\s+e-mail:\s+(\S+)\s+password: (\S+)", result.output)
    assert login, result.output
    return login.groups()


def test_the_demo_prints_a_working_login_and_prints_it_again(tmp_path):
    url, email, password = _demo(tmp_path)
    assert url == "http://127.0.0.1:8000/console/login"
    assert email == "demo@loopline.local"
    assert _demo(tmp_path) == (url, email, password)
    settings = Settings(data_dir=tmp_path / "demo")
    with account_stores(settings) as stores:
        signed = do_login(stores, LoginThrottle(10), email=email, password=password, client="cli")
        memberships = stores.accounts.memberships_of(user_id=signed.user.id)
    marker = orjson.loads((tmp_path / "demo" / "demo.json").read_bytes())
    assert [(m.workspace_id, m.role) for m in memberships] == [(marker["id"], "admin")]


def test_a_demo_seeded_before_the_console_gets_its_login_once(tmp_path):
    _url, email, first = _demo(tmp_path)
    marker_path = tmp_path / "demo" / "demo.json"
    marker = orjson.loads(marker_path.read_bytes())
    del marker["console"]
    marker_path.write_bytes(orjson.dumps(marker))
    _url, again, second = _demo(tmp_path)
    assert again == email
    assert second != first  # the user existed: it got a new password, which is printed and kept
    assert _demo(tmp_path)[2] == second
