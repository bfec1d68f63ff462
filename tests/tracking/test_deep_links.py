"""Smart deep links through the API: link settings, the .well-known documents, the app page and deferred links."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import unquote

import pytest

from tests.conftest import basic, bearer
from tests.tracking.conftest import APPS, DESKTOP, GOOGLEBOT, IPHONE, PIXEL_8, TrackingShop

LINK = re.compile(r'href="(https?://[^"]+/l/[A-Za-z0-9_-]{20})"')
APPLE = "/.well-known/apple-app-site-association"
ANDROID = "/.well-known/assetlinks.json"
IOS_DETAILS = {"applinks": {"details": [{"appIDs": ["ABCDE12345.com.shop.app"], "components": [{"/": "/l/*"}]}]}}
ANDROID_STATEMENTS = [{"relation": ["delegate_permission/common.handle_all_urls"],
                       "target": {"namespace": "android_app", "package_name": "com.shop.app",
                                  "sha256_cert_fingerprints": [":".join(["AB"] * 32)]}}]


def _sale_link(shop: TrackingShop, user: str = "u-00000") -> str:
    return LINK.findall(shop.message(user)["body"])[0]


def _claim(shop: TrackingShop, key: str | None = None, status: int = 200, **body: object) -> dict:
    answer = shop.client.post("/v1/deep-links/claim", headers=basic(key or shop.workspace.write_key), json=body)
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def test_link_settings_start_as_defaults_and_are_replaced_whole(shop: TrackingShop):
    defaults = shop.client.get("/api/v1/link-settings", headers=shop.headers).json()
    assert defaults == {"track_clicks": True, "track_opens": True, "utm": True, "send_key_param": False,
                        "link_domain": None, "web_domains": [], "scheme": None, "ios": None, "android": None,
                        "no_app": "store"}
    saved = shop.link_settings(**APPS)
    assert saved["ios"]["bundle_id"] == "com.shop.app"
    assert shop.client.get("/api/v1/link-settings", headers=shop.headers).json() == saved


@pytest.mark.parametrize(("document", "field"), [
    ({"scheme": "javascript"}, "scheme"),
    ({"scheme": "https"}, "scheme"),
    ({"ios": {"team_id": "abc", "bundle_id": "com.shop.app"}}, "team_id"),
    ({"ios": {"team_id": "ABCDE12345", "bundle_id": "com.shop.app", "app_store_url": "http://apps.apple.com/x"}},
     "app_store_url"),
    ({"android": {"package": "com.shop.app", "sha256_cert_fingerprints": ["AB:CD"]}}, "sha256_cert_fingerprints"),
    ({"web_domains": ["https://shop.example"]}, "web_domains"),
    ({"link_domain": "evil.example/x"}, "link_domain"),
])
def test_bad_link_settings_are_refused(shop: TrackingShop, document, field):
    answer = shop.client.put("/api/v1/link-settings", headers=shop.headers, json=document)
    assert answer.status_code == 422, answer.text
    assert field in answer.text


def test_a_link_domain_belongs_to_one_workspace(shop: TrackingShop, other_workspace):
    shop.link_settings(link_domain="links.shop.example")
    taken = shop.client.put("/api/v1/link-settings", headers=bearer(other_workspace.secret_key),
                            json={"link_domain": "LINKS.shop.example"})
    assert taken.status_code == 409, taken.text
    assert taken.json()["code"] == "link_domain_taken"
    shop.link_settings(link_domain="links.shop.example", utm=False)  # the owner may save again


def test_the_well_known_documents_list_the_apps(shop: TrackingShop):
    assert shop.client.get(APPLE).json() == {"applinks": {"details": []}}
    assert shop.client.get(ANDROID).json() == []
    shop.link_settings(**APPS)
    apple = shop.client.get(APPLE)
    assert apple.status_code == 200
    assert apple.headers["content-type"] == "application/json"
    assert apple.json() == IOS_DETAILS
    assert shop.client.get(ANDROID).json() == ANDROID_STATEMENTS


def test_a_link_domain_serves_its_own_workspaces_apps_only(shop: TrackingShop, other_workspace):
    shop.link_settings(**APPS, link_domain="links.shop.example")
    other = {**APPS, "ios": {"team_id": "ZYXWV98765", "bundle_id": "com.other.app"}, "android": None}
    assert shop.client.put("/api/v1/link-settings", headers=bearer(other_workspace.secret_key),
                           json=other).status_code == 200
    own = shop.client.get(APPLE, headers={"Host": "links.shop.example"}).json()
    assert own == IOS_DETAILS
    assert shop.client.get(ANDROID, headers={"Host": "links.shop.example"}).json() == ANDROID_STATEMENTS
    shared = shop.client.get(APPLE).json()  # the server's own host: the workspaces without a link domain
    assert shared["applinks"]["details"][0]["appIDs"] == ["ZYXWV98765.com.other.app"]
    assert shop.client.get(ANDROID).json() == []


def test_links_are_written_on_the_link_domain(shop: TrackingShop):
    shop.link_settings(**APPS, link_domain="links.shop.example")
    shop.send()
    body = shop.message()["body"]
    assert LINK.findall(body)[0].startswith("https://links.shop.example/l/")
    assert '<img src="https://links.shop.example/o/' in body


def test_an_iphone_without_the_app_gets_a_page_that_tries_the_app_then_the_app_store(shop: TrackingShop):
    shop.link_settings(**APPS)
    shop.send()
    answer = shop.follow(_sale_link(shop), agent=IPHONE)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "script-src 'sha256-" in answer.headers["content-security-policy"]
    page = unescape(answer.text)
    assert 'data-app="shopapp://sale?ref=mail&x=1"' in page
    assert 'data-fallback="https://apps.apple.com/app/id123456789"' in page
    assert "Get the app" in page
    # A person tapped it: the click counts, routed to the app.
    (click,) = shop.timeline("u-00000", "Email Link Clicked")
    assert (click["properties"]["route"], click["properties"]["platform"]) == ("app", "ios")


def test_an_android_phone_gets_an_intent_that_falls_back_to_the_play_store_with_the_click(shop: TrackingShop):
    shop.link_settings(**APPS)
    shop.send()
    page = unescape(shop.follow(_sale_link(shop), agent=PIXEL_8).text)
    (intent,) = re.findall(r'data-app="([^"]+)"', page)
    assert intent.startswith("intent://sale?ref=mail&x=1#Intent;scheme=shopapp;package=com.shop.app;")
    (fallback,) = re.findall(r'data-fallback="([^"]+)"', page)
    assert fallback.startswith("https://play.google.com/store/apps/details?id=com.shop.app&referrer=ll_click%3D")
    assert unquote(intent.split("S.browser_fallback_url=")[1].removesuffix(";end")) == fallback


def test_desktops_machines_and_links_off_the_shop_go_straight_to_the_web(shop: TrackingShop):
    shop.link_settings(**APPS)
    shop.send()
    sale, blog = LINK.findall(shop.message()["body"])
    for agent in (DESKTOP, GOOGLEBOT):
        answer = shop.follow(sale, agent=agent)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith("https://shop.example/sale?ref=mail&x=1&utm_source=loopline")
    blog_answer = shop.follow(blog, agent=IPHONE)  # not on the shop's web domains: not into the app, and no UTM
    assert (blog_answer.status_code, blog_answer.headers["location"]) == (302, "https://blog.example/post")


def test_android_claims_its_click_by_the_install_referrer_once(shop: TrackingShop):
    shop.link_settings(**APPS)
    shop.send()
    page = unescape(shop.follow(_sale_link(shop), agent=PIXEL_8).text)
    (fallback,) = re.findall(r'data-fallback="([^"]+)"', page)
    referrer = unquote(fallback.split("referrer=")[1]) + "&utm_source=google-play"
    shop.clock.at += timedelta(minutes=20)  # the install takes a while
    claimed = _claim(shop, platform="android", os_version="14", referrer=referrer)
    assert claimed == {"matched": True, "screen": "sale?ref=mail&x=1", "match": "referrer",
                       "url": claimed["url"]}
    assert claimed["url"].startswith("https://shop.example/sale?ref=mail&x=1&utm_source=loopline")
    assert _claim(shop, platform="android", os_version="14", referrer=referrer) == {
        "matched": False, "screen": None, "url": None, "match": None}


def test_an_iphone_claims_its_click_by_its_fingerprint_within_the_window_only(shop: TrackingShop):
    shop.link_settings(**APPS)
    shop.send()
    assert shop.follow(_sale_link(shop), agent=IPHONE).status_code == 200
    assert _claim(shop, platform="android")["matched"] is False  # another platform
    assert _claim(shop, platform="ios", os_version="16.2")["matched"] is False  # another OS version
    shop.clock.at += timedelta(minutes=59)
    claimed = _claim(shop, platform="ios", os_version="17.5.1")
    assert (claimed["matched"], claimed["screen"], claimed["match"]) == (True, "sale?ref=mail&x=1", "fingerprint")
    assert _claim(shop, platform="ios", os_version="17.5.1")["matched"] is False  # only once
    assert shop.follow(_sale_link(shop, "u-00001"), agent=IPHONE).status_code == 200
    shop.clock.at += timedelta(minutes=61)
    assert _claim(shop, platform="ios", os_version="17.5")["matched"] is False  # too late


def test_two_clicks_that_fit_one_device_are_not_guessed_between(shop: TrackingShop):
    shop.link_settings(**APPS)
    shop.send()
    for user in ("u-00000", "u-00001"):  # two people behind one address, with the same phone
        assert shop.follow(_sale_link(shop, user), agent=IPHONE).status_code == 200
    assert _claim(shop, platform="ios", os_version="17.5")["matched"] is False


def test_a_click_is_claimed_only_by_its_own_workspaces_app(shop: TrackingShop, other_workspace):
    shop.link_settings(**APPS)
    shop.send()
    assert shop.follow(_sale_link(shop), agent=IPHONE).status_code == 200
    assert _claim(shop, key=other_workspace.write_key, platform="ios")["matched"] is False
    assert _claim(shop, platform="ios")["matched"] is True


def test_with_no_app_set_to_web_a_phone_falls_back_to_the_web_page_and_nothing_waits_to_be_claimed(shop):
    shop.link_settings(**APPS, no_app="web")
    shop.send()
    page = unescape(shop.follow(_sale_link(shop), agent=IPHONE).text)
    assert 'data-fallback="https://shop.example/sale?ref=mail&x=1&utm_source=loopline' in page
    assert "Continue to the website" in page
    assert _claim(shop, platform="ios")["matched"] is False


def test_the_app_resolves_a_link_it_opened_itself_and_the_click_counts(shop: TrackingShop, other_workspace):
    shop.link_settings(**APPS)
    shop.send()
    link = _sale_link(shop)
    foreign = shop.client.post("/v1/deep-links/open", headers=basic(other_workspace.write_key), json={"link": link})
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "link_not_found"
    for bad in ("https://evil.example/l/" + "A" * 20, "not a link", link[:-1]):
        missing = shop.client.post("/v1/deep-links/open", headers=basic(shop.workspace.write_key), json={"link": bad})
        assert missing.status_code == 404, bad
    opened = shop.client.post("/v1/deep-links/open", headers=basic(shop.workspace.write_key), json={"link": link})
    assert opened.status_code == 200, opened.text
    assert opened.json()["screen"] == "sale?ref=mail&x=1"
    assert opened.json()["url"].startswith("https://shop.example/sale?")
    (click,) = shop.timeline("u-00000", "Email Link Clicked")
    assert click["properties"]["route"] == "app"


def test_the_apps_calls_need_its_write_key(shop: TrackingShop):
    assert shop.client.post("/v1/deep-links/claim", json={"platform": "ios"}).status_code == 401
    assert shop.client.post("/v1/deep-links/claim", headers=bearer(shop.workspace.secret_key),
                            json={"platform": "ios"}).status_code == 401
    assert shop.client.post("/v1/deep-links/claim", headers=basic(shop.workspace.write_key),
                            json={"platform": "windows"}).status_code == 400
    assert shop.client.post("/v1/deep-links/claim", json={"platform": "ios", "writeKey": shop.workspace.write_key},
                            headers={"Content-Type": "text/plain"}).status_code == 200


def test_the_send_key_goes_into_links_only_when_the_workspace_asks(shop: TrackingShop):
    shop.link_settings(send_key_param=True, web_domains=["shop.example"])
    shop.send()
    message = shop.message()
    sale, blog = LINK.findall(message["body"])
    assert f"ll_send={message['send_key']}" in shop.follow(sale).headers["location"]
    assert shop.follow(blog).headers["location"] == "https://blog.example/post"


def test_a_link_that_carries_its_own_utm_parameters_keeps_them(shop: TrackingShop):
    shop.send(content={"subject": "Hi", "body": '<a href="https://shop.example/?utm_source=news&amp;utm_medium=x">'
                                                "Shop</a>"})
    (link,) = LINK.findall(shop.message()["body"])
    assert shop.follow(link).headers["location"] == "https://shop.example/?utm_source=news&utm_medium=x"
