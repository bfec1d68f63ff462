"""A catalogue of segment definitions over the synthetic dataset: every condition type and operator.

Each entry is (id, definition JSON). The operands are chosen against ``dataset.build_dataset``
so that nearly every entry selects some but not all of the workspace's profiles, and several
aim at a known engine pitfall (LIKE wildcards, JSON types, offsets, version ordering).
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def _seg(name: str, condition: JSON) -> JSON:
    return {"version": 1, "name": name, "condition": condition}


def _trait(path: str, operator: str, **operands: Any) -> JSON:
    return {"type": "trait", "trait": path, "operator": operator, **operands}


def _computed(prop: str, operator: str, **operands: Any) -> JSON:
    return {"type": "computed", "property": prop, "operator": operator, **operands}


def _performed(event: str, **fields: Any) -> JSON:
    return {"type": "performed", "event": event, **fields}


def _where(prop: str, operator: str, **operands: Any) -> JSON:
    return {"property": prop, "operator": operator, **operands}


def _device(field: str, operator: str, **operands: Any) -> JSON:
    return {"type": "device", "field": field, "operator": operator, **operands}


def _seq(first: str, then: str, minutes: int, **fields: Any) -> JSON:
    return {"type": "sequence", "first": {"event": first}, "then": {"event": then}, "within_minutes": minutes,
            **fields}


def _engaged(action: str, **fields: Any) -> JSON:
    return {"type": "engagement", "action": action, **fields}


TRAITS: list[tuple[str, JSON]] = [
    ("trait_eq_string", _trait("plan", "eq", value="pro")),
    ("trait_eq_number", _trait("age", "eq", value=42)),  # 42 and 42.0, not "42" nor true
    ("trait_eq_float_operand", _trait("age", "eq", value=42.0)),
    ("trait_eq_numeric_string", _trait("age", "eq", value="42")),
    ("trait_eq_bool", _trait("vip", "eq", value=True)),  # not "true", not 1
    ("trait_eq_quote", _trait("name", "eq", value="Seán O'Brien")),
    ("trait_eq_double_quote", _trait("name", "eq", value='Dana "DJ" Jones')),
    ("trait_eq_backslash", _trait("name", "eq", value="Back\\slash Bob")),
    ("trait_ne_string", _trait("plan", "ne", value="pro")),
    ("trait_ne_bool", _trait("vip", "ne", value=True)),
    ("trait_ne_number", _trait("age", "ne", value=42)),
    ("trait_lt_number", _trait("age", "lt", value=40)),
    ("trait_lte_number", _trait("nps", "lte", value=6)),
    ("trait_gt_number", _trait("score", "gt", value=50.25)),
    ("trait_gte_number", _trait("lifetime_value", "gte", value=1000)),
    ("trait_between_number", _trait("age", "between", low=30, high=50)),
    ("trait_lt_date", _trait("signup_date", "lt", value="2025-06-01")),
    ("trait_lte_date", _trait("signup_date", "lte", value="2025-06-01")),
    ("trait_gt_instant_offset", _trait("signup_date", "gt", value="2026-01-01T00:00:00+02:00")),
    ("trait_gte_instant_z", _trait("signup_date", "gte", value="2026-03-15T06:30:00Z")),
    ("trait_between_dates", _trait("signup_date", "between", low="2025-01-01", high="2025-12-31T23:00:00Z")),
    ("trait_in_strings", _trait("plan", "in", values=["pro", "enterprise"])),
    ("trait_in_mixed_types", _trait("age", "in", values=[42, "42", 18, True])),
    ("trait_not_in", _trait("plan", "not_in", values=["free", "pro"])),
    ("trait_contains_ignoring_case", _trait("name", "contains", value="anna")),
    ("trait_contains_unicode", _trait("name", "contains", value="zoë")),
    ("trait_contains_quote", _trait("name", "contains", value="o'brien")),
    ("trait_contains_percent", _trait("name", "contains", value="50%")),
    ("trait_contains_underscore", _trait("name", "contains", value="_")),
    ("trait_contains_backslash", _trait("name", "contains", value="\\")),
    ("trait_contains_array_element", _trait("interests", "contains", value="running")),
    ("trait_exists", _trait("birthday", "exists")),
    ("trait_not_exists", _trait("plan", "not_exists")),
    ("trait_nested_eq", _trait("address.city", "eq", value="Berlin")),
    ("trait_nested_contains", _trait("address.city", "contains", value="BERLIN")),
    ("trait_nested_deep", _trait("company.hq.city", "eq", value="Zürich")),
    ("trait_nested_exists", _trait("address.city", "exists")),
    ("trait_nested_ne", _trait("company.name", "ne", value="Acme")),
    ("trait_path_into_array", _trait("interests.0", "exists")),  # arrays are not walked: nobody
    ("trait_within_next_days", _trait("ad_expires_at", "within_next_days", days=3)),
    ("trait_within_next_days_long", _trait("ad_expires_at", "within_next_days", days=100)),
    ("trait_within_last_days", _trait("ad_expires_at", "within_last_days", days=7)),
    ("trait_anniversary_today", _trait("birthday", "anniversary_within_next_days", days=1)),
    ("trait_anniversary_week", _trait("birthday", "anniversary_within_next_days", days=7)),
    ("trait_anniversary_year_end", _trait("birthday", "anniversary_within_next_days", days=200)),
    # 258 days end on 28 February 2027, before where 29 February sorts; 260 days reach 2 March.
    ("trait_anniversary_to_feb_28", _trait("birthday", "anniversary_within_next_days", days=258)),
    ("trait_anniversary_feb_29", _trait("birthday", "anniversary_within_next_days", days=260)),
    ("trait_anniversary_any", _trait("birthday", "anniversary_within_next_days", days=365)),
]

COMPUTED: list[tuple[str, JSON]] = [
    ("computed_orders_gte", _computed("orders", "gte", value=3)),
    ("computed_orders_eq", _computed("orders", "eq", value=3)),
    ("computed_orders_ne", _computed("orders", "ne", value=0)),
    ("computed_net_revenue_between", _computed("net_revenue", "between", low=100, high=500.5)),
    ("computed_return_rate_gt", _computed("return_rate", "gt", value=0.5)),
    ("computed_emails_opened_lte", _computed("emails_opened", "lte", value=5)),
    ("computed_favourite_eq", _computed("favourite_category", "eq", value="shoes")),
    ("computed_favourite_in", _computed("favourite_category", "in", values=["bags", "Shoes"])),
    ("computed_favourite_not_exists", _computed("favourite_category", "not_exists")),
    ("computed_last_seen_within_last", _computed("last_seen", "within_last_days", days=30)),
    ("computed_first_seen_lt", _computed("first_seen", "lt", value="2026-01-01")),
    ("computed_last_order_gte", _computed("last_order_at", "gte", value="2026-04-01T00:00:00Z")),
    ("computed_last_session_not_exists", _computed("last_session_at", "not_exists")),
    ("computed_last_session_between", _computed("last_session_at", "between", low="2026-03-01",
                                                 high="2026-05-01T12:00:00+02:00")),
]

PERFORMED: list[tuple[str, JSON]] = [
    ("performed_viewed", _performed("Product Viewed")),
    ("performed_viewed_5_in_30d", _performed("Product Viewed", count={"operator": "at_least", "value": 5},
                                             window={"last_days": 30})),
    ("performed_order_revenue_gt", _performed("Order Completed", where=[_where("revenue", "gt", value=100)])),
    ("performed_order_currency_exactly_2", _performed(
        "Order Completed", where=[_where("currency", "eq", value="EUR")], count={"operator": "exactly", "value": 2})),
    ("performed_added_nested_where", _performed("Product Added",
                                                where=[_where("product.category", "eq", value="shoes")])),
    ("performed_where_array_contains", _performed("Product Viewed", where=[_where("tags", "contains", value="sale")])),
    ("performed_where_ne", _performed("Order Completed", where=[_where("coupon", "ne", value="SUMMER10")])),
    ("performed_where_exists", _performed("Order Completed", where=[_where("coupon", "exists")])),
    ("performed_where_two_filters", _performed("Order Completed", where=[
        _where("payment.method", "eq", value="card"), _where("revenue", "not_exists")])),
    ("performed_where_in_mixed", _performed("Product Added", where=[_where("quantity", "in", values=[2, "3"])])),
    ("performed_where_price_between", _performed("Product Viewed", where=[_where("price", "between", low=20, high=130)],
                                                 count={"operator": "at_least", "value": 3})),
    ("performed_never_ordered", _performed("Order Completed", count={"operator": "exactly", "value": 0})),
    ("performed_no_order_30d", _performed("Order Completed", count={"operator": "exactly", "value": 0},
                                          window={"last_days": 30})),
    ("performed_at_most_2_added", _performed("Product Added", count={"operator": "at_most", "value": 2})),
    ("performed_since_until", _performed("Product Viewed", window={
        "since": "2026-04-01T00:00:00Z", "until": "2026-05-01T00:00:00+02:00"})),
    ("performed_since_only", _performed("Order Completed", window={"since": "2026-05-20T06:00:00Z"})),
    ("performed_until_only", _performed("Order Completed", window={"until": "2026-03-10T00:00:00Z"},
                                        count={"operator": "at_least", "value": 2})),
    ("performed_page", _performed("Home")),
    ("performed_screen", _performed("Cart", window={"last_days": 60})),
    ("performed_lowercase_name", _performed("order completed")),
    ("performed_at_least_3_in_14d", _performed("Product Added", count={"operator": "at_least", "value": 3},
                                               window={"last_days": 14})),
]

SEQUENCES: list[tuple[str, JSON]] = [
    ("sequence_added_then_ordered", _seq("Product Added", "Order Completed", 60)),
    ("sequence_added_then_ordered_30d", _seq("Product Added", "Order Completed", 30, window={"last_days": 30})),
    ("sequence_viewed_then_added_where", {
        "type": "sequence", "first": {"event": "Product Viewed", "where": [_where("product.category", "eq",
                                                                                  value="shoes")]},
        "then": {"event": "Product Added"}, "within_minutes": 30}),
    ("sequence_email_opened", _seq("Email Delivered", "Email Opened", 120, window={"since": "2026-04-01T00:00:00Z"})),
    ("sequence_abandoned_cart", _seq("Product Added", "Order Completed", 60, then_absent=True)),
    ("sequence_abandoned_cart_day", _seq("Product Added", "Order Completed", 1440, then_absent=True,
                                         window={"last_days": 45})),
    ("sequence_abandoned_where", {
        "type": "sequence", "first": {"event": "Product Added", "where": [_where("price", "gte", value=100)]},
        "then": {"event": "Order Completed", "where": [_where("currency", "eq", value="EUR")]},
        "within_minutes": 120, "then_absent": True}),
    ("sequence_unopened_email", _seq("Email Delivered", "Email Opened", 1440, then_absent=True,
                                     window={"since": "2026-03-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"})),
]

INACTIVE: list[tuple[str, JSON]] = [
    ("inactive_session_14", {"type": "inactive", "activity": "session", "days": 14}),
    ("inactive_session_30", {"type": "inactive", "activity": "session", "days": 30}),
    ("inactive_session_60", {"type": "inactive", "activity": "session", "days": 60}),
    ("inactive_purchase_30", {"type": "inactive", "activity": "purchase", "days": 30}),
    ("inactive_purchase_90", {"type": "inactive", "activity": "purchase", "days": 90}),
    ("inactive_event_viewed", {"type": "inactive", "activity": "event", "event": "Product Viewed", "days": 21}),
    ("inactive_event_email", {"type": "inactive", "activity": "event", "event": "Email Opened", "days": 45}),
]

DEVICES: list[tuple[str, JSON]] = [
    ("device_platform_eq", _device("platform", "eq", value="ios")),
    ("device_platform_ne", _device("platform", "ne", value="web")),
    ("device_platform_in", _device("platform", "in", values=["android", "tvos"])),
    ("device_platform_not_in", _device("platform", "not_in", values=["ios", "android"])),
    ("device_platform_exists", _device("platform", "exists")),
    ("device_platform_not_exists", _device("platform", "not_exists")),
    ("device_os_name_contains", _device("os_name", "contains", value="OS")),
    ("device_os_name_eq", _device("os_name", "eq", value="iPadOS")),
    ("device_os_version_not_in", _device("os_version", "not_in", values=["14", "17.4"])),
    ("device_os_version_gte", _device("os_version", "gte", value="17.4")),
    ("device_os_version_lt", _device("os_version", "lt", value="14")),
    ("device_app_version_gt", _device("app_version", "gt", value="5.9")),
    ("device_app_version_lte", _device("app_version", "lte", value="5.10")),
    ("device_app_version_between", _device("app_version", "between", low="5.9.5", high="5.10.1")),
    ("device_app_version_eq_text", _device("app_version", "eq", value="5.10")),
    ("device_app_version_ne", _device("app_version", "ne", value="6")),
    ("device_app_version_not_exists", _device("app_version", "not_exists")),
    ("device_model_eq", _device("model", "eq", value="Pixel 8")),
    ("device_model_contains", _device("model", "contains", value="iphone")),
    ("device_model_not_in", _device("model", "not_in", values=["Pixel 8", "SM-S918B"])),
    ("device_push_token_true", _device("has_push_token", "eq", value=True)),
    ("device_push_token_false", _device("has_push_token", "eq", value=False)),
    ("device_push_token_ne_true", _device("has_push_token", "ne", value=True)),
]

LOCATIONS: list[tuple[str, JSON]] = [
    ("location_country", {"type": "location", "country": "DE"}),
    ("location_country_lower", {"type": "location", "country": "fr"}),
    ("location_region_unicode_case", {"type": "location", "region": "île-de-france"}),
    ("location_region_and_country", {"type": "location", "country": "DE", "region": "bavaria"}),
    ("location_postal_code", {"type": "location", "postal_code": "10115"}),
    ("location_postal_leading_zero", {"type": "location", "postal_code": "01067"}),
    ("location_near_berlin", {"type": "location", "near": {"latitude": 52.52, "longitude": 13.405,
                                                           "radius_km": 11}}),
    ("location_near_berlin_wide", {"type": "location", "near": {"latitude": 52.52, "longitude": 13.405,
                                                                "radius_km": 40}}),
    ("location_near_paris_and_country", {"type": "location", "country": "FR",
                                         "near": {"latitude": 48.85, "longitude": 2.35, "radius_km": 4}}),
    ("location_near_sydney", {"type": "location", "near": {"latitude": -33.87, "longitude": 151.21,
                                                           "radius_km": 100}}),
]

REACHABLE: list[tuple[str, JSON]] = [
    ("reachable_email", {"type": "reachable", "channel": "email"}),
    ("reachable_email_newsletter", {"type": "reachable", "channel": "email", "topic": "newsletter"}),
    ("reachable_sms", {"type": "reachable", "channel": "sms"}),
    ("reachable_sms_promotions", {"type": "reachable", "channel": "sms", "topic": "promotions"}),
    ("reachable_push", {"type": "reachable", "channel": "push"}),
    ("reachable_push_newsletter", {"type": "reachable", "channel": "push", "topic": "newsletter"}),
    ("reachable_web_push", {"type": "reachable", "channel": "web_push"}),
    ("reachable_web_push_promotions", {"type": "reachable", "channel": "web_push", "topic": "promotions"}),
    ("reachable_in_app", {"type": "reachable", "channel": "in_app"}),
    ("reachable_in_app_topic", {"type": "reachable", "channel": "in_app", "topic": "newsletter"}),
]

ENGAGEMENT: list[tuple[str, JSON]] = [
    ("engagement_received_any", _engaged("received")),
    ("engagement_received_email_30d", _engaged("received", channel="email", window={"last_days": 30})),
    ("engagement_opened_email", _engaged("opened", channel="email")),
    ("engagement_opened_in_app", _engaged("opened", channel="in_app")),
    ("engagement_opened_sms_none", _engaged("opened", channel="sms")),  # SMS has no open: nobody
    ("engagement_clicked_campaign", _engaged("clicked", campaign_id="summer_sale")),
    ("engagement_received_campaign_numeric", _engaged("received", campaign_id="42")),  # not the number 42
    ("engagement_clicked_push_campaign", _engaged("clicked", channel="push", campaign_id="spring_sale",
                                                  window={"since": "2026-03-01T00:00:00Z"})),
    ("engagement_received_at_least_3", _engaged("received", count={"operator": "at_least", "value": 3})),
    ("engagement_opened_at_most_1", _engaged("opened", count={"operator": "at_most", "value": 1})),
    ("engagement_never_received_email", _engaged("received", channel="email",
                                                 count={"operator": "exactly", "value": 0})),
    ("engagement_web_push_clicked_window", _engaged("clicked", channel="web_push", window={
        "since": "2026-02-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"})),
    # Of the customer's last messages on a channel (the mirrored send ledger), how many drew the action.
    ("last_5_emails_opened_none", _engaged("opened", channel="email", of_last=5, count={"exactly": 0})),
    ("not_opened_any_of_last_5_emails", {"type": "not", "condition": _engaged(
        "opened", channel="email", of_last=5, count={"operator": "at_least", "value": 1})}),
    ("last_3_emails_clicked_at_least_1", _engaged("clicked", channel="email", of_last=3)),
    ("last_4_emails_opened_at_most_1", _engaged("opened", channel="email", of_last=4,
                                                count={"operator": "at_most", "value": 1})),
    ("last_1_email_received", _engaged("received", channel="email", of_last=1)),
    ("last_2_pushes_opened_exactly_1", _engaged("opened", channel="push", of_last=2, count={"exactly": 1})),
    ("last_3_sms_opened_none", _engaged("opened", channel="sms", of_last=3, count={"exactly": 0})),  # no SMS opens
    ("last_3_summer_emails_opened_2", _engaged("opened", channel="email", campaign_id="summer_sale", of_last=3,
                                               count={"at_least": 2})),
    ("last_10_emails_in_30_days_any", _engaged("received", channel="email", of_last=10, window={"last_days": 30},
                                               count={"at_least": 0})),
    ("last_100_emails_clicked_window", _engaged("clicked", channel="email", of_last=100, window={
        "since": "2026-04-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}, count={"at_most": 0})),
]

SEGMENTS: list[tuple[str, JSON]] = [
    ("in_segment_vip", {"type": "in_segment", "segment_id": "seg_vip"}),
    ("in_segment_lapsed", {"type": "in_segment", "segment_id": "seg_lapsed"}),
    ("in_segment_unknown", {"type": "in_segment", "segment_id": "seg_nope"}),
    ("in_segment_both", {"type": "and", "conditions": [{"type": "in_segment", "segment_id": "seg_vip"},
                                                       {"type": "in_segment", "segment_id": "seg_lapsed"}]}),
    ("in_segment_not_vip", {"type": "not", "condition": {"type": "in_segment", "segment_id": "seg_vip"}}),
]

_PUSH = {"type": "reachable", "channel": "push"}
_EMAIL = {"type": "reachable", "channel": "email"}
_ORDERED = _performed("Order Completed")
_VIP = {"type": "in_segment", "segment_id": "seg_vip"}

COMBINATIONS: list[tuple[str, JSON]] = [
    ("and_plan_ordered", {"type": "and", "conditions": [_trait("plan", "eq", value="pro"), _ORDERED]}),
    ("or_push_email", {"type": "or", "conditions": [_PUSH, _EMAIL]}),
    ("not_push_token", {"type": "not", "condition": _device("has_push_token", "eq", value=True)}),
    ("not_not_vip", {"type": "not", "condition": {"type": "not", "condition": _VIP}}),
    ("and_single", {"type": "and", "conditions": [_trait("nps", "gte", value=9)]}),
    ("abandoned_reachable_by_push", {"type": "and", "conditions": [
        _seq("Product Added", "Order Completed", 60, then_absent=True), _PUSH]}),
    ("vip_still_active", {"type": "and", "conditions": [
        _VIP, {"type": "not", "condition": {"type": "inactive", "activity": "session", "days": 30}}]}),
    ("berlin_by_location_or_trait", {"type": "or", "conditions": [
        {"type": "location", "near": {"latitude": 52.52, "longitude": 13.405, "radius_km": 11}},
        _trait("address.city", "eq", value="Berlin")]}),
    ("not_or", {"type": "not", "condition": {"type": "or", "conditions": [
        _trait("plan", "exists"), _device("platform", "eq", value="android")]}}),
    ("nested_three_levels", {"type": "or", "conditions": [
        {"type": "and", "conditions": [
            _computed("orders", "gte", value=1),
            {"type": "not", "condition": {"type": "or", "conditions": [_PUSH, _EMAIL]}}]},
        {"type": "and", "conditions": [_engaged("opened"), {"type": "location", "country": "FR"}]}]}),
    ("winback", {"type": "and", "conditions": [
        {"type": "inactive", "activity": "purchase", "days": 30}, _computed("orders", "gte", value=2),
        {"type": "or", "conditions": [_EMAIL, {"type": "reachable", "channel": "sms"}]}]}),
    ("birthday_reachable_not_lapsed", {"type": "and", "conditions": [
        _trait("birthday", "anniversary_within_next_days", days=30),
        {"type": "not", "condition": {"type": "in_segment", "segment_id": "seg_lapsed"}},
        {"type": "or", "conditions": [_PUSH, {"type": "reachable", "channel": "in_app"}]}]}),
]

CATALOG: list[tuple[str, JSON]] = [
    (key, _seg(key.replace("_", " "), condition))
    for key, condition in (*TRAITS, *COMPUTED, *PERFORMED, *SEQUENCES, *INACTIVE, *DEVICES, *LOCATIONS,
                           *REACHABLE, *ENGAGEMENT, *SEGMENTS, *COMBINATIONS)
]
