"""An email campaign written in MJML arrives as table-based HTML with its CSS inlined and its
personalisation filled in; a layout that does not parse is refused when the campaign is saved."""

from __future__ import annotations

import email
import email.policy

from tests.delivery.test_unsubscribe import _relay
from tests.engagement.conftest import customers

LAYOUT = """<mjml><mj-head><mj-style>.offer { color: #e11d48; }</mj-style></mj-head><mj-body>
<mj-section><mj-column><mj-text css-class="offer">Hallo {{ traits.firstName }}!</mj-text>
<mj-button href="https://shop.example/sale">Zum Sale</mj-button></mj-column></mj-section></mj-body></mjml>"""


def test_an_mjml_campaign_arrives_as_inlined_html(shop, relay, key):
    handler, port = relay
    pem, _ = key
    shop.ingest(customers(1))
    shop.opt_in(["u-00000"])
    assert shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                           json={"channel": "email", "provider": _relay(port, pem)}).status_code == 200
    campaign = shop.campaign(shop.segment(), variants=[{"name": "A", "split": 100, "content": {
        "email": {"subject": "Sale", "body": LAYOUT}}}])
    shop.move(campaign["id"], "schedule")
    shop.tick()
    ((_, _, raw),) = handler.received
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    html = mail.get_body(("html",)).get_content()
    assert "<mj-" not in html
    assert "Hallo Kim0!" in html
    assert "color: #e11d48" in html  # the class's rule, written into the element
    assert "Zum Sale" in mail.get_body(("plain",)).get_content()


def test_a_broken_layout_is_refused_at_save(shop):
    segment = shop.segment()
    answer = shop.client.post("/api/v1/campaigns", headers=shop.headers, json={"name": "Broken", "definition": {
        "objective": "x", "success_metric": {"event": "Order Completed"}, "audience": {"segments": [segment]},
        "channels": ["email"], "variants": [{"name": "A", "split": 100, "content": {
            "email": {"subject": "x", "body": "<mjml><mj-body><mj-section>"}}}]}})
    assert answer.status_code == 422, answer.text
    assert "MJML" in answer.text
    assert "variants.0.content.email.body" in answer.text
