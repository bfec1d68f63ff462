"""Analytics reports: validate the request, bring the mart up to date, run the compiled queries."""

from __future__ import annotations

from typing import Any

from loopline.actions.mart import do_sync_mart
from loopline.actions.segments import SegmentRejected
from loopline.domain.analytics import parse_report
from loopline.domain.segments.definition import SegmentDefinition, SegmentInvalid
from loopline.domain.segments.references import references
from loopline.ports import QueryTooSlow
from loopline.query.reports import build_report
from loopline.services import Services


def run_report(services: Services, *, workspace_id: str, data: Any, sync: bool = True) -> dict[str, Any]:
    """Return a report's answer; raise SegmentRejected (code and problems) for a request that cannot run."""
    try:
        request = parse_report(data)
    except SegmentInvalid as error:
        raise SegmentRejected("invalid_report", str(error), error.problems) from None
    named: set[str] = set()
    if request.filter is not None:
        named |= references(SegmentDefinition(name="filter", condition=request.filter).condition).segments
    group_by = getattr(request, "group_by", None)
    if group_by is not None and group_by.segment_id is not None:
        named.add(group_by.segment_id)
    known = {row.id for row in services.segments.in_workspace(workspace_id=workspace_id)}
    if named - known:
        unknown = ", ".join(sorted(named - known))
        raise SegmentRejected("unknown_segment", f"the report names segments this workspace does not have: {unknown}")
    if sync:
        do_sync_mart(services)
    mart, timeout = services.mart, services.settings.report_query_timeout_s

    def fetch(sql: str) -> list[tuple[Any, ...]]:
        try:
            return mart.fetch(sql + mart.dialect.settings, timeout_s=timeout)
        except QueryTooSlow as error:
            raise SegmentRejected(
                "report_query_too_slow", f"{error}; shorten the range or add filters, or raise the time limit"
            ) from None

    return build_report(request, dialect=mart.dialect, workspace_id=workspace_id, now=services.clock.now(), fetch=fetch)
