"""One-click unsubscribe: signed links on marketing mail, and what following one does.

A POST to the link (what a mailbox provider sends for RFC 8058 one-click, or the button on
the confirmation page) opts the customer out of that channel's topic at once, and what
waits in the queue for them on it is skipped. A GET only shows the confirmation page:
link scanners and previews fetch links, and must not unsubscribe anybody.
"""

from __future__ import annotations

from contextlib import suppress

from loopline.actions.ingest import IngestPipeline
from loopline.actions.profiles import ProfileNotFound, do_update_consents
from loopline.domain.contact_policy import Priority
from loopline.domain.engagement import EMAIL_UNSUBSCRIBED, message_properties
from loopline.domain.identity import filed_as
from loopline.domain.unsubscribe import UnsubscribeLink, read_token, token_for
from loopline.services import Services

PURPOSE = "unsubscribe links"
LINKED_CHANNELS = frozenset({"email"})  # where a message carries its own unsubscribe link


class Unsubscriber:
    """Writes the unsubscribe links of one hand-over (the key is derived once)."""

    def __init__(self, services: Services) -> None:
        self._key = services.secrets.signing_key(PURPOSE)
        self._base = f"{services.settings.resolved_public_url}/unsubscribe/"

    def url_for(self, *, workspace_id: str, profile_id: str, channel: str, topic: str, priority: str,
                send_key: str) -> str | None:
        """Return the link for a marketing message on a channel that carries one; None for the rest."""
        if channel not in LINKED_CHANNELS or priority != Priority.MARKETING:
            return None
        return self._base + token_for(self._key, UnsubscribeLink(workspace_id, profile_id, channel, topic, send_key))


def read_unsubscribe(services: Services, *, token: str) -> UnsubscribeLink:
    """Return what a link unsubscribes from; raise BadUnsubscribeLink when this server did not write it."""
    return read_token(services.secrets.signing_key(PURPOSE), token)


def do_unsubscribe(services: Services, pipeline: IngestPipeline | None, *, token: str) -> UnsubscribeLink:
    """Opt the link's customer out of its channel and topic; repeating it changes nothing more.

    The opt-out also becomes one ``Email Unsubscribed`` event on the customer's timeline, naming
    the message it came from (its send key, campaign or journey, step and variant), so segments
    and reports see which message lost the customer; repeats add no event (one per send).
    """
    link = read_unsubscribe(services, token=token)
    with suppress(ProfileNotFound):  # erased since: there is nobody left to message, which is what was asked
        do_update_consents(services, workspace_id=link.workspace_id, reference=link.profile_id, choices=[
            {"channel": link.channel, "topic": link.topic, "status": "opted_out", "source": "unsubscribe_link"}])
        _record_event(services, pipeline, link)
    return link


def _record_event(services: Services, pipeline: IngestPipeline | None, link: UnsubscribeLink) -> None:
    message = services.send_ledger.message_of(workspace_id=link.workspace_id, send_key=link.send_key)
    if pipeline is None or message is None or message["source_kind"] == "test":
        return  # a test send to a colleague is no customer's response
    identity = filed_as(services.lookups.list_identities(workspace_id=link.workspace_id,
                                                         profile_id=message["profile_id"]))
    if identity is None:
        return  # a customer known only by address has no timeline
    properties = {**message_properties(send_key=link.send_key, channel=message["channel"],
                                       source_kind=message["source_kind"], source_id=message["source_id"],
                                       step=message["step"], variant=message["variant"]), "topic": link.topic}
    pipeline.record_platform_events(workspace_id=link.workspace_id, source="tracking", messages=[{
        "type": "track", "event": EMAIL_UNSUBSCRIBED, **identity, "timestamp": services.clock.now().isoformat(),
        "messageId": f"unsubscribe-{link.send_key}", "properties": properties}])
