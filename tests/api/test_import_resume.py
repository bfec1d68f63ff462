"""A CSV import interrupted half-way resumes from its durable cursor and duplicates nothing."""

from __future__ import annotations

import pytest

from loopline.actions import imports
from loopline.actions.imports import do_import_customers


def test_an_interrupted_import_resumes_where_it_stopped(runtime, workspace, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 10)
    rows = "".join(f"c-{i},c{i}@example.com,Name{i}\n" for i in range(35))
    data = ("user_id,email,first_name\n" + rows).encode()
    runtime.writer.start()
    try:
        real_commit = runtime.pipeline.commit_sync
        calls = {"n": 0}

        def crash_on_third_chunk(records, outcome):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("worker killed")
            return real_commit(records, outcome)

        monkeypatch.setattr(runtime.pipeline, "commit_sync", crash_on_third_chunk)
        with pytest.raises(RuntimeError):
            do_import_customers(runtime.services, runtime.pipeline, workspace_id=workspace.id,
                                data=data, filename="people.csv")
        assert runtime.services.events.count(workspace_id=workspace.id) == 20
        monkeypatch.setattr(runtime.pipeline, "commit_sync", real_commit)
        report = do_import_customers(runtime.services, runtime.pipeline, workspace_id=workspace.id,
                                     data=data, filename="people.csv")
        assert report.resumed_from == 20
        assert report.rows_imported == 35
        assert runtime.services.events.count(workspace_id=workspace.id) == 35
        runtime.projector.catch_up()
        assert runtime.services.lookups.count_profiles(workspace_id=workspace.id) == 35
    finally:
        runtime.writer.stop()
