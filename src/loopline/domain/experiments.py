"""Experiment statistics: how much each treatment group moved an outcome against the control group.

One module answers for campaigns against their control group, for A/B variants and for the
global control group: per group the rate (binary outcomes: visited, converted) or the mean
(numeric outcomes: revenue per customer), and per treatment group the absolute lift over the
control with a confidence interval, the relative lift, a two-sided p-value, whether it is
significant at ``alpha``, and how many customers per group a new test would need to detect
a lift of that size with ``power``.

Callers pass either raw per-customer values (``analyze_arrays``, the CLI on a CSV file) or
sufficient statistics (``analyze`` with ``Proportion`` counts and ``Mean`` summaries), because
campaign reports aggregate in SQL and never hold one value per customer. Both paths run the
same comparisons, so the same data gives the same numbers whichever way it arrives.

Anything that cannot be computed is ``None`` with a note saying why; nothing here raises on
a small or degenerate group, only on data that contradicts itself (``ExperimentError``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8
# Newcomb's hybrid score interval (Newcomb 1998, method 10; statsmodels' default for a
# difference) rather than Wald: campaign conversion rates are often below 1 % and control
# groups small, where the Wald interval under-covers, collapses to zero width when a group has
# no conversions, and can leave [-1, 1]. On large groups the two agree (Hillstrom: to 0.003 pp).
CiMethod = Literal["newcomb", "wald"]
DEFAULT_CI_METHOD: CiMethod = "newcomb"
# Relative rounding error tolerated in a variance computed from sums (see Mean).
ROUNDING = 1e-9
# A sample variance, and so a t-test or t interval, needs two values per group; two per group is
# also the smallest sample size worth reporting.
MIN_GROUP_FOR_A_TEST = 2


# scipy and statsmodels take seconds to import; only the statistics need them, so the
# server and every command start without them and load them on first use.
@cache
def _stats() -> Any:
    from scipy import stats  # type: ignore[import-untyped]

    return stats


@cache
def _proportion() -> Any:
    from statsmodels.stats import proportion  # type: ignore[import-untyped]

    return proportion


@cache
def _power() -> Any:
    from statsmodels.stats import power  # type: ignore[import-untyped]

    return power


class OutcomeKind(StrEnum):
    """How an outcome is measured: a yes/no per customer, or a number per customer."""

    BINARY = "binary"
    NUMERIC = "numeric"


class ExperimentError(ValueError):
    """The data contradicts itself: no control group, mixed kinds, a 2 in a yes/no outcome."""


@dataclass(frozen=True, slots=True)
class Proportion:
    """A binary outcome in one group: customers with a value, how many had the outcome, cells missing."""

    n: int
    successes: int
    missing: int = 0

    def __post_init__(self) -> None:
        if self.n < 0 or self.missing < 0 or not 0 <= self.successes <= self.n:
            raise ExperimentError(f"a proportion needs 0 <= successes <= n, got {self.successes} of {self.n}")

    @property
    def kind(self) -> OutcomeKind:
        """Return BINARY."""
        return OutcomeKind.BINARY

    @property
    def value(self) -> float | None:
        """Return the rate, or None for an empty group."""
        return self.successes / self.n if self.n else None


@dataclass(frozen=True, slots=True)
class Mean:
    """A numeric outcome in one group: count, mean and sample variance (n − 1 denominator), cells missing.

    ``mean`` is ignored when ``n`` is 0 and ``variance`` when ``n`` is below 2 (pass ``nan``).
    """

    n: int
    mean: float
    variance: float
    missing: int = 0

    def __post_init__(self) -> None:
        if self.n < 0 or self.missing < 0:
            raise ExperimentError(f"a mean needs non-negative counts, got n={self.n}, missing={self.missing}")
        if self.n > 0 and not math.isfinite(self.mean):
            raise ExperimentError(f"the mean of {self.n} values must be a finite number, got {self.mean}")
        if self.n < MIN_GROUP_FOR_A_TEST:
            return
        if -ROUNDING * max(1.0, self.mean**2) < self.variance < 0:
            # SQL computes the variance as (Σx² − (Σx)²/n)/(n − 1); for constant values that can
            # round to a hair below zero. It is zero.
            object.__setattr__(self, "variance", 0.0)
        if not (math.isfinite(self.variance) and self.variance >= 0):
            raise ExperimentError(f"the variance of {self.n} values must be finite and >= 0, got {self.variance}")

    @property
    def kind(self) -> OutcomeKind:
        """Return NUMERIC."""
        return OutcomeKind.NUMERIC

    @property
    def value(self) -> float | None:
        """Return the mean, or None for an empty group."""
        return self.mean if self.n else None


Summary = Proportion | Mean


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    """One outcome in one group; lifts are None for the control group and wherever undefined (see notes)."""

    kind: OutcomeKind
    n: int
    missing: int
    value: float | None
    value_ci: tuple[float, float] | None = None
    lift: float | None = None
    lift_ci: tuple[float, float] | None = None
    relative_lift: float | None = None
    p_value: float | None = None
    significant: bool | None = None
    sample_size_needed: int | None = None
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """Return the documented keys (value, lift, lift_ci, relative_lift, p_value) and the extras."""
        return {
            "value": self.value, "lift": self.lift, "lift_ci": _pair(self.lift_ci),
            "relative_lift": self.relative_lift, "p_value": self.p_value, "kind": self.kind.value,
            "n": self.n, "missing": self.missing, "value_ci": _pair(self.value_ci),
            "significant": self.significant, "sample_size_needed": self.sample_size_needed,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group of the experiment: its size and every outcome measured in it."""

    group: str
    n: int
    is_control: bool
    outcomes: Mapping[str, OutcomeResult]

    def as_json(self) -> dict[str, Any]:
        """Return the group as the CLI and reports print it."""
        return {"group": self.group, "n": self.n, "is_control": self.is_control,
                "outcomes": {name: outcome.as_json() for name, outcome in self.outcomes.items()}}


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    """Every group against the control group; the control comes first."""

    control: str
    alpha: float
    power: float
    groups: tuple[GroupResult, ...] = field(default=())

    @property
    def ci_level(self) -> float:
        """Return the confidence level of every interval (1 − alpha)."""
        return 1 - self.alpha

    def group(self, name: str) -> GroupResult:
        """Return the named group's result."""
        for group in self.groups:
            if group.group == name:
                return group
        raise KeyError(name)

    def as_json(self) -> dict[str, Any]:
        """Return ``{"control", "groups": [{"group", "n", "outcomes": {...}}]}`` plus alpha, ci_level, power."""
        return {"control": self.control, "alpha": self.alpha, "ci_level": self.ci_level, "power": self.power,
                "groups": [group.as_json() for group in self.groups]}


def detect_kind(*arrays: ArrayLike) -> OutcomeKind:
    """Return BINARY when every present (non-NaN) value of all arrays is 0 or 1, else NUMERIC."""
    for values in arrays:
        present = _present(np.asarray(values, dtype=float))
        if not np.isin(present, (0.0, 1.0)).all():
            return OutcomeKind.NUMERIC
    return OutcomeKind.BINARY


def summarize(values: ArrayLike, *, kind: OutcomeKind | None = None) -> Summary:
    """Reduce one group's per-customer values to counts or mean and variance; NaN cells count as missing."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ExperimentError(f"outcome values must be one-dimensional, got shape {array.shape}")
    present = _present(array)
    if not np.isfinite(present).all():
        raise ExperimentError("outcome values must be finite numbers (NaN marks a missing value)")
    missing = int(array.size - present.size)
    kind = kind or detect_kind(present)
    if kind is OutcomeKind.BINARY:
        if not np.isin(present, (0.0, 1.0)).all():
            raise ExperimentError("a binary outcome holds only 0 and 1")
        return Proportion(n=int(present.size), successes=int(present.sum()), missing=missing)
    n = int(present.size)
    mean = float(present.mean()) if n else math.nan
    variance = float(present.var(ddof=1)) if n >= MIN_GROUP_FOR_A_TEST else math.nan
    return Mean(n=n, mean=mean, variance=variance, missing=missing)


def describe(summary: Summary, *, alpha: float = DEFAULT_ALPHA) -> OutcomeResult:
    """Return one group's rate or mean with its own confidence interval and no lift (the control's row)."""
    notes: list[str] = []
    if summary.n == 0:
        notes.append("no values in this group")
    if isinstance(summary, Proportion):
        value_ci = _wilson(summary, alpha) if summary.n else None
    else:
        value_ci = _mean_interval(summary, alpha)
        if summary.n == 1:
            notes.append("one value in this group: no variance, no interval")
    return OutcomeResult(kind=summary.kind, n=summary.n, missing=summary.missing, value=summary.value,
                         value_ci=value_ci, notes=tuple(notes))


def compare(
    treatment: Summary, control: Summary, *, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER,
    method: CiMethod = DEFAULT_CI_METHOD,
) -> OutcomeResult:
    """Compare one treatment group's outcome with the control's; both must be of the same kind."""
    if isinstance(treatment, Proportion) and isinstance(control, Proportion):
        return compare_proportions(treatment, control, alpha=alpha, power=power, method=method)
    if isinstance(treatment, Mean) and isinstance(control, Mean):
        return compare_means(treatment, control, alpha=alpha, power=power)
    raise ExperimentError(f"cannot compare a {treatment.kind} outcome with a {control.kind} one")


def compare_proportions(
    treatment: Proportion, control: Proportion, *, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER,
    method: CiMethod = DEFAULT_CI_METHOD,
) -> OutcomeResult:
    """Return the difference of two independent proportions: CI by ``method``, p-value by the pooled z-test."""
    _check_levels(alpha, power)
    own = describe(treatment, alpha=alpha)
    if not treatment.n or not control.n:
        return _without_lift(own, control)
    rate, base = treatment.successes / treatment.n, control.successes / control.n
    notes = list(own.notes)
    low, high = _proportion().confint_proportions_2indep(treatment.successes, treatment.n, control.successes, control.n,
                                           method=method, compare="diff", alpha=alpha)
    pooled = (treatment.successes + control.successes) / (treatment.n + control.n)
    if pooled in (0.0, 1.0):
        # Neither group varies (all 0 or all 1 in both), so the rates are equal and the z statistic
        # is 0/0. The difference observed is exactly none: p = 1, as Fisher's exact test gives.
        p_value = 1.0
        notes.append("no variation in either group: the rates are equal, p-value 1")
    else:
        # The standard two-proportion z-test: the variance is pooled under the null hypothesis.
        _, p = _proportion().proportions_ztest(np.array([treatment.successes, control.successes]),
                                 np.array([treatment.n, control.n]), alternative="two-sided")
        p_value = float(p)
    needed = _sample_size(float(_proportion().proportion_effectsize(rate, base)), alpha=alpha, power=power)
    return OutcomeResult(
        kind=OutcomeKind.BINARY, n=treatment.n, missing=treatment.missing, value=rate, value_ci=own.value_ci,
        lift=rate - base, lift_ci=(float(low), float(high)), relative_lift=_relative(rate - base, base, notes),
        p_value=p_value, significant=p_value < alpha, sample_size_needed=needed, notes=tuple(notes),
    )


def compare_means(
    treatment: Mean, control: Mean, *, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER
) -> OutcomeResult:
    """Return the difference of two means with Welch's t-test and its Welch–Satterthwaite interval."""
    _check_levels(alpha, power)
    own = describe(treatment, alpha=alpha)
    if not treatment.n or not control.n:
        return _without_lift(own, control)
    lift = treatment.mean - control.mean
    notes = list(own.notes)
    relative = _relative(lift, control.mean, notes)
    result = OutcomeResult(kind=OutcomeKind.NUMERIC, n=treatment.n, missing=treatment.missing,
                           value=treatment.mean, value_ci=own.value_ci, lift=lift, relative_lift=relative)
    if min(treatment.n, control.n) < MIN_GROUP_FOR_A_TEST:
        if control.n < MIN_GROUP_FOR_A_TEST:
            notes.append("fewer than two values in the control group: no variance, no interval or p-value")
        return _replace_notes(result, notes)
    share_t, share_c = treatment.variance / treatment.n, control.variance / control.n
    squared_error = share_t + share_c
    if squared_error == 0:
        # Both groups are constant: with equal means nothing differs (p = 1); with different means
        # the t statistic is infinite and an interval of zero width would claim false certainty.
        notes.append("no variation within either group: Welch's t-test is undefined")
        if lift == 0:
            return _replace_notes(result, notes, lift_ci=(0.0, 0.0), p_value=1.0, significant=False)
        return _replace_notes(result, notes)
    # Welch–Satterthwaite degrees of freedom, written with each group's share of the squared
    # standard error (each in [0, 1]) so that tiny variances cannot underflow to 0/0.
    weight_t, weight_c = share_t / squared_error, share_c / squared_error
    df = 1 / (weight_t**2 / (treatment.n - 1) + weight_c**2 / (control.n - 1))
    # Welch's t-test from the summaries (scipy's ttest_ind(equal_var=False) on raw values gives
    # the same p-value and interval; tests/measurement holds them to 1e-9).
    standard_error = math.sqrt(squared_error)
    p_value = float(2 * _stats().t.sf(abs(lift) / standard_error, df))
    margin = float(_stats().t.ppf(1 - alpha / 2, df)) * standard_error
    spread = math.sqrt((treatment.variance + control.variance) / 2)
    needed = _sample_size(lift / spread, alpha=alpha, power=power)
    return _replace_notes(result, notes, lift_ci=(lift - margin, lift + margin), p_value=p_value,
                          significant=p_value < alpha, sample_size_needed=needed)


def analyze(
    groups: Mapping[str, Mapping[str, Summary]], *, control: str, alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER, sizes: Mapping[str, int] | None = None, method: CiMethod = DEFAULT_CI_METHOD,
) -> ExperimentResult:
    """Compare every group's outcome summaries with the control's; the control comes first, with null lifts.

    A group's size is ``sizes[group]`` when given, else the largest ``n + missing`` over its outcomes.
    """
    _check_levels(alpha, power)
    if control not in groups:
        found = ", ".join(repr(name) for name in groups) or "none"
        raise ExperimentError(f"the control group {control!r} is not among the groups ({found})")
    base = groups[control]
    names = list(base)
    for group, outcomes in groups.items():
        if list(outcomes) != names:
            raise ExperimentError(f"group {group!r} measures {list(outcomes)}, the control measures {names}")
        for name, summary in outcomes.items():
            if summary.kind is not base[name].kind:
                raise ExperimentError(f"outcome {name!r} is {summary.kind} in {group!r} but {base[name].kind} "
                                      "in the control group")
    results = []
    for group in [control, *(name for name in groups if name != control)]:
        outcomes = groups[group]
        compared = {name: describe(summary, alpha=alpha) if group == control
                    else compare(summary, base[name], alpha=alpha, power=power, method=method)
                    for name, summary in outcomes.items()}
        size = sizes[group] if sizes is not None else max((s.n + s.missing for s in outcomes.values()), default=0)
        results.append(GroupResult(group=group, n=size, is_control=group == control, outcomes=compared))
    return ExperimentResult(control=control, alpha=alpha, power=power, groups=tuple(results))


def analyze_arrays(
    groups: Mapping[str, Mapping[str, ArrayLike]], *, control: str, kinds: Mapping[str, OutcomeKind] | None = None,
    alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER, method: CiMethod = DEFAULT_CI_METHOD,
) -> ExperimentResult:
    """Compare per-customer outcome values (NaN = missing) of every group with the control's.

    An outcome's kind comes from ``kinds`` or, when not given, from all groups' values together
    (all 0 or 1: binary), so one outcome never changes kind from group to group.
    """
    outcome_names = list(next(iter(groups.values()), {}))
    given = kinds or {}
    decided = {name: given.get(name) or detect_kind(*(values[name] for values in groups.values() if name in values))
               for name in outcome_names}
    sizes = {group: max((np.asarray(v).size for v in values.values()), default=0) for group, values in groups.items()}
    summaries = {group: {name: summarize(v, kind=decided.get(name)) for name, v in values.items()}
                 for group, values in groups.items()}
    return analyze(summaries, control=control, alpha=alpha, power=power, sizes=sizes, method=method)


def _present(array: NDArray[np.float64]) -> NDArray[np.float64]:
    present: NDArray[np.float64] = array[~np.isnan(array)]
    return present


def _pair(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else [pair[0], pair[1]]


def _check_levels(alpha: float, power: float) -> None:
    if not 0 < alpha < 1:
        raise ExperimentError(f"alpha is a probability between 0 and 1 (exclusive), got {alpha}")
    if not 0 < power < 1:
        raise ExperimentError(f"power is a probability between 0 and 1 (exclusive), got {power}")


def _wilson(summary: Proportion, alpha: float) -> tuple[float, float]:
    # Wilson's score interval: the building block of Newcomb's interval for the difference,
    # and sensible at 0 % and 100 % where the Wald interval has zero width.
    low, high = _proportion().proportion_confint(summary.successes, summary.n, alpha=alpha, method="wilson")
    return float(low), float(high)


def _mean_interval(summary: Mean, alpha: float) -> tuple[float, float] | None:
    if summary.n < MIN_GROUP_FOR_A_TEST:
        return None
    margin = float(_stats().t.ppf(1 - alpha / 2, summary.n - 1)) * math.sqrt(summary.variance / summary.n)
    return summary.mean - margin, summary.mean + margin


def _relative(lift: float, base: float, notes: list[str]) -> float | None:
    if base == 0:
        notes.append("the control's value is 0: the relative lift is undefined")
        return None
    return lift / abs(base)


def _without_lift(own: OutcomeResult, control: Summary) -> OutcomeResult:
    # An empty treatment group already says so in its own notes (from describe).
    if control.n:
        return own
    return replace(own, notes=(*own.notes, "no values in the control group: nothing to compare"))


def _replace_notes(result: OutcomeResult, notes: list[str], **changes: Any) -> OutcomeResult:
    return replace(result, notes=tuple(notes), **changes)


def _sample_size(effect: float, *, alpha: float, power: float) -> int | None:
    """Return customers per group (equal groups) to detect ``effect`` (Cohen's h or d) two-sided."""
    if effect == 0 or not math.isfinite(effect):
        return None
    with warnings.catch_warnings():
        # Near the extremes (an effect so large that two customers would do, or so small that
        # 10^25 would not) the root finder probes negative sizes and warns before giving up.
        warnings.simplefilter("ignore")
        solved = _power().NormalIndPower().solve_power(effect_size=abs(effect), alpha=alpha, power=power, ratio=1.0,
                                              alternative="two-sided")
    n = float(np.asarray(solved).item())
    if not math.isfinite(n):
        # The closed form of the same normal approximation, without the far tail's share of the
        # power (below 1e-6 at any power ≥ 0.5): what statsmodels solves, when it cannot.
        z = float(_stats().norm.ppf(1 - alpha / 2) + _stats().norm.ppf(power))
        n = 2 * (z / effect) ** 2
    return max(MIN_GROUP_FOR_A_TEST, math.ceil(n))
