"""Hot paths read profiles by primary key on SQLite, never by scanning a whole workspace.

Without statistics SQLite's planner prefers the ``(workspace_id, updated_at)`` index for
``workspace_id = ? AND id IN (…)``: every claim of a thousand customers then reads every
profile of the workspace, and a 1M-customer campaign slows to a crawl as it goes. These
tests catch the statements the claim and the projection run and ask SQLite for their plans.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from loopline.bootstrap import open_services
from loopline.config import Settings
from loopline.store.sql.tables import profiles, sends

NOW = datetime(2026, 6, 15, tzinfo=UTC)


@contextmanager
def _statements(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    caught: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        caught.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", catch)
    try:
        yield caught
    finally:
        event.remove(engine, "before_cursor_execute", catch)


def _plans_on_profiles(engine: sa.Engine, caught: list[tuple[str, Any]]) -> list[str]:
    plans = []
    with engine.connect() as conn:
        for statement, parameters in caught:
            if "FROM profiles" not in statement or not statement.lstrip().upper().startswith("SELECT"):
                continue
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plans.append(" | ".join(str(row[-1]) for row in rows))
    return plans


def test_a_claim_and_a_projection_step_read_profiles_by_primary_key(tmp_path: Path) -> None:
    services = open_services(Settings(data_dir=tmp_path))
    try:
        with services.engine.begin() as conn:
            conn.execute(profiles.insert(), [
                {"id": f"p_{n:05d}", "workspace_id": "ws_a" if n % 2 else "ws_b", "traits": {}, "trait_times": {},
                 "computed": {}, "merged_into": None, "created_at": NOW, "updated_at": NOW} for n in range(2_000)])
        wanted = [f"p_{n:05d}" for n in range(1, 400, 2)]
        with _statements(services.engine) as caught:
            _, found = services.send_ledger.peek(workspace_id="ws_a", profile_ids=[*wanted, "p_00000"], since=NOW)
            services.profiles.load_graph(workspace_id="ws_a", identifiers=[("user_id", "nobody")])
        assert sorted(found) == wanted  # the workspace still guards: p_00000 is ws_b's
        plans = _plans_on_profiles(services.engine, caught)
        assert plans, "the claim reads profiles"
        for plan in plans:
            assert "ix_profiles_workspace" not in plan, plan
            assert "SCAN profiles" not in plan, plan
    finally:
        services.close()


def test_the_overview_counts_today_s_sends_from_the_ledger_s_updated_at_index(tmp_path: Path) -> None:
    # The console asks every 15 seconds; reading every sent row of the ledger's history
    # (the state index) would grow with every day of sending.
    services = open_services(Settings(data_dir=tmp_path))
    try:
        yesterday, today = datetime(2026, 6, 14, 12, tzinfo=UTC), datetime(2026, 6, 15, 9, tzinfo=UTC)
        with services.engine.begin() as conn:
            conn.execute(sends.insert(), [
                {"send_key": f"sk_{n:04d}", "workspace_id": "ws_a", "source_kind": "campaign", "source_id": "cmp_a",
                 "profile_id": f"p_{n:04d}", "channel": "email" if n % 3 else "push", "priority": "marketing",
                 "topic": "all", "state": "sent", "created_at": at, "updated_at": at, "sent_at": at}
                for n in range(300) for at in [yesterday if n < 200 else today]])
        with _statements(services.engine) as caught:
            counted = services.overview.sent_by_channel(workspace_id="ws_a", since=NOW, until=NOW + timedelta(days=1))
        assert counted == {"email": 67, "push": 33}  # only today's hundred
        ((statement, parameters),) = [(text, values) for text, values in caught if "FROM sends" in text]
        with services.engine.connect() as conn:
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                            parameters).all())
        assert "ix_sends_changed" in plan, plan
    finally:
        services.close()
