"""Settings read from the environment (``LOOPLINE_*``) and an optional TOML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path:
    return Path(os.environ.get("LOOPLINE_CONFIG_FILE", "loopline.toml"))


class Settings(BaseSettings):
    """Every setting Loopline reads; each one is documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="LOOPLINE_", extra="forbid")

    data_dir: Path = Field(
        default=Path(".loopline"),
        description="Directory for the embedded stores (SQLite, DuckDB) and the server file.",
    )
    database_url: str | None = Field(
        default=None,
        description="Operational store URL; defaults to SQLite in the data directory.",
    )
    analytics_url: str | None = Field(
        default=None,
        description="Event and analytics store URL (duckdb:///path or postgresql://...); "
        "defaults to DuckDB in the data directory.",
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Key (Fernet, urlsafe base64 of 32 bytes) sealing providers' credentials at rest; "
        "without it one is made in the data directory, which suits a single server. Set it when "
        "several processes share the operational store.",
    )
    geoip_database: Path | None = Field(
        default=None,
        description="MaxMind-format GeoIP database (.mmdb) used to place events by their IP address.",
    )
    host: str = Field(default="127.0.0.1", description="Address `loopline serve` binds to.")
    port: int = Field(default=8000, description="Port `loopline serve` listens on.")
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) webhooks may reach although they are not public, e.g. an on-premise receiver. "
                    "Every other private, loopback, link-local or reserved address is refused.",
    )
    public_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Address customers reach this server at, for the links in messages (one-click unsubscribe, "
                    "tracking). Use https in production: mailbox providers ignore an http unsubscribe link. "
                    "Default: http://host:port.",
    )
    max_event_bytes: int = Field(default=32 * 1024, description="Largest accepted event.")
    max_batch_bytes: int = Field(
        default=500 * 1024, description="Largest accepted request body after decompression."
    )
    ingest_queue_events: int = Field(
        default=200_000,
        description="Events waiting for commit before ingest answers 503 with Retry-After.",
    )
    ingest_commit_interval_ms: float = Field(
        default=2.0,
        description="How long the group-commit writer waits to gather more events.",
    )
    workspace_events_per_second: int = Field(
        default=100_000,
        description="Per-workspace ingest rate limit; above it ingest answers 429.",
    )
    failed_key_attempts_per_minute: int = Field(
        default=60,
        ge=1,
        description="Rejected keys one client address may present per minute before it gets 429.",
    )
    projection_interval_ms: float = Field(
        default=250.0,
        description="How long the projector lets committed events gather before a step when ingest is "
        "saturated; it does not wait below half of saturation, and waits more as the load rises.",
    )
    projection_batch_events: int = Field(
        default=50_000, ge=1, description="Most events the projector applies in one step."
    )
    projection_cpu_share: float = Field(
        default=0.02,
        gt=0.0,
        le=1.0,
        description="Largest share of time the projector spends while ingest is saturated, so acks keep priority.",
    )
    session_timeout_minutes: int = Field(
        default=30, description="Inactivity that ends a session in computed properties."
    )
    segment_query_timeout_s: float = Field(
        default=5.0, gt=0, le=600,
        description="Time limit of a segment estimate, member page or export query; past it the request gets 422.",
    )
    segment_estimate_sample_above: int = Field(
        default=100_000, ge=0,
        description="Workspaces with more profiles than this get segment estimates from a sample of them.",
    )
    segment_estimate_sample_percent: int = Field(
        default=10, ge=1, le=100,
        description="The share of profiles (chosen by a hash of their id) a sampled estimate evaluates.",
    )
    report_query_timeout_s: float = Field(
        default=30.0, gt=0, le=3_600,
        description="Time limit of each query of an analytics report; past it the request gets 422.",
    )
    segment_refresh_timeout_s: float = Field(
        default=300.0, gt=0, le=86_400,
        description="Time limit of the queries that refresh one segment's members.",
    )
    segment_refresh_interval_s: float = Field(
        default=60.0, gt=0,
        description="How often members of every segment are brought up to date with the profiles that changed.",
    )
    segment_full_refresh_minutes: int = Field(
        default=60, ge=1,
        description="How often each segment is evaluated for everyone (time moves people between segments too).",
    )
    future_timestamp_tolerance_s: int = Field(
        default=86_400,
        description="Corrected timestamps further in the future than this are flagged and clamped.",
    )
    campaign_max_lateness_minutes: int = Field(
        default=60, ge=0,
        description="A campaign whose start is overdue by more than this (the platform was down) waits for a person "
                    "instead of starting by itself.",
    )
    campaign_batch_size: int = Field(
        default=1_000, ge=1, le=50_000,
        description="Customers a campaign claims, renders and hands over per transaction.",
    )
    sqlite_checkpoint_interval_s: float = Field(
        default=0.25, ge=0,
        description="How often a running server copies the embedded store's write-ahead log into its file, from a "
                    "thread of its own (0: writers do it when the log is long).",
    )
    campaign_lease_s: float = Field(
        default=60.0, gt=0,
        description="How long a scheduler owns a running campaign without renewing; then another may take it over.",
    )
    scheduler_interval_s: float = Field(
        default=1.0, gt=0,
        description="How often the scheduler looks for due campaigns and due deferred sends.",
    )
    send_unknown_after_s: float = Field(
        default=300.0, gt=0,
        description="A send handed to a channel with no answer after this long is settled by asking the channel.",
    )
    journey_triggers_after_projection: bool = Field(
        default=True,
        description="Act on journey triggers right after each projection step (else on the scheduler's tick only).",
    )
    render_time_limit_ms: float = Field(
        default=200.0, gt=0, le=10_000,
        description="Longest a message template may take to render; past it the send fails with render_limit.",
    )
    in_app_stream_max_seconds: float = Field(
        default=60.0, gt=0, le=3_600,
        description="Longest an in-app message stream stays open; the browser then reconnects by itself. "
                    "A graceful shutdown waits for open streams this long at most.",
    )
    in_app_stream_poll_s: float = Field(
        default=1.0, gt=0, le=60,
        description="How often each server process looks for new in-app messages for its open streams.",
    )
    tracking_link_days: int = Field(
        default=365, ge=1, le=3_650,
        description="How long tracked links in messages keep redirecting (and open pixels keep counting); "
                    "an older link answers 404.",
    )
    deferred_link_minutes: int = Field(
        default=60, ge=1, le=7 * 24 * 60,
        description="How long after a click on a phone without the app the app's first open may claim it "
                    "(deferred deep link).",
    )
    console_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 90,
        description="Longest a console sign-in lasts; then the person signs in again.",
    )
    console_idle_minutes: float = Field(
        default=60.0, gt=0, le=24 * 60 * 90,
        description="A console session without a request for this long ends.",
    )
    landing_page_submissions_per_minute: int = Field(
        default=10, ge=1, le=10_000,
        description="Form submissions per personalised link per minute (and ten times as many per client address "
                    "over all links); more answer 429 with the seconds to wait.",
    )
    console_login_attempts_per_minute: int = Field(
        default=5, ge=1, le=1_000,
        description="Sign-in attempts per e-mail address and client address per minute; more are refused "
                    "for a while with a clear message.",
    )
    log_level: str = Field(default="INFO", description="Log level for the server and workers.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Let explicit arguments win over the environment, and the environment over the file."""
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @property
    def resolved_public_url(self) -> str:
        """Return the address links in messages point at, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        """Return the operational store URL, the embedded SQLite file when none is set."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'loopline.sqlite3'}"

    @property
    def resolved_analytics_url(self) -> str:
        """Return the event store URL, the embedded DuckDB file when none is set."""
        if self.analytics_url:
            return self.analytics_url
        return f"duckdb:///{self.data_dir.resolve() / 'events.duckdb'}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and the optional TOML file."""
    return Settings(**overrides)
