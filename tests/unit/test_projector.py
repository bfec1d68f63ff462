"""The projector yields to ingest only while ingest is saturated."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopline.actions import projection
from loopline.actions.merges import do_unmerge
from loopline.actions.profiles import get_profile_view
from loopline.actions.workspaces import do_create_workspace
from loopline.bootstrap import build_runtime
from loopline.config import Settings


@pytest.mark.parametrize(("pressure", "yields"), [(1.0, True), (0.99, False), (0.0, False)])
def test_the_projector_pauses_only_under_saturation(tmp_path: Path, monkeypatch, pressure, yields):
    runtime = build_runtime(Settings(data_dir=tmp_path, projection_cpu_share=0.1))
    projector = runtime.projector
    projector.watch_pressure(lambda: pressure)
    projector.after_each_step(lambda _: None)  # the step below projects nothing real
    step = projection.ProjectedSlice(0, [None] * 100)  # type: ignore[list-item]
    monkeypatch.setattr(projection, "do_project_next", lambda services, limit: step)
    pauses: list[float] = []
    monkeypatch.setattr(projector._stopping, "wait", lambda timeout=None: pauses.append(timeout) or False)
    clock = iter([10.0, 11.0])  # the step takes one second
    monkeypatch.setattr(projection.time, "monotonic", lambda: next(clock))
    assert projector._step() is True
    # A 10 % share: nine seconds of pause for each second spent projecting.
    assert pauses == ([9.0] if yields else [])
    runtime.services.close()


def _merge_batch(anonymous_id: str, user_id: str) -> dict[str, object]:
    return {"batch": [
        {"type": "track", "anonymousId": anonymous_id, "event": "Application Opened",
         "context": {"device": {"id": f"{anonymous_id}-device", "type": "ios", "token": f"{anonymous_id}-token"}}},
        {"type": "track", "userId": user_id, "event": "Order Completed", "properties": {"revenue": 10}},
        {"type": "identify", "userId": user_id, "anonymousId": anonymous_id, "traits": {"plan": "pro"}},
    ]}


@pytest.mark.parametrize(("pressure", "gathering"), [(0.0, 0.0), (0.5, 0.0), (0.75, 0.125), (1.0, 0.25), (3.0, 0.25)])
def test_the_projector_gathers_events_only_as_ingest_nears_saturation(tmp_path: Path, pressure, gathering):
    runtime = build_runtime(Settings(data_dir=tmp_path, projection_interval_ms=250))
    runtime.projector.watch_pressure(lambda: pressure)
    # Light traffic reaches profiles (and journey triggers) at once; a burst is projected in big steps.
    assert runtime.projector.gathering_s() == pytest.approx(gathering)
    runtime.services.close()


def test_one_slice_with_merges_in_two_workspaces_keeps_devices_on_the_survivor(tmp_path: Path):
    # Both workspaces' merges are projected in one step: each needs its own merge id, and a
    # device first seen on the merged-away profile must follow it to the survivor.
    runtime = build_runtime(Settings(data_dir=tmp_path))
    services = runtime.services
    try:
        shops = [do_create_workspace(services, name=name) for name in ("One", "Two")]
        for shop in shops:
            records, _ = runtime.pipeline.prepare(
                workspace_id=shop.id, payload=_merge_batch("tablet", "u-parent"), kind=None,
                received_at=services.clock.now())
            services.events.append(records)
        assert projection.do_project_once(services) == 6
        for shop in shops:
            view = get_profile_view(services, workspace_id=shop.id, reference="u-parent")
            assert "tablet-device" in [device["device_id"] for device in view["devices"]]
            (merge,) = view["merges"]
            do_unmerge(services, workspace_id=shop.id, merge_id=merge["id"])
            kid = get_profile_view(services, workspace_id=shop.id, reference="tablet")
            assert "tablet-device" in [device["device_id"] for device in kid["devices"]]
            parent = get_profile_view(services, workspace_id=shop.id, reference="u-parent")
            assert "tablet-device" not in [device["device_id"] for device in parent["devices"]]
    finally:
        services.close()
