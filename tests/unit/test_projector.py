"""The projector yields to ingest only while ingest is saturated."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopline.actions import projection
from loopline.bootstrap import build_runtime
from loopline.config import Settings


@pytest.mark.parametrize(("pressure", "yields"), [(1.0, True), (0.99, False), (0.0, False)])
def test_the_projector_pauses_only_under_saturation(tmp_path: Path, monkeypatch, pressure, yields):
    runtime = build_runtime(Settings(data_dir=tmp_path, projection_cpu_share=0.1))
    projector = runtime.projector
    projector.watch_pressure(lambda: pressure)
    monkeypatch.setattr(projection, "do_project_once", lambda services, limit: 100)
    pauses: list[float] = []
    monkeypatch.setattr(projector._stopping, "wait", lambda timeout=None: pauses.append(timeout) or False)
    clock = iter([10.0, 11.0])  # the step takes one second
    monkeypatch.setattr(projection.time, "monotonic", lambda: next(clock))
    assert projector._step() is True
    # A 10 % share: nine seconds of pause for each second spent projecting.
    assert pauses == ([9.0] if yields else [])
    runtime.services.events.close()
    runtime.services.engine.dispose()
