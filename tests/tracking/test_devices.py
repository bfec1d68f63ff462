"""Where one smart link sends each device: a corpus of real user agents, each with the route it must get."""

from __future__ import annotations

import pytest

from loopline.actions.tracking import parse_user_agent
from loopline.domain.deep_links import LinkSettings, classify, route_click
from tests.tracking.conftest import APPS

SETTINGS = LinkSettings.model_validate(APPS)
WEB = "https://shop.example/sale?utm_source=loopline"
SCREEN = "sale"

# (user agent, route, platform or the machine's reason). Real strings, as browsers, apps and robots send them.
CORPUS = [
    # iPhone: Safari, Chrome, the Google app, and Facebook's and Instagram's in-app browsers.
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "app", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/125.0.6422.80 Mobile/15E148 Safari/604.1", "app", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148 GSA/318.0.639366837 Mobile/15E148 Safari/604.1", "app", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.38.109;FBBV/577256787;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;"
     "FBSV/17.4.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/580154478]", "app", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148 Instagram 334.0.4.32.98 (iPhone14,5; iOS 17_5; en_US; en; scale=3.00; 1170x2532; 606079437)",
     "app", "ios"),
    # iPad: with a mobile user agent it is an iOS tablet; iPadOS's default desktop-class user agent is a
    # Mac's, so it gets the web page (where the installed app has already taken the universal link).
    ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 "
     "Mobile/15E148 Safari/604.1", "app", "ios"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
     "Safari/605.1.15", "web", "other"),
    # Android phones and a tablet: Chrome, Samsung Internet, Firefox, in-app browsers (WebViews).
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Mobile "
     "Safari/537.36", "app", "android"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 "
     "Mobile Safari/537.36", "app", "android"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
     "Chrome/121.0.0.0 Mobile Safari/537.36", "app", "android"),
    ("Mozilla/5.0 (Android 14; Mobile; rv:126.0) Gecko/126.0 Firefox/126.0", "app", "android"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36", "app", "android"),
    ("Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/463.0.0.43.108;]", "app", "android"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 7 Build/AP1A.240505.004; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/125.0.6422.53 Mobile Safari/537.36 Instagram 331.0.0.37.90 Android (34/14; 420dpi; "
     "1080x2400; Google/google; Pixel 7; panther; panther; en_US; 601420827)", "app", "android"),
    # A phone whose model name contains "bot" is still a person's phone.
    ("Mozilla/5.0 (Linux; Android 14; CUBOT KINGKONG 9) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36", "app", "android"),
    # Desktop browsers.
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 "
     "Safari/537.36", "web", "other"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0", "web", "other"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Safari/605.1.15", "web", "other"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 "
     "Safari/537.36 Edg/125.0.2535.67", "web", "other"),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0", "web", "other"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 "
     "Safari/537.36", "web", "other"),
    # Mail providers' image proxies and Microsoft's link checks (Outlook, Office, Defender's previews).
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "bot",
     "image_proxy"),
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", "bot", "image_proxy"),
    ("Microsoft Office Existence Discovery", "bot", "scanner"),
    ("Mozilla/4.0 (compatible; ms-office; MSOffice 16)", "bot", "scanner"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b", "bot",
     "crawler"),
    # Search engines' crawlers (also one with a phone's user agent) and link previews of chat apps.
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", "crawler"),
    ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/125.0.6422.60 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     "bot", "crawler"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot", "crawler"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "bot", "crawler"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot", "crawler"),
    ("Twitterbot/1.0", "bot", "crawler"),
    ("WhatsApp/2.23.20.0 A", "bot", "crawler"),
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", "bot", "crawler"),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "bot", "crawler"),
    # Tools and headless browsers.
    ("curl/8.5.0", "bot", "tool"),
    ("python-requests/2.31.0", "bot", "tool"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/125.0.0.0 "
     "Safari/537.36", "bot", "scanner"),
    ("Mozilla/5.0", "bot", "no_details"),
    ("", "bot", "no_user_agent"),
]


@pytest.mark.parametrize(("agent", "route", "detail"), CORPUS, ids=[f"{n}-{row[1]}" for n, row in enumerate(CORPUS)])
def test_each_device_gets_its_route(agent: str, route: str, detail: str):
    device = classify(parse_user_agent(agent))
    chosen = route_click(device, SETTINGS, destination=WEB, screen=SCREEN, click_id="c" * 16)
    assert chosen.kind == route, device
    if route == "bot":
        assert device.bot_reason == detail
        assert (chosen.url, chosen.redirect) == (WEB, True)  # the link works for machines too
    else:
        assert device.platform == detail
    if route == "web":
        assert (chosen.url, chosen.redirect) == (WEB, True)
    if route == "app" and detail == "ios":
        assert (chosen.app_url, chosen.fallback_url) == ("shopapp://sale", "https://apps.apple.com/app/id123456789")
    if route == "app" and detail == "android":
        assert chosen.app_url == ("intent://sale#Intent;scheme=shopapp;package=com.shop.app;S.browser_fallback_url="
                                  "https%3A%2F%2Fplay.google.com%2Fstore%2Fapps%2Fdetails%3Fid%3Dcom.shop.app"
                                  "%26referrer%3Dll_click%253Dcccccccccccccccc;end")
        assert chosen.fallback_url == ("https://play.google.com/store/apps/details?id=com.shop.app"
                                       "&referrer=ll_click%3Dcccccccccccccccc")


def test_the_corpus_covers_every_kind_of_device():
    assert len(CORPUS) >= 25
    routes = [route for _, route, _ in CORPUS]
    assert {"app", "web", "bot"} == set(routes)


@pytest.mark.parametrize(("agent", "route", "detail"), CORPUS[:8])
def test_a_link_that_is_not_into_the_app_goes_to_the_web_page_on_every_device(agent: str, route: str, detail: str):
    chosen = route_click(classify(parse_user_agent(agent)), SETTINGS, destination=WEB, screen=None)
    assert (chosen.kind, chosen.url) == ("web", WEB)


def test_a_phone_of_a_platform_without_an_app_goes_to_the_web_page():
    ios_only = SETTINGS.model_copy(update={"android": None})
    android = classify(parse_user_agent(CORPUS[8][0]))
    assert route_click(android, ios_only, destination=WEB, screen=SCREEN).kind == "web"


def test_without_a_scheme_the_page_goes_straight_to_the_store_and_with_no_app_web_to_the_web_page():
    iphone = classify(parse_user_agent(CORPUS[0][0]))
    no_scheme = route_click(iphone, SETTINGS.model_copy(update={"scheme": None}), destination=WEB, screen=SCREEN)
    assert (no_scheme.kind, no_scheme.app_url, no_scheme.to_store) == ("app", None, True)
    web = route_click(iphone, SETTINGS.model_copy(update={"no_app": "web"}), destination=WEB, screen=SCREEN)
    assert (web.kind, web.app_url, web.fallback_url, web.to_store) == ("app", "shopapp://sale", WEB, False)


def test_a_head_request_is_a_machine_whoever_sends_it():
    assert classify(parse_user_agent(CORPUS[0][0]), method="HEAD").bot_reason == "head_request"


def test_for_the_open_pixel_an_image_proxy_is_the_reader_and_a_bare_user_agent_is_apples_prefetch():
    gmail = classify(parse_user_agent(CORPUS[21][0]), opening=True)
    assert not gmail.bot
    assert classify(parse_user_agent("Mozilla/5.0"), opening=True).bot_reason == "privacy_proxy"
