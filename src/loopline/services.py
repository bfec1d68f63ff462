"""The set of adapters an action works with, assembled by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from loopline.channels.sandbox import SandboxChannel
from loopline.config import Settings
from loopline.domain.events import IngestLimits
from loopline.ports import Channel, Clock, DashboardStore, EventStore, GeoLocator, Mart, TopicStore
from loopline.store.secret_box import SecretBox
from loopline.store.sql.accounts import SqlAccountStore
from loopline.store.sql.campaigns import SqlCampaignStore, SqlContactPolicyStore
from loopline.store.sql.in_app import SqlInAppStore
from loopline.store.sql.journeys import SqlJourneyStore
from loopline.store.sql.landing_pages import SqlLandingPageStore
from loopline.store.sql.lookups import SqlProfileLookups
from loopline.store.sql.mart_source import SqlMartSource
from loopline.store.sql.media_buys import SqlMediaBuyStore
from loopline.store.sql.overview import SqlOverviewReads
from loopline.store.sql.privacy import SqlPrivacyStore
from loopline.store.sql.profiles import SqlProfileStore
from loopline.store.sql.providers import SqlProviderStore
from loopline.store.sql.segments import SqlSegmentStore
from loopline.store.sql.send_ledger import SqlSendLedger
from loopline.store.sql.suppression_list import SqlSuppressionListStore
from loopline.store.sql.tracking import SqlTrackingStore
from loopline.store.sql.workspaces import SqlWorkspaceStore


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)


@dataclass
class Services:
    """Adapters picked from settings; actions receive this instead of globals."""

    settings: Settings
    engine: sa.Engine
    workspaces: SqlWorkspaceStore
    profiles: SqlProfileStore
    lookups: SqlProfileLookups
    privacy: SqlPrivacyStore
    suppression_list: SqlSuppressionListStore
    segments: SqlSegmentStore
    events: EventStore
    mart: Mart
    mart_source: SqlMartSource
    geo: GeoLocator | None  # None: no GeoIP database configured, events keep explicit locations only
    clock: Clock
    campaigns: SqlCampaignStore
    contact_policies: SqlContactPolicyStore
    send_ledger: SqlSendLedger
    sandbox: SandboxChannel
    journeys: SqlJourneyStore
    channels: dict[str, Channel]  # by channel name: the default for a workspace without its own provider
    providers: SqlProviderStore
    secrets: SecretBox
    in_app: SqlInAppStore  # in-app messages as the SDK reads them
    tracking: SqlTrackingStore  # tracked links, clicks and opens, deferred deep links, link settings
    landing_pages: SqlLandingPageStore  # the pages personalised URLs open
    media_buys: SqlMediaBuyStore  # paid placements measured by their UTM-tagged traffic
    accounts: SqlAccountStore  # console users, their roles per workspace, sessions and the audit log
    overview: SqlOverviewReads  # the counts the console's overview reads from the operational store
    dashboards: DashboardStore  # console users' personal dashboards of saved analytics reports
    topics: TopicStore  # the topic catalogue and the theme of customer-facing pages

    def close(self) -> None:
        """Release every store: the mart first, as it may share the event store's database."""
        self.mart.close()
        self.events.close()
        if self.geo is not None:
            self.geo.close()
        self.engine.dispose()

    @property
    def limits(self) -> IngestLimits:
        """Return the per-event ingest limits from settings."""
        return IngestLimits(
            max_event_bytes=self.settings.max_event_bytes,
            future_tolerance=timedelta(seconds=self.settings.future_timestamp_tolerance_s),
        )

    @property
    def session_timeout(self) -> timedelta:
        """Return the inactivity gap that starts a new session."""
        return timedelta(minutes=self.settings.session_timeout_minutes)
