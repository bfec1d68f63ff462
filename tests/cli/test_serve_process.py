"""What ``loopline serve`` does to its own process before it serves."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import loopline.cli.serve as serve
from loopline.bootstrap import YOUNG_COLLECTION_EVERY
from loopline.config import Settings
from loopline.serverfile import NAME as SERVER_FILE


def test_the_server_freezes_what_start_up_built_before_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, int] = {}

    def fake_run(app: object, **options: object) -> None:
        seen["frozen"], seen["young"] = gc.get_freeze_count(), gc.get_threshold()[0]

    monkeypatch.setattr(serve.uvicorn, "run", fake_run)
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        serve.run_server(Settings(data_dir=tmp_path), host="127.0.0.1", port=1)
    finally:
        gc.unfreeze()  # the rest of this test process collects as usual
        gc.set_threshold(*thresholds)
    # Start-up's objects (modules, engines, the app) are out of the collector's passes.
    assert seen["frozen"] > 10_000
    assert seen["young"] == YOUNG_COLLECTION_EVERY
    assert not (tmp_path / SERVER_FILE).exists()
