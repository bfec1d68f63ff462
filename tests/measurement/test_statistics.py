"""The statistics against independent computations: the textbook formulas, written out here.

Normal quantiles come from the standard library (``statistics.NormalDist``), not from the
code under test; only the t distribution's quantiles come from scipy. Every figure must
agree to 1e-9.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy import stats

from loopline.domain.experiments import (
    Mean,
    OutcomeKind,
    Proportion,
    compare,
    compare_means,
    compare_proportions,
    describe,
    summarize,
)

TOLERANCE = 1e-9
# A treatment converting 45 of 200, a control 30 of 210.
TREATED, CONTROL = Proportion(n=200, successes=45), Proportion(n=210, successes=30)
# Revenue per customer in two small groups of different size and spread.
REVENUE_T = np.array([12.5, 0.0, 7.25, 31.0, 0.0, 18.4, 9.99, 0.0, 22.1, 5.5, 14.0])
REVENUE_C = np.array([3.0, 0.0, 11.2, 0.0, 6.75, 2.5, 0.0, 9.0])


def z(alpha: float = 0.05) -> float:
    return NormalDist().inv_cdf(1 - alpha / 2)


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson's score interval for one proportion."""
    p, q = successes / n, z(alpha)
    centre = (p + q * q / (2 * n)) / (1 + q * q / n)
    half = q / (1 + q * q / n) * math.sqrt(p * (1 - p) / n + q * q / (4 * n * n))
    return centre - half, centre + half


def test_the_wald_interval_is_the_textbook_one():
    p1, p2 = 45 / 200, 30 / 210
    half = z() * math.sqrt(p1 * (1 - p1) / 200 + p2 * (1 - p2) / 210)
    result = compare_proportions(TREATED, CONTROL, method="wald")
    assert result.lift == pytest.approx(p1 - p2, abs=TOLERANCE)
    assert result.lift_ci == pytest.approx((p1 - p2 - half, p1 - p2 + half), abs=TOLERANCE)


def test_the_default_interval_is_newcombs_hybrid_score_interval():
    p1, p2 = 45 / 200, 30 / 210
    l1, u1 = wilson(45, 200)
    l2, u2 = wilson(30, 210)
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    result = compare_proportions(TREATED, CONTROL)
    assert result.lift_ci == pytest.approx((low, high), abs=TOLERANCE)
    assert result.value_ci == pytest.approx(wilson(45, 200), abs=TOLERANCE)


def test_the_p_value_is_the_pooled_two_proportion_z_test():
    p1, p2, pooled = 45 / 200, 30 / 210, 75 / 410
    statistic = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 200 + 1 / 210))
    expected = math.erfc(abs(statistic) / math.sqrt(2))  # two-sided: 2 · (1 − Φ(|z|))
    result = compare_proportions(TREATED, CONTROL)
    assert result.p_value == pytest.approx(expected, abs=TOLERANCE)
    assert result.significant is (expected < 0.05)
    assert result.relative_lift == pytest.approx((p1 - p2) / p2, abs=TOLERANCE)


def test_a_stricter_alpha_widens_the_interval_and_judges_significance_by_it():
    p1, p2 = 45 / 200, 30 / 210
    half = z(0.01) * math.sqrt(p1 * (1 - p1) / 200 + p2 * (1 - p2) / 210)
    result = compare_proportions(TREATED, CONTROL, method="wald", alpha=0.01)
    assert result.lift_ci == pytest.approx((p1 - p2 - half, p1 - p2 + half), abs=TOLERANCE)
    assert result.significant is (result.p_value is not None and result.p_value < 0.01)


def welch_by_hand(a: np.ndarray, b: np.ndarray, alpha: float = 0.05) -> tuple[float, tuple[float, float], float]:
    """Return (difference, interval, p-value) of Welch's t-test, formula by formula."""
    n1, n2 = len(a), len(b)
    m1, m2 = sum(a) / n1, sum(b) / n2
    v1 = sum((x - m1) ** 2 for x in a) / (n1 - 1)
    v2 = sum((x - m2) ** 2 for x in b) / (n2 - 1)
    se = math.sqrt(v1 / n1 + v2 / n2)
    df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    diff = m1 - m2
    q = stats.t.ppf(1 - alpha / 2, df)
    p = 2 * stats.t.sf(abs(diff / se), df)
    return diff, (diff - q * se, diff + q * se), p


def test_the_revenue_lift_is_welchs_t_written_out():
    diff, interval, p = welch_by_hand(REVENUE_T, REVENUE_C)
    result = compare(summarize(REVENUE_T), summarize(REVENUE_C))
    assert result.kind is OutcomeKind.NUMERIC
    assert result.lift == pytest.approx(diff, abs=TOLERANCE)
    assert result.lift_ci == pytest.approx(interval, abs=TOLERANCE)
    assert result.p_value == pytest.approx(p, abs=TOLERANCE)
    assert result.relative_lift == pytest.approx(diff / REVENUE_C.mean(), abs=TOLERANCE)


def test_the_revenue_lift_agrees_with_scipys_welch_test_on_the_raw_values():
    scipy_test = stats.ttest_ind(REVENUE_T, REVENUE_C, equal_var=False)
    low, high = scipy_test.confidence_interval(confidence_level=0.95)
    result = compare(summarize(REVENUE_T), summarize(REVENUE_C))
    assert result.lift_ci == pytest.approx((low, high), abs=TOLERANCE)
    assert result.p_value == pytest.approx(scipy_test.pvalue, abs=TOLERANCE)


def test_summaries_and_raw_values_give_the_same_comparison():
    """Campaign reports pass (n, mean, variance) from SQL; the result must equal the raw values'."""
    summaries = [Mean(n=len(v), mean=float(np.mean(v)), variance=float(np.var(v, ddof=1)))
                 for v in (REVENUE_T, REVENUE_C)]
    assert compare_means(*summaries) == compare(summarize(REVENUE_T), summarize(REVENUE_C))
    counts = Proportion(n=6, successes=2), Proportion(n=5, successes=1)
    assert compare(*counts) == compare(summarize([1, 0, 1, 0, 0, 0]), summarize([0, 0, 1, 0, 0]))


def test_a_groups_own_mean_has_the_t_interval():
    n, m, s = len(REVENUE_T), REVENUE_T.mean(), REVENUE_T.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * s / math.sqrt(n)
    assert describe(summarize(REVENUE_T)).value_ci == pytest.approx((m - half, m + half), abs=TOLERANCE)


def textbook_sample_size(effect: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Customers per group for a two-sided test of equal groups: 2 · (z₁₋α/₂ + z_power)² / effect²."""
    return 2 * (z(alpha) + NormalDist().inv_cdf(power)) ** 2 / effect**2


@pytest.mark.parametrize(("rate", "base", "alpha"), [(0.225, 45 / 350, 0.05), (0.1828, 0.1062, 0.05),
                                                     (0.0125, 0.0057, 0.05), (0.30, 0.25, 0.01)])
def test_the_sample_size_is_the_normal_approximation_on_cohens_h(rate: float, base: float, alpha: float):
    n = 100_000
    treated, control = Proportion(n=n, successes=round(rate * n)), Proportion(n=n, successes=round(base * n))
    h = 2 * math.asin(math.sqrt(treated.successes / n)) - 2 * math.asin(math.sqrt(control.successes / n))
    expected = textbook_sample_size(h, alpha)
    needed = compare_proportions(treated, control, alpha=alpha).sample_size_needed
    # statsmodels also counts the far tail's (below 1e-6) share of the power, so the solved size
    # may sit a hair under the closed form; rounded up, they agree.
    assert needed is not None
    assert needed == math.ceil(expected) or (needed == math.ceil(expected) - 1 and expected % 1 < 1e-3)


def test_the_sample_size_for_revenue_uses_cohens_d():
    diff = REVENUE_T.mean() - REVENUE_C.mean()
    d = diff / math.sqrt((REVENUE_T.var(ddof=1) + REVENUE_C.var(ddof=1)) / 2)
    needed = compare(summarize(REVENUE_T), summarize(REVENUE_C)).sample_size_needed
    assert needed == math.ceil(textbook_sample_size(d))


def test_an_effect_too_large_for_the_solver_still_gets_the_minimum_size():
    # Everyone treated converts, nobody in control: h = π, and two customers per group would do.
    result = compare_proportions(Proportion(n=50, successes=50), Proportion(n=50, successes=0))
    assert result.sample_size_needed == 2
