"""Segments every workspace has from the start: lifecycle stages, RFM tiers, app vs web.

They are ordinary definitions in the segment language, so they can be read, previewed,
exported and built on (``in_segment``) like any other; only their definitions are fixed.
The lifecycle stages do not overlap: each profile is in at most one of them.
"""

from __future__ import annotations

from typing import Any


def _inactive(days: int) -> dict[str, Any]:
    return {"type": "inactive", "activity": "session", "days": days}


def _not(condition: dict[str, Any]) -> dict[str, Any]:
    return {"type": "not", "condition": condition}


def _all(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "and", "conditions": list(conditions)}


def _computed(name: str, operator: str, **operands: Any) -> dict[str, Any]:
    return {"type": "computed", "property": name, "operator": operator, **operands}


_NEW = _computed("first_seen", "within_last_days", days=7)
_APP = {"type": "device", "field": "platform", "operator": "in", "values": ["ios", "android"]}
_WEB = {"type": "device", "field": "platform", "operator": "eq", "value": "web"}
_ORDERED_WITHIN = _computed("last_order_at", "within_last_days", days=90)

BUILTIN_SEGMENTS: dict[str, dict[str, Any]] = {
    "lifecycle_new": {
        "name": "Lifecycle: new",
        "description": "First seen in the last 7 days.",
        "condition": _NEW,
    },
    "lifecycle_active": {
        "name": "Lifecycle: active",
        "description": "Active in the last 7 days, and known for longer than that.",
        "condition": _all(_not(_NEW), _not(_inactive(7))),
    },
    "lifecycle_at_risk": {
        "name": "Lifecycle: at risk",
        "description": "No activity for 7 to 30 days.",
        "condition": _all(_not(_NEW), _inactive(7), _not(_inactive(30))),
    },
    "lifecycle_dormant": {
        "name": "Lifecycle: dormant",
        "description": "No activity for 30 to 90 days.",
        "condition": _all(_not(_NEW), _inactive(30), _not(_inactive(90))),
    },
    "lifecycle_churned": {
        "name": "Lifecycle: churned",
        "description": "No activity for 90 days or more.",
        "condition": _all(_not(_NEW), _inactive(90)),
    },
    # RFM as explainable rules on recency (last order), frequency (orders) and monetary value
    # (net revenue after cancellations and returns), not quantile scores that shift daily.
    "rfm_champions": {
        "name": "RFM: champions",
        "description": "Ordered in the last 30 days, at least 3 orders, net revenue of 200 or more.",
        "condition": _all(_computed("last_order_at", "within_last_days", days=30),
                          _computed("orders", "gte", value=3), _computed("net_revenue", "gte", value=200)),
    },
    "rfm_loyal": {
        "name": "RFM: loyal",
        "description": "Ordered in the last 90 days and at least 3 orders, but not a champion.",
        "condition": _all(_ORDERED_WITHIN, _computed("orders", "gte", value=3),
                          _not(_all(_computed("last_order_at", "within_last_days", days=30),
                                    _computed("net_revenue", "gte", value=200)))),
    },
    "rfm_promising": {
        "name": "RFM: promising",
        "description": "Ordered in the last 90 days, one or two orders so far.",
        "condition": _all(_ORDERED_WITHIN, _computed("orders", "between", low=1, high=2)),
    },
    "rfm_need_attention": {
        "name": "RFM: need attention",
        "description": "At least 2 orders, the last one 90 to 180 days ago.",
        "condition": _all(_computed("orders", "gte", value=2), _not(_ORDERED_WITHIN),
                          _computed("last_order_at", "within_last_days", days=180)),
    },
    "rfm_lost": {
        "name": "RFM: lost customers",
        "description": "Customers whose last order is more than 180 days ago, or one order 90 to 180 days ago.",
        "condition": _all(_computed("orders", "gte", value=1), _not(_ORDERED_WITHIN),
                          {"type": "or", "conditions": [
                              _not(_computed("last_order_at", "within_last_days", days=180)),
                              _computed("orders", "eq", value=1)]}),
    },
    "has_app": {
        "name": "Has the app",
        "description": "Has used the iOS or Android app.",
        "condition": _APP,
    },
    "web_only": {
        "name": "Web only",
        "description": "Seen on the web, never in the app.",
        "condition": _all(_WEB, _not(_APP)),
    },
}
"""Built-in segments by key: name, description and condition of each."""
