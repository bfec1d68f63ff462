"""Campaign faults from RELIABILITY.md: F6 (crash, pause, late start) and F7 (two schedulers)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from loopline.actions.campaign_runs import CampaignRunner
from loopline.domain.campaign_sends import ANY_CHANNEL
from loopline.domain.consent import CHANNELS
from loopline.domain.send_ledger import first_format_key, send_key
from loopline.store.sql.tables import campaigns, sandbox_outbox, sends
from tests.engagement.channels import CountingChannel, DyingChannel, ProcessDied
from tests.engagement.conftest import NOW, customers

AUDIENCE = 10_000


@pytest.fixture
def broadcast(shop):
    """A 10k-recipient email broadcast, scheduled, with batches of 500 and every customer reachable."""
    shop.ingest(customers(AUDIENCE))
    shop.policy(opt_in_channels=[])  # consent is another test's subject: everyone may get email here
    services = shop.runtime.services
    services.settings = services.settings.model_copy(update={"campaign_batch_size": 500})
    counting = CountingChannel(services.sandbox)
    services.channels = dict.fromkeys(CHANNELS, counting)
    campaign = shop.campaign(shop.segment())
    shop.move(campaign["id"], "schedule")
    return campaign["id"], counting


def _use(shop, channel):
    shop.runtime.services.channels = dict.fromkeys(CHANNELS, channel)


def _crash_at_40_percent(shop, counting, owner):
    """Run a scheduler whose process dies after handing over 40 % of the audience."""
    dead = CampaignRunner(shop.runtime.services, owner=owner)
    _use(shop, DyingChannel(counting, budget=AUDIENCE * 40 // 100))
    with pytest.raises(ProcessDied):
        shop.tick(runner=dead)


def test_a_crash_at_40_percent_resumes_without_resending_or_skipping(shop, broadcast):
    campaign_id, counting = broadcast
    _crash_at_40_percent(shop, counting, "worker-that-dies")
    assert sum(counting.per_profile.values()) == 4_000
    # SIGKILL releases nothing: the dead worker's lease is still there.
    shop.runtime.services.campaigns.take_lease(campaign_id=campaign_id, owner="worker-that-dies",
                                               until=NOW + timedelta(seconds=60), now=NOW)
    _use(shop, counting)
    assert shop.tick(NOW + timedelta(seconds=30)).claimed == 0  # the lease holds: nobody else takes over yet
    report = shop.report(campaign_id)
    assert report["status"] == "running"  # never finished while recipients are unsent

    restarted = [shop.tick(NOW + timedelta(seconds=61 + step * 300)) for step in range(3)]
    assert shop.report(campaign_id)["status"] == "completed"
    assert sum(r.completed.count(campaign_id) for r in restarted) == 1
    assert len(counting.per_profile) == AUDIENCE
    assert set(counting.per_profile.values()) == {1}  # the first 40 % were not sent again
    assert shop.report(campaign_id)["totals"] == {"sent": AUDIENCE}


def test_pausing_and_resuming_twice_sends_everyone_exactly_once(shop, broadcast):
    campaign_id, counting = broadcast
    shop.tick(max_batches=3)
    assert shop.move(campaign_id, "pause")["status"] == "paused"
    held = sum(counting.per_profile.values())
    assert held == 1_500
    shop.tick(NOW + timedelta(minutes=1))
    assert sum(counting.per_profile.values()) == held  # a paused campaign sends nothing
    shop.move(campaign_id, "resume")
    shop.tick(NOW + timedelta(minutes=2), max_batches=5)
    shop.move(campaign_id, "pause")
    shop.move(campaign_id, "resume")
    shop.tick(NOW + timedelta(minutes=3))
    assert shop.report(campaign_id)["status"] == "completed"
    assert len(counting.per_profile) == AUDIENCE
    assert set(counting.per_profile.values()) == {1}


def test_two_schedulers_ticking_at_once_send_each_recipient_once(shop, broadcast):
    campaign_id, counting = broadcast
    runners = [CampaignRunner(shop.runtime.services, owner=f"replica-{n}") for n in range(2)]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(runner: CampaignRunner) -> None:
        barrier.wait()
        try:
            for step in range(4):
                runner.tick(now=NOW + timedelta(seconds=step * 120))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    shop.tick(NOW + timedelta(minutes=30))
    assert shop.report(campaign_id)["status"] == "completed"
    assert len(counting.per_profile) == AUDIENCE
    assert set(counting.per_profile.values()) == {1}


def test_a_start_overdue_past_the_lateness_limit_waits_for_a_person(shop):
    shop.ingest(customers(20))
    shop.policy(opt_in_channels=[])
    at = NOW + timedelta(hours=1)
    campaign = shop.campaign(shop.segment(), schedule={"kind": "at", "at": at.isoformat()})
    shop.move(campaign["id"], "schedule")
    # The platform was down from before the start until three hours after it.
    report = shop.tick(at + timedelta(hours=3))
    assert report.held == [campaign["id"]]
    paused = shop.client.get(f"/api/v1/campaigns/{campaign['id']}", headers=shop.headers).json()
    assert paused["status"] == "paused"
    assert paused["status_reason"].startswith("missed_schedule")
    assert shop.outbox() == []
    shop.move(campaign["id"], "resume")
    shop.tick(at + timedelta(hours=3, minutes=1))
    assert len(shop.outbox()) == 20


def test_a_start_within_the_lateness_limit_still_runs(shop):
    shop.ingest(customers(5))
    shop.policy(opt_in_channels=[])
    at = NOW + timedelta(hours=1)
    campaign = shop.campaign(shop.segment(), schedule={"kind": "at", "at": at.isoformat()})
    shop.move(campaign["id"], "schedule")
    assert shop.tick(at - timedelta(seconds=1)).started == []  # not yet
    assert shop.tick(at + timedelta(minutes=59)).started == [campaign["id"]]
    assert len(shop.outbox()) == 5


def _as_claimed_before_the_key_format(shop, campaign_id):
    """Rewrite a run's ledger as code before revision 0017 left it: first-format keys, no format recorded."""
    services, workspace_id = shop.runtime.services, shop.workspace.id
    with services.engine.begin() as conn:
        rows = conn.execute(sa.select(sends.c.send_key, sends.c.profile_id, sends.c.occurrence).where(
            sends.c.source_id == campaign_id)).all()
        for key, profile_id, occurrence in rows:
            parts = {"workspace_id": workspace_id, "source": campaign_id, "profile_id": profile_id,
                     "channel": ANY_CHANNEL, "occurrence": occurrence}
            assert key == send_key(**parts)
            conn.execute(sends.update().where(sends.c.send_key == key).values(send_key=first_format_key(**parts)))
        conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(key_format=None))
    return len(rows)


def test_a_run_begun_before_the_key_format_changed_resumes_without_resending(shop, broadcast):
    campaign_id, counting = broadcast
    _crash_at_40_percent(shop, counting, "worker-stopped-for-the-upgrade")
    assert _as_claimed_before_the_key_format(shop, campaign_id) >= 4_000
    _use(shop, counting)
    for step in range(3):
        shop.tick(NOW + timedelta(seconds=61 + step * 300))
    assert shop.report(campaign_id)["status"] == "completed"
    assert len(counting.per_profile) == AUDIENCE
    assert set(counting.per_profile.values()) == {1}  # the customers claimed under the first format: once


def test_a_crash_after_the_sandbox_took_a_batch_sends_it_again_into_one_copy(shop, monkeypatch):
    """The sandbox keeps one message per send key, so its sends are not marked before the hand-over.

    A worker dying after the sandbox stored a batch and before the ledger recorded it leaves
    the batch claimed and unmarked: it goes again once stale, and the outbox still holds one
    message per customer.
    """
    shop.ingest(customers(1_200))
    shop.policy(opt_in_channels=[])
    services = shop.runtime.services
    services.settings = services.settings.model_copy(update={"campaign_batch_size": 500})
    campaign_id = shop.campaign(shop.segment())["id"]
    shop.move(campaign_id, "schedule")
    settle = services.send_ledger.settle

    def died_before_the_record(**kwargs):
        if not kwargs["outcomes"]:
            return settle(**kwargs)  # the tick's reconciliation, with nothing to record
        raise ProcessDied  # SIGKILL after the sandbox committed the batch, before the ledger says so

    monkeypatch.setattr(services.send_ledger, "settle", died_before_the_record)
    with pytest.raises(ProcessDied):
        shop.tick(runner=CampaignRunner(services, owner="worker-that-dies"))
    monkeypatch.setattr(services.send_ledger, "settle", settle)
    with services.engine.connect() as conn:
        taken = conn.execute(sa.select(sends.c.state, sends.c.handed_at)).all()
        assert len(taken) == 500
        assert {tuple(row) for row in taken} == {("sending", None)}  # claimed, delivered, never marked
        assert conn.execute(sa.select(sa.func.count()).select_from(sandbox_outbox)).scalar_one() == 500

    later = timedelta(seconds=services.settings.send_unknown_after_s + services.settings.campaign_lease_s + 1)
    for step in range(3):
        shop.tick(NOW + later + timedelta(minutes=step))
    assert shop.report(campaign_id)["status"] == "completed"
    assert shop.report(campaign_id)["totals"] == {"sent": 1_200}
    with services.engine.connect() as conn:
        per_key = conn.execute(sa.select(sandbox_outbox.c.send_key, sa.func.count()).group_by(
            sandbox_outbox.c.send_key)).all()
    assert len(per_key) == 1_200
    assert {count for _, count in per_key} == {1}
