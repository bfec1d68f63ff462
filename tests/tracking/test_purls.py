"""Landing pages and personalised URLs through the API: the pages, the links in messages, visits and forms."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.tracking.conftest import DESKTOP, GOOGLEBOT, IPHONE, NOW, TrackingShop

PURL = re.compile(r"(http://[^\"\s<>]+/p/[A-Za-z0-9_-]{20})")
VIEWED, SUBMITTED, CLICKED = "Landing Page Viewed", "Landing Page Submitted", "Email Link Clicked"
FORM = [{"name": "favouriteColour", "label": "Favourite colour", "type": "choice", "choices": ["red", "blue"],
         "required": True},
        {"name": "workEmail", "label": "Work email", "type": "email"},
        {"name": "shoeSize", "label": "Shoe size", "type": "number"},
        {"name": "newsletter", "label": "Send me the newsletter", "type": "boolean"}]
PAGE = {"slug": "spring-offer", "title": "Your spring offer",
        "body": "<h1>Hello {{ traits.firstName | default('there') }}</h1><p>{{ campaign.name }}</p>",
        "form": FORM, "submit_label": "Save my choices",
        "thank_you": "<p>Thanks, {{ traits.firstName | default('friend') }}: {{ traits.favouriteColour }} it is.</p>"}
EMAIL = {"subject": "Spring, {{ traits.firstName }}",
         "body": '<html><body><p>Hi {{ traits.firstName }}</p><p><a href="purl:spring-offer">Your offer</a></p>'
                 '<p><a href="https://shop.example/sale">Shop</a></p></body></html>'}
PLEASE = {"Accept": "text/html", "User-Agent": DESKTOP}


class PageShop(TrackingShop):
    """The tracking shop, plus landing pages and the pages its customers open."""

    def page(self, status: int = 201, **fields: Any) -> dict[str, Any]:
        response = self.client.post("/api/v1/landing-pages", headers=self.headers, json={**PAGE, **fields})
        assert response.status_code == status, response.text
        return dict(response.json())

    def purl(self, user: str = "u-00000") -> str:
        (found,) = PURL.findall(self.message(user)["body"])
        return str(found)

    def visit(self, url: str, agent: str = DESKTOP, method: str = "GET", **headers: str) -> Any:
        return self.client.request(method, urlsplit(url).path, headers={"User-Agent": agent, **headers})

    def submit(self, url: str, form: dict[str, str] | str, **headers: str) -> Any:
        """Submit a form as a browser does (a text is sent as it is, as form data)."""
        headers = {"User-Agent": DESKTOP, **headers}
        if isinstance(form, str):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self.client.post(urlsplit(url).path, content=form, headers=headers)
        return self.client.post(urlsplit(url).path, data=form, headers=headers)

    def traits(self, user: str = "u-00000") -> dict[str, Any]:
        self.runtime.projector.catch_up()
        view = self.client.get(f"/api/v1/profiles/{user}", headers=self.headers)
        assert view.status_code == 200, view.text
        return dict(view.json()["traits"])


@pytest.fixture
def pages(shop: TrackingShop) -> PageShop:
    """The shop with its page helpers (the same workspace and customers)."""
    shop.__class__ = PageShop
    return shop  # type: ignore[return-value]


# --- Managing pages -----------------------------------------------------------------------------------------------


def test_pages_are_created_listed_read_replaced_and_deleted(pages: PageShop):
    created = pages.page()
    assert created["id"].startswith("lp_")
    assert (created["slug"], created["purl"], created["title"]) == ("spring-offer", "purl:spring-offer",
                                                                    "Your spring offer")
    assert [field["name"] for field in created["form"]] == [f["name"] for f in FORM]
    other = pages.page(slug="autumn", form=None, thank_you=None)
    listed = pages.client.get("/api/v1/landing-pages", headers=pages.headers).json()["items"]
    assert [item["slug"] for item in listed] == ["autumn", "spring-offer"]
    path = f"/api/v1/landing-pages/{created['id']}"
    assert pages.client.get(path, headers=pages.headers).json()["body"] == PAGE["body"]
    replaced = pages.client.put(path, headers=pages.headers, json={**PAGE, "title": "Spring, again"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["title"] == "Spring, again"
    assert pages.client.get(path, headers=pages.headers).json()["title"] == "Spring, again"
    taken = pages.client.put(path, headers=pages.headers, json={**PAGE, "slug": "autumn"})
    assert (taken.status_code, taken.json()["code"]) == (409, "slug_taken")
    assert pages.client.delete(path, headers=pages.headers).status_code == 204
    gone = pages.client.get(path, headers=pages.headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "landing_page_not_found")
    assert pages.client.delete(path, headers=pages.headers).status_code == 404
    assert pages.client.put(path, headers=pages.headers, json=PAGE).status_code == 404
    left = pages.client.get("/api/v1/landing-pages", headers=pages.headers).json()["items"]
    assert [item["id"] for item in left] == [other["id"]]


def test_a_slug_is_unique_in_its_workspace_only(pages: PageShop, other_workspace: Any):
    pages.page()
    again = pages.page(status=409)
    assert again["code"] == "slug_taken"
    theirs = pages.client.post("/api/v1/landing-pages", json=PAGE,
                               headers={"Authorization": f"Bearer {other_workspace.secret_key}"})
    assert theirs.status_code == 201, theirs.text


@pytest.mark.parametrize(("fields", "code"), [
    ({"slug": "Spring Offer"}, "invalid_request"),
    ({"slug": "-spring"}, "invalid_request"),
    ({"title": ""}, "invalid_request"),
    ({"body": "{{ tratis.firstName }}"}, "template_unknown_name"),
    ({"body": "Hi {{ traits.firstName }}"}, "template_missing_fallback"),
    ({"thank_you": "Bye {{ profile.email }}"}, "template_missing_fallback"),
    ({"body": "{% if %}"}, "template_syntax"),
    ({"body": "{{ traits | attr('x') }}"}, "template_unknown_filter"),
    ({"body": "{% set x = 1 %}{{ x }}"}, "template_forbidden"),
    ({"body": "<p>Hi</p><script>alert(1)</script>"}, "script_not_allowed"),
    ({"body": '<img src="x.png" onerror="alert(1)">'}, "script_not_allowed"),
    ({"body": '<a href="javascript:alert(1)">x</a>'}, "unsafe_link"),
    ({"form": [{"name": "email", "label": "Email", "type": "email"}]}, "invalid_request"),
    ({"form": [{"name": "size", "label": "Size", "type": "choice"}]}, "invalid_request"),
    ({"form": [{"name": "size", "label": "Size", "type": "text", "choices": ["a"]}]}, "invalid_request"),
    ({"form": [{"name": "a", "label": "A"}, {"name": "a", "label": "A again"}]}, "invalid_request"),
    ({"form": [{"name": "1st", "label": "First"}]}, "invalid_request"),
])
def test_invalid_pages_are_refused_with_a_code(pages: PageShop, fields: dict[str, Any], code: str):
    refused = pages.page(status=422, **fields)
    assert refused["code"] == code, refused
    assert refused["message"]
    assert pages.client.get("/api/v1/landing-pages", headers=pages.headers).json()["items"] == []


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ traits.__class__.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__ }}",
    "{{ traits.get.__self__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ request.application.__globals__ }}",
    "{{ 'a' * 1000000000 }}",
])
def test_template_injection_in_a_page_is_refused_when_saved(pages: PageShop, source: str):
    refused = pages.page(status=422, body=source)
    assert refused["code"].startswith("template_"), refused


def test_customer_data_on_a_page_is_inert(pages: PageShop):
    pages.ingest([{"type": "identify", "userId": "u-00000", "timestamp": "2026-06-02T10:00:00Z",
                   "traits": {"firstName": "<script>alert(1)</script>{{ 7*7 }}"}}])
    pages.page()
    pages.send(content=EMAIL)
    answer = pages.visit(pages.purl())
    assert answer.status_code == 200
    assert "<script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in answer.text
    assert "49" not in answer.text


def test_a_page_is_previewed_for_a_customer_without_recording_anything(pages: PageShop, other_workspace: Any):
    page = pages.page()
    path = f"/api/v1/landing-pages/{page['id']}/preview"
    shown = pages.client.post(path, headers=pages.headers, json={"profile": "c00001@example.com"})
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["title"], body["error"]) == ("Your spring offer", None)
    assert "<h1>Hello Kim1</h1>" in body["html"]
    assert 'name="favouriteColour"' in body["html"]
    nobody = pages.client.post(path, headers=pages.headers, json={"profile": "nobody@example.com"})
    assert (nobody.status_code, nobody.json()["code"]) == (404, "profile_not_found")
    theirs = pages.client.post(path, headers={"Authorization": f"Bearer {other_workspace.secret_key}"},
                               json={"profile": "u-00001"})
    assert (theirs.status_code, theirs.json()["code"]) == (404, "landing_page_not_found")
    assert pages.timeline("u-00001", VIEWED) == []


# --- Links in messages --------------------------------------------------------------------------------------------


def test_each_customers_email_gets_a_purl_of_its_own(pages: PageShop):
    pages.page()
    pages.send(content=EMAIL)
    first, second = pages.purl("u-00000"), pages.purl("u-00001")
    assert first != second
    body = pages.message()["body"]
    assert "purl:" not in body
    assert re.search(r'href="http://[^"]+/l/[A-Za-z0-9_-]{20}"', body)  # the web link is still tracked
    stored = {link["url"] for link in pages.links(pages.message()["send_key"])}
    assert "purl:spring-offer" in stored


def test_opening_a_purl_shows_the_page_for_that_customer(pages: PageShop):
    pages.page()
    pages.send(content=EMAIL, name="Spring")
    answer = pages.visit(pages.purl("u-00001"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Hello Kim1</h1>" in answer.text
    assert "<p>Spring</p>" in answer.text
    assert "Kim0" not in answer.text
    assert '<form class="ll-form" method="post"' in answer.text
    assert 'name="favouriteColour"' in answer.text
    assert "Save my choices" in answer.text
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # no script of any kind: default-src 'none' covers it
    assert "form-action 'self'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


def test_a_page_falls_back_when_the_customer_lacks_a_trait(pages: PageShop):
    pages.ingest([{"type": "identify", "userId": "u-new", "timestamp": "2026-06-01T10:00:00Z",
                   "traits": {"plan": "pro", "email": "new@example.com"}}])
    pages.page()
    pages.send(content={**EMAIL, "subject": "Spring", "body": EMAIL["body"].replace("{{ traits.firstName }}", "")})
    answer = pages.visit(pages.purl("u-new"))
    assert answer.status_code == 200
    assert "<h1>Hello there</h1>" in answer.text


def test_a_visit_records_the_view_and_the_click_on_the_right_profile_once(pages: PageShop):
    pages.page()
    campaign = pages.send(content=EMAIL)
    message = pages.message("u-00001")
    url = pages.purl("u-00001")
    for _ in range(3):
        assert pages.visit(url).status_code == 200
    (viewed,) = pages.timeline("u-00001", VIEWED)
    properties = viewed["properties"]
    assert properties["send_key"] == message["send_key"]
    assert (properties["campaign_id"], properties["slug"], properties["channel"]) == (campaign, "spring-offer",
                                                                                      "email")
    assert properties["landing_page_id"].startswith("lp_")
    (clicked,) = pages.timeline("u-00001", CLICKED)
    assert (clicked["properties"]["url"], clicked["properties"]["route"]) == ("purl:spring-offer", "page")
    assert pages.timeline("u-00000", VIEWED) == []
    counted = {link["url"]: link["clicks"] for link in pages.links(message["send_key"])}
    assert counted["purl:spring-offer"] == 3


@pytest.mark.parametrize(("agent", "method"), [(GOOGLEBOT, "GET"), (DESKTOP, "HEAD"), ("curl/8.4.0", "GET")])
def test_machines_get_the_page_but_record_no_view(pages: PageShop, agent: str, method: str):
    pages.page()
    pages.send(content=EMAIL)
    answer = pages.visit(pages.purl(), agent=agent, method=method)
    assert answer.status_code == 200
    assert pages.timeline("u-00000", VIEWED, CLICKED) == []
    (link,) = [link for link in pages.links() if link["url"] == "purl:spring-offer"
               and link["send_key"] == pages.message()["send_key"]]
    assert (link["clicks"], link["bot_clicks"]) == (0, 1)


def test_a_scanner_right_after_delivery_records_no_view(pages: PageShop):
    pages.page()
    pages.send(content=EMAIL)
    pages.clock.at = NOW  # the message was handed over this very moment
    assert pages.visit(pages.purl(), agent=IPHONE).status_code == 200
    assert pages.timeline("u-00000", VIEWED) == []


def test_a_text_message_links_to_a_page_too(pages: PageShop):
    pages.page()
    pages.send("sms", {"body": "Your offer: purl:spring-offer. Reply STOP to stop."})
    body = pages.message()["body"]
    (url,) = PURL.findall(body)
    assert body.startswith("Your offer: http://")
    assert body.endswith(". Reply STOP to stop.")
    assert "<h1>Hello Kim0</h1>" in pages.visit(url).text
    (viewed,) = pages.timeline("u-00000", VIEWED)
    assert viewed["properties"]["channel"] == "sms"
    assert len(pages.timeline("u-00000", "SMS Link Clicked")) == 1


def test_a_push_opens_its_page_and_leaves_the_click_to_the_app(pages: PageShop):
    pages.ingest([{"type": "track", "userId": "u-00000", "event": "Application Opened",
                   "context": {"device": {"id": "d-1", "type": "ios", "token": "a" * 64}, "os": {"name": "iOS"}}}])
    pages.page()
    pages.send("push", {"subject": "Spring", "body": "Your offer is here", "url": "purl:spring-offer"}, opt_in=False)
    (message,) = pages.outbox()
    assert PURL.fullmatch(message["url"])
    assert message["body"] == "Your offer is here"
    assert "<h1>Hello Kim0</h1>" in pages.visit(message["url"], agent=IPHONE).text
    (viewed,) = pages.timeline("u-00000", VIEWED)
    assert viewed["properties"]["channel"] == "push"
    assert pages.timeline("u-00000", "Push Notification Tapped") == []  # the app reports its own taps


def test_purls_are_written_when_click_tracking_is_off(pages: PageShop):
    pages.link_settings(track_clicks=False, track_opens=False)
    pages.page()
    pages.send(content=EMAIL)
    body = pages.message()["body"]
    assert 'href="https://shop.example/sale"' in body  # web links stay as written
    assert "<h1>Hello Kim0</h1>" in pages.visit(pages.purl()).text


def test_a_malformed_purl_is_refused_when_the_campaign_is_saved(pages: PageShop):
    segment = pages.segment()
    for channel, content in [("email", {"subject": "S", "body": '<a href="purl:Spring_Offer">x</a>'}),
                             ("sms", {"body": "Go to purl:spring-offer- now"}),
                             ("email", {"subject": "S", "body": "<p>x</p>", "url": "purl:"})]:
        response = pages.client.post("/api/v1/campaigns", headers=pages.headers, json={
            "name": "Bad", "definition": {"audience": {"segments": [segment]}, "channels": [channel],
                                          "variants": [{"name": "A", "split": 100, "content": {channel: content}}]}})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "unsafe_link"


def test_a_message_linking_to_a_page_that_does_not_exist_is_refused_at_save(pages: PageShop):
    segment = pages.segment(name="Refused")
    variants = [{"name": "A", "split": 100, "content": {"email": EMAIL}}]
    refused = pages.client.post("/api/v1/campaigns", headers=pages.headers, json={"name": "No page", "definition": {
        "audience": {"segments": [segment]}, "channels": ["email"], "variants": variants}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "unknown_landing_page"
    assert refused.json()["problems"] == [{"path": "definition.variants.0.content.email",
                                           "message": "no landing page has the slug 'spring-offer': create it first"}]
    journey = pages.client.post("/api/v1/journeys", headers=pages.headers, json={"name": "No page", "definition": {
        "trigger": {"type": "event", "event": "Order Completed"},
        "steps": [{"id": "offer", "type": "send", "channels": ["sms"],
                   "content": {"sms": {"body": "Your offer: purl:spring-offer"}}}]}})
    assert journey.status_code == 422, journey.text
    assert journey.json()["error"]["code"] == "unknown_landing_page"
    assert journey.json()["problems"][0]["path"] == "definition.steps.0.content.sms"
    assert pages.client.get("/api/v1/campaigns", headers=pages.headers).json()["items"] == []


def test_a_purl_whose_page_was_deleted_since_answers_that_it_is_unavailable(pages: PageShop):
    page = pages.page()
    pages.send(content=EMAIL)
    url = pages.purl()
    assert pages.visit(url).status_code == 200
    pages.client.delete(f"/api/v1/landing-pages/{page['id']}", headers=pages.headers)
    answer = pages.visit(url)
    assert (answer.status_code, answer.json()["code"]) == (404, "landing_page_unavailable")
    gone = pages.visit(url, Accept="text/html")
    assert gone.status_code == 404
    assert "This page is not available" in gone.text
    assert gone.headers["content-security-policy"].startswith("default-src 'none'")


# --- Forms --------------------------------------------------------------------------------------------------------


def test_a_submitted_form_updates_the_customers_traits(pages: PageShop):
    pages.page()
    campaign = pages.send(content=EMAIL)
    url = pages.purl()
    answer = pages.submit(url, {"favouriteColour": "blue", "workEmail": "kim@work.example", "shoeSize": "42.5",
                                "newsletter": "on", "plan": "free", "email": "mallory@evil.example"})
    assert answer.status_code == 200, answer.text
    assert "Thanks, Kim0: blue it is." in answer.text
    assert answer.headers["referrer-policy"] == "no-referrer"
    traits = pages.traits()
    assert (traits["favouriteColour"], traits["workEmail"], traits["shoeSize"], traits["newsletter"]) == (
        "blue", "kim@work.example", 42.5, True)
    assert traits["plan"] == "pro"  # not a field of the form: never written
    assert traits["email"] == "c00000@example.com"  # identifiers are not for forms
    assert "favouriteColour" not in pages.traits("u-00001")
    (submitted,) = pages.timeline("u-00000", SUBMITTED)
    assert submitted["properties"]["campaign_id"] == campaign
    assert submitted["properties"]["send_key"] == pages.message()["send_key"]
    assert submitted["properties"]["fields"] == ["favouriteColour", "newsletter", "shoeSize", "workEmail"]


def test_an_unticked_box_and_empty_optional_fields(pages: PageShop):
    pages.page()
    pages.send(content=EMAIL)
    assert pages.submit(pages.purl(), {"favouriteColour": "red", "workEmail": ""}).status_code == 200
    traits = pages.traits()
    assert (traits["favouriteColour"], traits["newsletter"]) == ("red", False)
    assert "workEmail" not in traits
    assert "shoeSize" not in traits


@pytest.mark.parametrize(("form", "errors"), [
    ({}, {"favouriteColour": "this field is required"}),
    ({"favouriteColour": "green"}, {"favouriteColour": "choose one of the options"}),
    ({"favouriteColour": "red", "workEmail": "not-an-address"}, {"workEmail": "enter an email address"}),
    ({"favouriteColour": "red", "shoeSize": "forty"}, {"shoeSize": "enter a number"}),
    ({"favouriteColour": "red", "shoeSize": "1e999"}, {"shoeSize": "enter a number"}),
    ({"favouriteColour": "red", "newsletter": "maybe"}, {"newsletter": "answer yes or no"}),
    ({"favouriteColour": "red", "workEmail": "a@b.example", "shoeSize": "nan"}, {"shoeSize": "enter a number"}),
])
def test_invalid_answers_show_the_page_again_with_errors_and_change_nothing(
        pages: PageShop, form: dict[str, str], errors: dict[str, str]):
    pages.page()
    pages.send(content=EMAIL)
    answer = pages.submit(pages.purl(), form, Accept="text/html")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "Please correct the highlighted fields." in answer.text
    for name, message in errors.items():
        assert re.search(rf'id="ll-{name}-error">{re.escape(message)}', answer.text), answer.text
    if form.get("workEmail"):
        assert f'value="{form["workEmail"]}"' in answer.text  # what was typed is kept
    traits = pages.traits()
    assert not {"favouriteColour", "workEmail", "shoeSize", "newsletter"} & set(traits)
    assert pages.timeline("u-00000", SUBMITTED) == []


def test_a_required_box_must_be_ticked(pages: PageShop):
    pages.page(form=[{"name": "acceptsTerms", "label": "I accept", "type": "boolean", "required": True}],
               thank_you=None)
    pages.send(content=EMAIL)
    refused = pages.submit(pages.purl(), {})
    assert refused.status_code == 422
    assert "this box must be ticked" in refused.text
    assert pages.submit(pages.purl(), {"acceptsTerms": "on"}).status_code == 200
    assert pages.traits()["acceptsTerms"] is True


def test_a_page_without_a_form_takes_no_submission(pages: PageShop):
    pages.page(form=None, thank_you=None)
    pages.send(content=EMAIL)
    answer = pages.submit(pages.purl(), {"anything": "x"})
    assert (answer.status_code, answer.json()["code"]) == (405, "no_form")


def test_form_data_must_be_a_form(pages: PageShop):
    pages.page()
    pages.send(content=EMAIL)
    path = urlsplit(pages.purl()).path
    as_json = pages.client.post(path, json={"favouriteColour": "red"})
    assert (as_json.status_code, as_json.json()["code"]) == (415, "unsupported_media_type")
    too_many = pages.submit(pages.purl(), "&".join(f"f{n}=x" for n in range(300)))
    assert (too_many.status_code, too_many.json()["code"]) == (400, "invalid_form")


def test_a_form_sent_too_often_through_one_link_is_refused_for_a_while_and_nothing_is_written(pages: PageShop):
    pages.page()
    pages.send(content=EMAIL)
    url = pages.purl()
    limit = pages.runtime.services.settings.landing_page_submissions_per_minute
    for _ in range(limit):  # a person correcting a form a few times is never stopped
        assert pages.submit(url, {"favouriteColour": "green"}).status_code == 422
    refused = pages.submit(url, {"favouriteColour": "blue"})
    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_submissions")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "try again in" in refused.json()["message"]
    as_page = pages.submit(url, {"favouriteColour": "blue"}, Accept="text/html")
    assert as_page.status_code == 429
    assert "This page is not available" in as_page.text
    assert "favouriteColour" not in pages.traits()
    assert pages.timeline("u-00000", SUBMITTED) == []
    # Another customer's link is counted on its own.
    assert pages.submit(pages.purl("u-00001"), {"favouriteColour": "red"}).status_code == 200
    assert pages.traits("u-00001")["favouriteColour"] == "red"


# --- Tokens that are not live PURLs -------------------------------------------------------------------------------


def _altered(token: str) -> str:
    return ("A" if token[0] != "A" else "B") + token[1:]


@pytest.mark.parametrize("make", [
    _altered,
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    lambda token: token[:19],
    lambda token: token + "A",
    lambda token: "A" * 20,
    lambda token: "not-a-token",
    lambda token: "%00%2e%2e",
])
def test_tampered_and_malformed_tokens_answer_404_without_detail(pages: PageShop, make: Any):
    pages.page()
    pages.send(content=EMAIL)
    token = pages.purl().rsplit("/", 1)[1]
    for method in ("GET", "POST"):
        answer = pages.client.request(method, f"/p/{make(token)}", headers={"User-Agent": DESKTOP},
                                      data={"favouriteColour": "red"})
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] in ("link_not_found", "not_found")
        assert "Kim0" not in answer.text
    assert "favouriteColour" not in pages.traits()


def test_an_expired_purl_answers_404(pages: PageShop):
    pages.page()
    pages.send(content=EMAIL)
    url = pages.purl()
    pages.clock.at = NOW + timedelta(days=366)
    expired = pages.visit(url, Accept="text/html")
    assert expired.status_code == 404
    assert "Kim0" not in expired.text
    assert pages.submit(url, {"favouriteColour": "red"}).status_code == 404


def test_tracked_links_and_purls_do_not_stand_in_for_each_other(pages: PageShop):
    pages.page()
    pages.send(content=EMAIL)
    body = pages.message()["body"]
    (click,) = re.findall(r'href="http://[^"]+/l/([A-Za-z0-9_-]{20})"', body)
    (pixel,) = re.findall(r'/o/([A-Za-z0-9_-]{20})\.gif', body)
    purl = pages.purl().rsplit("/", 1)[1]
    assert pages.visit(f"http://testserver/p/{click}").status_code == 404
    assert pages.visit(f"http://testserver/p/{pixel}").status_code == 404
    assert pages.client.get(f"/l/{purl}", headers={"User-Agent": DESKTOP}, follow_redirects=False).status_code == 404


def test_a_purl_is_answered_on_its_own_workspaces_host_only(pages: PageShop, other_workspace: Any):
    pages.page()
    pages.send(content=EMAIL)
    path = urlsplit(pages.purl()).path
    theirs = {"Authorization": f"Bearer {other_workspace.secret_key}"}
    assert pages.client.put("/api/v1/link-settings", headers=theirs, json={"link_domain": "go.other.example"}
                            ).status_code == 200
    foreign = pages.client.get(f"http://go.other.example{path}", headers={"User-Agent": DESKTOP})
    assert (foreign.status_code, foreign.json()["code"]) == (404, "link_not_found")
    assert pages.client.post(f"http://go.other.example{path}", data={"favouriteColour": "red"}).status_code == 404
    assert pages.timeline("u-00000", VIEWED) == []
    assert pages.client.get(path, headers={"User-Agent": DESKTOP}).status_code == 200


def test_another_workspace_cannot_read_or_change_the_pages(pages: PageShop, other_workspace: Any):
    page = pages.page()
    theirs = {"Authorization": f"Bearer {other_workspace.secret_key}"}
    path = f"/api/v1/landing-pages/{page['id']}"
    assert pages.client.get("/api/v1/landing-pages", headers=theirs).json()["items"] == []
    assert pages.client.get(path, headers=theirs).status_code == 404
    assert pages.client.put(path, headers=theirs, json={**PAGE, "title": "Mallory"}).status_code == 404
    assert pages.client.delete(path, headers=theirs).status_code == 404
    assert pages.client.get(path, headers=pages.headers).json()["title"] == PAGE["title"]
    assert pages.client.get("/api/v1/landing-pages").status_code == 401


def test_a_test_sends_page_opens_and_takes_its_form_but_records_nothing(pages: PageShop):
    pages.page()
    pages.policy(opt_in_channels=[])
    campaign = pages.campaign(pages.segment(), variants=[{"name": "A", "split": 100, "content": {"email": EMAIL}}])
    sent = pages.client.post(f"/api/v1/campaigns/{campaign['id']}/test-send", headers=pages.headers,
                             json={"profile": "u-00000"})
    assert sent.status_code == 200, sent.text
    pages.clock.at = NOW + timedelta(minutes=10)
    url = pages.purl()
    assert "<h1>Hello Kim0</h1>" in pages.visit(url).text
    assert pages.submit(url, {"favouriteColour": "red"}).status_code == 200
    assert "favouriteColour" not in pages.traits()
    assert pages.timeline("u-00000", VIEWED, SUBMITTED, CLICKED) == []
