"""Properties every comparison keeps, whatever the counts or values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopline.domain.experiments import OutcomeKind, Proportion, compare, compare_proportions, summarize

# statsmodels and scipy take a few milliseconds a call; a loaded machine must not fail the test.
RELAXED = settings(deadline=None, max_examples=150)


@st.composite
def proportions(draw: st.DrawFn) -> Proportion:
    n = draw(st.integers(1, 5_000))
    return Proportion(n=n, successes=draw(st.integers(0, n)))


revenues = st.lists(st.floats(0, 10_000, allow_nan=False).map(lambda x: round(x, 2)), min_size=2, max_size=40)


@RELAXED
@given(proportions(), proportions(), st.sampled_from(["newcomb", "wald"]), st.sampled_from([0.01, 0.05, 0.1]))
def test_a_rate_lifts_interval_holds_the_estimate_and_swapping_negates_it(
    treated: Proportion, control: Proportion, method: str, alpha: float
):
    forward = compare_proportions(treated, control, method=method, alpha=alpha)  # type: ignore[arg-type]
    backward = compare_proportions(control, treated, method=method, alpha=alpha)  # type: ignore[arg-type]
    assert forward.lift is not None
    assert forward.lift_ci is not None
    assert forward.lift_ci[0] <= forward.lift <= forward.lift_ci[1]
    assert backward.lift == -forward.lift
    assert backward.lift_ci == pytest.approx((-forward.lift_ci[1], -forward.lift_ci[0]), abs=1e-12)
    assert backward.p_value == pytest.approx(forward.p_value, abs=1e-12)
    assert forward.p_value is not None
    assert 0 <= forward.p_value <= 1


@RELAXED
@given(revenues, revenues)
def test_a_mean_lifts_interval_holds_the_estimate_and_swapping_negates_it(treated: list[float], control: list[float]):
    numeric = OutcomeKind.NUMERIC  # revenue that happens to be all 0 and 1 is still revenue
    forward = compare(summarize(treated, kind=numeric), summarize(control, kind=numeric))
    backward = compare(summarize(control, kind=numeric), summarize(treated, kind=numeric))
    assert forward.lift is not None
    assert backward.lift == -forward.lift
    if forward.lift_ci is None:  # both groups constant with different means: said in the notes
        assert backward.lift_ci is None
        assert forward.notes
        return
    assert forward.lift_ci[0] <= forward.lift <= forward.lift_ci[1]
    assert backward.lift_ci == pytest.approx((-forward.lift_ci[1], -forward.lift_ci[0]), rel=1e-9, abs=1e-9)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-12)
