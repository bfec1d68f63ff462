"""Which touches are a media buy's, and which conversions it is credited with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loopline.domain.media_buys import (
    FIRST_TOUCH,
    LAST_TOUCH,
    MediaCosts,
    Touch,
    Utm,
    credited,
    matches,
    media_economics,
)

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
WEEK = timedelta(days=7)


def test_a_touch_matches_the_tags_the_buy_names_ignoring_case() -> None:
    utm = Utm(campaign="Summer-Sale", source="instagram")
    assert matches(utm, name="summer-sale", source="Instagram", medium=None)
    assert matches(utm, name=" SUMMER-SALE ", source="instagram ", medium="cpc")  # medium not named: any
    assert not matches(utm, name="summer-sale", source="facebook", medium=None)
    assert not matches(utm, name="summer-sale", source=None, medium=None)
    assert not matches(utm, name=None, source="instagram", medium=None)
    assert not matches(Utm(campaign="a", medium="cpc"), name="a", source=None, medium="email")


def test_last_and_first_touch_among_the_touches_within_the_window() -> None:
    ours, theirs = Touch(T0, ours=True), Touch(T0 + timedelta(days=1), ours=False)
    order = T0 + timedelta(days=2)
    assert not credited([ours, theirs], order, WEEK, LAST_TOUCH)
    assert credited([ours, theirs], order, WEEK, FIRST_TOUCH)
    assert credited([theirs, ours], order, WEEK, FIRST_TOUCH)  # order of the list does not matter
    # A touch older than the window is forgotten: then ours is the first touch.
    old = Touch(T0 - 2 * WEEK, ours=False)
    assert credited([old, ours], order, WEEK, FIRST_TOUCH)
    # Touches after the conversion do not count; nor does a conversion past every window.
    assert credited([ours, Touch(order + timedelta(hours=1), ours=False)], order, WEEK, LAST_TOUCH)
    assert not credited([ours], T0 + 2 * WEEK, WEEK, LAST_TOUCH)
    assert not credited([], order, WEEK, LAST_TOUCH)
    # A tie with another touch at the same instant is not the buy's.
    assert not credited([ours, Touch(T0, ours=False)], order, WEEK, LAST_TOUCH)


def test_costs_add_up_and_empty_ratios_are_none() -> None:
    costs = MediaCosts(fixed=100, per_click=0.5, per_thousand_impressions=4, impressions=2_000)
    figures = media_economics(costs, responses=10, converted=2, revenue=150)
    assert figures["cost"] == 100 + 5 + 8
    assert figures["cost_per_response"] == 11.3
    assert figures["cost_per_conversion"] == 56.5
    assert figures["roi"] == (150 - 113) / 113
    assert figures["response_rate"] == 10 / 2_000
    none = media_economics(MediaCosts(), responses=0, converted=0, revenue=0)
    assert none["cost_per_response"] is None
    assert none["cost_per_conversion"] is None
    assert none["roi"] is None
    assert none["response_rate"] is None
