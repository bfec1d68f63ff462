"""Control groups and variant splits: deterministic per customer, independent per campaign, fair in size."""

from __future__ import annotations

import pytest

from loopline.domain.control_groups import in_holdout, place, variant_of

PEOPLE = [f"prof_{n:05d}" for n in range(20_000)]


def test_a_customer_stays_where_they_were_put():
    first = [in_holdout(salt="cmp_spring", profile_id=p, percent=10) for p in PEOPLE[:500]]
    again = [in_holdout(salt="cmp_spring", profile_id=p, percent=10) for p in PEOPLE[:500]]
    assert first == again
    assert place("cmp_spring", "prof_00001") == place("cmp_spring", "prof_00001")


def test_the_holdout_has_the_asked_size_and_grows_by_adding_people():
    held = {p for p in PEOPLE if in_holdout(salt="cmp_spring", profile_id=p, percent=10)}
    assert abs(len(held) / len(PEOPLE) - 0.10) < 0.01  # 20,000 draws: ±0.6 % at 3 sigma
    wider = {p for p in PEOPLE if in_holdout(salt="cmp_spring", profile_id=p, percent=20)}
    assert held < wider  # raising the share never moves a held-out customer into treatment
    assert not any(in_holdout(salt="cmp_spring", profile_id=p, percent=0) for p in PEOPLE[:1000])
    assert all(in_holdout(salt="cmp_spring", profile_id=p, percent=100) for p in PEOPLE[:1000])


def test_campaigns_draw_independently():
    spring = {p for p in PEOPLE if in_holdout(salt="cmp_spring", profile_id=p, percent=10)}
    summer = {p for p in PEOPLE if in_holdout(salt="cmp_summer", profile_id=p, percent=10)}
    both = len(spring & summer) / len(PEOPLE)
    assert abs(both - 0.01) < 0.004  # independent draws: 10 % of 10 %


def test_variants_follow_the_splits_independently_of_the_holdout():
    counts = [0, 0, 0]
    held_in_first = 0
    for p in PEOPLE:
        index = variant_of(salt="cmp_spring", profile_id=p, splits=[50, 30, 20])
        counts[index] += 1
        held_in_first += index == 0 and in_holdout(salt="cmp_spring", profile_id=p, percent=10)
    assert [round(n / len(PEOPLE), 2) for n in counts] == [0.50, 0.30, 0.20]
    assert abs(held_in_first / counts[0] - 0.10) < 0.015
    assert variant_of(salt="cmp_spring", profile_id="prof_1", splits=[100]) == 0


@pytest.mark.parametrize("splits", [[], [60, 30], [50, 60, -10], [101]])
def test_splits_must_add_up_to_a_whole(splits):
    with pytest.raises(ValueError, match="100"):
        variant_of(salt="cmp", profile_id="p", splits=splits)


def test_a_holdout_share_is_a_percentage():
    with pytest.raises(ValueError, match="percent"):
        in_holdout(salt="cmp", profile_id="p", percent=120)
