"""The analytics explorer: reports with filters and group-by, charts and tables, personal dashboards."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from loopline.console.web import check_csrf

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
