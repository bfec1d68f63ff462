"""The pure rules of landing pages: PURL links in templates and messages, and checking a form's answers."""

from __future__ import annotations

import pytest

from loopline.domain.landing_pages import FormField, LandingPageDefinition, check_answers, form_html
from loopline.domain.links import content_link_problems, link_kind, purl_slug, purl_slugs, rewrite_html, rewrite_text

FIELDS = [FormField(name="size", label="Size", type="number", required=True),
          FormField(name="colour", label="Colour", type="choice", choices=["red", "blue"]),
          FormField(name="news", label="News", type="boolean"),
          FormField(name="note", label="Note <b>")]


@pytest.mark.parametrize(("url", "slug"), [
    ("purl:spring-offer", "spring-offer"), (" purl:a ", "a"), ("purl:a1-b2", "a1-b2"),
    ("purl:", None), ("purl:Spring", None), ("purl:-a", None), ("purl:a-", None), ("purl:a_b", None),
    ("purl:a/b", None), ("https://shop.example/purl:a", None), ("PURL:a", None),
])
def test_a_purl_names_one_well_formed_slug(url: str, slug: str | None):
    assert purl_slug(url) == slug
    assert (link_kind(url) == "purl") is (slug is not None)


def test_purls_are_rewritten_in_html_and_text_and_malformed_ones_refused_at_save():
    seen: list[tuple[str, str]] = []

    def replace(url: str, label: str) -> str:
        seen.append((url, label))
        return "https://x.example/p/T"

    html = '<a href="purl:offer">Your <b>offer</b></a> <a href="https://shop.example/">Shop</a>'
    assert rewrite_html(html, replace).count("https://x.example/p/T") == 2
    assert seen[0] == ("purl:offer", "Your offer")
    assert rewrite_text("See purl:offer. Or purl:Bad", replace) == "See https://x.example/p/T. Or purl:Bad"
    assert purl_slugs(html, "text purl:other, purl:offer", None) == {"offer", "other"}
    problems = content_link_problems(channel="sms", body="Go purl:Bad_slug now", url="purl:", path="c")
    assert [(p["path"], p["code"]) for p in problems] == [("c.body", "unsafe_link"), ("c.url", "unsafe_link")]
    assert content_link_problems(channel="email", body='<a href="purl:ok">x</a>', url="purl:ok", path="c") == []
    for channel in ("push", "in_app"):  # the app shows its text as written: a page goes in the url
        assert content_link_problems(channel=channel, body="See purl:ok", url="purl:ok", path="c") == [
            {"path": "c.body", "message": "purl:ok: a landing page link goes in this channel's url, not in its text",
             "code": "unsafe_link"}]
        assert content_link_problems(channel=channel, body="See it", url="purl:ok", path="c") == []


@pytest.mark.parametrize(("submitted", "traits", "errors"), [
    ({"size": ["42"]}, {"size": 42, "news": False}, {}),
    ({"size": ["-3.5"], "colour": ["blue"], "news": ["on"], "note": ["  hi  "]},
     {"size": -3.5, "colour": "blue", "news": True, "note": "hi"}, {}),
    ({"size": [""]}, {"news": False}, {"size": "this field is required"}),
    ({"size": ["1_000"]}, {"news": False}, {"size": "enter a number"}),
    ({"size": ["inf"]}, {"news": False}, {"size": "enter a number"}),
    ({"size": ["1e16"]}, {"news": False}, {"size": "enter a number"}),
    ({"size": ["1", "2"]}, {"news": False}, {"size": "give one answer"}),
    ({"size": ["1"], "colour": ["Red"]}, {"size": 1, "news": False}, {"colour": "choose one of the options"}),
    ({"size": ["1"], "note": ["x" * 1001]}, {"size": 1, "news": False}, {"note": "this answer is too long"}),
    ({"size": ["1"], "unknown": ["x"], "email": ["a@b.example"]}, {"size": 1, "news": False}, {}),
])
def test_answers_are_checked_by_type_and_only_declared_fields_count(submitted, traits, errors):
    answers = check_answers(FIELDS, submitted)
    assert answers.errors == errors
    if not errors:
        assert answers.traits == traits


def test_the_form_escapes_labels_and_what_was_typed():
    page = LandingPageDefinition(slug="p", title="T", body="x", form=FIELDS)
    markup = form_html(page, action="/p/T", typed={"note": '"><script>'}, errors={"note": "bad <i>"})
    assert "<script>" not in markup
    assert 'value="&quot;&gt;&lt;script&gt;"' in markup
    assert "Note &lt;b&gt;" in markup
    assert 'id="ll-note-error">bad &lt;i&gt;</span>' in markup
    assert form_html(LandingPageDefinition(slug="p", title="T", body="x"), action="/", typed={}, errors={}) == ""
