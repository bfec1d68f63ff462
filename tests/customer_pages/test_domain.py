"""The pure parts: preference links, what the page shows, which choices a form makes, and themes as CSS."""

from __future__ import annotations

import pytest

from loopline.domain.preferences import (
    BadPreferenceLink,
    PreferenceLink,
    choices_from_form,
    preference_grid,
    read_token,
    toggled,
    token_for,
)
from loopline.domain.themes import Theme, ThemeRejected, contrast_ratio, css_variables, parse_theme, text_on
from loopline.domain.topics import TopicDefinition, TopicRejected, parse_topic

KEY = b"k" * 32
NEWS = TopicDefinition(key="news", label="News", channels=["email", "sms"], default_status="opted_in")
OFFERS = TopicDefinition(key="offers", label="Offers", channels=["email"])


def test_a_preference_link_reads_back_and_any_change_breaks_it() -> None:
    link = PreferenceLink("ws_1", "p_1")
    token = token_for(KEY, link)
    assert read_token(KEY, token) == link
    with pytest.raises(BadPreferenceLink, match="altered"):
        read_token(b"x" * 32, token)
    with pytest.raises(BadPreferenceLink, match="not one of ours"):
        read_token(KEY, "u1" + token[2:])
    with pytest.raises(BadPreferenceLink, match="damaged"):
        read_token(KEY, "p1.%%%.abc")


def test_the_grid_shows_own_choices_then_a_left_channel_then_a_missing_opt_in_then_the_default() -> None:
    opt_in = {"email", "sms"}
    grid = preference_grid([NEWS, OFFERS], {("email", "offers"): "opted_in", ("email", "all"): "opted_in"}, opt_in)
    assert [c["channel"] for c in grid["channels"]] == ["email", "sms"]
    rows = {row["key"]: {b["channel"]: (b["offered"], b["checked"]) for b in row["boxes"]} for row in grid["topics"]}
    # Texts need an opt-in nobody gave: the newsletter's default does not tick that box in advance.
    assert rows == {"news": {"email": (True, True), "sms": (True, False)},
                    "offers": {"email": (True, True), "sms": (False, False)}}
    assert [(b["channel"], b["checked"]) for b in grid["leave"]] == [("email", False), ("sms", False)]
    without_opt_in = preference_grid([NEWS], {("sms", "all"): "opted_out"}, set())
    assert [b["checked"] for b in without_opt_in["topics"][0]["boxes"]] == [True, False]
    assert [b["checked"] for b in without_opt_in["leave"]] == [False, True]


def test_a_form_makes_a_choice_for_each_box_the_customer_changed_and_no_other() -> None:
    stored = {("email", "all"): "opted_in"}  # news by email shows ticked (its default), offers not
    assert toggled([NEWS, OFFERS], stored, {"email", "sms"}, {"email:news"}) == []
    assert choices_from_form([NEWS, OFFERS], stored, {"email", "sms"}, {"email:news"}) == []
    choices = choices_from_form([NEWS, OFFERS], stored, {"email", "sms"}, {"email:offers", "sms:news"})
    assert [(c["channel"], c["topic"], c["status"]) for c in choices] == [
        ("email", "news", "opted_out"), ("email", "offers", "opted_in"), ("sms", "news", "opted_in")]
    assert {c["source"] for c in choices} == {"preference_center"}
    # Leaving a channel turns off the topics the customer had opted in to on it, whatever else is ticked.
    own = {("email", "offers"): "opted_in", ("email", "all"): "opted_in"}
    leaving = choices_from_form([NEWS, OFFERS], own, {"email", "sms"}, {"email:all", "email:news", "email:offers"})
    assert [(c["channel"], c["topic"], c["status"]) for c in leaving] == [
        ("email", "all", "opted_out"), ("email", "offers", "opted_out")]
    back = choices_from_form([NEWS], {("email", "all"): "opted_out"}, {"email"}, {"sms:news"})
    assert [(c["channel"], c["topic"], c["status"]) for c in back] == [("email", "all", "opted_in")]
    # Boxes of channels or topics the catalogue does not offer are ignored.
    assert choices_from_form([OFFERS], {}, set(), {"sms:offers", "push:all", "email:news", "email:offers"}) == [
        {"channel": "email", "topic": "offers", "status": "opted_in", "source": "preference_center"}]


def test_topics_are_validated_and_normalised() -> None:
    topic = parse_topic({"key": "a.b-c_1", "label": " Deals ", "channels": ["web_push", "email"]})
    assert (topic.label, topic.channels, topic.default_status) == ("Deals", ["email", "web_push"], "opted_out")
    with pytest.raises(TopicRejected) as refused:
        parse_topic({"key": "x", "label": "X\x00", "channels": ["email"]})
    assert refused.value.problems[0]["path"] == "label"
    with pytest.raises(TopicRejected):
        parse_topic({"key": "x", "label": "X", "channels": ["email"], "colour": "red"})


def test_a_theme_becomes_custom_properties_of_validated_values_only() -> None:
    theme = parse_theme({"primary_color": "#FFF", "text_color": "#000000", "font": "monospace"})
    assert theme.primary_color == "#ffffff"
    css = css_variables(theme)
    assert css == (":root{--brand-primary:#ffffff;--brand-on-primary:#000000;--brand-background:#ffffff;"
                   "--brand-text:#000000;--brand-font:" + 'ui-monospace, "Cascadia Code", Menlo, Consolas, '
                   '"DejaVu Sans Mono", monospace;}')
    assert text_on("#1f6feb") == "#ffffff"
    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0
    for bad in ({"primary_color": "#fff;}"}, {"font": "system;}body{"}, {"logo_url": "https://a.example/x'y"},
                {"logo_url": "data:image/png;base64,AAAA"}, {"background_color": "rgb(0,0,0)"}):
        with pytest.raises(ThemeRejected):
            parse_theme(bad)
    assert Theme().logo_url is None
    assert parse_theme({"logo_url": "  "}).logo_url is None
