"""Scaling a segment count measured on a sample of profiles up to the whole workspace.

The console's live preview must answer while a marketer types; on a large workspace the
definition is evaluated for a fixed, hash-chosen share of the profiles instead of all of
them. The sample is the same on every call (a profile is in it or not by its id), so
previews do not jitter as the definition is edited, and the count comes with a 95 %
interval: Wilson's score interval for the share of the sample that matched, narrowed by
the finite-population correction (the sample is drawn without replacement), times the
number of profiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class ScaledCount:
    """An estimated count with its 95 % interval (``low`` ≤ ``count`` ≤ ``high``)."""

    count: int
    low: int
    high: int


def scale_sample_count(matched: int, sampled: int, total: int) -> ScaledCount:
    """Return the workspace-wide count implied by ``matched`` of ``sampled`` profiles (of ``total``)."""
    if not 0 <= matched <= sampled <= total:
        raise ValueError("need 0 <= matched <= sampled <= total")
    if sampled == 0:
        return ScaledCount(0, 0, total)
    if sampled == total:
        return ScaledCount(matched, matched, matched)
    share = matched / sampled
    correction = math.sqrt((total - sampled) / (total - 1))
    z = Z_95 * correction
    centre = (share + z * z / (2 * sampled)) / (1 + z * z / sampled)
    spread = z * math.sqrt(share * (1 - share) / sampled + z * z / (4 * sampled * sampled)) / (1 + z * z / sampled)
    # The unsampled profiles are what is unknown: the bounds never pass what the sample already settles.
    low = max(matched, math.floor((centre - spread) * total))
    high = min(total - (sampled - matched), math.ceil((centre + spread) * total))
    count = min(max(round(share * total), low), high)
    return ScaledCount(count, low, high)
