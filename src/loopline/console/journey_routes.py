"""The journeys pages: the list, and each journey as a flow of its steps with per-step counts."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from loopline.console.web import check_csrf

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
