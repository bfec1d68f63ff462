"""The send ledger under concurrency (F9) and as a state machine (trigger, claim, crash, retry, unsubscribe, erase)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from loopline.actions.claims import LedgerSource, decide_and_record
from loopline.actions.contact_policy import do_set_policy
from loopline.actions.delivery import do_reconcile, hand_over
from loopline.actions.privacy import do_erase
from loopline.actions.profiles import do_update_consents
from loopline.bootstrap import Runtime, build_runtime
from loopline.config import Settings
from loopline.domain.consent import CHANNELS
from loopline.domain.contact_policy import Cap, Policy, Priority
from loopline.domain.recipients import Intent, Rules
from loopline.domain.send_ledger import SendState, send_key
from loopline.store.sql.rows import as_dict
from loopline.store.sql.tables import sends
from tests.conftest import GENEROUS
from tests.engagement.channels import BlindChannel, CountingChannel, DyingChannel, ProcessDied

T0 = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def _customers(runtime: Runtime, workspace_id: str, count: int) -> list[str]:
    runtime.pipeline.record_platform_events(workspace_id=workspace_id, source="test", messages=[
        {"type": "identify", "userId": f"u-{n}", "traits": {"email": f"u{n}@example.com"},
         "timestamp": "2026-06-01T00:00:00Z"} for n in range(count)])
    runtime.projector.catch_up()
    found = [runtime.services.lookups.find_profile(workspace_id=workspace_id, reference=f"u-{n}")
             for n in range(count)]
    return [profile.profile_id for profile in found if profile is not None]


def _claim(runtime: Runtime, workspace_id: str, profile_id: str, source: str, rules: Rules, now: datetime,
           priority: Priority = Priority.MARKETING) -> SendState | None:
    key = send_key(workspace_id=workspace_id, source=source, profile_id=profile_id, channel="*", occurrence="")
    intent = Intent(key, profile_id, ("email",), priority, source)
    with runtime.services.send_ledger.claiming(workspace_id=workspace_id, profile_ids=[profile_id],
                                               send_keys=[key], since=now - timedelta(days=7), now=now) as claim:
        return decide_and_record(claim, source=LedgerSource("journey", source, ""), intent=intent, variant=None,
                                 render=lambda _: {"subject": "Hi", "body": f"for {source}"}, rules=rules, now=now)


def _rows(runtime: Runtime) -> list[dict[str, object]]:
    with runtime.services.engine.connect() as conn:
        return [as_dict(row) for row in conn.execute(sends.select())]


def test_fifty_concurrent_triggers_against_a_cap_of_one_send_exactly_one(client, runtime, workspace):
    # ``client`` runs the runtime (its event writer stores the customers).
    (profile_id,) = _customers(runtime, workspace.id, 1)
    rules = Rules(Policy(caps=(Cap(1, timedelta(days=1)),)), opt_in_channels=frozenset())
    barrier = threading.Barrier(50)
    outcomes: list[SendState | None] = []
    errors: list[BaseException] = []

    def trigger(n: int) -> None:
        barrier.wait()
        try:
            outcomes.append(_claim(runtime, workspace.id, profile_id, f"jny_{n}/step_1", rules, T0))
        except BaseException as error:  # reported below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=trigger, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == sorted([SendState.QUEUED] + [SendState.SKIPPED] * 49)
    rows = _rows(runtime)
    assert len(rows) == 50
    assert sum(row["state"] == "queued" for row in rows) == 1
    assert {row["reason"] for row in rows if row["state"] == "skipped"} == {"frequency_cap"}
    # A transactional message is not a marketing message: the cap does not hold it.
    assert _claim(runtime, workspace.id, profile_id, "jny_receipt/step_1", rules, T0,
                  priority=Priority.TRANSACTIONAL) == SendState.QUEUED


class LedgerMachine(RuleBasedStateMachine):
    """Triggers, deliveries that may die half-way, reconciles, unsubscribes and erasures on a real ledger."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="ledger-machine-"))
        self.runtime = build_runtime(Settings(data_dir=self.directory, **GENEROUS))
        self.runtime.start()
        self.services = self.runtime.services
        self.workspace = "ws_machine"
        self.services.workspaces.create_workspace(workspace_id=self.workspace, name="Machine", now=T0)
        self.profiles = _customers(self.runtime, self.workspace, 3)
        self.counting = CountingChannel(self.services.sandbox)
        # The claim and the hand-over must judge by the same policy: the workspace's stored one.
        self.rules = do_set_policy(self.services, workspace_id=self.workspace, data={
            "caps": [{"limit": 3, "window_hours": 24}], "opt_in_channels": []}).rules()
        self.now = T0
        self.stopped: dict[str, datetime] = {}  # profile → when they unsubscribed or were erased
        self.delivered_at: list[tuple[str, datetime]] = []

    def teardown(self) -> None:
        self.runtime.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _deliver(self, channel: object) -> None:
        due = self.services.send_ledger.take_due(now=self.now, limit=100)
        before = dict(self.counting.per_profile)
        self.services.channels = dict.fromkeys(CHANNELS, channel)  # type: ignore[arg-type]
        try:
            outcomes = hand_over(self.services, due, now=self.now).outcomes
        except ProcessDied:
            outcomes = None  # the answers are lost: the rows stay in sending
        finally:
            self.services.channels = dict.fromkeys(CHANNELS, self.counting)
            for profile_id, count in self.counting.per_profile.items():
                if count > before.get(profile_id, 0):
                    self.delivered_at.append((profile_id, self.now))
        if outcomes is not None:
            self.services.send_ledger.settle(outcomes=outcomes, now=self.now)

    @rule(customer=st.integers(0, 2), source=st.integers(0, 4))
    def trigger(self, customer: int, source: int) -> None:
        """A trigger (or its redelivery: the same source twice) claims a send for a customer."""
        _claim(self.runtime, self.workspace, self.profiles[customer], f"jny_{source}/step", self.rules, self.now)

    @rule(source=st.integers(5, 9))
    def broadcast(self, source: int) -> None:
        """A campaign batch claims the same message for every customer."""
        for profile_id in self.profiles:
            _claim(self.runtime, self.workspace, profile_id, f"cmp_{source}", self.rules, self.now)

    @rule()
    def deliver(self) -> None:
        self._deliver(self.counting)

    @rule(spare=st.integers(1, 2))
    def deliver_and_die(self, spare: int) -> None:
        """The worker dies handing over: all but the last ``spare`` messages reached the channel."""
        self._deliver(DyingChannel(self.counting, spare=spare))

    @rule(source=st.integers(8, 9), spare=st.integers(1, 2))
    def die_in_a_batch(self, source: int, spare: int) -> None:
        """A campaign batch is claimed and its worker dies half-way through handing it over."""
        self.broadcast(source)
        self.deliver_and_die(spare)

    @rule()
    def reconcile(self) -> None:
        self.now += timedelta(seconds=self.services.settings.send_unknown_after_s + 1)
        do_reconcile(self.services, now=self.now)

    @rule()
    def unsubscribe(self) -> None:
        """Customer 1 opts out of email (customer 0 always stays, so sends keep flowing)."""
        profile_id = self.profiles[1]
        if profile_id in self.stopped:
            return
        self.now += timedelta(seconds=1)
        do_update_consents(self.services, workspace_id=self.workspace, reference=profile_id,
                           choices=[{"channel": "email", "status": "opted_out"}])
        self.stopped[profile_id] = self.now

    @rule()
    def erase(self) -> None:
        """Customer 2 is erased."""
        profile_id = self.profiles[2]
        if self.services.lookups.find_profile(workspace_id=self.workspace, reference=profile_id) is None:
            return
        self.now += timedelta(seconds=1)
        do_erase(self.services, workspace_id=self.workspace, reference=profile_id)
        self.stopped.setdefault(profile_id, self.now)

    @invariant()
    def one_send_per_key(self) -> None:
        assert all(count == 1 for count in self.counting.per_key.values())

    @invariant()
    def nothing_after_a_stop(self) -> None:
        for profile_id, at in self.delivered_at:
            stop = self.stopped.get(profile_id)
            assert stop is None or at < stop, f"{profile_id} got a message after they stopped"

    @invariant()
    def every_skip_and_failure_has_a_reason(self) -> None:
        for row in _rows(self.runtime):
            if row["state"] in ("skipped", "failed"):
                assert row["reason"], row


LedgerMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_the_ledger_keeps_its_invariants = LedgerMachine.TestCase
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def test_a_hand_over_that_died_is_settled_by_asking_the_channel_never_by_resending():
    machine = LedgerMachine()
    try:
        for source in range(3):
            machine.trigger(customer=0, source=source)
        machine.deliver_and_die(spare=2)
        assert sum(machine.counting.per_key.values()) == 1
        machine.reconcile()
        machine.deliver()
        assert sorted(machine.counting.per_key.values()) == [1, 1, 1]  # the two lost ones once, the first not again
        states = sorted(str(row["state"]) for row in _rows(machine.runtime))
        assert states == ["sent", "sent", "sent"]
    finally:
        machine.teardown()


def test_a_lost_answer_from_a_channel_that_cannot_be_asked_is_never_resent():
    machine = LedgerMachine()
    try:
        for source in range(3):
            machine.trigger(customer=0, source=source)
        machine.deliver_and_die(spare=2)  # the first went out, the answer for all three was lost
        machine.services.channels = dict.fromkeys(CHANNELS, BlindChannel(machine.counting))  # type: ignore[arg-type]
        do_reconcile(machine.services, now=machine.now + timedelta(hours=1))
        machine.deliver()
        assert sum(machine.counting.per_key.values()) == 1  # nothing handed over again
        rows = _rows(machine.runtime)
        assert {(row["state"], row["reason"]) for row in rows} == {("failed", "outcome_unknown")}
    finally:
        machine.teardown()


def test_an_opt_out_skips_what_waits_in_the_queue_at_once():
    machine = LedgerMachine()
    try:
        machine.trigger(customer=1, source=0)  # claimed a moment before the opt-out: handed over without re-reading
        machine.unsubscribe()
        machine.deliver()
        machine.nothing_after_a_stop()
        (row,) = _rows(machine.runtime)
        assert (row["state"], row["reason"]) == ("skipped", "unsubscribed")
    finally:
        machine.teardown()
