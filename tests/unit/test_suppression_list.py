"""The suppression list's pure rules: normalisation, validation, cursors, search, profile addresses."""

from __future__ import annotations

import pytest

from loopline.domain.consent import CHANNELS as CONSENT_CHANNELS
from loopline.domain.identity import normalise_email, normalise_phone
from loopline.domain.suppression_list import (
    CHANNELS,
    SuppressionBatchRejected,
    SuppressionEntry,
    SuppressionRejected,
    check_entries,
    check_entry,
    decode_cursor,
    deduplicate,
    encode_cursor,
    normalise_address,
    profile_addresses,
    search_prefixes,
)


def test_channels_are_the_consent_channels_that_have_an_address():
    assert CHANNELS == ("email", "sms", "push", "web_push")
    assert set(CHANNELS) == set(CONSENT_CHANNELS) - {"in_app"}


@pytest.mark.parametrize(
    ("channel", "given", "stored"),
    [
        ("email", "  Ana.Lopez@Example.COM\n", "ana.lopez@example.com"),
        ("sms", "+49 170 1234567", "+491701234567"),
        ("sms", " +49 (170) 123-4567 ", "+491701234567"),
        ("push", "  0f1E2d  ", "0f1E2d"),
        ("web_push", "https://push.example.com/a/b:c", "https://push.example.com/a/b:c"),
    ],
)
def test_addresses_are_normalised_per_channel(channel, given, stored):
    assert normalise_address(channel=channel, address=given) == stored


def test_emails_and_phones_are_normalised_as_the_identity_map_does():
    # The profile view finds entries by the identity map's values, so both must agree.
    assert normalise_address(channel="email", address="Ana@Example.com") == normalise_email("Ana@Example.com")
    assert normalise_address(channel="sms", address="+49 30 1234567") == normalise_phone("+49 30 1234567")


@pytest.mark.parametrize(
    ("channel", "given"),
    [
        ("email", "ana"),
        ("email", "ana@"),
        ("email", 42),
        ("sms", "01701234567"),
        ("sms", "+1 555"),
        ("push", ""),
        ("push", "a b"),
        ("push", "ä"),
        ("push", "x" * 513),
        ("web_push", "tab\there"),
        ("email", "ana\x00@example.com"),
        ("push", "\ud800"),
    ],
)
def test_invalid_addresses_are_refused_with_a_code(channel, given):
    with pytest.raises(SuppressionRejected) as refused:
        normalise_address(channel=channel, address=given)
    assert (refused.value.code, refused.value.field) == ("invalid_address", "address")


def test_an_entry_gets_defaults_and_keeps_its_note():
    checked = check_entry({"channel": "email", "address": "A@B.DE", "note": "  called support  "})
    assert checked == SuppressionEntry("email", "a@b.de", "manual", "called support", "api")
    assert (
        check_entry(
            {"channel": "sms", "address": "+491701234567", "reason": "carrier_opt_out", "note": " ", "source": "twilio"}
        ).note
        is None
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not an object", "invalid_entry"),
        ({"channel": "in_app", "address": "x"}, "invalid_channel"),
        ({"channel": ["email"], "address": "a@b.de"}, "invalid_channel"),
        ({"channel": "email", "address": "a@b.de", "reason": "bounce"}, "invalid_reason"),
        ({"channel": "email", "address": "a@b.de", "note": "n" * 501}, "invalid_note"),
        ({"channel": "email", "address": "a@b.de", "note": 5}, "invalid_note"),
        ({"channel": "email", "address": "a@b.de", "source": "line\nbreak"}, "invalid_source"),
    ],
)
def test_invalid_entries_are_refused_with_a_code(raw, code):
    with pytest.raises(SuppressionRejected) as refused:
        check_entry(raw)
    assert refused.value.code == code


def test_a_batch_reports_every_invalid_entry_by_index():
    with pytest.raises(SuppressionBatchRejected) as refused:
        check_entries([{"channel": "email", "address": "a@b.de"}, {"channel": "fax"}, None])
    assert [(e["index"], e["code"]) for e in refused.value.errors] == [(1, "invalid_channel"), (2, "invalid_entry")]
    assert "2 invalid entries" in str(refused.value)


@pytest.mark.parametrize(("size", "code"), [(0, "empty_batch"), (1001, "too_many_entries")])
def test_a_batch_must_hold_one_to_a_thousand_entries(size, code):
    with pytest.raises(SuppressionRejected) as refused:
        check_entries([{"channel": "push", "address": f"t{i}"} for i in range(size)])
    assert refused.value.code == code


def test_duplicates_collapse_to_the_last_entry_given():
    first = SuppressionEntry("sms", "+491701234567", "complaint", None, "api")
    other = SuppressionEntry("push", "t", "manual", None, "api")
    last = SuppressionEntry("sms", "+491701234567", "manual", "again", "api")
    assert deduplicate([first, other, last]) == [last, other]


@pytest.mark.parametrize("key", [("email", "a@b.de"), ("web_push", "https://x.example/p:q?r=1"), ("sms", "+1")])
def test_cursors_round_trip(key):
    assert decode_cursor(encode_cursor(key)) == key


@pytest.mark.parametrize("cursor", ["", "!!!", "ZW1haWw", encode_cursor(("fax", "x")), "ÿÿ", "YWJj\x00"])
def test_foreign_cursors_are_refused(cursor):
    with pytest.raises(SuppressionRejected) as refused:
        decode_cursor(cursor)
    assert refused.value.code == "invalid_cursor"


def test_search_stands_for_the_text_its_lower_case_and_phone_digits():
    assert search_prefixes("Ana") == ["Ana", "ana"]
    assert search_prefixes(" +49 (170) ") == ["+49 (170)", "+49170"]
    assert search_prefixes("   ") == []
    with pytest.raises(SuppressionRejected):
        search_prefixes("a\x00")


def test_a_profile_is_reached_at_its_emails_phones_and_push_tokens():
    identities = [
        ("anonymous_id", "dev-1"),
        ("email", "ana@example.com"),
        ("phone", "+49301234567"),
        ("user_id", "u-ana"),
    ]
    found = profile_addresses(identities=identities, push_tokens=["tok-1", " tok-1 ", "bad token"])
    assert found == [("email", "ana@example.com"), ("sms", "+49301234567"), ("push", "tok-1"), ("web_push", "tok-1")]
