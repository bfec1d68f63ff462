"""Inbound SMS: a customer's STOP, START or HELP, from the gateway's signed webhook.

The webhook is verified against the workspace's gateway token before anything is read
(HMAC over the URL and the form, compared in constant time). STOP revokes the sender's SMS
consent at once — and what waits in the queue for them is skipped — or, for a number no
profile holds, puts it on the suppression list; START restores it; HELP is answered with
the workspace's help text. A confirmation is sent only when something changed, so a
redelivered webhook never texts the customer twice.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from loopline.actions.profiles import ProfileNotFound, do_update_consents, find_profile
from loopline.actions.suppression_list import SuppressionNotFound, do_suppress_contacts, do_unsuppress_contact
from loopline.domain.consent import ALL_TOPICS
from loopline.domain.providers import SmsGatewayProvider, parse_provider
from loopline.domain.sms import keyword_of, twilio_signature
from loopline.services import Services


class InboundRefused(Exception):
    """A webhook that is not accepted: no such hook (404) or a signature that does not verify (401)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def do_receive_sms(services: Services, *, workspace_id: str, url: str, form: Mapping[str, str],
                   signature: str) -> str | None:
    """Verify and act on one inbound text; return the reply to send back, if any."""
    gateway, token = twilio_gateway(services, workspace_id)
    expected = twilio_signature(token, url, form)
    if not signature or not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InboundRefused(401, "bad_signature", "the webhook's signature does not verify")
    keyword = keyword_of(form.get("Body", ""))
    sender = form.get("From", "")
    if keyword is None or not sender:
        return None
    if keyword == "help":
        return gateway.help_text
    changed = _set_consent(services, workspace_id, sender, opted_in=keyword == "start")
    if not changed:
        return None
    return gateway.start_text if keyword == "start" else gateway.stop_text


def twilio_gateway(services: Services, workspace_id: str) -> tuple[SmsGatewayProvider, str]:
    """Return the workspace's Twilio-shaped gateway and its token; a workspace without one has no hook."""
    row = services.providers.get(workspace_id=workspace_id, channel="sms")
    provider = parse_provider(row.settings) if row is not None else None
    if row is None or not isinstance(provider, SmsGatewayProvider) or provider.shape != "twilio":
        raise InboundRefused(404, "no_inbound_hook", "no inbound SMS hook here")
    return provider, str(services.secrets.open(row.sealed).get("secret", ""))


def _set_consent(services: Services, workspace_id: str, sender: str, *, opted_in: bool) -> bool:
    """Record the sender's choice; return whether anything changed."""
    status = "opted_in" if opted_in else "opted_out"
    try:
        profile = find_profile(services, workspace_id=workspace_id, reference=sender)
    except ProfileNotFound:
        return _set_suppressed(services, workspace_id, sender, suppressed=not opted_in)
    current = {(c["channel"], c["topic"]): c["status"] for c in services.lookups.list_consents(
        workspace_id=workspace_id, profile_id=profile.profile_id)}
    if current.get(("sms", ALL_TOPICS)) == status:
        return False
    do_update_consents(services, workspace_id=workspace_id, reference=profile.profile_id,
                       choices=[{"channel": "sms", "topic": ALL_TOPICS, "status": status, "source": "sms_keyword"}])
    return True


def _set_suppressed(services: Services, workspace_id: str, sender: str, *, suppressed: bool) -> bool:
    """For a number no profile holds: list it (STOP) or take it off the list (START)."""
    if suppressed:
        report = do_suppress_contacts(services, workspace_id=workspace_id, entries=[
            {"channel": "sms", "address": sender, "reason": "unsubscribe", "note": "replied STOP"}])
        return report.created > 0
    try:
        do_unsuppress_contact(services, workspace_id=workspace_id, channel="sms", address=sender)
    except SuppressionNotFound:
        return False
    return True
