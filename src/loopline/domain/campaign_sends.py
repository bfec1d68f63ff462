"""From a campaign and one customer to the intended messages a claim decides on.

Pure: the control group and variant come from hashes of ids (``control_groups``), the
earliest send time from the schedule (each customer's own clock for local-time campaigns,
a send window, a throttle spreading the run over minutes), and the send key from the
campaign, the customer and the run. A campaign that picks one channel by fallback has one
key per customer and run, so a changed preference between a crash and a resume can never
make it send on two channels; a campaign sending on every channel has one key per channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from loopline.domain.campaigns import CampaignDefinition, local_send_time
from loopline.domain.contact_policy import BYPASSES_POLICY, QuietHours, after_quiet_hours, zone_of
from loopline.domain.control_groups import in_holdout, variant_of
from loopline.domain.recipients import Intent
from loopline.domain.send_ledger import send_key

ANY_CHANNEL = "*"


@dataclass(frozen=True, slots=True)
class Run:
    """The run a batch belongs to."""

    workspace_id: str
    campaign_id: str
    definition: CampaignDefinition
    occurrence: str
    started_at: datetime
    global_control_percent: float = 0.0
    default_time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Planned:
    """An intent and the variant whose content it carries."""

    intent: Intent
    variant: int


def keys_of(run: Run, *, profile_id: str) -> list[str]:
    """Return the send keys a run uses for one customer (what ``plan`` would key its intents by)."""
    definition = run.definition
    channels = list(definition.channels) if definition.every_channel else [ANY_CHANNEL]
    return [send_key(workspace_id=run.workspace_id, source=run.campaign_id, profile_id=profile_id, channel=channel,
                     occurrence=run.occurrence) for channel in channels]


def plan(run: Run, *, profile_id: str, time_zone: str | None, position: int, now: datetime) -> list[Planned]:
    """Return the intended messages of one run to one customer (one, or one per channel)."""
    definition = run.definition
    marketing = definition.priority not in BYPASSES_POLICY
    held_out = None
    if marketing and definition.global_control and in_holdout(
        salt=f"{run.workspace_id}\x1fglobal", profile_id=profile_id, percent=run.global_control_percent,
    ):
        held_out = "global_control_group"
    elif in_holdout(salt=run.campaign_id, profile_id=profile_id, percent=definition.holdout_percent):
        held_out = "control_group"
    variant = variant_of(salt=run.campaign_id, profile_id=profile_id, splits=definition.splits)
    not_before = _earliest(run, time_zone=time_zone, position=position, now=now)
    expires = (now + timedelta(hours=definition.expires_after_hours)) if definition.expires_after_hours else None
    channels_in_order = tuple(definition.channels)
    groups = [(channel,) for channel in channels_in_order] if definition.every_channel else [channels_in_order]
    planned = []
    for channels in groups:
        key = send_key(workspace_id=run.workspace_id, source=run.campaign_id, profile_id=profile_id,
                       channel=channels[0] if definition.every_channel else ANY_CHANNEL, occurrence=run.occurrence)
        intent = Intent(key, profile_id, channels, definition.priority, run.campaign_id, definition.topic,
                        definition.offer, not_before, expires, held_out, definition.rank)
        planned.append(Planned(intent, variant))
    return planned


def _earliest(run: Run, *, time_zone: str | None, position: int, now: datetime) -> datetime | None:
    """Return when the customer's message may go out at the earliest, or None for at once."""
    schedule = run.definition.schedule
    moments = [now]
    if schedule.kind == "local_time":
        moments.append(local_send_time(schedule, time_zone=time_zone, default_zone=run.default_time_zone))
    if schedule.throttle_per_minute:
        moments.append(run.started_at + timedelta(minutes=position // schedule.throttle_per_minute))
    earliest = max(moments)
    if schedule.window is not None:
        # A send window is the quiet hours turned inside out: outside 09:00–20:00 is quiet.
        closed = QuietHours(schedule.window.end, schedule.window.start, frozenset({"*"}))
        earliest = after_quiet_hours(closed, earliest, zone_of(time_zone, run.default_time_zone))
    return earliest if earliest > now else None
