"""Email HTML: MJML layouts become HTML with the template placeholders intact, <style> rules are
inlined (media queries kept), nothing is fetched, and a broken layout is refused with a reason."""

from __future__ import annotations

import time

import pytest

from loopline.domain.email_html import EmailHtmlRejected, email_html, is_mjml
from loopline.domain.templates import RenderLimits, compile_template, render

LAYOUT = """<mjml>
  <mj-head><mj-style>.offer { color: #e11d48; }</mj-style></mj-head>
  <mj-body>
    <mj-section><mj-column>
      <mj-text css-class="offer">Hallo {{ traits.firstName | default('du') }}!</mj-text>
      {% if traits.plan == 'pro' %}<mj-text>Pro perks inside</mj-text>{% endif %}
      <mj-button href="{{ links.shop }}">Zum Shop</mj-button>
    </mj-column></mj-section>
  </mj-body>
</mjml>"""


def test_an_mjml_layout_becomes_html_that_still_personalises():
    html = email_html(LAYOUT)
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "<mj-" not in html
    assert "{{ traits.firstName | default('du') }}" in html
    template = compile_template(html, allowed_names=frozenset({"traits", "links"}), html=True)
    out = render(template, {"traits": {"firstName": "Ada", "plan": "pro"}, "links": {"shop": "https://shop.example/"}},
                 clock=time.monotonic, limits=RenderLimits())
    assert "Hallo Ada!" in out
    assert "Pro perks inside" in out
    assert 'href="https://shop.example/"' in out


def test_style_rules_are_inlined_and_media_queries_kept():
    html = email_html("<html><head><style>p.note { color: red } @media (max-width: 480px) { p { font-size: 18px } }"
                      "</style></head><body><p class=\"note\">Hi {{ traits.firstName }}</p></body></html>")
    assert '<p class="note" style="color: red;">Hi {{ traits.firstName }}</p>' in html
    assert "@media (max-width: 480px)" in html
    # MJML's own classes are inlined too.
    assert "color: #e11d48" in email_html(LAYOUT)


def test_nothing_is_fetched_and_plain_bodies_stay_as_written():
    # A stylesheet link to an address nobody serves: fetching it would fail the call.
    linked = '<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css"><style>b{color:red}</style></head>' \
             "<body><b>Hi</b></body></html>"
    assert 'style="color: red;"' in email_html(linked)
    assert email_html("<p>Hello {{ traits.firstName }}</p>") == "<p>Hello {{ traits.firstName }}</p>"


@pytest.mark.parametrize("broken", ["<mjml><mj-body><mj-section>", "<mjml>text only"])
def test_a_broken_layout_is_refused_with_a_reason(broken):
    assert is_mjml(broken)
    with pytest.raises(EmailHtmlRejected, match="MJML"):
        email_html(broken)
