"""The segments pages: the list, the visual builder with its live count and sample, membership over time."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from loopline.console.web import check_csrf

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
