"""From a campaign and one customer to the intended messages a claim decides on.

Pure: the control group and variant come from hashes of ids (``control_groups``), the
earliest send time from the schedule (each customer's own clock for local-time campaigns,
a send window, a throttle spreading the run over minutes), and the send key from the
campaign, the customer and the run. A campaign that picks one channel by fallback has one
key per customer and run, so a changed preference between a crash and a resume can never
make it send on two channels; a campaign sending on every channel has one key per channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from loopline.domain.campaigns import CampaignDefinition, local_send_time
from loopline.domain.contact_policy import BYPASSES_POLICY, QuietHours, after_quiet_hours, zone_of
from loopline.domain.control_groups import in_holdout, variant_of
from loopline.domain.recipients import Intent
from loopline.domain.send_ledger import first_format_key, send_key
from loopline.domain.send_times import best_send_time, in_fixed_time_control

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
    send_time_prior: tuple[float, ...] = ()  # the workspace's attention per hour of the week, for best-time runs
    quiet_hours: QuietHours | None = None  # the contact policy's, which a best time never falls in


@dataclass(frozen=True, slots=True)
class Planned:
    """An intent and the variant whose content it carries."""

    intent: Intent
    variant: int


def keys_of(run: Run, *, profile_id: str) -> list[str]:
    """Return the send keys a run uses for one customer (what ``plan`` would key its intents by)."""
    return [send_key(**parts) for parts in _key_parts(run, profile_id)]


def first_format_keys_of(run: Run, *, profile_id: str) -> dict[str, str]:
    """Return, for a run begun before the current key format, each format-1 key with the key it has now."""
    return {first_format_key(**parts): send_key(**parts) for parts in _key_parts(run, profile_id)}


def _key_parts(run: Run, profile_id: str) -> list[dict[str, str]]:
    definition = run.definition
    channels = list(definition.channels) if definition.every_channel else [ANY_CHANNEL]
    return [{"workspace_id": run.workspace_id, "source": run.campaign_id, "profile_id": profile_id,
             "channel": channel, "occurrence": run.occurrence} for channel in channels]


def plan(run: Run, *, profile_id: str, time_zone: str | None, position: int, now: datetime,
         active_hours: Mapping[str, int] | None = None, keys: Sequence[str] | None = None) -> list[Planned]:
    """Return the intended messages of one run to one customer (one, or one per channel).

    ``active_hours`` is the customer's attention per hour of the week, which a best-time
    schedule picks their send time from. ``keys`` are the customer's ``keys_of``, when the
    caller has them already (a claim looks them up first).
    """
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
    expires = (now + timedelta(hours=definition.expires_after_hours)) if definition.expires_after_hours else None
    not_before = _earliest(run, profile_id=profile_id, time_zone=time_zone, position=position, now=now,
                           active_hours=active_hours, expires=expires)
    channels_in_order = tuple(definition.channels)
    groups = [(channel,) for channel in channels_in_order] if definition.every_channel else [channels_in_order]
    planned = []
    for index, channels in enumerate(groups):
        key = keys[index] if keys is not None else send_key(
            workspace_id=run.workspace_id, source=run.campaign_id, profile_id=profile_id,
            channel=channels[0] if definition.every_channel else ANY_CHANNEL, occurrence=run.occurrence)
        intent = Intent(key, profile_id, channels, definition.priority, run.campaign_id, definition.topic,
                        definition.offer, not_before, expires, held_out, definition.rank)
        planned.append(Planned(intent, variant))
    return planned


def _earliest(run: Run, *, profile_id: str, time_zone: str | None, position: int, now: datetime,
              active_hours: Mapping[str, int] | None, expires: datetime | None) -> datetime | None:
    """Return when the customer's message may go out at the earliest, or None for at once."""
    schedule = run.definition.schedule
    moments = [now]
    best = schedule.best_time
    if best is not None and not in_fixed_time_control(
            campaign_id=run.campaign_id, profile_id=profile_id, percent=best.fixed_time_control_percent):
        moments.append(_best_time(run, time_zone=time_zone, now=now, active_hours=active_hours, expires=expires))
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


def _best_time(run: Run, *, time_zone: str | None, now: datetime, active_hours: Mapping[str, int] | None,
               expires: datetime | None) -> datetime:
    """Return the customer's best hour in the run's span, outside quiet hours and inside the send window."""
    definition = run.definition
    best = definition.schedule.best_time
    assert best is not None
    zone = zone_of(time_zone, run.default_time_zone)
    end = run.started_at + timedelta(hours=best.within_hours)
    if expires is not None:
        end = min(end, expires)
    quiet = run.quiet_hours
    quiet_applies = quiet is not None and ("*" in quiet.channels or bool(quiet.channels & set(definition.channels)))
    window = definition.schedule.window
    closed = QuietHours(window.end, window.start, frozenset({"*"})) if window is not None else None

    def allowed(moment: datetime) -> bool:
        local = moment.astimezone(zone).time()
        if quiet_applies and quiet is not None and quiet.holds(local):
            return False
        return closed is None or not closed.holds(local)

    return best_send_time(active_hours, run.send_time_prior, start=max(now, run.started_at), end=end,
                          allowed=allowed)
