"""The preference center: a customer's topics × channels from a signed link, saved as consents that sends obey.

The page needs no login; its signed token is the authority, a POST from another site is
refused, and a link that does not verify changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from loopline.actions.preferences import PURPOSE
from loopline.actions.unsubscribe import PURPOSE as UNSUBSCRIBE_PURPOSE
from loopline.domain.preferences import PreferenceLink, token_for
from loopline.domain.unsubscribe import UnsubscribeLink
from loopline.domain.unsubscribe import token_for as unsubscribe_token_for
from loopline.store.sql.tables import workspace_themes
from tests.engagement.conftest import Shop, customers, shop  # noqa: F401 - the shop fixture serves these tests

TOPICS = [
    {"key": "news", "label": "Newsletter", "description": "Once a month", "channels": ["email", "sms"],
     "default_status": "opted_in"},
    {"key": "offers", "label": "Special offers", "channels": ["email"], "default_status": "opted_out"},
]
BOX = re.compile(r'<input type="checkbox" name="([^"]+)" value="on"( checked)?>')


def _catalogue(shop: Shop) -> None:  # noqa: F811
    for topic in TOPICS:
        answer = shop.client.post("/api/v1/topics", headers=shop.headers, json=topic)
        assert answer.status_code == 201, answer.text


def _link(shop: Shop, user: str) -> str:  # noqa: F811
    """Return the path of a customer's preference center, as the management API hands it out."""
    answer = shop.client.get(f"/api/v1/profiles/{user}/preferences-link", headers=shop.headers)
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert url.startswith(shop.runtime.services.settings.resolved_public_url + "/preferences/p1.")
    return urlsplit(url).path


def _boxes(html: str) -> dict[str, bool]:
    return {name: bool(checked) for name, checked in BOX.findall(html)}


def _consents(shop: Shop, user: str) -> dict[tuple[str, str], tuple[str, str]]:  # noqa: F811
    view = shop.client.get(f"/api/v1/profiles/{user}", headers=shop.headers).json()
    return {(c["channel"], c["topic"]): (c["status"], c["source"]) for c in view["consents"]}


def test_opting_out_of_a_topic_is_recorded_and_the_next_campaign_on_it_skips_the_customer(
        shop: Shop) -> None:  # noqa: F811
    shop.ingest(customers(2))
    shop.opt_in(["u-00000", "u-00001"])
    _catalogue(shop)
    path = _link(shop, "u-00000")
    page = shop.client.get(path)
    assert page.status_code == 200, page.text
    # Defaults: the newsletter is on for someone who opted in to email, offers are off; texts need an
    # opt-in the customer never gave, so no box of them is ticked in advance.
    assert _boxes(page.text) == {"email:news": True, "sms:news": False, "email:offers": False,
                                 "email:all": False, "sms:all": False}
    assert "Once a month" in page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text

    saved = shop.client.post(path, data={"sms:news": "on", "email:offers": "on"})
    assert saved.status_code == 200, saved.text
    assert "Your choices were saved (3 changed)" in saved.text
    assert _boxes(saved.text) == {"email:news": False, "sms:news": True, "email:offers": True,
                                  "email:all": False, "sms:all": False}
    consents = _consents(shop, "u-00000")
    assert consents == {("email", "all"): ("opted_in", "api"),
                        ("email", "news"): ("opted_out", "preference_center"),
                        ("sms", "news"): ("opted_in", "preference_center"),
                        ("email", "offers"): ("opted_in", "preference_center")}
    again = shop.client.post(path, data={"sms:news": "on", "email:offers": "on"})
    assert "Your choices were saved." in again.text  # nothing changed, nothing recorded
    assert _consents(shop, "u-00000") == consents
    assert _consents(shop, "u-00001") == {("email", "all"): ("opted_in", "api")}

    campaign = shop.campaign(shop.segment(), topic="news")
    shop.move(campaign["id"], "schedule")
    shop.tick()
    (skipped,) = shop.sends("u-00000")
    assert (skipped["state"], skipped["reason"]) == ("skipped", "unsubscribed")
    assert [send["state"] for send in shop.sends("u-00001")] == ["sent"]
    assert [m["address"] for m in shop.outbox()] == ["c00001@example.com"]


def test_leaving_a_channel_turns_off_each_of_its_topics_and_coming_back_opts_in_again(
        shop: Shop) -> None:  # noqa: F811
    shop.ingest(customers(1))
    _catalogue(shop)
    path = _link(shop, "u-00000")
    assert shop.client.post(path, data={"email:news": "on"}).status_code == 200
    assert _consents(shop, "u-00000") == {("email", "news"): ("opted_in", "preference_center")}
    # Leaving the channel wins over any box of it: the topic's own opt-in would otherwise let mail through.
    left = shop.client.post(path, data={"email:all": "on", "email:news": "on", "email:offers": "on",
                                        "sms:news": "on"})
    assert "(3 changed)" in left.text  # leaving email, ticking offers and texts about news
    assert _boxes(left.text) == {"email:news": False, "sms:news": True, "email:offers": False,
                                 "email:all": True, "sms:all": False}
    consents = _consents(shop, "u-00000")
    assert {key: status for key, (status, _) in consents.items()} == {
        ("email", "all"): "opted_out", ("email", "news"): "opted_out", ("sms", "news"): "opted_in"}
    back = shop.client.post(path, data={"email:news": "on", "sms:news": "on"})
    assert _boxes(back.text)["email:all"] is False
    assert _consents(shop, "u-00000")[("email", "all")] == ("opted_in", "preference_center")
    assert _consents(shop, "u-00000")[("email", "news")] == ("opted_in", "preference_center")


def test_a_link_that_does_not_verify_gets_a_400_page_and_changes_nothing(
        shop: Shop, other_workspace: Any) -> None:  # noqa: F811
    shop.ingest(customers(1))
    _catalogue(shop)
    path = _link(shop, "u-00000")
    token = path.rsplit("/", 1)[1]
    version, body, signature = token.split(".")
    services = shop.runtime.services
    profile_id = shop.client.get("/api/v1/profiles/u-00000", headers=shop.headers).json()["id"]
    forged_body = base64.urlsafe_b64encode(f'["{shop.workspace.id}","p-someone-else"]'.encode()).decode().rstrip("=")
    bad = {
        "altered signature": f"{version}.{body}.{signature[:-2]}AA",
        "another customer": f"{version}.{forged_body}.{signature}",
        "another key": token_for(b"k" * 32, PreferenceLink(shop.workspace.id, profile_id)),
        "an unsubscribe link": unsubscribe_token_for(services.secrets.signing_key(UNSUBSCRIBE_PURPOSE),
                                                     UnsubscribeLink(shop.workspace.id, profile_id, "email", "all",
                                                                     "sk_1")),
        "made up": "p1.hello.world",
        "a workspace that is gone": token_for(services.secrets.signing_key(PURPOSE),
                                              PreferenceLink("ws_gone", profile_id)),
    }
    for name, wrong in bad.items():
        page = shop.client.get(f"/preferences/{wrong}")
        assert page.status_code == 400, name
        assert "This link does not work" in page.text, name
        assert "Nothing was changed" in page.text, name
        posted = shop.client.post(f"/preferences/{wrong}", data={"email:all": "on"})
        assert posted.status_code == 400, name
    assert _consents(shop, "u-00000") == {}
    # A real link of another workspace opens that workspace's catalogue, never this one's.
    other = token_for(services.secrets.signing_key(PURPOSE), PreferenceLink(other_workspace.id, profile_id))
    foreign = shop.client.get(f"/preferences/{other}")
    assert foreign.status_code == 200
    assert "Newsletter" not in foreign.text
    assert "nothing to choose from" in foreign.text


def test_a_post_from_another_site_is_refused(shop: Shop) -> None:  # noqa: F811
    shop.ingest(customers(1))
    _catalogue(shop)
    path = _link(shop, "u-00000")
    refused = shop.client.post(path, data={"email:all": "on"}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "another site" in refused.text
    opaque = shop.client.post(path, data={"email:all": "on"}, headers={"Origin": "null"})
    assert opaque.status_code == 403
    assert _consents(shop, "u-00000") == {}
    # A body that is not the page's form is refused rather than read as "every box unticked".
    as_json = shop.client.post(path, json={"email:all": "on"})
    assert as_json.status_code == 415
    assert _consents(shop, "u-00000") == {}
    ours = shop.client.post(path, data={"email:all": "on"}, headers={"Origin": "http://testserver"})
    assert ours.status_code == 200
    assert _consents(shop, "u-00000")[("email", "all")] == ("opted_out", "preference_center")


def test_the_page_wears_the_workspace_theme_under_a_policy_that_allows_only_that_style(
        shop: Shop) -> None:  # noqa: F811
    shop.ingest(customers(1))
    _catalogue(shop)
    theme = shop.client.put("/api/v1/theme", headers=shop.headers, json={
        "brand_name": "Kim's Kitchen", "logo_url": "https://cdn.example.com/logo.png?size=2&x=\"y\"",
        "primary_color": "#ee44aa", "font": "serif"})
    assert theme.status_code == 422  # quotes have no place in a logo's address
    assert shop.client.put("/api/v1/theme", headers=shop.headers, json={
        "brand_name": "Kim's <Kitchen>", "logo_url": "https://cdn.example.com/logo.png?size=2&v=1",
        "primary_color": "#ee44aa", "font": "serif"}).status_code == 200
    page = shop.client.get(_link(shop, "u-00000"))
    (style,) = re.findall(r"<style>(.*?)</style>", page.text, flags=re.S)
    assert style.startswith(":root{--brand-primary:#ee44aa;--brand-on-primary:#000000;")
    assert "--brand-font:Charter" in style
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = page.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; ")
    assert f"style-src 'self' 'sha256-{digest}';" in policy
    assert "script" not in policy
    assert "unsafe" not in policy
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"
    assert "Kim&#39;s &lt;Kitchen&gt;" in page.text  # the brand name is text, escaped
    assert 'src="https://cdn.example.com/logo.png?size=2&amp;v=1"' in page.text
    (sheet,) = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page.text)
    served = shop.client.get(sheet)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/css")
    assert "var(--brand-primary)" in served.text

    # A theme written into the store by other means is still never taken as it is: the page falls back.
    with shop.runtime.services.engine.begin() as conn:
        conn.execute(workspace_themes.update().values(settings={"primary_color": "red}body{display:none"}))
    fallback = shop.client.get(_link(shop, "u-00000"))
    assert fallback.status_code == 200
    assert "display:none" not in fallback.text
    assert "--brand-primary:#1f6feb;" in fallback.text


def test_the_unsubscribe_pages_wear_the_theme_and_lead_to_the_preference_center(shop: Shop) -> None:  # noqa: F811
    shop.ingest(customers(1))
    _catalogue(shop)
    assert shop.client.put("/api/v1/theme", headers=shop.headers,
                           json={"brand_name": "Kim's Kitchen", "primary_color": "#0a7d33"}).status_code == 200
    services = shop.runtime.services
    profile_id = shop.client.get("/api/v1/profiles/u-00000", headers=shop.headers).json()["id"]
    token = unsubscribe_token_for(services.secrets.signing_key(UNSUBSCRIBE_PURPOSE),
                                  UnsubscribeLink(shop.workspace.id, profile_id, "email", "news", "sk_1"))
    confirm = shop.client.get(f"/unsubscribe/{token}")
    assert confirm.status_code == 200
    assert "Kim&#39;s Kitchen" in confirm.text
    assert "--brand-primary:#0a7d33;" in confirm.text
    assert "Stop receiving email messages about “news”?" in confirm.text
    (preferences,) = re.findall(r'<a href="([^"]+)" data-testid="manage-preferences">', confirm.text)
    assert urlsplit(preferences).path == _link(shop, "u-00000")
    done = shop.client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert "You will get no more email messages about “news”." in done.text
    assert 'data-testid="manage-preferences"' in done.text
    # The preference center shows what the link just did.
    assert _boxes(shop.client.get(urlsplit(preferences).path).text)["email:news"] is False


def test_a_topic_nobody_gets_by_default_goes_only_to_those_who_subscribed_to_it(shop: Shop) -> None:  # noqa: F811
    shop.ingest(customers(3))
    shop.opt_in(["u-00000", "u-00001", "u-00002"])
    _catalogue(shop)  # "offers" is not subscribed by default
    path = _link(shop, "u-00000")
    assert _boxes(shop.client.get(path).text)["email:offers"] is False
    assert shop.client.post(path, data={"email:news": "on", "email:offers": "on"}).status_code == 200
    segment = shop.segment()
    campaign = shop.campaign(segment, topic="offers")
    shop.move(campaign["id"], "schedule")
    shop.tick()
    assert [send["state"] for send in shop.sends("u-00000")] == ["sent"]
    for other in ("u-00001", "u-00002"):  # opted in to email, never to the offers
        (skipped,) = shop.sends(other)
        assert (skipped["state"], skipped["reason"]) == ("skipped", "no_consent")
    assert [m["address"] for m in shop.outbox()] == ["c00000@example.com"]
    # The newsletter is subscribed by default: everyone opted in to email gets it.
    news = shop.campaign(segment, name="News", topic="news")
    shop.move(news["id"], "schedule")
    shop.tick()
    assert len(shop.outbox(source_id=news["id"])) == 3


def test_a_message_links_each_customer_to_their_own_preference_center(shop: Shop) -> None:  # noqa: F811
    shop.ingest(customers(2))
    shop.opt_in(["u-00000", "u-00001"])
    footer = '<p>Hi {{ traits.firstName }}</p><p><a href="{{ links.preferences }}">Choose what you get</a></p>'
    campaign = shop.campaign(shop.segment(), variants=[{"name": "A", "split": 100, "content": {
        "email": {"subject": "News", "body": footer}}}])
    preview = shop.client.post(f"/api/v1/campaigns/{campaign['id']}/preview", headers=shop.headers,
                               json={"profile": "u-00001"})
    assert preview.status_code == 200, preview.text
    assert _link(shop, "u-00001") in preview.json()["messages"]["email"]["body"]
    shop.move(campaign["id"], "schedule")
    shop.tick()
    for message in shop.outbox(source_id=campaign["id"]):
        user = "u-00000" if message["address"] == "c00000@example.com" else "u-00001"
        (href,) = re.findall(r'<a href="([^"]+)">Choose what you get</a>', message["body"])
        path = urlsplit(href).path
        if not path.startswith("/preferences/"):  # a tracked link: its redirect leads there
            redirect = shop.client.get(path, follow_redirects=False)
            assert redirect.status_code in (302, 303, 307), redirect.text
            path = urlsplit(redirect.headers["location"]).path
        assert path == _link(shop, user)
        assert shop.client.get(path).status_code == 200
