"""A workspace's delivery providers: set, show (never their secrets), remove, and route sends to them."""

from __future__ import annotations

import base64
from typing import Any, NoReturn

import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from loopline.actions.receipts import PURPOSE as RECEIPTS_PURPOSE
from loopline.channels.apns import ApnsChannel, ApnsSettings
from loopline.channels.email import DkimKey, SmtpChannel, SmtpSettings
from loopline.channels.fcm import FcmChannel, FcmSettings
from loopline.channels.sms import SmsGatewayChannel, SmsGatewaySettings
from loopline.channels.web_push import WebPushChannel, WebPushSettings
from loopline.channels.webhook import WebhookChannel, WebhookSettings, check_destination
from loopline.domain.consent import CHANNELS
from loopline.domain.providers import (
    CHANNEL_OF,
    AnyProvider,
    ApnsProvider,
    FcmProvider,
    ProviderInvalid,
    SmsGatewayProvider,
    SmtpProvider,
    WebhookProvider,
    WebPushProvider,
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
    if CHANNEL_OF[provider.kind] not in (None, channel):
        raise ProviderRejected("invalid_provider", f"a {provider.kind} provider carries {CHANNEL_OF[provider.kind]},"
                               f" not {channel}", [{"path": "kind", "message": "does not carry this channel"}])
    settings, secrets = split_secrets(provider)
    stored = services.providers.get(workspace_id=workspace_id, channel=channel)
    if stored is not None and stored.kind == provider.kind:
        secrets = {**services.secrets.open(stored.sealed), **secrets}
    settings.update(_check(provider, secrets, allowed=tuple(services.settings.webhook_allowed_networks)))
    services.providers.put(ProviderRow(workspace_id, channel, provider.kind, settings, services.secrets.seal(secrets),
                                       sorted(secrets), services.clock.now()))
    return public_view(settings, set(secrets))


def _check(provider: AnyProvider, secrets: dict[str, str], *, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Refuse what would only fail at send time (a key that does not load, a blocked webhook address);
    return settings the server derives (a web push key's public half)."""
    if isinstance(provider, SmtpProvider) and provider.dkim_domain is not None:
        _private_key(secrets, "dkim_private_key", "an unencrypted PEM private key")
    elif isinstance(provider, SmsGatewayProvider) and "secret" not in secrets:
        _refuse("secret", "an SMS gateway needs its secret (auth token or password)")
    elif isinstance(provider, ApnsProvider):
        key = _private_key(secrets, "private_key", "the .p8 signing key (an EC P-256 PEM private key)")
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            _refuse("private_key", "private_key must be the .p8 signing key (an EC P-256 PEM private key)")
    elif isinstance(provider, FcmProvider):
        _service_account(secrets.get("service_account_json"))
    elif isinstance(provider, WebPushProvider):
        key = _private_key(secrets, "vapid_private_key", "an EC P-256 PEM private key")
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            _refuse("vapid_private_key", "vapid_private_key must be an EC P-256 PEM private key")
        point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {"vapid_public_key": base64.urlsafe_b64encode(point).rstrip(b"=").decode()}
    elif isinstance(provider, WebhookProvider):
        if len(secrets.get("signing_secret", "")) < 24:
            _refuse("signing_secret", "a webhook needs a signing_secret of at least 24 characters")
        blocked = check_destination(provider.url, allowed)
        if blocked:
            _refuse("url", blocked)
    return {}


def _refuse(path: str, message: str) -> NoReturn:
    raise ProviderRejected("invalid_provider", message, [{"path": path, "message": message}])


def _private_key(secrets: dict[str, str], name: str, what: str) -> Any:
    try:
        return load_pem_private_key(secrets.get(name, "").encode(), password=None)
    except (ValueError, TypeError):
        _refuse(name, f"{name} must be {what}")


def _service_account(text: str | None) -> None:
    """Check a Firebase service account key file: JSON with its email, token address and a loadable key."""
    try:
        account = orjson.loads(text or "")
    except orjson.JSONDecodeError:
        _refuse("service_account_json", "service_account_json must be the service account's key file (JSON)")
    if not isinstance(account, dict) or account.get("type") != "service_account":
        _refuse("service_account_json", "service_account_json must be a key file of type service_account")
    for field in ("client_email", "private_key", "token_uri"):
        if not isinstance(account.get(field), str) or not account[field]:
            _refuse("service_account_json", f"the service account's key file has no {field}")
    _private_key({"key": account["private_key"]}, "key", "a PEM private key")


def list_providers(services: Services, *, workspace_id: str) -> list[dict[str, Any]]:
    """Return the workspace's providers as the API shows them: settings, and which secrets are set."""
    return [{"channel": row.channel, **public_view(row.settings, set(row.secret_names))}
            for row in services.providers.in_workspace(workspace_id=workspace_id)]


def do_remove_provider(services: Services, *, workspace_id: str, channel: str) -> bool:
    """Remove the workspace's provider for a channel (its sends go to the default again)."""
    return services.providers.delete(workspace_id=workspace_id, channel=channel)


def delivery_rate(services: Services, *, workspace_id: str, channel: str) -> float | None:
    """Return the messages per second the workspace's provider for ``channel`` allows (None: no limit)."""
    row = services.providers.get(workspace_id=workspace_id, channel=channel)
    rate = row.settings.get("rate_per_second") if row is not None else None
    return float(rate) if rate else None


def channel_for(services: Services, *, workspace_id: str, channel: str) -> Channel:
    """Return what carries ``channel`` for the workspace: its own provider, else the default (the sandbox)."""
    row = services.providers.get(workspace_id=workspace_id, channel=channel)
    if row is None:
        return services.channels[channel]
    return _provider_channel(services, workspace_id, parse_provider(row.settings), services.secrets.open(row.sealed))


def _provider_channel(services: Services, workspace_id: str, provider: AnyProvider,
                      secrets: dict[str, Any]) -> Channel:
    match provider:
        case SmtpProvider():
            dkim = None
            if provider.dkim_domain and provider.dkim_selector and secrets.get("dkim_private_key"):
                dkim = DkimKey(provider.dkim_domain, provider.dkim_selector, secrets["dkim_private_key"].encode())
            return SmtpChannel(SmtpSettings(
                provider.host, provider.port, provider.sender_address, provider.sender_name,
                security=provider.security, username=provider.username, password=secrets.get("password"),
                dkim=dkim, connections=provider.connections))
        case SmsGatewayProvider():
            # Reports come back to this server unless the workspace names another address.
            receipts = provider.receipts_url or (
                f"{services.settings.resolved_public_url}/hooks/sms/{workspace_id}/status")
            return SmsGatewayChannel(SmsGatewaySettings(
                provider.shape, provider.base_url, provider.sender, provider.account, secrets.get("secret", ""),
                receipts_url=receipts, receipts_key=services.secrets.signing_key(RECEIPTS_PURPOSE),
                max_segments=provider.max_segments))
        case FcmProvider():
            return FcmChannel(FcmSettings(
                provider.project_id, orjson.loads(secrets.get("service_account_json", "{}")),
                base_url=provider.base_url, concurrency=provider.concurrency))
        case ApnsProvider():
            return ApnsChannel(ApnsSettings(
                provider.team_id, provider.key_id, secrets.get("private_key", ""), provider.topic,
                base_url=provider.base_url, concurrency=provider.concurrency))
        case WebPushProvider():
            return WebPushChannel(WebPushSettings(
                secrets.get("vapid_private_key", ""), provider.vapid_subject, icon_url=provider.icon_url,
                concurrency=provider.concurrency))
        case WebhookProvider():
            return WebhookChannel(WebhookSettings(
                provider.url, secrets.get("signing_secret", ""), timeout_s=provider.timeout_s,
                allowed_networks=tuple(services.settings.webhook_allowed_networks)))
