"""The embedded store's log is copied into its file by a thread of its own, not by the writers."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from loopline.bootstrap import WalCheckpointing, build_runtime, wal_checkpoints
from loopline.config import Settings
from loopline.store.sql.engine import WalCheckpoints, create_store_engine

NOTES = sa.Table("notes", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.Text))


def _written(tmp_path: Path, transactions: int) -> sa.Engine:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    NOTES.metadata.create_all(engine)
    for number in range(transactions):  # far fewer pages than the writers' own checkpoint limit
        with engine.begin() as conn:
            conn.execute(NOTES.insert(), {"id": number, "text": "x" * 500})
    return engine


def test_a_pass_copies_the_whole_log_into_the_file(tmp_path: Path) -> None:
    engine = _written(tmp_path, 50)
    checkpoints = WalCheckpoints(engine)
    checkpoints.run_once()
    frames, copied = checkpoints.last
    assert frames >= 50  # a page or more per transaction
    assert copied == frames
    checkpoints.close()
    engine.dispose()


def test_the_thread_checkpoints_while_writers_write_and_stops_with_its_connection(tmp_path: Path) -> None:
    engine = _written(tmp_path, 1)
    thread = WalCheckpointing(WalCheckpoints(engine), interval=0.01)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        for number in range(1, 40):
            with engine.begin() as conn:
                conn.execute(NOTES.insert(), {"id": number, "text": "y" * 500})
        while thread.checkpoints.last[1] < 40:
            assert time.monotonic() < deadline, f"the log was never checkpointed: {thread.checkpoints.last}"
            time.sleep(0.01)
    finally:
        thread.stop()
    assert not thread._thread.is_alive()
    assert thread.checkpoints._conn is None
    engine.dispose()


def test_a_server_runs_the_thread_on_sqlite_only_and_not_when_switched_off(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path / "on"))
    try:
        assert isinstance(runtime.checkpoints, WalCheckpointing)
    finally:
        runtime.stop()
    off = build_runtime(Settings(data_dir=tmp_path / "off", sqlite_checkpoint_interval_s=0))
    try:
        assert off.checkpoints is None
        assert wal_checkpoints(off.services) is None
    finally:
        off.stop()
    elsewhere = WalCheckpoints(sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    elsewhere.run_once()  # nothing to do, and nothing is connected
    assert elsewhere.last == (0, 0)
