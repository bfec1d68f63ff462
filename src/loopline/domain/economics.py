"""What a campaign cost, per message, per response and per conversion, and what it returned.

ROI compares the revenue with the cost. Revenue the campaign's customers would have spent
anyway is not the campaign's doing, so the incremental ROI compares the revenue over the
control group's (revenue per treated customer minus revenue per control customer, times the
treated customers) with the cost — the figure that says whether the campaign paid.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Costs(BaseModel):
    """What a campaign costs: a fixed amount (creative, a media buy) and an amount per message sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    fixed: float = Field(default=0, ge=0, le=1e12)
    per_message: float = Field(default=0, ge=0, le=1e6)


def _per(total: float, count: int) -> float | None:
    return total / count if count else None


def economics(costs: Costs, *, sent: int, responded: int, converted: int, revenue: float,
              incremental_revenue: float | None) -> dict[str, object]:
    """Return the campaign's cost and returns; a ratio with nothing to divide by is None."""
    total = costs.fixed + costs.per_message * sent
    return {
        "currency": costs.currency,
        "cost": total,
        "cost_per_message": _per(total, sent),
        "cost_per_response": _per(total, responded),
        "cost_per_conversion": _per(total, converted),
        "revenue": revenue,
        "roi": (revenue - total) / total if total else None,
        "incremental_revenue": incremental_revenue,
        "incremental_roi": (incremental_revenue - total) / total if total and incremental_revenue is not None
        else None,
    }


def revenue_of(text: Any) -> float:
    """Return a revenue property read as text (a number, or a number written as text); anything else is 0."""
    try:
        value = float(text) if text is not None else 0.0
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0
