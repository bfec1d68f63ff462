"""Key format, hashing and constant-time verification."""

from __future__ import annotations

from loopline.domain.keys import KeyKind, format_key, hash_secret, parse_key, redact, secret_matches


def test_round_trip_and_verification():
    text = format_key(KeyKind.WRITE, "abc123", "s3cr3t-value")
    parsed = parse_key(text)
    assert parsed is not None
    assert (parsed.kind, parsed.key_id, parsed.secret) == (KeyKind.WRITE, "abc123", "s3cr3t-value")
    assert secret_matches("s3cr3t-value", hash_secret("s3cr3t-value"))
    assert not secret_matches("s3cr3t-valuX", hash_secret("s3cr3t-value"))


def test_secrets_with_underscores_survive_parsing():
    parsed = parse_key(format_key(KeyKind.SECRET, "id1", "a_b_c"))
    assert parsed is not None
    assert parsed.secret == "a_b_c"


def test_foreign_or_malformed_keys_are_not_parsed():
    for text in ["", "sk_live_123", "llw_only", "llw__secret", "llw_id!_secret", "xyz_a_b"]:
        assert parse_key(text) is None


def test_redaction_hides_the_secret():
    text = format_key(KeyKind.WRITE, "id9", "topsecret")
    assert "topsecret" not in redact(text)
    assert redact(text).startswith("llw_id9_")
