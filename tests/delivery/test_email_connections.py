"""Email over several SMTP sessions at once, and the MIME the channel writes itself: every message
goes exactly once, a refused recipient or a dropped session fails alone, and headers stay well formed."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from loopline.channels.email import SmtpChannel, SmtpSettings, Unsubscribe, compose
from loopline.ports import Outbound
from tests.delivery.conftest import free_port, smtp_server


class Sessions:
    """A relay that notes which session carried each message, refuses ``gone@`` for good, ``busy@`` for now,
    and hangs up on ``drop@`` (as a relay that restarts does)."""

    def __init__(self) -> None:
        self.received: list[tuple[int, str, bytes]] = []  # (client port, recipient, message)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 No such user"
        if address.startswith("busy@"):
            return "451 4.3.0 Mailbox busy, try later"
        if address.startswith("drop@"):
            server.transport.close()
            return "421 4.3.2 Shutting down"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for recipient in envelope.rcpt_tos:
            self.received.append((session.peer[1], recipient, envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def sessions() -> Iterator[tuple[Sessions, int]]:
    handler = Sessions()
    with smtp_server(handler) as port:
        yield handler, port


def _message(number: int, address: str | None = None, subject: str = "Hello") -> Outbound:
    to = f"c{number:04d}@example.com" if address is None else address
    return Outbound(f"sk_{number:04d}", "ws_a", "cmp_1", f"p_{number}", "email", to, subject,
                    f"<p>Hello customer {number}</p>", unsubscribe_url=f"https://shop.example/u/{number}")


def _settings(port: int, connections: int) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", port, "news@shop.example", "Shop", security="none", connections=connections)


def test_a_batch_over_several_sessions_delivers_every_message_once_and_a_poison_recipient_fails_alone(sessions):
    handler, port = sessions
    batch = [_message(n) for n in range(60)]
    batch[17] = _message(17, "gone@example.com")
    batch[42] = _message(42, "busy@example.com")
    answers = SmtpChannel(_settings(port, 4)).deliver(batch)
    # One answer per message, in the batch's order.
    assert [a.send_key for a in answers] == [m.send_key for m in batch]
    by_key = {a.send_key: (a.accepted, a.permanent, a.reason, a.suppress) for a in answers}
    assert by_key.pop("sk_0017") == (False, True, "smtp_550", "hard_bounce")
    assert by_key.pop("sk_0042") == (False, False, "smtp_451", "")
    assert set(by_key.values()) == {(True, True, "", "")}
    delivered = Counter(recipient for _, recipient, _ in handler.received)
    assert delivered == Counter({m.address: 1 for m in batch if m.send_key not in ("sk_0017", "sk_0042")})
    # Each message went in its own transaction, its own Message-ID, and the work was spread.
    ids = {email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"] for _, _, raw in handler.received}
    assert len(ids) == 58
    assert len({client for client, _, _ in handler.received}) == 4


def test_a_dropped_session_leaves_only_its_message_to_retry_while_the_others_send_the_rest(sessions):
    handler, port = sessions
    batch = [_message(n) for n in range(30)]
    batch[5] = _message(5, "drop@example.com")
    answers = SmtpChannel(_settings(port, 3)).deliver(batch)
    by_key = {a.send_key: (a.accepted, a.permanent, a.reason) for a in answers}
    assert by_key.pop("sk_0005") == (False, False, "smtp_unavailable")
    assert set(by_key.values()) == {(True, True, "")}
    delivered = Counter(recipient for _, recipient, _ in handler.received)
    assert delivered == Counter({m.address: 1 for m in batch if m.send_key != "sk_0005"})


def test_with_one_session_a_drop_leaves_the_rest_of_the_batch_to_retry(sessions):
    handler, port = sessions
    batch = [_message(0), _message(1, "drop@example.com"), _message(2), _message(3)]
    answers = SmtpChannel(_settings(port, 1)).deliver(batch)
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [
        (True, True, ""), *[(False, False, "smtp_unavailable")] * 3]
    assert [recipient for _, recipient, _ in handler.received] == ["c0000@example.com"]


def test_more_sessions_than_messages_and_an_empty_batch(sessions):
    handler, port = sessions
    channel = SmtpChannel(_settings(port, 8))
    assert channel.deliver([]) == []
    assert [a.accepted for a in channel.deliver([_message(1), _message(2)])] == [True, True]
    assert len(handler.received) == 2
    with pytest.raises(ValueError, match="at least one connection"):
        _settings(port, 0)


def test_an_unreachable_relay_leaves_every_message_to_retry_whatever_the_sessions():
    answers = SmtpChannel(_settings(free_port(), 3)).deliver([_message(n) for n in range(5)])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, False, "smtp_unavailable")] * 5


def _parsed(message: Outbound, *, sender_name: str = "Shop") -> email.message.EmailMessage:
    settings = SmtpSettings("127.0.0.1", 25, "news@shop.example", sender_name, security="none")
    leave = Unsubscribe(message.unsubscribe_url) if message.unsubscribe_url else None
    raw = compose(message, settings, unsubscribe=leave)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # RFC 5322's hard limit
    assert raw.isascii()  # 7-bit throughout: encoded words and quoted-printable
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert not parsed.defects
    return parsed  # type: ignore[return-value]


@pytest.mark.parametrize("subject", [
    "Grüße, Jürgen 🎉",
    "Summer sale",
    "A long subject " * 12 + "that has to be folded over several lines",
    "Ünïcödé " * 20,
    "x" * 300,  # one long word
    "tabs\tand  double  spaces",
    " a long subject with a space at either end, which folding must keep exactly as it is written ",
    "",
])
def test_the_subject_arrives_exactly_as_rendered(subject):
    mail = _parsed(_message(1, subject=subject))
    assert mail["Subject"] == subject
    assert mail["X-Loopline-Send-Key"] == "sk_0001"


def test_a_line_break_in_a_rendered_subject_cannot_add_a_header():
    mail = _parsed(_message(1, subject="Hi\r\nBcc: everyone@example.com\nX-Evil: 1"))
    assert mail["Subject"] == "Hi Bcc: everyone@example.com X-Evil: 1"
    assert mail["Bcc"] is None
    assert mail["X-Evil"] is None


@pytest.mark.parametrize("name", ["Schöner Laden", "Shop, Inc.", 'The "Best" Shop', "Plain Shop",
                                  "Bäckerei Müller & Söhne GmbH"])
def test_the_sender_name_arrives_as_configured(name):
    mail = _parsed(_message(1), sender_name=name)
    (sender,) = mail["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (name, "news@shop.example")


def test_the_parts_carry_the_html_and_its_text_and_a_long_unsubscribe_link_arrives_whole():
    message = Outbound("sk_1", "ws_a", "cmp_1", "p_1", "email", "kim@example.com", "Hi",
                       "<p>Hallo J&uuml;rgen, = is equal</p><p><a href='https://shop.example/s'>Shop</a></p>" * 5,
                       unsubscribe_url="https://shop.example/unsubscribe/u1." + "a" * 120)
    mail = _parsed(message)
    assert mail["List-Unsubscribe"] == f"<{message.unsubscribe_url}>"
    text, html = (part.get_content() for part in mail.iter_parts())
    assert html == message.body
    assert text.replace("\r\n", "\n").startswith("Hallo Jürgen, = is equal\n\nShop (https://shop.example/s)\n")


@pytest.mark.parametrize("address", ["", "kim", "Kim <kim@example.com>", "kim@example.com, lee@example.com",
                                     "kim @example.com", "kim@example.com\r\nBcc: x@example.com"])
def test_an_address_that_is_not_one_plain_mailbox_fails_for_good_without_reaching_the_relay(sessions, address):
    handler, port = sessions
    (answer,) = SmtpChannel(_settings(port, 2)).deliver([_message(1, address)])
    assert (answer.accepted, answer.permanent, answer.reason) == (False, True, "invalid_address")
    assert handler.received == []
