"""A workspace's delivery providers: which relay or gateway carries a channel, and as whom.

Secrets (passwords, tokens, signing keys) are write-only: they are sealed before they are
stored, never returned by the API, and a change that leaves one out keeps the stored one —
so an operator can change the sender name without retyping the relay's password.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loopline.domain.segments.definition import problems_of

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
Host = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")]
Url = Annotated[str, Field(min_length=8, max_length=2_000, pattern=r"^https?://[^\s]+$")]
Secret = Annotated[str | None, Field(default=None, min_length=1, max_length=20_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Provider(_Model):
    # What the provider allows (a plan's messages per second): more waits in the queue.
    rate_per_second: float | None = Field(default=None, gt=0, le=100_000)


class SmtpProvider(_Provider):
    """Email through an SMTP relay, signed with the sending domain's DKIM key when one is given."""

    kind: Literal["smtp"]
    host: Host
    port: int = Field(default=587, ge=1, le=65_535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = Field(default=None, max_length=320)
    password: Secret = None
    sender_address: str = Field(min_length=3, max_length=320)
    sender_name: str = Field(default="", max_length=200)
    dkim_domain: str | None = Field(default=None, max_length=255, pattern=r"^[A-Za-z0-9.\-]+$")
    dkim_selector: str | None = Field(default=None, max_length=63, pattern=r"^[A-Za-z0-9.\-_]+$")
    dkim_private_key: Secret = None
    events_secret: Secret = None  # signs the relay's or ESP's delivery, bounce and complaint webhooks
    connections: int = Field(default=1, ge=1, le=20)  # SMTP sessions a batch is spread over

    @field_validator("sender_address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _ADDRESS.match(value):
            raise ValueError("the sender address must be an email address, like news@shop.example")
        return value

    @model_validator(mode="after")
    def _dkim_whole(self) -> SmtpProvider:
        if (self.dkim_domain is None) != (self.dkim_selector is None):
            raise ValueError("DKIM takes both dkim_domain and dkim_selector (and the key), or none of them")
        return self


class SmsGatewayProvider(_Provider):
    """SMS through an HTTP gateway speaking the Twilio or the Kannel request shape."""

    kind: Literal["sms_gateway"]
    shape: Literal["twilio", "kannel"]
    base_url: Url
    sender: str = Field(min_length=1, max_length=20)
    account: str = Field(min_length=1, max_length=200)
    secret: Secret = None
    receipts_url: Url | None = None
    max_segments: int = Field(default=10, ge=1, le=10)
    # Replies to inbound keywords (sent back in the webhook's answer, once per change).
    help_text: str = Field(default="Reply STOP to unsubscribe, START to subscribe again.", min_length=1,
                           max_length=320)
    stop_text: str = Field(default="You are unsubscribed and will get no more messages. Reply START to subscribe "
                           "again.", min_length=1, max_length=320)
    start_text: str = Field(default="You are subscribed again. Reply STOP to unsubscribe.", min_length=1,
                            max_length=320)


class FcmProvider(_Provider):
    """Native push through Firebase Cloud Messaging (HTTP v1), as the project's service account."""

    kind: Literal["fcm"]
    project_id: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9\-]*$")
    base_url: Url = "https://fcm.googleapis.com"
    service_account_json: Secret = None  # the key file Firebase gives, as text
    concurrency: int = Field(default=50, ge=1, le=500)


class ApnsProvider(_Provider):
    """Native push to Apple devices over APNs (HTTP/2), with a token-based (.p8) provider key."""

    kind: Literal["apns"]
    team_id: str = Field(min_length=10, max_length=10, pattern=r"^[A-Z0-9]{10}$")
    key_id: str = Field(min_length=10, max_length=10, pattern=r"^[A-Z0-9]{10}$")
    topic: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.\-]+$")  # the app's bundle id
    base_url: Url = "https://api.push.apple.com"  # https://api.sandbox.push.apple.com for development builds
    private_key: Secret = None  # the .p8 key (ES256), as text
    concurrency: int = Field(default=50, ge=1, le=500)


class WebPushProvider(_Provider):
    """Web push to browsers' push services, signed with the workspace's VAPID key (RFC 8292)."""

    kind: Literal["web_push"]
    vapid_subject: str = Field(min_length=8, max_length=320, pattern=r"^(mailto:[^\s@]+@[^\s@]+|https://[^\s]+)$")
    vapid_private_key: Secret = None  # PEM; its public half is what the web SDK subscribes with
    vapid_public_key: str | None = Field(default=None, max_length=200)  # derived by the server when saved
    icon_url: str | None = Field(default=None, max_length=2_000, pattern=r"^https://[^\s]+$")
    concurrency: int = Field(default=50, ge=1, le=500)


class WebhookProvider(_Provider):
    """Any channel handed to the workspace's own service: a signed JSON POST per message."""

    kind: Literal["webhook"]
    url: Url
    signing_secret: Secret = None
    timeout_s: float = Field(default=10.0, gt=0, le=60)


AnyProvider = SmtpProvider | SmsGatewayProvider | FcmProvider | ApnsProvider | WebPushProvider | WebhookProvider
Provider = Annotated[AnyProvider, Field(discriminator="kind")]

CHANNEL_OF: dict[str, str | None] = {"smtp": "email", "sms_gateway": "sms", "fcm": "push", "apns": "push",
                                     "web_push": "web_push", "webhook": None}
"""The channel each kind of provider carries (None: whichever channel it is set for)."""
SECRETS = {
    "smtp": ("password", "dkim_private_key", "events_secret"),
    "sms_gateway": ("secret",),
    "fcm": ("service_account_json",),
    "apns": ("private_key",),
    "web_push": ("vapid_private_key",),
    "webhook": ("signing_secret",),
}
"""The write-only fields of each kind."""


class ProviderInvalid(ValueError):
    """A provider that cannot be used, with every problem found."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path'] or 'provider'}: {p['message']}" for p in problems))
        self.problems = problems


class _Envelope(_Model):
    provider: Provider


def parse_provider(data: Any) -> AnyProvider:
    """Return the provider ``data`` describes; raise ProviderInvalid with every problem otherwise."""
    try:
        return _Envelope.model_validate({"provider": data}).provider
    except ValidationError as error:
        problems = []
        for problem in problems_of(error):
            path = problem["path"].removeprefix("provider").lstrip(".")
            for kind in SECRETS:  # the discriminator's tag is not part of the document's path
                path = path.removeprefix(kind).lstrip(".") if path.split(".")[0] == kind else path
            problems.append({"path": path, "message": problem["message"]})
        raise ProviderInvalid(problems) from None


def split_secrets(provider: AnyProvider) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the provider's public settings and its secrets (only those given)."""
    data = provider.model_dump(mode="json")
    secrets = {name: data.pop(name) for name in SECRETS[provider.kind] if name in data}
    return data, {name: value for name, value in secrets.items() if value is not None}


def public_view(settings: dict[str, Any], secret_names: set[str]) -> dict[str, Any]:
    """Return what the API shows of a stored provider: its settings and which secrets are set."""
    kind = str(settings.get("kind"))
    return {**settings, "secrets": {name: name in secret_names for name in SECRETS.get(kind, ())}}
