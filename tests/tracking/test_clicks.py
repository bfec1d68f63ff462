"""Click tracking and the open pixel through the API: what a customer's message holds, and what a click does."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.tracking.conftest import DESKTOP, GOOGLEBOT, IPHONE, NOW, TrackingShop

LINK = re.compile(r'href="(http://[^"]+/l/[A-Za-z0-9_-]{20})"')
PIXEL = re.compile(r'<img src="(http://[^"]+/o/[A-Za-z0-9_-]{20}\.gif)"')
CLICKED, OPENED = "Email Link Clicked", "Email Opened"


def _links(body: str) -> list[str]:
    return LINK.findall(body)


def test_an_emails_web_links_become_tracked_links_and_a_pixel_is_added(shop: TrackingShop):
    shop.send()
    body = shop.message()["body"]
    tracked = _links(body)
    assert len(tracked) == 2  # the shop and the blog; mailto: stays as written
    assert 'href="mailto:help@shop.example"' in body
    assert "shop.example/sale" not in body
    assert "blog.example" not in body
    assert ">Shop the <b>sale</b></a>" in body
    (pixel,) = PIXEL.findall(body)
    assert body.index(pixel) < body.index("</body>")
    other = shop.message("u-00001")["body"]
    assert set(_links(other)).isdisjoint(tracked)  # every customer's message has links of its own


def test_a_click_is_redirected_to_exactly_the_stored_url_with_utm_parameters(shop: TrackingShop):
    campaign = shop.send()
    first, _ = _links(shop.message()["body"])
    answer = shop.follow(first)
    assert answer.status_code == 302
    location = answer.headers["location"]
    (stored,) = [link["url"] for link in shop.links() if link["label"] == "Shop the sale"
                 and link["send_key"] == shop.message()["send_key"]]
    assert location == stored
    assert location.startswith("https://shop.example/sale?ref=mail&x=1&")
    assert dict(parse_qsl(urlsplit(location).query)) == {
        "ref": "mail", "x": "1", "utm_source": "loopline", "utm_medium": "email", "utm_campaign": "Summer sale",
        "utm_content": "A", "utm_id": campaign}
    assert answer.headers["cache-control"] == "no-store"


def test_a_click_becomes_one_event_on_the_customers_timeline_however_often_it_is_repeated(shop: TrackingShop):
    campaign = shop.send()
    message = shop.message()
    first, second = _links(message["body"])
    for _ in range(3):
        assert shop.follow(first).status_code == 302
    assert shop.follow(second).status_code == 302
    clicks = shop.timeline("u-00000", CLICKED)
    assert len(clicks) == 2
    by_label = {event["properties"]["link_label"]: event["properties"] for event in clicks}
    shop_click = by_label["Shop the sale"]
    assert shop_click["send_key"] == message["send_key"]
    assert (shop_click["campaign_id"], shop_click["source_id"], shop_click["channel"]) == (campaign, campaign, "email")
    assert (shop_click["variant"], shop_click["utm_campaign"], shop_click["route"]) == ("A", "Summer sale", "web")
    assert shop_click["url"].startswith("https://shop.example/sale?")
    # A click implies the open that an image-blocking mail client never reported; once.
    (opened,) = shop.timeline("u-00000", OPENED)
    assert opened["properties"]["implied"] is True
    counted = {link["label"]: (link["clicks"], link["bot_clicks"]) for link in shop.links(message["send_key"])}
    assert counted == {"Shop the sale": (3, 0), "Read the story": (1, 0), "open": (0, 0)}


def test_the_pixel_is_a_gif_and_records_one_open_per_send(shop: TrackingShop):
    shop.send()
    message = shop.message()
    (pixel,) = PIXEL.findall(message["body"])
    for _ in range(3):  # the reader opens the mail three times
        answer = shop.follow(pixel, agent=IPHONE)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/gif"
        assert answer.content.startswith(b"GIF89a")
        assert len(answer.content) < 64
    (opened,) = shop.timeline("u-00000", OPENED)
    assert opened["properties"]["send_key"] == message["send_key"]
    assert opened["properties"]["implied"] is False
    assert shop.timeline("u-00001", OPENED) == []
    (pixel_row,) = [link for link in shop.links(message["send_key"]) if link["kind"] == "open"]
    assert pixel_row["clicks"] == 3


def test_gmails_image_proxy_is_an_open_but_apples_privacy_prefetch_is_not(shop: TrackingShop):
    shop.send()
    (ana,) = PIXEL.findall(shop.message()["body"])
    (ben,) = PIXEL.findall(shop.message("u-00001")["body"])
    gmail = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    assert shop.follow(ana, agent=gmail).status_code == 200
    assert shop.follow(ben, agent="Mozilla/5.0").status_code == 200
    assert len(shop.timeline("u-00000", OPENED)) == 1
    assert shop.timeline("u-00001", OPENED) == []


@pytest.mark.parametrize("agent", [
    GOOGLEBOT,
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Microsoft Office Existence Discovery",
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "curl/8.5.0",
    "",
])
def test_a_machines_click_still_redirects_but_is_no_engagement(shop: TrackingShop, agent: str):
    shop.send()
    message = shop.message()
    first, _ = _links(message["body"])
    answer = shop.follow(first, agent=agent)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("https://shop.example/sale?")
    assert shop.timeline("u-00000", CLICKED, OPENED) == []
    (row,) = [link for link in shop.links(message["send_key"]) if link["label"] == "Shop the sale"]
    assert (row["clicks"], row["bot_clicks"]) == (0, 1)


def test_a_head_request_redirects_and_counts_as_a_machine(shop: TrackingShop):
    shop.send()
    first, _ = _links(shop.message()["body"])
    assert shop.follow(first, method="HEAD").status_code == 302
    assert shop.timeline("u-00000", CLICKED) == []


def test_a_click_within_two_seconds_of_delivery_is_a_scanner_and_a_later_one_counts(shop: TrackingShop):
    shop.send()
    first, _ = _links(shop.message()["body"])
    shop.clock.at = NOW + timedelta(seconds=1)  # a security gateway checks the link as the mail arrives
    assert shop.follow(first).status_code == 302
    assert shop.timeline("u-00000", CLICKED) == []
    shop.clock.at = NOW + timedelta(minutes=30)
    assert shop.follow(first).status_code == 302
    assert len(shop.timeline("u-00000", CLICKED)) == 1


def test_a_burst_over_every_link_of_a_message_is_flagged(shop: TrackingShop):
    body = "".join(f'<p><a href="https://shop.example/p/{n}">Product {n}</a></p>' for n in range(5))
    shop.send(content={"subject": "Picks", "body": f"<html><body>{body}</body></html>"})
    message = shop.message()
    tracked = _links(message["body"])
    assert len(tracked) == 5
    for link in tracked:  # a scanner with a browser's user agent opens them all in the same second
        assert shop.follow(link).status_code == 302
    clicks = shop.timeline("u-00000", CLICKED)
    assert len(clicks) <= 2  # the first two cannot be told from a person's; the rest are flagged
    counted = sum(link["bot_clicks"] for link in shop.links(message["send_key"]))
    assert counted == 5 - len(clicks) >= 3


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the tag no longer matches
    lambda token: ("A" if token[0] != "A" else "B") + token[1:],  # another id, the old tag
    lambda token: token[:-2],  # truncated
    lambda token: token + "x",
    lambda token: "../../evil.example",
    lambda token: "https%3A%2F%2Fevil.example",
    lambda token: "%252F%252Fevil.example",
    lambda _: "A" * 20,  # well formed, never written
])
def test_an_altered_or_made_up_token_is_404_and_never_a_redirect(shop: TrackingShop, mangle):
    shop.send()
    first, _ = _links(shop.message()["body"])
    token = first.rsplit("/", 1)[1]
    answer = shop.client.get(f"/l/{mangle(token)}", headers={"User-Agent": DESKTOP}, follow_redirects=False)
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert answer.json()["code"] in ("link_not_found", "not_found")
    assert shop.timeline("u-00000", CLICKED) == []


def test_a_browser_gets_a_page_for_a_bad_link(shop: TrackingShop):
    answer = shop.client.get("/l/" + "B" * 20, headers={"Accept": "text/html,*/*", "User-Agent": DESKTOP},
                             follow_redirects=False)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "This link does not work" in answer.text


def test_the_pixel_token_is_not_a_link_and_a_link_token_is_not_a_pixel(shop: TrackingShop):
    shop.send()
    body = shop.message()["body"]
    first, _ = _links(body)
    (pixel,) = PIXEL.findall(body)
    pixel_as_link = pixel.replace("/o/", "/l/").removesuffix(".gif")
    assert shop.follow(pixel_as_link).status_code == 404
    assert shop.follow(first.replace("/l/", "/o/") + ".gif").status_code == 200  # a GIF, and nothing recorded
    assert shop.timeline("u-00000", OPENED) == []


def test_an_expired_link_is_404(shop: TrackingShop):
    shop.send()
    first, _ = _links(shop.message()["body"])
    shop.clock.at = NOW + timedelta(days=366)
    answer = shop.follow(first)
    assert answer.status_code == 404
    assert answer.json()["message"] == "this link has expired"


def test_another_workspaces_link_leads_only_to_that_workspaces_stored_url(shop: TrackingShop, other_workspace):
    shop.send()
    first, _ = _links(shop.message()["body"])
    # The link works for whoever holds it, and only ever goes where its own workspace stored.
    foreign = {"User-Agent": DESKTOP, "Authorization": f"Bearer {other_workspace.secret_key}"}
    with_other_key = shop.client.get(urlsplit(first).path, follow_redirects=False, headers=foreign)
    assert with_other_key.status_code == 302
    assert with_other_key.headers["location"].startswith("https://shop.example/sale?")
    listed = shop.client.get("/api/v1/tracked-links", headers={"Authorization": f"Bearer {other_workspace.secret_key}"})
    assert listed.json()["items"] == []


def test_unsafe_links_are_refused_when_the_template_is_saved(shop: TrackingShop):
    segment = shop.segment()
    bad = ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'java\tscript:alert(1)', '&#106;avascript:alert(1)',
           'data:text/html;base64,PHNjcmlwdD4=', 'vbscript:msgbox(1)', '//evil.example/x', '\\\\evil.example',
           '/\\evil.example', 'https://shop.example@evil.example/', 'https://evil.example%2F@shop.example/',
           'https://%65vil.example/', 'https:%2F%2Fevil.example', 'https:/\\evil.example', 'http:evil.example',
           'https://{{ traits.site }}/x', 'file:///etc/passwd', 'shopapp://sale']
    for href in bad:
        body = {"name": "Bad", "definition": {"audience": {"segments": [segment]}, "channels": ["email"],
                "variants": [{"name": "A", "split": 100, "content": {"email": {
                    "subject": "Hi", "body": f'<p><a href="{href}">Click</a></p>'}}}]}}
        answer = shop.client.post("/api/v1/campaigns", headers=shop.headers, json=body)
        assert answer.status_code == 422, (href, answer.text)
        problem = answer.json()
        assert problem["code"] == "unsafe_link", href
        assert problem["problems"][0]["path"] == "definition.variants.0.content.email.body", href
    for url in ("javascript:alert(1)", "//evil.example", "data:text/html,x"):
        body = {"name": "Bad", "definition": {"audience": {"segments": [segment]}, "channels": ["sms"],
                "variants": [{"name": "A", "split": 100, "content": {"sms": {"body": "Hi", "url": url}}}]}}
        answer = shop.client.post("/api/v1/campaigns", headers=shop.headers, json=body)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["problems"][0]["path"] == "definition.variants.0.content.sms.url"


def test_safe_links_and_placeholders_are_accepted_when_saved(shop: TrackingShop):
    segment = shop.segment()
    body = ('<a href="https://shop.example/p/{{ traits.plan }}?a=1&amp;b=2">p</a><a href="mailto:a@shop.example">m</a>'
            '<a href="tel:+4930123">t</a><a href="#top">top</a>'
            '<a href="{{ traits.site | default(\'https://shop.example\') }}">s</a>'
            "<a href='https://SHOP.example:8443/x'>port</a>")
    answer = shop.client.post("/api/v1/campaigns", headers=shop.headers, json={"name": "Good", "definition": {
        "audience": {"segments": [segment]}, "channels": ["email", "push"],
        "variants": [{"name": "A", "split": 100, "content": {
            "email": {"subject": "Hi", "body": body},
            "push": {"subject": "Hi", "body": "Sale", "url": "shopapp://sale"}}}]}})
    assert answer.status_code == 201, answer.text


def test_a_journey_with_an_unsafe_link_is_refused(shop: TrackingShop):
    answer = shop.client.post("/api/v1/journeys", headers=shop.headers, json={"name": "Welcome", "definition": {
        "trigger": {"type": "event", "event": "Signed Up"},
        "steps": [{"id": "hello", "type": "send", "channels": ["email"], "content": {"email": {
            "subject": "Hi", "body": '<a href="javascript:alert(1)">x</a>'}}}]}})
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["path"] == "definition.steps.0.content.email.body"


def test_a_placeholder_that_renders_an_unsafe_link_is_dropped_at_send(shop: TrackingShop):
    shop.ingest([{"type": "identify", "userId": "u-00000", "traits": {"site": "javascript:alert(1)"}}])
    shop.send(content={"subject": "Hi", "body": '<p><a href="{{ traits.site | default(\'https://shop.example/\') }}">'
                                                "Your site</a></p>"})
    assert 'href="#"' in shop.message()["body"]
    assert "javascript" not in shop.message()["body"]
    assert len(_links(shop.message("u-00001")["body"])) == 1  # the default: a web link, tracked


def test_links_in_a_text_message_are_tracked(shop: TrackingShop):
    shop.opt_in(["u-00000", "u-00001"], channel="sms")
    shop.send("sms", {"body": "Sale! https://shop.example/sale. Stop: reply STOP", "url": "https://shop.example/app"},
              opt_in=False)
    message = shop.message()
    assert re.fullmatch(r"Sale! http://[^ ]+/l/[A-Za-z0-9_-]{20}\. Stop: reply STOP", message["body"]), message
    assert re.fullmatch(r"http://[^ ]+/l/[A-Za-z0-9_-]{20}", message["url"])
    link = re.search(r"http://\S+/l/[A-Za-z0-9_-]{20}", message["body"]).group(0)
    answer = shop.follow(link, agent=IPHONE)
    assert answer.status_code == 302  # no app configured: the web page
    assert answer.headers["location"].startswith("https://shop.example/sale?")
    assert "utm_medium=sms" in answer.headers["location"]
    (click,) = shop.timeline("u-00000", "SMS Link Clicked")
    assert click["properties"]["send_key"] == message["send_key"]


def test_a_push_messages_deep_link_is_left_to_the_app(shop: TrackingShop):
    shop.ingest([{"type": "track", "userId": "u-00000", "event": "Application Opened",
                  "context": {"device": {"id": "d-1", "type": "ios", "token": "a" * 64}, "os": {"name": "iOS"}}}])
    shop.send("push", {"subject": "Sale", "body": "20% off", "url": "https://shop.example/sale"}, opt_in=False)
    (message,) = shop.outbox()
    assert message["url"] == "https://shop.example/sale"


def test_a_workspace_may_turn_tracking_off(shop: TrackingShop):
    shop.link_settings(track_clicks=False, track_opens=False)
    shop.send()
    body = shop.message()["body"]
    assert 'href="https://shop.example/sale?ref=mail&amp;x=1"' in body
    assert not PIXEL.findall(body)


def test_a_plain_text_email_gets_no_pixel(shop: TrackingShop):
    shop.send(content={"subject": "Hi", "body": "See you soon"})
    assert shop.message()["body"] == "See you soon"


def test_the_email_link_clicked_event_counts_in_an_engagement_segment(shop: TrackingShop):
    campaign = shop.send()
    first, _ = _links(shop.message("u-00001")["body"])
    assert shop.follow(first).status_code == 302
    (bot_link, _) = _links(shop.message()["body"])
    assert shop.follow(bot_link, agent=GOOGLEBOT).status_code == 302  # a machine's click joins nobody
    shop.runtime.projector.catch_up()
    created = shop.client.post("/api/v1/segments", headers=shop.headers, json={
        "name": "Clicked the sale email",
        "condition": {"type": "engagement", "action": "clicked", "channel": "email", "campaign_id": campaign}})
    assert created.status_code == 201, created.text
    refreshed = shop.client.post(f"/api/v1/segments/{created.json()['id']}/refresh", headers=shop.headers)
    assert refreshed.json()["members"] == 1, refreshed.text
    members = shop.client.get(f"/api/v1/segments/{created.json()['id']}/members", headers=shop.headers).json()
    profile = shop.client.get("/api/v1/profiles/u-00001", headers=shop.headers).json()["id"]
    assert [member["profile_id"] for member in members["items"]] == [profile]
    opened = shop.client.post("/api/v1/segments/estimate", headers=shop.headers, json={
        "name": "Opened", "condition": {"type": "engagement", "action": "opened", "channel": "email"}})
    assert opened.json()["count"] == 1, opened.text


def test_erasing_a_person_forgets_their_links_and_clicks(shop: TrackingShop):
    shop.send()
    first, _ = _links(shop.message()["body"])
    assert shop.follow(first, agent=IPHONE).status_code == 302
    erased = shop.client.post("/api/v1/profiles/u-00000/erase", headers=shop.headers)
    assert erased.status_code == 202, erased.text
    assert shop.follow(first).status_code == 404
    assert len(shop.links()) == 3  # the other customer's two links and pixel stay


def test_a_destination_added_to_the_link_is_ignored(shop: TrackingShop):
    shop.send()
    first, _ = _links(shop.message()["body"])
    path = urlsplit(first).path
    for query in ("?dest=https://evil.example", "?url=%2F%2Fevil.example&redirect=https://evil.example"):
        answer = shop.client.get(path + query, headers={"User-Agent": DESKTOP}, follow_redirects=False)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith("https://shop.example/sale?ref=mail&x=1&utm_source=")
    answer = shop.client.get(path + "/https://evil.example", headers={"User-Agent": DESKTOP}, follow_redirects=False)
    assert answer.status_code == 404
