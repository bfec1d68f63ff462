"""Webhooks providers call: inbound SMS (STOP, START, HELP), answered in the gateway's own reply format, and
delivery receipts (SMS delivery reports, email deliveries, bounces and complaints)."""

from __future__ import annotations

from typing import Annotated, Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from loopline.actions.inbound_sms import InboundRefused, do_receive_sms
from loopline.actions.receipts import do_receive_email_events, do_receive_kannel_report, do_receive_twilio_status
from loopline.api.errors import ApiError
from loopline.services import Services

router = APIRouter(tags=["webhooks"])


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


@router.post("/hooks/sms/{workspace_id}/inbound", response_class=Response, responses={
    200: {"description": "TwiML: the reply to send back, or none.",
          "content": {"application/xml": {"schema": {"type": "string"}}}},
    401: {"description": "The signature does not verify (`bad_signature`); nothing changed."},
    404: {"description": "The workspace has no Twilio-shaped SMS gateway (`no_inbound_hook`)."},
})
async def inbound_sms(request: Request, workspace_id: str) -> Response:
    """Receive a text sent to the workspace's number (Twilio's form and ``X-Twilio-Signature``).

    The answer is TwiML: the confirmation or help text to send back, or nothing.
    """
    form = {name: str(value) for name, value in (await request.form()).items()}
    try:
        reply = await run_in_threadpool(do_receive_sms, _services(request), workspace_id=workspace_id,
                                        url=str(request.url), form=form,
                                        signature=request.headers.get("X-Twilio-Signature", ""))
    except InboundRefused as error:
        raise ApiError(error.status, error.code, error.message) from None
    message = f"<Message>{escape(reply)}</Message>" if reply else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>',
                    media_type="application/xml")


_RECEIPT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Recorded: how many receipts named a send of this workspace, how many raised its status.",
          "content": {"application/json": {"schema": {"type": "object", "properties": {
              "matched": {"type": "integer"}, "raised": {"type": "integer"}, "unknown": {"type": "integer"}}}}}},
    400: {"description": "The body cannot be read (`invalid_json`, `invalid_events`); nothing changed."},
    401: {"description": "The signature does not verify or is too old (`bad_signature`); nothing changed."},
    404: {"description": "The workspace has no provider this hook serves (`no_receipts_hook`)."},
}


async def _receipts(call: Any, request: Request, **arguments: Any) -> dict[str, int]:
    runtime = request.app.state.runtime
    try:
        report = await run_in_threadpool(call, runtime.services, runtime.pipeline, **arguments)
    except InboundRefused as error:
        raise ApiError(error.status, error.code, error.message) from None
    return report.as_json()  # type: ignore[no-any-return]


@router.post("/hooks/sms/{workspace_id}/status", responses=_RECEIPT_ANSWERS)
async def sms_status(request: Request, workspace_id: str,
                     send_key: Annotated[str, Query(min_length=1, max_length=44)]) -> dict[str, int]:
    """Receive Twilio's status callback for one send (``X-Twilio-Signature`` over the URL and the form).

    ``delivered`` and ``undelivered``/``failed`` are receipts; statuses on the way are acknowledged.
    """
    form = {name: str(value) for name, value in (await request.form()).items()}
    return await _receipts(do_receive_twilio_status, request, workspace_id=workspace_id, send_key=send_key,
                           url=str(request.url), form=form, signature=request.headers.get("X-Twilio-Signature", ""))


@router.get("/hooks/sms/{workspace_id}/status", responses=_RECEIPT_ANSWERS)
async def sms_report(request: Request, workspace_id: str,
                     send_key: Annotated[str, Query(min_length=1, max_length=44)],
                     sig: Annotated[str, Query(min_length=1, max_length=100)],
                     status: Annotated[str, Query(max_length=8)] = "") -> dict[str, int]:
    """Receive a Kannel delivery report (``dlr-url``), whose address carries our signature of the send."""
    return await _receipts(do_receive_kannel_report, request, workspace_id=workspace_id, send_key=send_key,
                           status=status, signature=sig)


@router.post("/hooks/email/{workspace_id}/events", responses=_RECEIPT_ANSWERS)
async def email_events(request: Request, workspace_id: str) -> dict[str, int]:
    """Receive delivery, bounce and complaint events for sent email (Standard Webhooks signature).

    Body: ``{"events": [{"type": "delivered" | "bounced" | "complained", "send_key": "…",
    "bounce": "hard" | "soft", "detail": "…"}]}``, signed with the email provider's ``events_secret``.
    """
    body = await request.body()
    return await _receipts(do_receive_email_events, request, workspace_id=workspace_id,
                           headers=dict(request.headers), body=body)
