"""Small, empty and degenerate groups: every case has an answer, and undefined figures say why."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loopline.domain.experiments import (
    ExperimentError,
    Mean,
    OutcomeKind,
    Proportion,
    analyze,
    analyze_arrays,
    compare,
    compare_means,
    compare_proportions,
    detect_kind,
    summarize,
)

DOCUMENTED = {"value", "lift", "lift_ci", "relative_lift", "p_value"}


def test_a_control_value_no_group_has_is_a_clear_error():
    with pytest.raises(ExperimentError, match=r"control group 'holdout' is not among the groups \('a', 'b'\)"):
        analyze_arrays({"a": {"y": [1, 0]}, "b": {"y": [0, 0]}}, control="holdout")


def test_an_empty_treatment_group_has_no_value_and_no_lift():
    result = compare_proportions(Proportion(n=0, successes=0), Proportion(n=10, successes=3))
    assert (result.value, result.lift, result.lift_ci, result.p_value, result.significant) == (None,) * 5
    assert "no values in this group" in result.notes


def test_an_empty_control_group_leaves_every_lift_undefined():
    result = analyze_arrays({"control": {"y": [], "r": []}, "b": {"y": [1, 0, 1], "r": [2.0, 3.0, 4.0]}},
                            control="control", kinds={"r": OutcomeKind.NUMERIC})
    treated = result.group("b")
    assert treated.n == 3
    for outcome in treated.outcomes.values():
        assert outcome.value is not None
        assert (outcome.lift, outcome.lift_ci, outcome.relative_lift, outcome.p_value) == (None,) * 4
        assert "no values in the control group: nothing to compare" in outcome.notes
    assert result.group("control").n == 0


def test_groups_of_one_give_a_rate_and_a_test_but_no_revenue_interval():
    binary = compare_proportions(Proportion(n=1, successes=1), Proportion(n=1, successes=0))
    assert binary.lift == 1.0
    assert binary.p_value is not None
    assert 0 < binary.p_value < 1
    assert binary.lift_ci is not None
    assert binary.lift_ci[0] <= 1.0 <= binary.lift_ci[1]
    numeric = compare_means(Mean(n=1, mean=5.0, variance=math.nan), Mean(n=1, mean=3.0, variance=math.nan))
    assert numeric.lift == 2.0
    assert (numeric.lift_ci, numeric.p_value, numeric.value_ci) == (None, None, None)
    assert any("control group" in note for note in numeric.notes)
    assert any("one value in this group" in note for note in numeric.notes)


def test_all_zeros_means_no_relative_lift_and_a_p_value_of_one():
    """No customer in either group converted: the lift is exactly 0, p is 1 (as Fisher's exact test)."""
    result = compare_proportions(Proportion(n=500, successes=0), Proportion(n=400, successes=0))
    assert result.value == 0.0
    assert result.lift == 0.0
    assert result.relative_lift is None
    assert result.p_value == 1.0
    assert result.significant is False
    assert result.sample_size_needed is None
    assert result.lift_ci is not None
    assert result.lift_ci[0] < 0 < result.lift_ci[1]  # Newcomb's interval still says how little we know
    assert "the control's value is 0: the relative lift is undefined" in result.notes
    assert "no variation in either group: the rates are equal, p-value 1" in result.notes


def test_all_ones_in_both_groups_is_no_difference_either():
    result = compare_proportions(Proportion(n=20, successes=20), Proportion(n=30, successes=30))
    assert (result.lift, result.relative_lift, result.p_value, result.significant) == (0.0, 0.0, 1.0, False)


def test_a_control_rate_of_zero_still_has_a_test():
    result = compare_proportions(Proportion(n=100, successes=9), Proportion(n=100, successes=0))
    assert result.relative_lift is None
    assert result.p_value is not None
    assert result.p_value < 0.01
    assert result.significant is True


def test_constant_revenue_in_both_groups():
    same = compare(summarize([4.0, 4.0, 4.0]), summarize([4.0, 4.0]))
    assert (same.lift, same.lift_ci, same.p_value, same.significant) == (0.0, (0.0, 0.0), 1.0, False)
    apart = compare(summarize([5.0, 5.0, 5.0]), summarize([4.0, 4.0]))
    assert apart.lift == 1.0
    assert (apart.lift_ci, apart.p_value, apart.significant) == (None, None, None)
    assert "no variation within either group: Welch's t-test is undefined" in apart.notes


def test_a_variance_rounded_below_zero_by_sql_sums_is_zero():
    values = [0.1, 0.1, 0.1]
    total, squares = sum(values), sum(x * x for x in values)
    rounded = (squares - total**2 / 3) / 2
    assert rounded < 0  # what the sum-of-squares formula gives for three equal amounts
    assert Mean(n=3, mean=total / 3, variance=rounded).variance == 0.0
    with pytest.raises(ExperimentError, match="variance"):
        Mean(n=3, mean=0.1, variance=-0.5)


def test_missing_cells_are_counted_not_dropped_silently():
    summary = summarize([1, math.nan, 0, math.nan, 1])
    assert summary == Proportion(n=3, successes=2, missing=2)
    result = analyze_arrays({"c": {"y": [0, 0, 1, math.nan]}, "t": {"y": [1, math.nan, math.nan]}}, control="c")
    assert (result.group("c").n, result.group("t").n) == (4, 3)
    treated = result.group("t").outcomes["y"]
    assert (treated.n, treated.missing, treated.value) == (1, 2, 1.0)
    assert result.as_json()["groups"][1]["outcomes"]["y"]["missing"] == 2


def test_the_kind_comes_from_all_groups_together_or_from_the_caller():
    assert detect_kind([0, 1, math.nan], [1, 1]) is OutcomeKind.BINARY
    assert detect_kind([0, 1], [0, 2.5]) is OutcomeKind.NUMERIC
    # One group of 0/1 spend beside a group spending 2.5: both are numeric, not binary and numeric.
    result = analyze_arrays({"c": {"spend": [0, 1, 0]}, "t": {"spend": [0, 2.5, 1]}}, control="c")
    assert {group.outcomes["spend"].kind for group in result.groups} == {OutcomeKind.NUMERIC}
    forced = analyze_arrays({"c": {"y": [0, 1, 0]}, "t": {"y": [1, 1, 0]}}, control="c",
                            kinds={"y": OutcomeKind.NUMERIC})
    assert forced.group("t").outcomes["y"].kind is OutcomeKind.NUMERIC
    with pytest.raises(ExperimentError, match="a binary outcome holds only 0 and 1"):
        summarize([0, 2], kind=OutcomeKind.BINARY)


def test_data_that_contradicts_itself_is_refused():
    with pytest.raises(ExperimentError, match="successes <= n"):
        Proportion(n=3, successes=4)
    with pytest.raises(ExperimentError, match="finite"):
        summarize([1.0, math.inf])
    with pytest.raises(ExperimentError, match="cannot compare a binary outcome with a numeric one"):
        compare(Proportion(n=2, successes=1), Mean(n=2, mean=1.0, variance=0.5))
    with pytest.raises(ExperimentError, match="'t' measures"):
        analyze({"c": {"y": Proportion(n=2, successes=1)}, "t": {"z": Proportion(n=2, successes=1)}}, control="c")
    with pytest.raises(ExperimentError, match="alpha"):
        analyze({"c": {"y": Proportion(n=2, successes=1)}}, control="c", alpha=1.5)
    with pytest.raises(ExperimentError, match="one-dimensional"):
        summarize(np.ones((2, 2)))


def test_the_json_has_the_documented_shape_and_null_lifts_for_the_control():
    result = analyze({"c": {"y": Proportion(n=100, successes=10)}, "t": {"y": Proportion(n=100, successes=20)}},
                     control="c", sizes={"c": 100, "t": 101})
    data = result.as_json()
    assert data["control"] == "c"
    assert [(g["group"], g["n"]) for g in data["groups"]] == [("c", 100), ("t", 101)]
    control, treated = (g["outcomes"]["y"] for g in data["groups"])
    assert control.keys() >= DOCUMENTED
    assert {key: control[key] for key in DOCUMENTED - {"value"}} == dict.fromkeys(DOCUMENTED - {"value"})
    assert control["value"] == 0.1
    assert treated["lift"] == pytest.approx(0.1)
    assert isinstance(treated["lift_ci"], list)
    assert len(treated["lift_ci"]) == 2
    assert treated["relative_lift"] == pytest.approx(1.0)
    assert 0 < treated["p_value"] < 0.05
    assert (data["alpha"], data["ci_level"]) == (0.05, 0.95)
