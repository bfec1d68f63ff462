"""The pure parts of tracked links: tokens, the links a template may hold, and rewriting a message's links."""

from __future__ import annotations

import pytest

from loopline.domain.deep_links import click_of_referrer, version_prefixes
from loopline.domain.links import (
    check_token,
    content_link_problems,
    link_kind,
    link_problem,
    link_token,
    rewrite_html,
    rewrite_text,
    screen_of,
    tagged,
    with_pixel,
)

KEY = b"k" * 32


def test_a_token_is_the_same_for_the_same_link_and_checks_only_with_its_key():
    token = link_token(KEY, send_key="sk_1", position=1)
    assert token == link_token(KEY, send_key="sk_1", position=1)  # a send handed over again: the same links
    assert len(token) == 20
    assert check_token(KEY, token)
    assert not check_token(b"x" * 32, token)
    others = {link_token(KEY, send_key="sk_1", position=n) for n in range(50)} | {
        link_token(KEY, send_key=f"sk_{n}", position=1) for n in range(50)}
    assert len(others) == 99


@pytest.mark.parametrize("token", ["", "A" * 20, "A" * 19, "A" * 21, "A" * 19 + "=", "../" + "A" * 17, "é" * 20])
def test_anything_else_is_not_a_token(token):
    assert not check_token(KEY, token)


def test_every_single_character_change_is_refused():
    token = link_token(KEY, send_key="sk_1", position=3)
    for index in range(len(token)):
        for replacement in "AZaz09-_":
            changed = token[:index] + replacement + token[index + 1:]
            if changed != token:
                assert not check_token(KEY, changed), changed


@pytest.mark.parametrize("url", [
    "https://shop.example/sale", "http://shop.example", "HTTPS://SHOP.EXAMPLE/x?a=1#top", "https://[::1]:8443/x",
    "https://xn--bcher-kva.example/", "mailto:help@shop.example", "tel:+4930123", "sms:+4930123", "#top", "",
    "{{ event.url }}", "{% if x %}https://a.example{% endif %}", "https://shop.example/{{ traits.plan }}",
])
def test_links_a_template_may_hold(url):
    assert link_problem(url) is None


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "java\nscript:alert(1)",
    "&#x6A;avascript:alert(1)", "vbscript:x", "data:text/html,<script>", "file:///etc/passwd", "//evil.example",
    "\\\\evil.example", "/\\evil.example", "https:evil.example", "https:/\\evil.example", "https:\\\\evil.example",
    "https://user@evil.example", "https://shop.example%40evil.example", "https://%2F%2Fevil.example",
    "https%3A%2F%2Fevil.example", "https://evil .example", "https://{{ traits.host }}/", "https:///path",
    "/relative", "sale.html", "shopapp://sale", "intent://x#Intent;end",
])
def test_links_a_template_may_not_hold(url):
    assert link_problem(url) is not None


def test_apps_may_use_their_own_scheme_and_paths_but_never_script():
    assert link_problem("shopapp://sale", app_schemes=True) is None
    assert link_problem("/cart", app_schemes=True, relative=True) is None
    assert link_problem("javascript:alert(1)", app_schemes=True, relative=True) is not None
    assert link_problem("//evil.example", app_schemes=True, relative=True) is not None


def test_problems_name_the_part_of_the_content():
    body = '<a href="https://ok.example">a</a><a href=javascript:x>b</a>'
    problems = content_link_problems(channel="email", body=body, url="//evil.example", path="variants.0.content.email")
    assert [(p["path"], p["code"]) for p in problems] == [("variants.0.content.email.body", "unsafe_link"),
                                                          ("variants.0.content.email.url", "unsafe_link")]
    assert content_link_problems(channel="push", body="x", url="shopapp://sale", path="p") == []
    assert content_link_problems(channel="sms", body="javascript:alert(1) is not a link in a text", url=None,
                                 path="p") == []


def test_rewriting_an_emails_html():
    body = ("<p><a class='b' href='https://a.example/x?y=1&amp;z=2' target=_blank>Go <b>now</b></a>"
            '<a href=https://b.example>B</a><A HREF="mailto:x@y.example">mail</A><a href="#top">top</a>'
            '<a href="javascript:alert(1)">bad</a>'
            '<a title="a > b" href="https://c.example"><img alt="Logo" src="l.png"></a>'
            "<a name=anchor>no link</a><link href='https://fonts.example/css' rel=stylesheet></p>")
    seen: list[tuple[str, str]] = []

    def track(url: str, label: str) -> str:
        seen.append((url, label))
        return f"https://t.example/l/{len(seen)}"

    out = rewrite_html(body, track)
    assert seen == [("https://a.example/x?y=1&z=2", "Go now"), ("https://b.example", "B"),
                    ("https://c.example", "Logo")]
    assert "<a class='b' href=\"https://t.example/l/1\" target=_blank>Go <b>now</b></a>" in out
    assert '<a href="https://t.example/l/2">B</a>' in out
    assert '<A HREF="mailto:x@y.example">mail</A>' in out
    assert '<a href="#top">top</a>' in out
    assert '<a href="#">bad</a>' in out  # only a placeholder can have written it: dropped
    assert '<a title="a > b" href="https://t.example/l/3">' in out
    assert "<link href='https://fonts.example/css' rel=stylesheet>" in out  # not a link a reader follows


def test_a_link_kept_as_written_stays_byte_for_byte():
    body = '<a href="https://a.example/é?x=1&amp;y=2">x</a>'
    assert rewrite_html(body, lambda url, label: None) == body


def test_rewriting_a_text_message():
    text = "Sale (https://a.example/s). Also https://b.example/x?y=1, or mailto:x@y.example! http://c.example"
    out = rewrite_text(text, lambda url, label: "<" + url + ">")
    assert out == ("Sale (<https://a.example/s>). Also <https://b.example/x?y=1>, or mailto:x@y.example! "
                   "<http://c.example>")


def test_the_pixel_goes_before_the_end_of_the_body():
    assert with_pixel("<html><body><p>x</p></BODY></html>", "https://t/o/1.gif").endswith(
        '<img src="https://t/o/1.gif" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0"></BODY></html>')
    assert with_pixel("<p>x</p>", "https://t/o/1.gif").startswith("<p>x</p><img ")


def test_utm_parameters_are_added_once_and_keep_the_fragment():
    params = {"utm_source": "loopline", "utm_medium": "email", "ll_send": "sk_1"}
    assert tagged("https://a.example/p?x=1#top", params) == (
        "https://a.example/p?x=1&utm_source=loopline&utm_medium=email&ll_send=sk_1#top")
    assert tagged("https://a.example/p?utm_source=news", params) == "https://a.example/p?utm_source=news&ll_send=sk_1"
    assert tagged("https://a.example/p", {"utm_content": ""}) == "https://a.example/p"


def test_what_a_link_becomes_and_the_screen_it_names():
    assert [link_kind(u) for u in ("https://a.example", "mailto:x", "#", "javascript:x", "//a.example")] == [
        "track", "keep", "keep", "drop", "drop"]
    assert screen_of("https://shop.example/product/12?color=red#reviews") == "product/12?color=red"
    assert screen_of("https://shop.example") == ""


def test_an_install_referrer_carries_the_click_and_versions_match_by_prefix():
    assert click_of_referrer("utm_source=google-play&ll_click=abcdEFGH1234_-") == "abcdEFGH1234_-"
    assert click_of_referrer("ll_click=<script>") is None
    assert click_of_referrer(None) is None
    assert version_prefixes("17.5.1") == ["17", "17.5", "17.5.1"]
    assert version_prefixes("14") == ["14"]
    assert version_prefixes(None) == []
