"""The ingest benchmarks run end to end at a tiny scale; their figures are not asserted, their counts are."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from loopline.bench import BENCHES
from loopline.bench.load import MARK, make_payloads, percentile_ms
from loopline.domain.events import IngestLimits, parse_message, parse_timestamp

COMMON_KEYS = {"bench", "vs_limit", "p50_ms", "p99_ms", "acked", "stored", "requests", "errors"}


def run_bench(name: str, scale: float) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "loopline", "bench", name, "--scale", str(scale)],
        capture_output=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")[-3000:]
    lines = completed.stdout.decode().strip().splitlines()
    assert len(lines) == 1, "stdout carries exactly one JSON line; progress goes to stderr"
    result: dict[str, Any] = orjson.loads(lines[-1])
    return result


def test_ingest_bench_stores_every_acknowledged_event():
    result = run_bench("ingest", 0.0005)
    assert COMMON_KEYS | {"events_per_s", "limit_events_per_s"} <= result.keys()
    assert result["bench"] == "ingest"
    assert result["acked"] == result["stored"] == result["requests"] * 100 > 0
    assert result["events_per_s"] > 0
    assert result["limit_events_per_s"] > 0


def test_ingest_single_bench_stores_every_acknowledged_event():
    result = run_bench("ingest-single", 0.0005)
    assert COMMON_KEYS | {"requests_per_s", "limit_requests_per_s"} <= result.keys()
    assert result["bench"] == "ingest-single"
    assert result["acked"] == result["stored"] == result["requests"] > 0
    assert result["requests_per_s"] > 0


def test_benches_are_registered_without_importing_them():
    assert {"ingest", "ingest-single"} <= BENCHES.keys()


def test_payloads_are_deterministic_and_every_request_gets_new_message_ids():
    first = make_payloads(seed=7, events_per_body=100, templates=3)
    again = make_payloads(seed=7, events_per_body=100, templates=3)
    assert first.templates == again.templates
    ids: set[str] = set()
    for number in range(7):
        batch = orjson.loads(first.body(number))["batch"]
        assert len(batch) == 100
        ids.update(message["messageId"] for message in batch)
    assert len(ids) == 700
    assert MARK.decode() not in "".join(ids)


@pytest.mark.parametrize("events_per_body", [1, 100])
def test_payload_messages_pass_ingest_validation(events_per_body):
    payloads = make_payloads(seed=3, events_per_body=events_per_body, templates=2)
    body = orjson.loads(payloads.body(1))
    messages = body["batch"] if events_per_body > 1 else [body]
    sent_at = parse_timestamp(body["sentAt"], "sentAt")
    for raw in messages:
        record = parse_message(
            raw, workspace_id="ws_t", default_type="track", batch_sent_at=sent_at, batch_context=None,
            received_at=datetime.now(UTC), new_message_id=lambda: "unused", limits=IngestLimits(),
        )
        assert record.event
        assert record.user_id
        assert record.context["device"]["id"]
        assert 8 <= len(record.properties) <= 16


def test_percentile_is_nearest_rank():
    values = [i / 1000 for i in range(1, 101)]
    assert percentile_ms(values, 0.50) == 50.0
    assert percentile_ms(values, 0.99) == 99.0
    assert percentile_ms([], 0.99) == 0.0
