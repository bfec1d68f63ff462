"""Who is held out of a campaign: deterministic, persistent control groups and variant splits.

A customer's place is a pure function of their id and the campaign (or the workspace, for
the global control group), so re-running a campaign, resuming it after a crash or running
it on another worker never moves anyone between treatment and control: what the uplift
report compares stays what was randomised. The hash is SHA-256 over a salted key, read as a
number in [0, 1); different campaigns use different salts, so being held out of one says
nothing about the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

RESOLUTION = 10_000  # places per unit: splits are exact to 0.01 %


def place(salt: str, profile_id: str) -> int:
    """Return the customer's place 0 … RESOLUTION-1 for ``salt`` (a campaign id, say)."""
    digest = hashlib.sha256(f"{salt}\x1f{profile_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % RESOLUTION


def in_holdout(*, salt: str, profile_id: str, percent: float) -> bool:
    """Return whether the customer is in the ``percent`` % held out for ``salt``."""
    if not 0 <= percent <= 100:
        raise ValueError("a holdout is 0 to 100 percent")
    if percent == 0:
        return False  # no hash needed: nobody is held out (most workspaces' global control group)
    return place(salt, profile_id) < round(percent * RESOLUTION / 100)


def variant_of(*, salt: str, profile_id: str, splits: Sequence[float]) -> int:
    """Return the index of the variant a treated customer gets, by split percentages summing to 100."""
    if not splits or any(split < 0 for split in splits) or abs(sum(splits) - 100) > 1e-9:
        raise ValueError("variant splits are non-negative percentages adding up to 100")
    if len(splits) == 1:
        return 0  # one variant: nothing to draw (a hash per customer saved)
    # A second salt: the variant draw is independent of the holdout draw for the same campaign.
    spot, edge = place(f"{salt}\x1fvariant", profile_id), 0.0
    for index, split in enumerate(splits):
        edge += split * RESOLUTION / 100
        if spot < round(edge):
            return index
    return len(splits) - 1
