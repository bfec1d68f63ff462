"""The campaign builder's pages: a new campaign, editing a draft, previews on phone and desktop."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from loopline.console.web import check_csrf

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
