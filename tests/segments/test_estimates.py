"""Live estimates on a large workspace: a hash-chosen share of the profiles answers, and the
interval given with the count holds the exact count."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from loopline.actions.workspaces import do_create_workspace
from loopline.api.app import create_app
from loopline.bootstrap import Runtime, build_runtime
from loopline.config import Settings
from loopline.domain.segments.definition import parse_segment
from loopline.domain.segments.estimates import scale_sample_count
from loopline.query.dialects import in_sample
from loopline.query.segments import compile_segment
from tests.conftest import ADMIN_TOKEN, basic, bearer, settle

PEOPLE = 600
DEFINITIONS = {
    "pro": {"type": "trait", "trait": "plan", "operator": "eq", "value": "pro"},
    "viewed_twice": {"type": "performed", "event": "Product Viewed", "count": {"operator": "at_least", "value": 2}},
    "viewed_not_bought": {"type": "and", "conditions": [
        {"type": "performed", "event": "Product Viewed"},
        {"type": "not", "condition": {"type": "performed", "event": "Order Completed"}}]},
    "nobody": {"type": "trait", "trait": "plan", "operator": "eq", "value": "enterprise"},
}


@pytest.fixture
def sampling_runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime that samples half of the profiles of any workspace with more than 100."""
    runtime = build_runtime(settings.model_copy(update={
        "segment_estimate_sample_above": 100, "segment_estimate_sample_percent": 50}))
    yield runtime
    runtime.services.close()


def _members(runtime: Runtime, workspace_id: str, condition: dict) -> set[str]:
    """Return everyone matching, evaluated in full."""
    compiled = compile_segment(parse_segment({"name": "x", "condition": condition}),
                               dialect=runtime.services.mart.dialect, workspace_id=workspace_id,
                               now=runtime.services.clock.now())
    return {row[0] for row in runtime.services.mart.fetch(compiled.sql, timeout_s=30)}


def _profiles(runtime: Runtime, workspace_id: str, *, percent: int | None = None) -> set[str]:
    """Return the workspace's profiles, or those in the estimate's hash sample."""
    mart = runtime.services.mart
    sampled = f" AND {in_sample(mart.dialect, 'profile_id', percent)}" if percent is not None else ""
    return {row[0] for row in mart.fetch(
        f"SELECT profile_id FROM mart_profiles WHERE workspace_id = '{workspace_id}'{sampled}", timeout_s=30)}


def test_a_large_workspace_gets_a_sampled_count_with_an_interval_around_the_truth(sampling_runtime):
    runtime = sampling_runtime
    workspace = do_create_workspace(runtime.services, name="Big shop")
    draw = random.Random(7)
    batch = []
    for n in range(PEOPLE):
        batch.append({"type": "identify", "userId": f"u{n}", "traits": {"plan": draw.choice(["pro", "free", "free"])}})
        batch += [{"type": "track", "userId": f"u{n}", "event": "Product Viewed"}] * draw.randint(0, 3)
        if draw.random() < 0.3:
            batch.append({"type": "track", "userId": f"u{n}", "event": "Order Completed"})
    with TestClient(create_app(runtime, admin_token=ADMIN_TOKEN)) as client:
        for start in range(0, len(batch), 500):
            response = client.post("/v1/batch", headers=basic(workspace.write_key),
                                   json={"batch": [dict(m, messageId=f"m{start + i}")
                                                   for i, m in enumerate(batch[start:start + 500])]})
            assert response.status_code == 200, response.text
        settle(runtime)
        secret = bearer(workspace.secret_key)
        for name, condition in DEFINITIONS.items():
            response = client.post("/api/v1/segments/estimate", headers=secret,
                                   json={"name": name, "condition": condition})
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["exact"], body["sample_percent"]) == (False, 50), name
            # Exactly the sampled profiles were evaluated, with their events: the answer is the
            # members among them, scaled up (whether the interval covers the truth is chance,
            # tested below over many draws).
            members, sample = _members(runtime, workspace.id, condition), _profiles(runtime, workspace.id, percent=50)
            expected = scale_sample_count(len(members & sample), len(sample), len(_profiles(runtime, workspace.id)))
            assert (body["count"], body["count_low"], body["count_high"]) == (
                expected.count, expected.low, expected.high), name
            shown = {uid for item in body["sample"] for uid in item["identifiers"].get("user_id", [])}
            assert len(shown) == min(10, len(members & sample)), name
            assert shown <= {f"u{n}" for n in range(PEOPLE)}
            # The same share of people answers every time: the preview does not jitter.
            again = client.post("/api/v1/segments/estimate", headers=secret,
                                json={"name": name, "condition": condition})
            assert again.json()["count"] == body["count"]


def test_a_small_workspace_gets_the_exact_count(client, runtime, workspace):
    client.post("/v1/batch", headers=basic(workspace.write_key), json={"batch": [
        {"type": "identify", "userId": f"u{n}", "traits": {"plan": "pro" if n % 3 else "free"}} for n in range(9)]})
    settle(runtime)
    body = client.post("/api/v1/segments/estimate", headers=bearer(workspace.secret_key),
                       json={"name": "pro", "condition": DEFINITIONS["pro"]}).json()
    assert (body["count"], body["count_low"], body["count_high"], body["exact"]) == (6, 6, 6, True)
    assert body["sample_percent"] is None


def test_the_interval_covers_the_truth_about_95_times_in_100():
    population, sampled, draw = 20_000, 2_000, random.Random(2026)
    for true_share in (0.003, 0.05, 0.4):
        matching = round(population * true_share)
        members = [1] * matching + [0] * (population - matching)
        covered = 0
        for _ in range(400):
            matched = sum(draw.sample(members, sampled))
            scaled = scale_sample_count(matched, sampled, population)
            covered += scaled.low <= matching <= scaled.high
        assert covered / 400 >= 0.9, (true_share, covered)


def test_what_the_sample_settles_bounds_the_interval():
    everyone = scale_sample_count(100, 100, 100)
    assert (everyone.count, everyone.low, everyone.high) == (100, 100, 100)
    some = scale_sample_count(5, 10, 1_000)
    assert some.low >= 5  # five matched for sure
    assert some.high <= 1_000 - 5  # and five did not
    assert some.low < some.count < some.high
    nothing_seen = scale_sample_count(0, 0, 50)
    assert (nothing_seen.low, nothing_seen.high) == (0, 50)
    with pytest.raises(ValueError, match="matched"):
        scale_sample_count(11, 10, 1_000)
