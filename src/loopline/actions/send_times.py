"""Reading what best-time sending learns from: the workspace's attention per hour of the week."""

from __future__ import annotations

from datetime import datetime, timedelta

from loopline.domain.send_times import ATTENTION_EVENTS, prior_of
from loopline.query.send_times import attention_by_hour_sql
from loopline.services import Services

PRIOR_DAYS = 90
"""How far back the workspace's pattern looks: a season, not the whole history."""


def workspace_prior(services: Services, *, workspace_id: str, now: datetime) -> tuple[float, ...]:
    """Return the workspace's share of attention per UTC hour of the week over the last ``PRIOR_DAYS``.

    One grouped query over the mart's events; flat when the workspace has seen nothing yet.
    """
    mart = services.mart
    sql = attention_by_hour_sql(mart.dialect, workspace_id=workspace_id, events=ATTENTION_EVENTS,
                                since=now - timedelta(days=PRIOR_DAYS))
    counts = {int(slot): float(count) for slot, count in mart.fetch(
        sql + mart.dialect.settings, timeout_s=services.settings.segment_query_timeout_s)}
    return prior_of(counts)
