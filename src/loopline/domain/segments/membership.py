"""Membership changes: the events a segment writes onto a profile when someone enters or leaves.

Journeys trigger on them; they are facts about the profile, not behaviour, so they count
neither as activity (sessions, last seen, inactivity) nor towards computed properties.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

SEGMENT_ENTERED = "Segment Entered"
SEGMENT_EXITED = "Segment Exited"
MEMBERSHIP_SOURCE = "segments"


def membership_message(
    *, segment_id: str, segment_name: str, version: int, profile_id: str, identifier: tuple[str, str],
    entered: bool, at: datetime,
) -> dict[str, Any]:
    """Return the track message recording one profile entering or leaving a segment.

    The message id is derived from the refresh time, so a refresh that is retried after a
    crash writes each change once (the event store deduplicates on it).
    """
    kind, value = identifier
    change = "entered" if entered else "exited"
    return {
        "type": "track",
        "userId" if kind == "user_id" else "anonymousId": value,
        "event": SEGMENT_ENTERED if entered else SEGMENT_EXITED,
        "messageId": f"segment-{segment_id}-{at.strftime('%Y%m%dT%H%M%S%f')}-{profile_id}-{change}",
        "timestamp": at.isoformat(),
        "properties": {"segment_id": segment_id, "segment_name": segment_name, "segment_version": version},
    }
