"""The settings pages: channels and providers, keys, the contact policy, team and roles, the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from loopline.console.web import check_csrf

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
