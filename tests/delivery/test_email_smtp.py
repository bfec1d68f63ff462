"""Email over a real SMTP session (aiosmtpd): the MIME that arrives, its DKIM signature, and what
each SMTP answer becomes in the ledger."""

from __future__ import annotations

import email
import email.policy

import dkim

from loopline.channels.email import DkimKey, SmtpChannel, SmtpSettings, Unsubscribe, text_of
from loopline.ports import Outbound
from tests.delivery.conftest import free_port


def _message(key: str, address: str, subject: str = "Grüße, Jürgen 🎉") -> Outbound:
    return Outbound(key, "ws_a", "cmp_1", "p_1", "email", address, subject,
                    '<p>Hallo Jürgen,</p><p>your code: <b>SUMMER-20</b></p><p><a href="https://shop.example/s">Shop</a></p>')


def test_the_email_arrives_as_multipart_utf8_with_one_click_unsubscribe_and_a_valid_dkim_signature(relay, key):
    handler, port = relay
    pem, record = key
    settings = SmtpSettings("127.0.0.1", port, "news@shop.example", "Schöner Laden", security="none",
                            dkim=DkimKey("shop.example", "s2026", pem))
    unsubscribe = {"k1": Unsubscribe("https://shop.example/u/abc", "unsubscribe@shop.example")}
    (answer,) = SmtpChannel(settings).deliver([_message("k1", "kim@example.com")], unsubscribe=unsubscribe)
    assert answer.accepted
    (mail_from, recipients, raw) = handler.received[0]
    assert (mail_from, recipients) == ("news@shop.example", ["kim@example.com"])
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == "Grüße, Jürgen 🎉"
    assert mail["From"].addresses[0].display_name == "Schöner Laden"
    assert mail["List-Unsubscribe"].strip() == "<https://shop.example/u/abc>, <mailto:unsubscribe@shop.example>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["X-Loopline-Send-Key"] == "k1"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in mail.iter_parts())
    assert "Hallo Jürgen" in text
    assert "SUMMER-20" in text
    assert "(https://shop.example/s)" in text
    assert "<b>SUMMER-20</b>" in html
    # The signature verifies against the published key, and covers the unsubscribe headers.
    signature = mail["DKIM-Signature"]
    assert "list-unsubscribe" in signature.lower()
    assert "list-unsubscribe-post" in signature.lower()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s2026._domainkey.shop.example."
        return record.encode()

    assert dkim.verify(raw, dnsfunc=dns)
    tampered = raw.replace(b"SUMMER-20", b"SUMMER-99")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_each_smtp_answer_becomes_the_ledger_answer_and_a_refused_recipient_fails_alone(relay):
    handler, port = relay
    settings = SmtpSettings("127.0.0.1", port, "news@shop.example", security="none")
    answers = SmtpChannel(settings).deliver([
        _message("k1", "kim@example.com"), _message("k2", "gone@example.com"),
        _message("k3", "busy@example.com"), _message("k4", "lee@example.com"), _message("k5", "")])
    by_key = {a.send_key: (a.accepted, a.permanent, a.reason, a.suppress) for a in answers}
    assert by_key == {
        "k1": (True, True, "", ""),
        "k2": (False, True, "smtp_550", "hard_bounce"),  # no such user: for good, and the address is listed
        "k3": (False, False, "smtp_451", ""),  # busy: worth a retry
        "k4": (True, True, "", ""),  # the refusals before it did not stop the batch
        "k5": (False, True, "invalid_address", ""),
    }
    assert [recipients for _, recipients, _ in handler.received] == [["kim@example.com"], ["lee@example.com"]]


def test_a_relay_that_cannot_be_reached_leaves_every_message_to_retry():
    settings = SmtpSettings("127.0.0.1", free_port(), "news@shop.example", security="none", timeout_s=2)
    answers = SmtpChannel(settings).deliver([_message("k1", "kim@example.com"), _message("k2", "lee@example.com")])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, False, "smtp_unavailable")] * 2


def test_the_plain_text_part_keeps_paragraphs_and_links_and_drops_scripts():
    html = ("<style>p{color:red}</style><h1>Hi  there</h1><p>Line one<br>Line two</p>"
            "<script>alert(1)</script><p>See <a href='https://x.example'>our shop</a> &amp; more</p>")
    assert text_of(html) == "Hi there\n\nLine one\nLine two\n\nSee our shop (https://x.example) & more\n"
