"""The send ledger's rules: keys name one intended message; states never lead back to a resend."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.domain.send_ledger import FINAL, LedgerConflict, SendState, check_move, first_format_key, send_key

KEY = {"workspace_id": "ws_1", "source": "cmp_spring", "profile_id": "prof_1", "channel": "email", "occurrence": ""}


def test_the_same_intended_message_gets_the_same_key_and_any_difference_another():
    assert send_key(**KEY) == send_key(**KEY)
    assert send_key(**KEY).startswith("sk1_")
    assert len(send_key(**KEY)) == 44  # the ledger's column holds 44
    variants = {send_key(**(KEY | {field: value})) for field, value in (
        ("workspace_id", "ws_2"), ("source", "jny_winback/step_2"), ("profile_id", "prof_2"),
        ("channel", "push"), ("occurrence", "2026-06-15"))}
    assert len(variants) == 5
    assert send_key(**KEY) not in variants


def test_a_senders_keys_sort_as_its_customers_do_so_a_run_writes_them_in_order():
    profiles = sorted([f"p_{n:08d}" for n in range(0, 3_000, 7)] + ["p_01m87x07ma5wc1n1p9vy50w756", "p_1", "p_10"])
    keys = [send_key(**(KEY | {"profile_id": profile})) for profile in profiles]
    assert keys == sorted(keys)
    other_sender = [send_key(**(KEY | {"source": "cmp_autumn", "profile_id": profile})) for profile in profiles]
    assert not set(keys) & set(other_sender)
    assert len({key[:12] for key in keys}) == 1  # one region of the index per sender


def test_the_first_format_key_is_the_digest_earlier_runs_used():
    assert first_format_key(**KEY) == "sk_d61e795fa7460a035b130c8db93bf8caf3b7d232"  # as stored before revision 0017


def test_parts_cannot_be_shifted_into_one_another():
    # Without a separator "ab"+"c" and "a"+"bc" would collide.
    one = send_key(**(KEY | {"source": "cmp_ab", "profile_id": "c"}))
    other = send_key(**(KEY | {"source": "cmp_a", "profile_id": "bc"}))
    assert one != other
    with pytest.raises(ValueError, match="separator"):
        send_key(**(KEY | {"profile_id": "a\x1fb"}))


def test_the_path_of_a_send_from_queue_to_provider():
    check_move(None, SendState.QUEUED)
    check_move(SendState.QUEUED, SendState.SENDING)
    check_move(SendState.SENDING, SendState.SENT)
    check_move(SendState.SENDING, SendState.QUEUED)  # a retryable failure: try again later
    check_move(SendState.SENDING, SendState.UNKNOWN)  # stopped between hand-over and answer
    check_move(SendState.UNKNOWN, SendState.FAILED, reason="rejected")  # the reconciler settles it
    check_move(SendState.UNKNOWN, SendState.QUEUED)  # only when the channel confirms it never arrived
    check_move(None, SendState.FAILED, reason="render_limit")  # could not even be built
    check_move(None, SendState.SKIPPED, reason="frequency_cap")


@pytest.mark.parametrize(("current", "target"), [
    (None, SendState.SENT),  # nothing is sent without being claimed
    (SendState.QUEUED, SendState.SENT),
    (SendState.UNKNOWN, SendState.SENDING),
    (SendState.SENT, SendState.QUEUED),
    (SendState.SKIPPED, SendState.QUEUED),  # a skip stays a skip: the customer said no, or a cap held
])
def test_moves_that_could_resend_or_rewrite_a_settled_send_are_refused(current, target):
    with pytest.raises(LedgerConflict, match="cannot become"):
        check_move(current, target, reason="x")


def test_a_skip_or_a_failure_says_why():
    with pytest.raises(LedgerConflict, match="why"):
        check_move(SendState.QUEUED, SendState.SKIPPED)
    with pytest.raises(LedgerConflict, match="why"):
        check_move(None, SendState.FAILED)


@given(st.lists(st.sampled_from(list(SendState)), max_size=12))
def test_no_path_of_allowed_moves_sends_twice_or_leaves_a_final_state(targets):
    state: SendState | None = None
    sent = 0
    for target in targets:
        try:
            check_move(state, target, reason="r")
        except LedgerConflict:
            continue
        assert state not in FINAL  # nothing moves once settled
        sent += target is SendState.SENT
        state = target
    assert sent <= 1
