"""Ready-made journeys: the lifecycle automations most shops and apps start with.

Each template is a journey definition; those started by a segment take the segment's id.
Date triggers ("three days before ``ad_expires_at``", birthdays) are segments over the
date-valued trait (``within_next_days``, ``anniversary_within_next_days``) with a journey
on entering them, so a template for them names the segment it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JourneyTemplate:
    """A named journey definition, and the segment it needs, if any (what it means in words)."""

    key: str
    name: str
    description: str
    needs_segment: str | None
    definition: dict[str, Any]


def _send(step_id: str, channels: list[str], content: dict[str, dict[str, str]], next_step: str | None = None,
          ) -> dict[str, Any]:
    return {"id": step_id, "type": "send", "channels": channels, "content": content, "next": next_step}


WELCOME = JourneyTemplate(
    "welcome_series", "Welcome series",
    "Greets a new customer at once, shares tips two days later, and offers a first-order code after five "
    "days unless they have ordered.", None, {
        "trigger": {"type": "event", "event": "Signed Up"}, "entry": {"rule": "once"},
        "goal": {"event": "Order Completed"}, "topic": "onboarding",
        "steps": [
            _send("welcome", ["email", "push"], {
                "email": {"subject": "Welcome, {{ traits.firstName | default('friend') }}!",
                          "body": "<p>Good to have you with us.</p>"},
                "push": {"body": "Welcome, {{ traits.firstName | default('friend') }}!"}}, "two_days"),
            {"id": "two_days", "type": "wait", "minutes": 2_880, "next": "tips"},
            _send("tips", ["email"], {"email": {"subject": "Three things to try first",
                                                "body": "<p>Save favourites, set size alerts, track orders.</p>"}},
                  "three_days"),
            {"id": "three_days", "type": "wait", "minutes": 4_320, "next": "first_order"},
            _send("first_order", ["email", "push"], {
                "email": {"subject": "10% off your first order", "body": "<p>Use code HELLO10 at checkout.</p>"},
                "push": {"body": "10% off your first order: HELLO10"}}),
        ]})

CART_ABANDONMENT = JourneyTemplate(
    "cart_abandonment", "Cart abandonment with an incentive",
    "One hour after a product is added to the cart with no order, a reminder; a day later, a code.", None, {
        "trigger": {"type": "event", "event": "Product Added"}, "entry": {"rule": "once_per_days", "days": 1},
        "goal": {"event": "Order Completed"}, "topic": "cart",
        "steps": [
            {"id": "hour", "type": "wait", "minutes": 60, "until_event": {"event": "Order Completed"},
             "next": "remind", "on_event": "bought"},
            _send("remind", ["push", "email"], {
                "push": {"body": "{{ event.name | default('Your item') }} is still in your cart"},
                "email": {"subject": "You left something behind",
                          "body": "<p>{{ event.name | default('Your item') }} is waiting for you.</p>"}}, "day"),
            {"id": "day", "type": "wait", "minutes": 1_440, "next": "incentive"},
            _send("incentive", ["email"], {"email": {
                "subject": "10% off what is in your cart", "body": "<p>Use code CART10 within 48 hours.</p>"}}),
            {"id": "bought", "type": "exit"},
        ]})

LOW_BALANCE = JourneyTemplate(
    "low_balance_alert", "Low-balance service alert",
    "A service message when a balance update falls below the customer's own alert threshold "
    "(trait alert_threshold, 10 when unset).", None, {
        "trigger": {"type": "event", "event": "Balance Updated"}, "entry": {"rule": "every_time"},
        "priority": "service", "topic": "account",
        "steps": [
            {"id": "below", "type": "branch", "then": "alert", "condition": {
                "source": "event", "path": "balance", "against_trait": "alert_threshold",
                "test": {"operator": "lt", "value": 10}}},
            _send("alert", ["push", "sms", "email"], {
                "push": {"body": "Your balance is {{ event.balance }}"},
                "sms": {"body": "Your balance is {{ event.balance }}. Top up in the app."},
                "email": {"subject": "Your balance is low", "body": "<p>Your balance is {{ event.balance }}.</p>"}}),
        ]})


PRODUCT_RECALL = JourneyTemplate(
    "product_recall", "Product recall notice",
    "When the back office sends Product Recalled with a product_id, a service message reaches every customer "
    "who ever ordered that product, on the first channel that reaches them.", None, {
        "trigger": {"type": "past_buyers", "event": "Product Recalled"}, "entry": {"rule": "every_time"},
        "priority": "service", "topic": "account",
        "steps": [
            {"id": "notice", "type": "send", "channels": ["email", "push", "sms"], "content": {
                 "email": {"subject": "Safety recall: {{ event.name | default('a product you bought') }}",
                           "body": "<p>Please stop using {{ event.name | default('the product') }}."
                                   " {{ event.instructions | default('We will contact you about a refund.') }}</p>"},
                 "push": {"body": "Safety recall: {{ event.name | default('a product you bought') }}"},
                 "sms": {"body": "Safety recall: {{ event.name | default('a product you bought') }}."
                                 " Please stop using it."}}},
        ]})


def win_back(segment_id: str) -> JourneyTemplate:
    """Return the win-back journey for a segment of inactive customers."""
    return JourneyTemplate(
        "win_back", "Win-back after inactivity",
        "Entering an inactivity segment: a we-miss-you message; a week later, an offer unless they came back.",
        "inactive customers", {
            "trigger": {"type": "segment_entered", "segment_id": segment_id}, "entry": {"rule": "once_per_days",
                                                                                        "days": 60},
            "goal": {"event": "Order Completed"}, "topic": "promotions",
            "steps": [
                _send("miss_you", ["push", "email"], {
                    "push": {"body": "We miss you, {{ traits.firstName | default('friend') }}"},
                    "email": {"subject": "It has been a while",
                              "body": "<p>New in {{ recommendations.favourite_category | default('store') }}.</p>"}},
                      "week"),
                {"id": "week", "type": "wait", "minutes": 10_080, "next": "offer"},
                _send("offer", ["email"], {"email": {"subject": "15% off to welcome you back",
                                                     "body": "<p>Code BACK15, valid for a week.</p>"}}),
            ]})


def classified_ad_expiring(segment_id: str) -> JourneyTemplate:
    """Return the ad-expiry reminder for a segment of customers whose ``ad_expires_at`` is near."""
    return JourneyTemplate(
        "classified_ad_expiring", "Classified ad expiring",
        "Entering a segment of ads expiring within three days: a reminder to renew, at 09:00 their time.",
        "ad_expires_at within the next 3 days", {
            "trigger": {"type": "segment_entered", "segment_id": segment_id}, "entry": {"rule": "every_time"},
            "topic": "listings", "priority": "transactional",
            "steps": [
                {"id": "morning", "type": "wait", "until_local_time": "09:00", "next": "renew"},
                _send("renew", ["push", "email"], {
                    "push": {"body": "Your ad expires on {{ traits.ad_expires_at }}: renew it in one tap"},
                    "email": {"subject": "Your ad expires soon",
                              "body": "<p>Your ad runs until {{ traits.ad_expires_at }}.</p>"}}),
            ]})


def templates(segments: dict[str, str]) -> list[JourneyTemplate]:
    """Return every template; segment-triggered ones for the segment ids given by template key."""
    found = [WELCOME, CART_ABANDONMENT, LOW_BALANCE, PRODUCT_RECALL]
    if "win_back" in segments:
        found.append(win_back(segments["win_back"]))
    if "classified_ad_expiring" in segments:
        found.append(classified_ad_expiring(segments["classified_ad_expiring"]))
    return found
