"""``loopline bench smtp`` at a tiny size: both sides deliver every message exactly once, and the
relay's count catches a message missing or sent twice."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from types import SimpleNamespace

import orjson
import pytest

import loopline.bench.smtp as bench
from loopline.bench.smtp import LIMIT_SENDER, SENDER, Counter, messages, run_smtp


def test_the_smtp_bench_delivers_every_message_once_on_both_sides():
    result = run_smtp(scale=0.001)
    assert result["bench"] == "smtp"
    assert result["messages"] == result["received"] == result["limit_received"] == 20
    assert result["concurrency"] == 4
    assert result["messages_per_s"] > 0
    assert result["limit_messages_per_s"] > 0
    assert result["vs_limit"] > 0
    assert result["cpu_us_per_message"] > 0
    assert result["bytes_per_message"] > 500  # multipart, both parts, headers


def test_the_command_prints_one_json_line():
    completed = subprocess.run([sys.executable, "-m", "loopline", "bench", "smtp", "--scale", "0.001"],
                               capture_output=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")[-3000:]
    (line,) = completed.stdout.decode().strip().splitlines()
    assert orjson.loads(line)["received"] == 20


def _deliver(counter: Counter, sender: str, recipient: str) -> None:
    envelope = SimpleNamespace(mail_from=sender, rcpt_tos=[recipient])
    assert asyncio.run(counter.handle_DATA(None, None, envelope)).startswith("250")


def test_the_relay_count_reports_a_missing_a_repeated_and_a_stray_message():
    counter = Counter((SENDER, LIMIT_SENDER), 3)
    for number in range(3):
        _deliver(counter, SENDER, f"c{number:07d}@example.com")
        _deliver(counter, LIMIT_SENDER, f"c{number:07d}@example.com")
    assert counter.problems() == []
    _deliver(counter, LIMIT_SENDER, "c0000001@example.com")
    _deliver(counter, SENDER, "c0000009@example.com")
    _deliver(counter, SENDER, "someone@example.org")
    assert counter.problems() == [
        "2 messages the run did not send",
        f"from {LIMIT_SENDER}: 0 recipients got nothing, 1 got more than one message",
    ]
    assert Counter((SENDER,), 2).problems() == [f"from {SENDER}: 2 recipients got nothing, 0 got more than one message"]


def test_the_messages_are_personalised_and_reproducible():
    first, again = messages(50), messages(50)
    assert first == again
    assert len({m.subject for m in first}) > 5
    assert len({m.body for m in first}) == 50
    assert all(300 < len(m.body.encode()) < 1_000 for m in first)
    assert all(m.unsubscribe_url for m in first)


def test_the_bench_fails_when_the_relay_did_not_get_every_message_once(monkeypatch):
    counted = bench._number_of
    # The relay files the first customer's mail under the second's: one missing, one twice, on each side.
    monkeypatch.setattr(bench, "_number_of", lambda address: counted(address) or 1)
    with pytest.raises(RuntimeError, match=r"did not deliver every message exactly once.*1 recipients got nothing"):
        run_smtp(scale=0.001)
