"""A catalogue of report requests over the synthetic dataset: every report, measure and option.

Each entry is (id, request JSON). The dataset (``dataset.build_dataset``) spans 2026-02-10 …
2026-06-15 12:00:30 (NOW), so every range below starts after some users' first events, and
several end on ``2026-06-16`` (the current day included). ``EMPTY_BY_DESIGN`` names the entries
whose right answer is all zeros.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

MAY = {"since": "2026-05-01", "until": "2026-06-01"}
JUNE = {"since": "2026-06-01", "until": "2026-06-16"}  # up to and including today
WEEKS = {"since": "2026-03-25", "until": "2026-05-06"}  # mid-week to mid-week, over two month ends
RECENT_WEEKS = {"since": "2026-04-27", "until": "2026-06-16"}
ALL = {"since": "2026-02-01", "until": "2026-06-16"}  # starts before the first event

PRO = {"type": "trait", "trait": "plan", "operator": "eq", "value": "pro"}
VIP = {"type": "in_segment", "segment_id": "seg_vip"}
BUYERS = {"type": "performed", "event": "Order Completed", "count": {"operator": "at_least", "value": 2}}
GERMANS = {"type": "location", "country": "DE"}
NOT_FREE = {"type": "not", "condition": {"type": "trait", "trait": "plan", "operator": "eq", "value": "free"}}

IOS = [{"property": "platform", "operator": "eq", "value": "ios"}]
EURO = [{"property": "currency", "operator": "eq", "value": "EUR"}]
PRICEY = [{"property": "price", "operator": "gt", "value": 20}]

OS = {"source": "context", "path": "os.name"}
APP = {"source": "context", "path": "app.version"}
CAMPAIGN = {"source": "context", "path": "campaign.source"}
COUNTRY = {"source": "context", "path": "location.country"}
PLAN = {"source": "trait", "path": "plan"}
CURRENCY = {"source": "event", "path": "currency"}
PRICE = {"source": "event", "path": "price"}  # 19.99 and "19.99" are one group
SKU = {"source": "event", "path": "sku"}  # 30 values: groups_omitted > 0
IN_VIP = {"source": "segment", "segment_id": "seg_vip"}
IN_LAPSED = {"source": "segment", "segment_id": "seg_lapsed"}

SHOP = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


def _steps(*events: str, where: dict[int, list[JSON]] | None = None) -> list[JSON]:
    return [{"event": e, **({"where": where[i]} if where and i in where else {})} for i, e in enumerate(events)]


REQUESTS: list[tuple[str, JSON]] = [
    # active users
    ("active_users_may", {"report": "active_users", **MAY}),
    ("active_users_all", {"report": "active_users", **ALL}),
    ("active_users_june_by_os", {"report": "active_users", **JUNE, "group_by": OS}),
    ("active_users_by_plan", {"report": "active_users", **MAY, "group_by": PLAN}),
    ("active_users_by_vip", {"report": "active_users", **MAY, "group_by": IN_VIP}),
    ("active_users_doc_example", {"report": "active_users", **MAY, "filter": PRO, "where": IOS, "group_by": APP}),
    # new vs returning
    ("new_vs_returning_may", {"report": "new_vs_returning", **MAY}),
    ("new_vs_returning_all", {"report": "new_vs_returning", **ALL}),
    ("new_vs_returning_by_campaign", {"report": "new_vs_returning", **JUNE, "group_by": CAMPAIGN}),
    ("new_vs_returning_vip", {"report": "new_vs_returning", **RECENT_WEEKS, "filter": VIP}),
    ("new_vs_returning_ordered_in_eur", {"report": "new_vs_returning", **MAY, "where": EURO,
                                         "group_by": IN_LAPSED}),
    # live
    ("live", {"report": "live"}),
    ("live_not_free_small", {"report": "live", "filter": NOT_FREE,
                             "where": [{"property": "revenue", "operator": "lt", "value": 10}]}),
    # events
    ("events_count", {"report": "events", **MAY}),
    ("events_count_orders", {"report": "events", **ALL, "event": "Order Completed"}),
    ("events_count_pages_named_home", {"report": "events", **JUNE, "measure": "count", "event": "Home"}),
    ("events_users", {"report": "events", **MAY, "measure": "users"}),
    ("events_users_by_vip", {"report": "events", **MAY, "measure": "users", "event": "Product Viewed",
                             "group_by": IN_VIP}),
    ("events_sum_revenue", {"report": "events", **ALL, "measure": "sum", "property": "revenue",
                            "event": "Order Completed"}),
    ("events_average_revenue", {"report": "events", **MAY, "measure": "average", "property": "revenue",
                                "event": "Order Completed"}),
    ("events_sum_revenue_by_currency", {"report": "events", **ALL, "measure": "sum", "property": "revenue",
                                        "group_by": CURRENCY}),
    ("events_average_price_by_plan", {"report": "events", **MAY, "measure": "average", "property": "price",
                                      "event": "Product Viewed", "group_by": PLAN}),
    ("events_count_by_sku", {"report": "events", **MAY, "group_by": SKU}),
    ("events_count_by_price", {"report": "events", **MAY, "event": "Product Added", "group_by": PRICE}),
    ("events_count_by_app_version", {"report": "events", **JUNE, "group_by": APP}),
    ("events_count_pricey_germans", {"report": "events", **ALL, "where": PRICEY, "filter": GERMANS}),
    ("events_segment_entered_is_not_an_event", {"report": "events", **ALL, "event": "Segment Entered"}),
    # distributions
    ("distribution_revenue", {"report": "distribution", **ALL, "event": "Order Completed", "property": "revenue"}),
    ("distribution_price_on_edges", {"report": "distribution", **MAY, "property": "price",
                                     "bounds": [5, 19.99, 50, 120]}),
    ("distribution_price_by_currency", {"report": "distribution", **ALL, "property": "price", "buckets": 4,
                                        "group_by": CURRENCY}),
    ("distribution_events_per_user", {"report": "distribution", **MAY, "of": "events_per_user"}),
    ("distribution_views_per_user_by_plan", {"report": "distribution", **ALL, "of": "events_per_user",
                                             "event": "Product Viewed", "buckets": 5, "group_by": PLAN}),
    ("distribution_quantity_pro_eur", {"report": "distribution", **ALL, "property": "quantity", "filter": NOT_FREE,
                                       "where": EURO, "buckets": 3}),
    ("distribution_of_no_numbers", {"report": "distribution", **ALL, "property": "currency"}),
    # sessions
    ("sessions_may", {"report": "sessions", **MAY}),
    ("sessions_timeout_10", {"report": "sessions", **MAY, "session_timeout_minutes": 10}),
    ("sessions_timeout_60_all", {"report": "sessions", **ALL, "session_timeout_minutes": 60}),
    ("sessions_timeout_45_by_os", {"report": "sessions", **JUNE, "session_timeout_minutes": 45, "group_by": OS}),
    ("sessions_by_plan_buyers", {"report": "sessions", **ALL, "filter": BUYERS, "group_by": PLAN}),
    ("sessions_of_ios_events", {"report": "sessions", **MAY, "where": IOS}),
    # retention
    ("retention_day", {"report": "retention", **JUNE, "period": "day", "periods": 14}),
    ("retention_day_long", {"report": "retention", "since": "2026-05-20", "until": "2026-06-03", "period": "day",
                            "periods": 30}),
    ("retention_week", {"report": "retention", **WEEKS, "period": "week", "periods": 8}),
    ("retention_week_by_campaign", {"report": "retention", **RECENT_WEEKS, "period": "week", "periods": 12,
                                    "group_by": CAMPAIGN}),
    ("retention_week_by_country", {"report": "retention", **ALL, "period": "week", "periods": 20,
                                   "group_by": COUNTRY}),
    ("retention_day_by_vip", {"report": "retention", **MAY, "period": "day", "periods": 7, "group_by": IN_VIP}),
    ("retention_week_pro", {"report": "retention", **ALL, "period": "week", "periods": 52, "filter": PRO}),
    ("retention_day_eur", {"report": "retention", **MAY, "period": "day", "periods": 10, "where": EURO}),
    # funnel
    ("funnel_two_steps", {"report": "funnel", **MAY, "steps": _steps("Product Viewed", "Order Completed"),
                          "window_minutes": 60}),
    ("funnel_three_steps_day", {"report": "funnel", **ALL, "steps": _steps(*SHOP[:3]), "window_minutes": 1440}),
    ("funnel_four_steps_week", {"report": "funnel", **MAY, "steps": _steps(*SHOP), "window_minutes": 10080}),
    ("funnel_four_steps_30min", {"report": "funnel", **ALL, "steps": _steps(*SHOP), "window_minutes": 30}),
    ("funnel_steps_with_where", {"report": "funnel", **ALL, "window_minutes": 1440, "steps": _steps(
        *SHOP, where={0: PRICEY, 1: [{"property": "quantity", "operator": "gte", "value": 2}], 3: EURO})}),
    ("funnel_repeated_step", {"report": "funnel", **ALL, "steps": _steps("Product Viewed", "Product Viewed",
                                                                         "Product Added"), "window_minutes": 120}),
    ("funnel_by_os", {"report": "funnel", **ALL, "steps": _steps(*SHOP[:3]), "window_minutes": 60, "group_by": OS}),
    ("funnel_by_plan", {"report": "funnel", **RECENT_WEEKS, "steps": _steps(*SHOP), "window_minutes": 1440,
                        "group_by": PLAN}),
    ("funnel_by_vip_filtered", {"report": "funnel", **ALL, "steps": _steps("Product Added", "Order Completed"),
                                "window_minutes": 10080, "filter": NOT_FREE, "group_by": IN_VIP}),
    # paths
    ("paths_next", {"report": "paths", **MAY, "from": "Product Viewed", "direction": "next", "depth": 3, "top": 3}),
    ("paths_previous", {"report": "paths", **ALL, "from": "Order Completed", "direction": "previous", "depth": 4,
                        "top": 2}),
    ("paths_next_from_page", {"report": "paths", **JUNE, "from": "Home", "direction": "next", "depth": 5,
                              "top": 5}),
    ("paths_depth_one", {"report": "paths", **MAY, "from": "Checkout Started", "direction": "next", "depth": 1,
                         "top": 1}),
    ("paths_previous_vip_ios", {"report": "paths", **ALL, "from": "Product Added", "direction": "previous",
                                "depth": 2, "top": 4, "filter": VIP, "where": IOS}),
    # affinity
    ("affinity_all", {"report": "affinity", **ALL}),
    ("affinity_may", {"report": "affinity", **MAY}),
    ("affinity_eur_pro", {"report": "affinity", **ALL, "where": EURO, "filter": NOT_FREE}),
    # geography
    ("geography_country", {"report": "geography", **ALL, "level": "country"}),
    ("geography_region", {"report": "geography", **MAY, "level": "region"}),
    ("geography_postal_code", {"report": "geography", **JUNE, "level": "postal_code"}),
    ("geography_region_buyers_ios", {"report": "geography", **ALL, "level": "region", "filter": BUYERS,
                                     "where": IOS}),
]

EMPTY_BY_DESIGN = frozenset({"events_segment_entered_is_not_an_event", "distribution_of_no_numbers"})
