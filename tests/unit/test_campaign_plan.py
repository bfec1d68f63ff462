"""A campaign's plan for one customer: the keys a claim looks up first are the keys it plans with."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from loopline.domain.campaign_sends import Run, keys_of, plan
from loopline.domain.campaigns import CampaignDefinition
from loopline.domain.contact_policy import QuietHours, after_quiet_hours
from loopline.domain.control_groups import in_holdout, variant_of

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
CONTENT = {"push": {"body": "hi"}, "email": {"subject": "s", "body": "b"}}


def _run(*, every_channel: bool, splits: tuple[int, ...] = (100,)) -> Run:
    definition = CampaignDefinition.model_validate({
        "audience": {"segments": ["seg_1"]}, "channels": ["push", "email"], "every_channel": every_channel,
        "holdout_percent": 20, "variants": [
            {"name": f"V{n}", "split": split, "content": CONTENT} for n, split in enumerate(splits)]})
    return Run("ws_1", "cmp_1", definition, "", NOW)


@pytest.mark.parametrize("every_channel", [False, True])
def test_planning_with_the_looked_up_keys_plans_the_same_sends(every_channel: bool) -> None:
    run = _run(every_channel=every_channel, splits=(30, 70))
    for number in range(200):
        profile_id = f"p_{number:05d}"
        keys = keys_of(run, profile_id=profile_id)
        own = plan(run, profile_id=profile_id, time_zone="Europe/Berlin", position=number, now=NOW)
        given = plan(run, profile_id=profile_id, time_zone="Europe/Berlin", position=number, now=NOW, keys=keys)
        assert given == own
        assert [planned.intent.send_key for planned in own] == keys
        assert len(keys) == (2 if every_channel else 1)


def test_an_empty_holdout_and_a_single_variant_hold_nobody_out_and_pick_the_one_variant() -> None:
    assert not any(in_holdout(salt="cmp_1", profile_id=f"p_{n}", percent=0) for n in range(1_000))
    assert all(in_holdout(salt="cmp_1", profile_id=f"p_{n}", percent=100) for n in range(1_000))
    assert {variant_of(salt="cmp_1", profile_id=f"p_{n}", splits=[100]) for n in range(1_000)} == {0}
    with pytest.raises(ValueError, match="adding up to 100"):
        variant_of(salt="cmp_1", profile_id="p_1", splits=[90])


def test_the_end_of_quiet_hours_is_written_in_the_zone_the_moment_was_given_in() -> None:
    quiet = QuietHours(time(21), time(8), frozenset({"email"}))
    berlin, tokyo = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo")
    late = datetime(2026, 6, 15, 20, 30, tzinfo=UTC)  # 22:30 in Berlin: quiet
    in_utc = after_quiet_hours(quiet, late, berlin)
    in_berlin = after_quiet_hours(quiet, late.astimezone(berlin), berlin)  # the same instant, asked in Berlin time
    assert in_utc == in_berlin == datetime(2026, 6, 16, 6, 0, tzinfo=UTC)
    assert in_utc.tzinfo is UTC
    calm = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # 19:00 in Tokyo: not quiet, answered as asked
    assert after_quiet_hours(quiet, calm.astimezone(tokyo), tokyo).tzinfo is tokyo
    assert after_quiet_hours(quiet, calm, tokyo).tzinfo is UTC
    assert after_quiet_hours(quiet, calm, tokyo) - calm == timedelta(0)
