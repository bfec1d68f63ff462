"""Tenant isolation and key handling across every management route.

The routes are read from the application's own OpenAPI description, so a new route is
in the matrix as soon as it exists: the test fails until it knows how to call it (sample
ids for a new path parameter, a body for a new request body).

Workspace A owns a customer with every kind of identifier, a merge, an erasure, consents,
suppression-list entries and extra keys. Workspace B's secret key, pointed at any of A's
objects, must get the same answer as for an object that does not exist (404, nothing of
A's in the body) and change nothing of A's; B's collection routes must show B's data
only. A's write key and no key at all must be refused (401) everywhere. Finally no key
text, and no secret part of a key, may ever reach the logs or the process output.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from loopline.actions.campaign_runs import CampaignRunner
from loopline.actions.workspaces import WorkspaceCreated, do_create_workspace
from loopline.api.app import create_app
from loopline.bootstrap import Runtime, build_runtime
from loopline.config import Settings
from loopline.domain.keys import parse_key
from tests.conftest import ADMIN_TOKEN, basic, bearer, settle, track

Operation = tuple[str, str]  # (METHOD, path template)

CONSENTS = {"choices": [{"channel": "email", "topic": "all", "status": "opted_out", "source": "mallory"}]}
# B uploads A's identifiers: the rows must land in B, never on A's profile.
IMPORT_CSV = b"user_id,email,first_name\nu-ana,ana@example.com,Mallory\n"
# B suppresses A's addresses: the entries must land on B's list, never on A's.
SUPPRESS = {"entries": [{"channel": "email", "address": "ANA@example.com", "reason": "manual", "note": "mallory"},
                        {"channel": "sms", "address": "+49 30 1234567", "reason": "complaint"}]}
# B's segments aim at A's data (A's city; A's segment ids as paths): they must see B's only.
SEGMENT = {"name": "Mallory's segment",
           "condition": {"type": "trait", "trait": "city", "operator": "contains", "value": "sentinel"}}
# B's report splits events by a property A's events carry: only B's own may show.
REPORT = {"report": "events", "since": "2026-01-01", "until": "2027-01-01", "measure": "users",
          "group_by": {"source": "event", "path": "category"}}
# B's campaign goes to B's own segment (set once B has one).
CAMPAIGN = {"name": "Mallory's campaign", "definition": {
    "audience": {"segments": ["set-in-the-test"]}, "channels": ["in_app"],
    "variants": [{"name": "A", "split": 100, "content": {"in_app": {"body": "Hello from Mallory"}}}]}}
JOURNEY = {"name": "Mallory's journey", "definition": {
    "trigger": {"type": "event", "event": "Order Completed"},
    "steps": [{"id": "hi", "type": "send", "channels": ["in_app"], "content": {"in_app": {"body": "Hi"}}}]}}
# B's landing page: the slug is free in B whatever A holds, and A's pages stay as they are.
LANDING_PAGE = {"slug": "mallory-page", "title": "Mallory's page",
                "body": "<p>Hi {{ traits.firstName | default('') }}</p>", "form": [{"name": "city", "label": "City"}]}
# B's media buy counts B's traffic tagged with A's UTM campaign name: A's buy and figures stay A's.
MEDIA_BUY = {"name": "Mallory's buy", "definition": {
    "channel": "paid_social", "utm": {"campaign": "sentinel-utm"}, "starts_at": "2026-01-01T00:00:00Z",
    "costs": {"fixed": 1}, "success_metric": {"event": "Order Completed"}}}
# B sets its own email relay: A's must stay as it is.
PROVIDER = {"channel": "email", "provider": {"kind": "smtp", "host": "mallory.example", "port": 25,
                                             "sender_address": "mallory@mallory.example", "password": "mallory"}}
# B's topic and theme: B's own catalogue and look; A's topic (same routes, A's key) stays as it is.
TOPIC = {"key": "mallory-topic", "label": "Mallory's topic", "channels": ["email"]}
THEME = {"brand_name": "Mallory", "primary_color": "#000000"}
BODIES: dict[Operation, dict[str, Any]] = {
    ("POST", "/api/v1/topics"): {"json": TOPIC},
    ("PUT", "/api/v1/topics/{topic_key}"): {"json": TOPIC | {"key": None}},
    ("PUT", "/api/v1/theme"): {"json": THEME},
    ("PUT", "/api/v1/channels/providers"): {"json": PROVIDER},
    ("POST", "/api/v1/journeys"): {"json": JOURNEY},
    ("PUT", "/api/v1/journeys/{journey_id}"): {"json": JOURNEY},
    ("PUT", "/api/v1/contact-policy"): {"json": {"caps": [{"limit": 0, "window_hours": 24}],
                                                 "default_time_zone": "Europe/Paris"}},
    ("PUT", "/api/v1/link-settings"): {"json": {"utm": False, "web_domains": ["mallory.example"]}},
    ("POST", "/api/v1/landing-pages"): {"json": LANDING_PAGE},
    ("POST", "/api/v1/media-buys"): {"json": MEDIA_BUY},
    ("PUT", "/api/v1/media-buys/{media_buy_id}"): {"json": MEDIA_BUY},
    ("PUT", "/api/v1/landing-pages/{page_id}"): {"json": LANDING_PAGE},
    ("POST", "/api/v1/landing-pages/{page_id}/preview"): {"json": {"profile": "u-ana"}},
    ("POST", "/api/v1/campaigns"): {"json": CAMPAIGN},
    ("PUT", "/api/v1/campaigns/{campaign_id}"): {"json": CAMPAIGN},
    ("POST", "/api/v1/campaigns/{campaign_id}/preview"): {"json": {"profile": "u-ana"}},
    ("POST", "/api/v1/campaigns/{campaign_id}/test-send"): {"json": {"profile": "u-ana"}},
    ("POST", "/api/v1/reports"): {"json": REPORT},
    ("POST", "/api/v1/segments"): {"json": SEGMENT},
    ("POST", "/api/v1/segments/estimate"): {"json": SEGMENT},
    ("PUT", "/api/v1/segments/{segment_id}"): {"json": SEGMENT},
    ("PUT", "/api/v1/profiles/{reference}/consents"): {"json": CONSENTS},
    ("POST", "/api/v1/keys"): {"json": {"kind": "secret", "label": "mallory"}},
    ("POST", "/api/v1/workspaces"): {"json": {"name": "Mallory's shop"}},
    ("POST", "/api/v1/imports"): {"content": IMPORT_CSV, "headers": {"Content-Type": "text/csv"}},
    ("POST", "/api/v1/suppressions"): {"json": SUPPRESS},
}
# Operations that write A's identifiers into B run last, after B's listings were checked.
WRITES_LAST = {("POST", "/api/v1/imports"), ("POST", "/api/v1/suppressions")}
# Path parameters of objects that do not exist; a channel must be a real one to reach the lookup.
MISSING = {"channel": "email", "address": "no-such-object-0@example.com"}
QUERIES: dict[Operation, dict[str, str]] = {
    ("GET", "/api/v1/profiles"): {"search": "ana"},
    ("GET", "/api/v1/suppressions"): {"search": "ana"},
    ("GET", "/api/v1/exports/profiles.csv"): {"traits": "firstName,city"},
    ("GET", "/api/v1/segments/{segment_id}/export.csv"): {"traits": "firstName,city"},
}


def management_operations(client: TestClient) -> list[tuple[Operation, dict[str, Any]]]:
    """Every management operation with its OpenAPI description, from the running app."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return [
        ((method.upper(), path), operation)
        for path, item in spec["paths"].items() if path.startswith("/api/")
        for method, operation in item.items()
    ]


def path_params(path: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", path)


@dataclass
class Tenant:
    """Workspace A's objects, as ids to aim at and as text that must never leak."""

    references: list[str]
    erasure_id: str
    merge_id: str
    key_ids: list[str]
    suppressed: list[tuple[str, str]]
    segment_ids: list[str]
    campaign_ids: list[str] = field(default_factory=list)
    journey_ids: list[str] = field(default_factory=list)
    landing_page_ids: list[str] = field(default_factory=list)
    media_buy_ids: list[str] = field(default_factory=list)
    topic_keys: list[str] = field(default_factory=list)
    sentinels: set[str] = field(default_factory=set)

    def samples(self, names: tuple[str, ...]) -> list[dict[str, str]]:
        """Return A's ids for a route's path parameters, one dict per object to aim at."""
        known: dict[tuple[str, ...], list[tuple[str, ...]]] = {
            ("reference",): [(r,) for r in self.references], ("erasure_id",): [(self.erasure_id,)],
            ("merge_id",): [(self.merge_id,)], ("key_id",): [(k,) for k in self.key_ids],
            ("channel", "address"): self.suppressed, ("segment_id",): [(s,) for s in self.segment_ids],
            ("campaign_id",): [(c,) for c in self.campaign_ids],
            ("journey_id",): [(j,) for j in self.journey_ids],
            ("page_id",): [(p,) for p in self.landing_page_ids],
            ("media_buy_id",): [(m,) for m in self.media_buy_ids],
            ("topic_key",): [(t,) for t in self.topic_keys],
            ("channel",): [("email",)],  # A's email relay
        }
        assert names in known, f"add workspace A's ids for path parameters {names} to the isolation matrix"
        return [dict(zip(names, values, strict=True)) for values in known[names]]


def build_tenant_a(client: TestClient, runtime: Runtime, a: WorkspaceCreated) -> Tenant:
    """Give workspace A a customer with every kind of identifier, a merge, an erasure and keys."""
    response = client.post("/v1/batch", headers=basic(a.write_key), json={"batch": [
        {"type": "track", "anonymousId": "dev-ana", "event": "Product Viewed",
         "properties": {"category": "sentinel-category"},
         "context": {"device": {"id": "dev-ana", "token": "sentinel-push-token"}}},
        {"type": "identify", "anonymousId": "dev-ana", "traits": {"nickname": "sentinel-nick"}},
        {"type": "track", "userId": "u-ana", "event": "Order Completed",
         "properties": {"order_id": "sentinel-order", "revenue": 4242}},
        {"type": "identify", "userId": "u-ana", "anonymousId": "dev-ana", "traits": {
            "email": "ana@example.com", "phone": "+49 30 1234567", "firstName": "Anastasia",
            "city": "Sentinelburg"}},
        {"type": "identify", "userId": "u-gone", "traits": {"email": "gone@example.com"}},
    ]})
    assert response.status_code == 200, response.text
    settle(runtime)
    secret = bearer(a.secret_key)
    assert client.put("/api/v1/profiles/u-ana/consents", headers=secret,
                      json={"choices": [{"channel": "sms", "status": "opted_in"}]}).status_code == 200
    erasure = client.post("/api/v1/profiles/u-gone/erase", headers=secret)
    assert erasure.status_code == 202, erasure.text
    extra = client.post("/api/v1/keys", headers=secret, json={"kind": "write", "label": "sentinel-key-label"})
    assert extra.status_code == 201
    suppressed = [("email", "ana@example.com"), ("sms", "+49301234567"), ("push", "sentinel-push-token")]
    listed = client.post("/api/v1/suppressions", headers=secret, json={"entries": [
        {"channel": channel, "address": address, "reason": "complaint", "note": "sentinel-note"}
        for channel, address in suppressed]})
    assert listed.json()["created"] == 3, listed.text
    view = client.get("/api/v1/profiles/u-ana", headers=secret).json()
    (merge,) = view["merges"]
    # Only the email and phone are asserted: which profile shows the device holding the push
    # token (seen before the merge, in the same batch) is not what this test is about.
    assert {(s["channel"], s["address"]) for s in view["suppressions"]} >= set(suppressed[:2])
    keys = [k["id"] for k in client.get("/api/v1/keys", headers=secret).json()["items"]]
    assert len(keys) == 3
    segment = client.post("/api/v1/segments", headers=secret, json={
        "name": "sentinel-segment", "condition": {"type": "trait", "trait": "firstName", "operator": "exists"}})
    assert segment.status_code == 201, segment.text
    refreshed = client.post(f"/api/v1/segments/{segment.json()['id']}/refresh", headers=secret)
    assert refreshed.json()["members"] == 1, refreshed.text
    # A campaign that ran: ledger rows, an outbox message, a contact policy of A's own.
    assert client.put("/api/v1/contact-policy", headers=secret,
                      json={"default_time_zone": "Pacific/Chatham"}).status_code == 200
    assert client.put("/api/v1/link-settings", headers=secret,
                      json={"link_domain": "sentinel-links.example"}).status_code == 200
    campaign = client.post("/api/v1/campaigns", headers=secret, json={"name": "sentinel-campaign", "definition": {
        "audience": {"segments": [segment.json()["id"]]}, "channels": ["in_app", "sms"], "every_channel": True,
        "variants": [{"name": "sentinel-variant", "split": 100, "content": {
            "in_app": {"body": "sentinel-content {{ traits.firstName }}"}, "sms": {"body": "sentinel-sms"}}}]}})
    assert campaign.status_code == 201, campaign.text
    assert client.post(f"/api/v1/campaigns/{campaign.json()['id']}/schedule", headers=secret).status_code == 200
    CampaignRunner(runtime.services).tick()
    assert len(client.get("/api/v1/outbox", headers=secret).json()["items"]) == 1
    journey = client.post("/api/v1/journeys", headers=secret, json={"name": "sentinel-journey", "definition": {
        "trigger": {"type": "event", "event": "Order Completed"},
        "steps": [{"id": "thanks", "type": "send", "channels": ["in_app"],
                   "content": {"in_app": {"body": "sentinel-thanks"}}}]}})
    assert journey.status_code == 201, journey.text
    assert client.post(f"/api/v1/journeys/{journey.json()['id']}/activate", headers=secret).status_code == 200
    page = client.post("/api/v1/landing-pages", headers=secret, json={
        "slug": "sentinel-page", "title": "sentinel-page-title", "body": "<p>sentinel-page-body</p>",
        "form": [{"name": "sentinelField", "label": "sentinel-field-label"}]})
    assert page.status_code == 201, page.text
    buy = client.post("/api/v1/media-buys", headers=secret, json={"name": "sentinel-buy", "definition": {
        "channel": "search", "publisher": "sentinel-publisher", "utm": {"campaign": "sentinel-utm"},
        "starts_at": "2026-01-01T00:00:00Z", "costs": {"fixed": 4242.5},
        "success_metric": {"event": "Order Completed"}}})
    assert buy.status_code == 201, buy.text
    relay = client.put("/api/v1/channels/providers", headers=secret, json={"channel": "email", "provider": {
        "kind": "smtp", "host": "sentinel-smtp.example", "sender_address": "news@sentinel-smtp.example",
        "username": "sentinel-smtp-user", "password": "sentinel-password"}})
    assert relay.status_code == 200, relay.text
    topic = client.post("/api/v1/topics", headers=secret, json={
        "key": "sentinel-topic", "label": "sentinel-topic-label", "channels": ["email", "sms"]})
    assert topic.status_code == 201, topic.text
    theme = client.put("/api/v1/theme", headers=secret, json={
        "brand_name": "sentinel-brand", "logo_url": "https://sentinel-logo.example/logo.png"})
    assert theme.status_code == 200, theme.text
    tenant = Tenant(
        references=["u-ana", "dev-ana", "ana@example.com", "+49301234567", view["id"]],
        erasure_id=erasure.json()["id"], merge_id=merge["id"], key_ids=keys, suppressed=suppressed,
        segment_ids=[segment.json()["id"]], campaign_ids=[campaign.json()["id"]],
        journey_ids=[journey.json()["id"]], landing_page_ids=[page.json()["id"]], media_buy_ids=[buy.json()["id"]],
        topic_keys=["sentinel-topic"],
    )
    tenant.sentinels = {
        *tenant.references, tenant.erasure_id, tenant.merge_id, *tenant.key_ids, a.id, merge["loser_id"],
        "Anastasia", "Sentinelburg", "sentinel-nick", "sentinel-category", "sentinel-push-token",
        "sentinel-order", "4242", "u-gone", "gone@example.com", "sentinel-key-label", "sentinel-note",
        *tenant.segment_ids, "sentinel-segment", *tenant.campaign_ids, "sentinel-campaign", "sentinel-variant",
        "sentinel-content", "Pacific/Chatham", *tenant.journey_ids, "sentinel-journey", "sentinel-thanks",
        "sentinel-smtp.example", "sentinel-smtp-user", "sentinel-password", "sentinel-links.example",
        *tenant.landing_page_ids, "sentinel-page", "sentinel-page-title", "sentinel-page-body",
        "sentinel-field-label", "sentinelField", *tenant.media_buy_ids, "sentinel-buy", "sentinel-publisher",
        *tenant.topic_keys, "sentinel-topic-label", "sentinel-brand", "sentinel-logo.example",
    }
    return tenant


def snapshot(client: TestClient, a: WorkspaceCreated, tenant: Tenant) -> dict[str, Any]:
    """Everything A can read about its objects."""
    secret = bearer(a.secret_key)
    state: dict[str, Any] = {
        ref: client.get(f"/api/v1/profiles/{ref}", headers=secret).json() for ref in tenant.references
    }
    state["export"] = orjson.loads(client.get("/api/v1/profiles/u-ana/export", headers=secret).content)
    state["keys"] = client.get("/api/v1/keys", headers=secret).json()
    state["erasure"] = client.get(f"/api/v1/erasures/{tenant.erasure_id}", headers=secret).json()
    state["listing"] = client.get("/api/v1/profiles", headers=secret).json()
    state["suppressions"] = client.get("/api/v1/suppressions", headers=secret).json()
    state["segments"] = client.get("/api/v1/segments", headers=secret).json()
    for segment_id in tenant.segment_ids:
        state[segment_id] = client.get(f"/api/v1/segments/{segment_id}/members", headers=secret).json()
    state["policy"] = client.get("/api/v1/contact-policy", headers=secret).json()
    state["link_settings"] = client.get("/api/v1/link-settings", headers=secret).json()
    state["campaigns"] = client.get("/api/v1/campaigns", headers=secret).json()
    state["outbox"] = client.get("/api/v1/outbox", headers=secret).json()
    state["sends"] = client.get("/api/v1/profiles/u-ana/sends", headers=secret).json()
    for campaign_id in tenant.campaign_ids:
        state[campaign_id] = client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=secret).json()
    state["journeys"] = client.get("/api/v1/journeys", headers=secret).json()
    state["providers"] = client.get("/api/v1/channels/providers", headers=secret).json()
    state["landing_pages"] = client.get("/api/v1/landing-pages", headers=secret).json()
    state["media_buys"] = client.get("/api/v1/media-buys", headers=secret).json()
    state["topics"] = client.get("/api/v1/topics", headers=secret).json()
    state["theme"] = client.get("/api/v1/theme", headers=secret).json()
    state["preferences_link"] = client.get("/api/v1/profiles/u-ana/preferences-link", headers=secret).json()
    for journey_id in tenant.journey_ids:
        state[journey_id] = client.get(f"/api/v1/journeys/{journey_id}/enrollments", headers=secret).json()
    return state


def call(client: TestClient, operation: Operation, headers: dict[str, str],
         params: dict[str, str] | None = None) -> Any:
    method, template = operation
    path = template.format(**(params or {}))
    extra = BODIES.get(operation, {})
    return client.request(method, path, headers={**headers, **extra.get("headers", {})},
                          params=QUERIES.get(operation),
                          **{k: v for k, v in extra.items() if k != "headers"})


def leaked(text: str, tenant: Tenant, asked: dict[str, str] | None = None) -> set[str]:
    """Return A's sentinel strings found in a response (the ids the caller sent aside)."""
    for value in (asked or {}).values():
        text = text.replace(value, "")
    return {s for s in tenant.sentinels if s in text}


def instances(operation: Operation, tenant: Tenant) -> list[dict[str, str]]:
    """Return the path parameters to aim at A's objects: each of A's objects the route reaches."""
    names = path_params(operation[1])
    if not names:
        return [{}]
    return tenant.samples(tuple(names))


def test_foreign_secret_key_sees_and_changes_nothing_of_another_workspace(
    client: TestClient, runtime: Runtime, workspace: WorkspaceCreated, other_workspace: WorkspaceCreated,
) -> None:
    a, b = workspace, other_workspace
    tenant = build_tenant_a(client, runtime, a)
    before = snapshot(client, a, tenant)
    operations = management_operations(client)
    for (method, path), description in operations:
        if "requestBody" in description:
            assert (method, path) in BODIES, f"add a request body for {method} {path} to the isolation matrix"
    # Object routes first: B's own import and suppressions (last) hold A's identifiers, which
    # are then B's to see.
    operations.sort(key=lambda item: (not path_params(item[0][1]), item[0] in WRITES_LAST))

    b_key = bearer(b.secret_key)
    own = client.post("/api/v1/segments", headers=b_key, json=SEGMENT | {"name": "B's own audience"})
    assert own.status_code == 201, own.text
    CAMPAIGN["definition"]["audience"]["segments"] = [own.json()["id"]]  # type: ignore[index]
    seen = []
    for operation, description in operations:
        security = {name for requirement in description.get("security", []) for name in requirement}
        assert security in ({"secretKey"}, {"adminToken"}), f"{operation}: declare how the route is authenticated"
        for params in instances(operation, tenant):
            response = call(client, operation, b_key, params)
            label = (operation, params, response.status_code, response.text[:300])
            if security == {"adminToken"}:
                assert response.status_code in (401, 403), label
            elif params:
                missing = call(client, operation, b_key,
                               {name: MISSING.get(name, "no-such-object-0") for name in params})
                assert response.status_code == 404, label
                assert response.json()["code"] == missing.json()["code"], label  # same as "does not exist"
            else:
                assert 200 <= response.status_code < 300, label
            assert not leaked(response.text, tenant, params), (label, leaked(response.text, tenant, params))
            seen.append(operation)

    # B's write key, sending A's identifiers, lands in B too.
    assert client.post("/v1/identify", headers=basic(b.write_key),
                       json={"userId": "u-ana", "traits": {"firstName": "Mallory"}}).status_code == 200
    settle(runtime)
    assert snapshot(client, a, tenant) == before
    still = client.post("/v1/track", headers=basic(a.write_key), json={"userId": "u-ana", "event": "x"})
    assert still.status_code == 200  # none of A's keys was revoked
    assert {op for op, _ in operations} <= set(seen)


def test_write_key_and_no_key_are_refused_on_every_management_route(
    client: TestClient, runtime: Runtime, workspace: WorkspaceCreated, other_workspace: WorkspaceCreated,
) -> None:
    a = workspace
    tenant = build_tenant_a(client, runtime, a)
    before = snapshot(client, a, tenant)
    attempts = {"write key as bearer": bearer(a.write_key), "write key as basic": basic(a.write_key),
                "secret key as basic": basic(a.secret_key), "no key": {},
                "revoked-looking key": bearer(a.secret_key[:-6] + "AAAAAA"), "not a key": bearer("hello")}
    for operation, _ in management_operations(client):
        for params in instances(operation, tenant):
            for name, headers in attempts.items():
                response = call(client, operation, headers, params)
                label = (operation, params, name, response.status_code, response.text[:200])
                assert response.status_code == 401, label
                assert response.json()["success"] is False, label
                assert not leaked(response.text, tenant, params), label
    assert snapshot(client, a, tenant) == before


def test_a_revoked_secret_key_is_refused_everywhere_at_once(
    client: TestClient, runtime: Runtime, workspace: WorkspaceCreated,
) -> None:
    tenant = build_tenant_a(client, runtime, workspace)
    issued = client.post("/api/v1/keys", headers=bearer(workspace.secret_key), json={"kind": "secret"}).json()
    assert client.get("/api/v1/keys", headers=bearer(issued["key"])).status_code == 200
    assert client.delete(f"/api/v1/keys/{issued['id']}", headers=bearer(workspace.secret_key)).status_code == 204
    for operation, _ in management_operations(client):
        for params in instances(operation, tenant):
            assert call(client, operation, bearer(issued["key"]), params).status_code == 401, operation


def test_no_key_text_ever_reaches_the_logs_or_the_output(
    client: TestClient, runtime: Runtime, workspace: WorkspaceCreated, other_workspace: WorkspaceCreated,
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    a, b = workspace, other_workspace
    secret = bearer(a.secret_key)
    issued = [client.post("/api/v1/keys", headers=secret, json={"kind": kind, "label": kind}).json()
              for kind in ("write", "secret")]
    new_write, new_secret = issued[0]["key"], issued[1]["key"]
    created = client.post("/api/v1/workspaces", headers=bearer(ADMIN_TOKEN), json={"name": "Logged"}).json()
    keys = [a.write_key, a.secret_key, b.write_key, b.secret_key, new_write, new_secret,
            created["write_key"], created["secret_key"]]

    # Use the keys, then fail in every way authentication can fail.
    assert client.post("/v1/track", headers=basic(new_write), json={"userId": "u", "event": "e"}).status_code == 200
    assert client.get("/api/v1/keys", headers=bearer(new_secret)).status_code == 200
    for key in issued:
        assert client.delete(f"/api/v1/keys/{key['id']}", headers=secret).status_code == 204
    failures = [
        client.post("/v1/track", headers=basic(new_write), json={"userId": "u", "event": "e"}),  # revoked
        client.get("/api/v1/keys", headers=bearer(new_secret)),  # revoked
        client.post("/v1/track", headers=basic(a.write_key[:-5] + "xxxxx"), json={"userId": "u", "event": "e"}),
        client.get("/api/v1/keys", headers=bearer(a.secret_key[:-5] + "xxxxx")),
        client.post("/v1/track", headers=basic(a.secret_key), json={"userId": "u", "event": "e"}),
        client.get("/api/v1/keys", headers=bearer(a.write_key)),
        client.get("/api/v1/keys", headers=basic(a.secret_key)),
        client.post("/v1/track", json={"userId": "u", "event": "e", "writeKey": b.write_key},
                    headers=basic(a.write_key)),
        client.post("/v1/batch", headers=basic(a.write_key), json={"batch": [
            {"type": "track", "userId": "u", "event": "e", "writeKey": b.write_key}]}),
        client.post("/api/v1/workspaces", headers=bearer(a.secret_key), json={"name": "x"}),
        client.post("/api/v1/workspaces", headers=bearer(ADMIN_TOKEN[:-3] + "xyz"), json={"name": "x"}),
    ]
    assert all(r.status_code == 401 for r in failures), [(r.status_code, r.text) for r in failures]
    settle(runtime)

    captured = capfd.readouterr()
    texts = [caplog.text, captured.out, captured.err]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        texts.append(repr(record.__dict__))
    everything = "\n".join(texts)
    assert caplog.records, "nothing was logged: the capture is not working"
    for key in keys:
        parsed = parse_key(key)
        assert parsed is not None
        for response in failures:
            assert parsed.secret not in response.text  # error answers do not echo keys either
        assert key not in everything
        assert parsed.secret not in everything
    assert ADMIN_TOKEN not in everything


def test_rejected_keys_are_limited_per_address_and_valid_keys_still_work(tmp_path):
    runtime = build_runtime(Settings(data_dir=tmp_path, failed_key_attempts_per_minute=5))
    shop = do_create_workspace(runtime.services, name="Limited")
    app = create_app(runtime, admin_token=ADMIN_TOKEN)
    same_runtime = create_app(runtime, admin_token=ADMIN_TOKEN, manage_runtime=False)
    with (TestClient(app, client=("203.0.113.7", 4000)) as flood,
          TestClient(same_runtime, client=("198.51.100.9", 4000)) as other):
        wrong = "llw_" + "x" * 40
        statuses = [flood.post("/v1/track", headers=basic(wrong), json=track("u")).status_code for _ in range(5)]
        assert statuses == [401] * 5
        limited = flood.get("/api/v1/profiles", headers=bearer("lls_wrong"))
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "too_many_failed_keys"
        assert int(limited.headers["Retry-After"]) >= 1
        assert flood.post("/v1/track", headers=basic(wrong), json=track("u")).status_code == 429
        assert flood.post("/api/v1/workspaces", headers=bearer("not-the-admin"), json={"name": "x"}).status_code == 429
        # The same address with a valid key, and another address with a wrong one, are unaffected.
        assert flood.post("/v1/track", headers=basic(shop.write_key), json=track("u")).status_code == 200
        assert other.post("/v1/track", headers=basic(wrong), json=track("u")).status_code == 401
    runtime.services.engine.dispose()
