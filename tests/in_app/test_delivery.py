"""The in-app channel as an adapter of the ``Channel`` port: it answers every message, stores a
send key once, tells the reconciler what it holds, and refuses what it cannot show. Content
with in-app options is checked when a campaign or journey is saved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config

from loopline.actions.delivery import do_reconcile
from loopline.channels.in_app import InAppChannel
from loopline.ports import Outbound
from loopline.store import migrations
from tests.engagement.channels import DyingChannel, ProcessDied
from tests.engagement.conftest import NOW


def _outbound(key: str, profile_id: str = "p_1", **changes) -> Outbound:
    fields = {"send_key": key, "workspace_id": "ws_1", "source_id": "cmp_1", "profile_id": profile_id,
              "channel": "in_app", "address": profile_id, "subject": "Title", "body": "Body", "url": None,
              "options": {"layout": "banner"}}
    return Outbound(**(fields | changes))


def test_each_message_is_answered_and_a_repeated_send_key_is_stored_once(runtime):
    services = runtime.services
    channel = services.channels["in_app"]
    assert isinstance(channel, InAppChannel)
    answers = channel.deliver([_outbound("sk_a"), _outbound("sk_b", body="Other"), _outbound("sk_a", body="Again")])
    assert [(a.send_key, a.accepted) for a in answers] == [("sk_a", True), ("sk_b", True), ("sk_a", True)]
    # The customer dismissed it; the same send handed over again changes nothing.
    now = services.clock.now()
    assert services.in_app.raise_state(workspace_id="ws_1", send_key="sk_a", state="dismissed", now=now)
    assert channel.deliver([_outbound("sk_a", body="Third time")])[0].accepted
    stored = services.in_app.get_message(workspace_id="ws_1", send_key="sk_a")
    assert stored is not None
    assert (stored.body, stored.state, dict(stored.options)) == ("Body", "dismissed", {"layout": "banner"})
    assert channel.received(["sk_a", "sk_b", "sk_never"]) == {"sk_a", "sk_b"}
    assert channel.received([]) == set()
    assert services.in_app.get_message(workspace_id="ws_other", send_key="sk_a") is None


def test_options_it_cannot_show_and_a_window_that_already_ended_are_refused_for_good(runtime):
    channel = runtime.services.channels["in_app"]
    past = (runtime.services.clock.now() - timedelta(minutes=1)).isoformat()
    answers = channel.deliver([
        _outbound("sk_bad", options={"layout": "popup"}),
        _outbound("sk_late", options={"until": past}),
        _outbound("sk_fine", options=None),
    ])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [
        (False, True, "invalid_options"), (False, True, "expired"), (True, True, "")]
    assert channel.received(["sk_bad", "sk_late", "sk_fine"]) == {"sk_fine"}


def test_a_hand_over_whose_answer_was_lost_is_settled_from_the_store(shop):
    """The process dies after the store took two of three messages: the reconciler asks the
    channel, marks those two sent, and queues the third again, which then goes once."""
    services = shop.runtime.services
    in_app = services.channels["in_app"]
    services.channels["in_app"] = DyingChannel(in_app, spare=1)
    campaign = shop.campaign(shop.segment(), channels=["in_app"],
                             variants=[{"name": "A", "split": 100, "content": {"in_app": {"body": "Hello"}}}])
    shop.move(campaign["id"], "schedule")
    with pytest.raises(ProcessDied):
        shop.tick()
    services.channels["in_app"] = in_app
    later = NOW + timedelta(seconds=services.settings.send_unknown_after_s + 1)
    shop.clock.at = later
    assert do_reconcile(services, now=later) == (2, 1)
    shown = {user: len(shop.messages(userId=user)) for user in ("u-00000", "u-00001", "u-00002")}
    assert sorted(shown.values()) == [0, 1, 1]
    shop.tick(later + timedelta(minutes=5))
    for user in ("u-00000", "u-00001", "u-00002"):
        (message,) = shop.messages(userId=user)
        (send,) = shop.sends(user)
        assert (send["state"], send["send_key"]) == ("sent", message["send_key"])


def _campaign(segment: str, content: dict) -> dict:
    return {"name": "Checked", "definition": {"audience": {"segments": [segment]}, "channels": list(content),
                                              "variants": [{"name": "A", "split": 100, "content": content}]}}


@pytest.mark.parametrize(("content", "fragment"), [
    ({"email": {"subject": "Hi", "body": "b", "in_app": {"layout": "banner"}}},
     "in_app options belong to in_app content, not to email"),
    ({"in_app": {"body": "b", "in_app": {"image_url": "http://cdn.example/a.png"}}}, "image_url"),
    ({"in_app": {"body": "b", "in_app": {"buttons": [{"id": f"b{n}", "title": "B"} for n in range(4)]}}},
     "buttons"),
    ({"in_app": {"body": "b", "in_app": {"buttons": [{"id": "x", "title": "X", "url": "javascript:alert(1)"}]}}},
     "buttons.0.url"),
    ({"in_app": {"body": "b", "in_app": {"buttons": [{"id": "x", "title": "X"}, {"id": "x", "title": "Y"}]}}},
     "button ids must differ"),
    ({"in_app": {"body": "b", "in_app": {"until": "2026-07-01T00:00:00"}}}, "UTC offset"),
    ({"in_app": {"body": "b", "in_app": {"layout": "popup"}}}, "layout"),
    ({"in_app": {"body": "b", "in_app": {"priority": 11}}}, "priority"),
    ({"in_app": {"body": "b", "in_app": {"on_screen": ""}}}, "on_screen"),
])
def test_bad_in_app_content_is_refused_with_its_path(shop, content, fragment):
    response = shop.client.post("/api/v1/campaigns", headers=shop.headers, json=_campaign(shop.segment(), content))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    assert fragment in response.text
    assert any(d["location"].startswith("body.definition.variants.0") for d in body["details"]), body


def test_a_journey_step_with_in_app_options_on_another_channel_is_refused(shop):
    definition = {"trigger": {"type": "event", "event": "Signed Up"}, "steps": [
        {"id": "hi", "type": "send", "channels": ["sms"], "content": {"sms": {"body": "Hi", "in_app": {}}}}]}
    response = shop.client.post("/api/v1/journeys", headers=shop.headers,
                                json={"name": "Bad", "definition": definition})
    assert response.status_code == 422, response.text
    assert "in_app options belong to in_app content, not to sms" in response.text
    assert "steps.0" in response.text


def test_the_in_app_migration_is_safe_to_re_run(runtime):
    services = runtime.services
    services.channels["in_app"].deliver([_outbound("sk_kept")])

    def alembic(operation, revision):
        config = Config()
        config.set_main_option("script_location", str(migrations.HERE))
        with services.engine.execution_options(write=True).begin() as connection:
            config.attributes["connection"] = connection
            operation(config, revision)

    alembic(command.stamp, "0007")  # the table exists but the stamp says it does not
    migrations.upgrade(services.engine)
    assert migrations.current_revision(services.engine) == migrations.head_revision()
    assert services.in_app.received(["sk_kept"]) == {"sk_kept"}
