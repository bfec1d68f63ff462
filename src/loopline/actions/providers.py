"""A workspace's delivery providers: set, show (never their secrets), remove, and route sends to them."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from loopline.channels.email import DkimKey, SmtpChannel, SmtpSettings
from loopline.channels.sms import SmsGatewayChannel, SmsGatewaySettings
from loopline.domain.consent import CHANNELS
from loopline.domain.providers import (
    CHANNEL_OF,
    ProviderInvalid,
    SmsGatewayProvider,
    SmtpProvider,
    parse_provider,
    public_view,
    split_secrets,
)
from loopline.ports import Channel
from loopline.services import Services
from loopline.store.sql.providers import ProviderRow


class ProviderRejected(ValueError):
    """A provider request that cannot be carried out, with a machine-readable code and the problems."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.problems = problems or [{"path": "", "message": message}]


def do_set_provider(services: Services, *, workspace_id: str, channel: str, data: Any) -> dict[str, Any]:
    """Store the workspace's provider for ``channel``; secrets left out keep their stored values."""
    if channel not in CHANNELS:
        raise ProviderRejected("unknown_channel", f"channel must be one of {', '.join(CHANNELS)}")
    try:
        provider = parse_provider(data)
    except ProviderInvalid as error:
        raise ProviderRejected("invalid_provider", str(error), error.problems) from None
    if CHANNEL_OF[provider.kind] != channel:
        raise ProviderRejected("invalid_provider", f"a {provider.kind} provider carries {CHANNEL_OF[provider.kind]},"
                               f" not {channel}", [{"path": "kind", "message": "does not carry this channel"}])
    settings, secrets = split_secrets(provider)
    stored = services.providers.get(workspace_id=workspace_id, channel=channel)
    if stored is not None and stored.kind == provider.kind:
        secrets = {**services.secrets.open(stored.sealed), **secrets}
    _check(provider, secrets)
    services.providers.put(ProviderRow(workspace_id, channel, provider.kind, settings, services.secrets.seal(secrets),
                                       sorted(secrets), services.clock.now()))
    return public_view(settings, set(secrets))


def _check(provider: SmtpProvider | SmsGatewayProvider, secrets: dict[str, str]) -> None:
    """Refuse what would only fail at send time: a DKIM domain without a readable private key."""
    if isinstance(provider, SmtpProvider) and provider.dkim_domain is not None:
        key = secrets.get("dkim_private_key")
        try:
            load_pem_private_key((key or "").encode(), password=None)
        except (ValueError, TypeError):
            raise ProviderRejected("invalid_provider", "dkim_private_key must be an unencrypted PEM private key",
                                   [{"path": "dkim_private_key", "message": "not a PEM private key"}]) from None
    if isinstance(provider, SmsGatewayProvider) and "secret" not in secrets:
        raise ProviderRejected("invalid_provider", "an SMS gateway needs its secret (auth token or password)",
                               [{"path": "secret", "message": "required"}])


def list_providers(services: Services, *, workspace_id: str) -> list[dict[str, Any]]:
    """Return the workspace's providers as the API shows them: settings, and which secrets are set."""
    return [{"channel": row.channel, **public_view(row.settings, set(row.secret_names))}
            for row in services.providers.in_workspace(workspace_id=workspace_id)]


def do_remove_provider(services: Services, *, workspace_id: str, channel: str) -> bool:
    """Remove the workspace's provider for a channel (its sends go to the default again)."""
    return services.providers.delete(workspace_id=workspace_id, channel=channel)


def channel_for(services: Services, *, workspace_id: str, channel: str) -> Channel:
    """Return what carries ``channel`` for the workspace: its own provider, else the default (the sandbox)."""
    row = services.providers.get(workspace_id=workspace_id, channel=channel)
    if row is None:
        return services.channels[channel]
    provider = parse_provider(row.settings)
    secrets = services.secrets.open(row.sealed)
    if isinstance(provider, SmtpProvider):
        dkim = None
        if provider.dkim_domain and provider.dkim_selector and secrets.get("dkim_private_key"):
            dkim = DkimKey(provider.dkim_domain, provider.dkim_selector, secrets["dkim_private_key"].encode())
        return SmtpChannel(SmtpSettings(
            provider.host, provider.port, provider.sender_address, provider.sender_name, security=provider.security,
            username=provider.username, password=secrets.get("password"), dkim=dkim))
    return SmsGatewayChannel(SmsGatewaySettings(
        provider.shape, provider.base_url, provider.sender, provider.account, secrets.get("secret", ""),
        receipts_url=provider.receipts_url, max_segments=provider.max_segments))
