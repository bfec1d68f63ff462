"""``loopline bench smtp``: personalised emails through the SMTP channel into a local relay.

An aiosmtpd server runs in a thread of this process on 127.0.0.1 and a free port. It
accepts every message, keeps no body and counts, per envelope sender, how often each
recipient got mail, so the run can prove every message arrived exactly once.

The messages are generated from a seed: customers with first and last names (some with
accents), a city, an order count and a discount, rendered through the campaign template
code (``compile_content``/``render_content``) before timing, since rendering happens when
a send is claimed, not in the channel. Each carries its own signed-looking one-click
unsubscribe link, as marketing mail does.

Two sides send the same messages to the same recipients, in turns of one batch each
(1,000, the campaign batch size; which side goes first alternates), so a change in the
machine's load falls on both:

- **channel**: ``SmtpChannel.deliver`` per batch, which composes every message (MIME
  headers, plain-text part from the HTML, Message-ID, quoted-printable parts, unsubscribe
  headers) and sends it over ``CONNECTIONS`` SMTP sessions it opens for the batch.
- **limit**: a bare aiosmtplib loop over the same number of sessions, opened per batch
  too, sending the very bytes the channel composed for each message (built before timing)
  with ``sendmail``: the protocol and nothing else.

``vs_limit`` is the channel's rate over the limit's. ``cpu_us_per_message`` is the sending
thread's own CPU time per message (the relay runs in another thread), the clearest view of
what the channel adds on top of the protocol.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiosmtplib
from aiosmtpd.controller import Controller
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loopline.actions.messages import CAMPAIGN_NAMES, compile_content, render_content
from loopline.channels.email import SmtpChannel, SmtpSettings, Unsubscribe, compose
from loopline.config import Settings
from loopline.domain.campaigns import Content
from loopline.domain.send_ledger import send_key
from loopline.domain.templates import RenderLimits
from loopline.ports import Outbound

FULL_MESSAGES = 20_000
SEED = 20_260_501
# A few sessions, as a relay's per-client limit commonly allows; enough that one session
# waiting for the relay's answer does not leave the sender idle.
CONNECTIONS = 4
HOST = "127.0.0.1"
SENDER = "news@shop.example"
LIMIT_SENDER = "limit@shop.example"  # the limit's envelope sender, so the relay counts each side apart
WORKSPACE = "ws_bench"
CAMPAIGN = "cmp_bench_summer"
DATE = "Mon, 15 Jun 2026 10:00:00 +0000"
FIRST_NAMES = ("Kim", "Jürgen", "Zoë", "Ana", "Søren", "Mei", "Olivia", "José", "Noah", "Chloé", "Łukasz", "Amara",
               "Björn", "Priya", "Liam", "Ines", "Mateo", "Hana", "Émile", "Sofia")
LAST_NAMES = ("Jensen", "Müller", "García", "Nakamura", "O'Brien", "Kowalski", "Dubois", "Rossi", "Smith",
              "Nguyen", "Andersson", "Okafor", "Schmidt", "Silva", "Novák", "Patel")
CITIES = ("Berlin", "Lisbon", "Kraków", "Osaka", "Lyon", "Austin", "Malmö", "Dublin", "")
SUBJECT = "{{ traits.firstName }}, your {{ traits.discount }}% summer code is inside"
BODY = """<html><body style="font-family:Helvetica,Arial,sans-serif;color:#222">
<h1>Hello {{ traits.firstName }} {{ traits.lastName }},</h1>
<p>Thank you for {{ computed.orders }} order{% if computed.orders != 1 %}s{% endif %} with us{% if traits.city %}
&mdash; delivery to {{ traits.city }} is free all week{% endif %}.</p>
<p>Your personal code <b>SUMMER-{{ profile.id[-4:] }}</b> takes {{ traits.discount }}% off anything in the shop
until Sunday.</p>
<p><a href="https://shop.example/summer?c={{ profile.id }}">Shop the summer sale</a></p>
<p style="color:#777;font-size:12px">Shop Example GmbH, Hauptstraße 1, 10115 Berlin</p>
</body></html>"""


class Counter:
    """An aiosmtpd handler that accepts every message and counts deliveries per envelope sender and recipient.

    Recipients are ``c<number>@example.com``; the counts are one byte per recipient, so
    memory stays flat whatever the run's size.
    """

    def __init__(self, senders: tuple[str, ...], recipients: int) -> None:
        self.seen = {sender: bytearray(recipients) for sender in senders}
        self.stray = 0  # messages from another sender, or to a recipient outside the run

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        """Count the message's recipients; keep nothing else."""
        seen = self.seen.get(envelope.mail_from)
        for recipient in envelope.rcpt_tos:
            number = _number_of(recipient)
            if seen is None or number is None or number >= len(seen):
                self.stray += 1
            elif seen[number] < 255:
                seen[number] += 1
        return "250 2.0.0 Accepted"

    def problems(self) -> list[str]:
        """Return what is wrong with the counts: a recipient reached never or more than once, or stray mail."""
        found = [f"{self.stray} messages the run did not send"] if self.stray else []
        for sender, seen in self.seen.items():
            missing = seen.count(0)
            repeated = len(seen) - missing - seen.count(1)
            if missing or repeated:
                found.append(f"from {sender}: {missing} recipients got nothing, {repeated} got more than one message")
        return found


def _address(number: int) -> str:
    return f"c{number:07d}@example.com"


def _number_of(address: str) -> int | None:
    local, _, domain = address.partition("@")
    if domain != "example.com" or not local.startswith("c") or not local[1:].isdigit():
        return None
    return int(local[1:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def messages(count: int) -> list[Outbound]:
    """Return ``count`` personalised marketing emails, rendered through the campaign template code."""
    compiled, problems = compile_content(Content(subject=SUBJECT, body=BODY), channel="email", names=CAMPAIGN_NAMES,
                                         path="bench")
    if compiled is None:
        raise RuntimeError(f"the bench's template does not compile: {problems}")
    rng = random.Random(SEED)  # noqa: S311 - reproducible test data, not secrets
    limits = RenderLimits()
    made: list[Outbound] = []
    for number in range(count):
        profile_id = f"p_{number:08d}"
        context = {
            "profile": {"id": profile_id, "email": _address(number)},
            "traits": {"firstName": rng.choice(FIRST_NAMES), "lastName": rng.choice(LAST_NAMES),
                       "city": rng.choice(CITIES), "discount": rng.choice((10, 15, 20, 25))},
            "computed": {"orders": rng.randint(1, 40)},
            "campaign": {"id": CAMPAIGN, "name": "Summer sale"}, "links": {}, "recommendations": {},
        }
        rendered = render_content(compiled, context, limits=limits)
        key = send_key(workspace_id=WORKSPACE, source=CAMPAIGN, profile_id=profile_id, channel="email", occurrence="")
        token = hashlib.sha256(key.encode()).hexdigest()
        made.append(Outbound(key, WORKSPACE, CAMPAIGN, profile_id, "email", _address(number), rendered["subject"],
                             rendered["body"], unsubscribe_url=f"https://shop.example/unsubscribe/u1.{token}"))
    return made


@dataclass
class Side:
    """What one side spent: wall seconds, the sending thread's CPU seconds, and messages accepted."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    accepted: int = 0


async def _bare_batch(port: int, batch: list[tuple[str, bytes]], connections: int) -> int:
    """Send pre-built messages over ``connections`` sessions taking turns from one queue; return how many went."""
    queue: Iterator[tuple[str, bytes]] = iter(batch)
    sent = 0

    async def session() -> None:
        nonlocal sent
        client = aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False)
        await client.connect()
        for recipient, raw in queue:
            await client.sendmail(LIMIT_SENDER, [recipient], raw)
            sent += 1
        await client.quit()

    await asyncio.gather(*(session() for _ in range(min(connections, len(batch)))))
    return sent


def _timed(side: Side, run: Callable[[], int]) -> None:
    started, cpu = time.perf_counter(), time.thread_time()
    side.accepted += run()
    side.seconds += time.perf_counter() - started
    side.cpu_seconds += time.thread_time() - cpu


def _measure(port: int, outbound: list[Outbound], batch: int, progress: Progress) -> tuple[Side, Side, int]:
    """Send everything through both sides in alternating batches; return (channel, limit, bytes sent per side)."""
    settings = SmtpSettings(HOST, port, SENDER, "Shop Example", security="none", connections=CONNECTIONS)
    channel = SmtpChannel(settings)
    # The limit's bytes are the channel's own composition of each message, made before timing.
    prebuilt = [(message.address or "", compose(message, settings, date=DATE,
                                                unsubscribe=Unsubscribe(message.unsubscribe_url or "")))
                for message in outbound]
    size = sum(len(raw) for _, raw in prebuilt)
    ours, limit = Side(), Side()
    task = progress.add_task("channel and limit, batch by batch", total=len(outbound))
    for turn, start in enumerate(range(0, len(outbound), batch)):
        chunk = outbound[start:start + batch]
        bare = prebuilt[start:start + batch]

        def run_channel(chunk: list[Outbound] = chunk) -> int:
            return sum(answer.accepted for answer in channel.deliver(chunk))

        def run_limit(bare: list[tuple[str, bytes]] = bare) -> int:
            return asyncio.run(_bare_batch(port, bare, CONNECTIONS))

        first, second = ((ours, run_channel), (limit, run_limit)) if turn % 2 else ((limit, run_limit),
                                                                                   (ours, run_channel))
        _timed(*first)
        _timed(*second)
        progress.advance(task, len(chunk))
    return ours, limit, size


def run_smtp(*, scale: float = 1.0) -> dict[str, Any]:
    """Send the emails through the channel and through the bare loop into a local relay; compare."""
    count = max(20, round(FULL_MESSAGES * scale))
    batch = int(Settings.model_fields["campaign_batch_size"].default)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        rendering = progress.add_task("render the messages", total=1)
        outbound = messages(count)
        progress.update(rendering, completed=1)
        counter = Counter((SENDER, LIMIT_SENDER), count)
        controller = Controller(counter, hostname=HOST, port=_free_port())
        controller.start()
        try:
            ours, limit, size = _measure(controller.port, outbound, batch, progress)
        finally:
            controller.stop()
    problems = counter.problems()
    if ours.accepted != count or limit.accepted != count:
        problems.insert(0, f"accepted {ours.accepted} (channel) and {limit.accepted} (limit) of {count}")
    if problems:
        raise RuntimeError("the smtp bench did not deliver every message exactly once: " + "; ".join(problems))
    rate, limit_rate = count / ours.seconds, count / limit.seconds
    return {
        "bench": "smtp", "messages": count,
        "messages_per_s": round(rate),
        "vs_limit": round(rate / limit_rate, 3),
        "limit_messages_per_s": round(limit_rate),
        "concurrency": CONNECTIONS, "batch": batch,
        "cpu_us_per_message": round(ours.cpu_seconds / count * 1e6),
        "limit_cpu_us_per_message": round(limit.cpu_seconds / count * 1e6),
        "bytes_per_message": round(size / count),
        "received": sum(counter.seen[SENDER]), "limit_received": sum(counter.seen[LIMIT_SENDER]),
        "seconds": round(ours.seconds, 2), "limit_seconds": round(limit.seconds, 2),
    }
