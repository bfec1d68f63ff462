"""Webhooks providers call: inbound SMS (STOP, START, HELP), answered in the gateway's own reply format."""

from __future__ import annotations

from xml.sax.saxutils import escape

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from loopline.actions.inbound_sms import InboundRefused, do_receive_sms
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
