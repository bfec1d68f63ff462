"""A workspace's link settings and apps: the settings document, the .well-known documents, and deferred deep links.

The .well-known documents are per host. On a workspace's own link domain they list that
workspace's apps only; on any other host (the server's public address) they list the apps of
every workspace without a link domain of its own. An OS opens whichever listed app claims a
link, so a server shared by several shops with apps should give each shop a link domain; see
docs/tracking.md.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from hashlib import sha256
from typing import Any

from loopline.domain.campaigns import CampaignInvalid
from loopline.domain.deep_links import (
    LinkSettings,
    apple_app_site_association,
    asset_links,
    click_of_referrer,
    parse_link_settings,
    version_prefixes,
)
from loopline.services import Services
from loopline.store.sql.tracking import LinkDomainTaken

FINGERPRINTS = "deep link fingerprints"  # the purpose of the key that hashes clicking devices' addresses


class LinkSettingsRejected(ValueError):
    """A link settings document that cannot be saved; ``code`` and ``problems`` say why."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.problems = code, problems or []


@dataclass(frozen=True, slots=True)
class DeferredLink:
    """What an app's first open claimed: the screen to land on and the web page of the same link."""

    screen: str
    url: str
    match: str  # "referrer" (the click id from Android's install referrer) or "fingerprint"


def get_link_settings(services: Services, *, workspace_id: str) -> LinkSettings:
    """Return the workspace's link settings, the defaults when it never set any."""
    stored = services.tracking.get_settings(workspace_id=workspace_id)
    return LinkSettings.model_validate(stored) if stored is not None else LinkSettings()


def do_set_link_settings(services: Services, *, workspace_id: str, data: Any) -> LinkSettings:
    """Validate and store the workspace's link settings; they apply to messages handed over from now on."""
    try:
        settings = parse_link_settings(data)
    except CampaignInvalid as error:
        raise LinkSettingsRejected("invalid_link_settings", str(error), error.problems) from None
    try:
        services.tracking.put_settings(workspace_id=workspace_id, settings=settings.model_dump(mode="json"),
                                       link_domain=settings.link_domain, now=services.clock.now())
    except LinkDomainTaken:
        raise LinkSettingsRejected("link_domain_taken", "another workspace writes its links on this domain",
                                   [{"path": "link_domain", "message": "taken"}]) from None
    return settings


def _apps_for(services: Services, host: str) -> list[LinkSettings]:
    return [LinkSettings.model_validate(stored) for stored in services.tracking.settings_for_host(host=host.lower())]


def apple_association(services: Services, *, host: str) -> dict[str, Any]:
    """Return the apple-app-site-association document served on ``host``."""
    return apple_app_site_association(_apps_for(services, host))


def android_asset_links(services: Services, *, host: str) -> list[dict[str, Any]]:
    """Return the assetlinks.json statements served on ``host``."""
    return asset_links(_apps_for(services, host))


def fingerprint(services: Services, address: str) -> str:
    """Return a keyed hash of a device's network address: matched, never stored in the clear."""
    return hmac.new(services.secrets.signing_key(FINGERPRINTS), address.encode(), sha256).hexdigest()[:40]


def do_claim_deferred(services: Services, *, workspace_id: str, platform: str, os_version: str | None,
                      referrer: str | None, address: str) -> DeferredLink | None:
    """Claim the click an app's first open after install comes from, once, within the window; None when none matches."""
    now = services.clock.now()
    click_id = click_of_referrer(referrer)
    link_id = services.tracking.claim_deferred(
        workspace_id=workspace_id, click_id=click_id, fingerprint=fingerprint(services, address), platform=platform,
        since=now - timedelta(minutes=services.settings.deferred_link_minutes), now=now,
        versions=version_prefixes(os_version))
    link = services.tracking.get_link(link_id=link_id) if link_id else None
    if link is None or link.workspace_id != workspace_id or link.screen is None:
        return None
    return DeferredLink(link.screen, link.url, "referrer" if click_id else "fingerprint")
