"""Recognised e-commerce and lifecycle events (Segment spec names) and what they are worth."""

from __future__ import annotations

from typing import Any

ORDER_COMPLETED = "Order Completed"
ORDER_CANCELLED = "Order Cancelled"
ORDER_REFUNDED = "Order Refunded"
PRODUCT_RETURNED = "Product Returned"
PRODUCT_EVENTS = frozenset(
    {"Product Viewed", "Product Added", "Product Clicked", "Product Added to Wishlist"}
)
EMAIL_OPENED = "Email Opened"
EMAIL_CLICKED = "Email Link Clicked"
PUSH_RECEIVED = "Push Notification Received"
PUSH_TAPPED = "Push Notification Tapped"
APP_INSTALLED = "Application Installed"
APP_OPENED = "Application Opened"
TRANSACTION_EVENTS = frozenset({ORDER_COMPLETED, ORDER_CANCELLED, ORDER_REFUNDED, PRODUCT_RETURNED})


def as_number(value: Any) -> float:
    """Return a numeric property as float; absent or non-numeric values count as 0."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def order_value(properties: dict[str, Any]) -> float:
    """Return an order's value: ``revenue`` when given, else ``total``, as the spec suggests."""
    if "revenue" in properties:
        return as_number(properties["revenue"])
    return as_number(properties.get("total"))


def returned_value(properties: dict[str, Any]) -> float:
    """Return the value of a returned product line: price × quantity (quantity defaults to 1)."""
    quantity = as_number(properties.get("quantity")) or 1.0
    return as_number(properties.get("price")) * quantity


def categories_of(event: str, properties: dict[str, Any]) -> list[str]:
    """Return the product categories an event touches, for the favourite-category property."""
    if event in PRODUCT_EVENTS:
        category = properties.get("category")
        return [category] if isinstance(category, str) and category else []
    if event == ORDER_COMPLETED:
        products = properties.get("products")
        if isinstance(products, list):
            return [
                p["category"]
                for p in products
                if isinstance(p, dict) and isinstance(p.get("category"), str) and p["category"]
            ]
    return []
