"""The composition root: the only place that picks adapters from settings."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import datetime

from loopline.actions.campaign_runs import CampaignRunner
from loopline.actions.ingest import IngestPipeline
from loopline.actions.journeys import JourneyEngine
from loopline.actions.keys import KeyRing
from loopline.actions.periodic import Periodic
from loopline.actions.projection import Projector
from loopline.actions.scheduler import Scheduler
from loopline.actions.segment_maintenance import SegmentMaintainer
from loopline.channels.in_app import InAppChannel
from loopline.channels.sandbox import SandboxChannel
from loopline.config import Settings
from loopline.domain.consent import CHANNELS
from loopline.geo import open_geo_locator
from loopline.ingest.writer import GroupCommitWriter
from loopline.services import Services, SystemClock
from loopline.store import migrations
from loopline.store.events import open_event_store
from loopline.store.mart import open_mart
from loopline.store.secret_box import SecretBox
from loopline.store.sql.accounts import SqlAccountStore
from loopline.store.sql.campaigns import SqlCampaignStore, SqlContactPolicyStore
from loopline.store.sql.dashboards import SqlDashboardStore
from loopline.store.sql.engine import WalCheckpoints, create_store_engine
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
from loopline.store.sql.topics import SqlTopicStore
from loopline.store.sql.tracking import SqlTrackingStore
from loopline.store.sql.workspaces import SqlWorkspaceStore

YOUNG_COLLECTION_EVERY = 10_000


def freeze_start_up_objects() -> None:
    """Leave what start-up built out of the garbage collector's passes, for the life of the process.

    A platform process imports its libraries and opens its stores once, then runs for days:
    those hundreds of thousands of objects never become garbage, yet every full collection
    walked them all (a seventh of a campaign's time per message went to collections before).
    One collection first, so nothing already unreachable is kept for good. Call it once a
    process has started its services, never per request (``loopline serve`` does).

    The youngest generation is also collected every 10,000 new objects instead of 700: a
    campaign batch makes a few hundred thousand short-lived ones, and reference counting
    frees nearly all of them without a collection.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


def open_services(settings: Settings) -> Services:
    """Open the stores named by the settings, upgrading the operational schema first."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_store_engine(settings.resolved_database_url)
    migrations.upgrade(engine)
    events = open_event_store(settings.resolved_analytics_url)
    mart = open_mart(settings.resolved_analytics_url, events)
    clock = SystemClock()
    sandbox = SandboxChannel(engine, clock)
    services = Services(
        settings=settings,
        engine=engine,
        workspaces=SqlWorkspaceStore(engine),
        profiles=SqlProfileStore(engine),
        lookups=SqlProfileLookups(engine),
        privacy=SqlPrivacyStore(engine),
        suppression_list=SqlSuppressionListStore(engine),
        segments=SqlSegmentStore(engine),
        events=events,
        mart=mart,
        mart_source=SqlMartSource(engine),
        geo=open_geo_locator(settings.geoip_database),
        clock=clock,
        campaigns=SqlCampaignStore(engine),
        contact_policies=SqlContactPolicyStore(engine),
        send_ledger=SqlSendLedger(engine),
        sandbox=sandbox,
        journeys=SqlJourneyStore(engine),
        channels=dict.fromkeys(CHANNELS, sandbox),
        providers=SqlProviderStore(engine),
        secrets=SecretBox.for_settings(
            settings.secrets_key.get_secret_value() if settings.secrets_key else None, settings.data_dir),
        in_app=SqlInAppStore(engine),
        tracking=SqlTrackingStore(engine),
        landing_pages=SqlLandingPageStore(engine),
        media_buys=SqlMediaBuyStore(engine),
        accounts=SqlAccountStore(engine),
        overview=SqlOverviewReads(engine),
        dashboards=SqlDashboardStore(engine),
        topics=SqlTopicStore(engine),
    )
    # In-app messages are stored for the SDK to read, and listed in the outbox as well.
    services.channels["in_app"] = InAppChannel(services.in_app, _ServicesClock(services), outbox=sandbox)
    return services


class _ServicesClock:
    """The clock the services hold at the moment, for adapters built before it may be replaced (tests set one)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def now(self) -> datetime:
        """Return the services' current time."""
        return self._services.clock.now()


@dataclass
class Runtime:
    """A running platform: services plus the ingest writer, projector and key ring."""

    services: Services
    writer: GroupCommitWriter
    projector: Projector
    pipeline: IngestPipeline
    keys: KeyRing
    segments: SegmentMaintainer
    scheduler: Scheduler
    checkpoints: WalCheckpointing | None = None
    stopped: bool = False

    def start(self) -> None:
        """Load what taking events needs, then start the background threads."""
        self.services.events.warm_up()
        self.writer.start()
        self.projector.start()
        self.segments.start()
        self.scheduler.start()
        if self.checkpoints is not None:
            self.checkpoints.start()

    def stop(self) -> None:
        """Commit what is queued, project it, and release the stores (once: stopping again does nothing)."""
        if self.stopped:
            return
        self.stopped = True
        self.scheduler.stop()
        if self.checkpoints is not None:
            self.checkpoints.stop()
        self.segments.stop()
        self.writer.stop()
        self.projector.stop()
        self.projector.catch_up()
        self.services.close()


def build_runtime(settings: Settings) -> Runtime:
    """Assemble a runtime from settings (not yet started)."""
    services = open_services(settings)
    projector = Projector(services)
    writer = GroupCommitWriter(
        services.events,
        max_queue_events=settings.ingest_queue_events,
        interval_s=settings.ingest_commit_interval_ms / 1000,
        on_commit=projector.notify,
    )
    projector.watch_pressure(writer.pressure)
    pipeline = IngestPipeline(services, writer)
    journeys = JourneyEngine(services, pipeline)
    if settings.journey_triggers_after_projection:
        # Journeys act on events as soon as they are on a profile, not on the scheduler's next tick.
        projector.after_each_step(journeys.catch_up)
    return Runtime(
        services=services,
        writer=writer,
        projector=projector,
        pipeline=pipeline,
        keys=KeyRing(services.workspaces, failed_per_minute=settings.failed_key_attempts_per_minute),
        segments=SegmentMaintainer(services, pipeline),
        scheduler=Scheduler(CampaignRunner(services, pipeline=pipeline), journeys),
        checkpoints=wal_checkpoints(services),
    )


class WalCheckpointing(Periodic):
    """Checkpoints the embedded store's log every interval (see WalCheckpoints) until stopped."""

    def __init__(self, checkpoints: WalCheckpoints, *, interval: float) -> None:
        super().__init__(name="wal-checkpoints", interval=interval, step=checkpoints.run_once)
        self.checkpoints = checkpoints

    def stop(self) -> None:
        """Stop the thread, then close its connection."""
        super().stop()
        self.checkpoints.close()


def wal_checkpoints(services: Services) -> WalCheckpointing | None:
    """Return the thread that checkpoints the embedded store's log; None when it is off or the store is not SQLite."""
    interval = services.settings.sqlite_checkpoint_interval_s
    if interval <= 0 or services.engine.dialect.name != "sqlite":
        return None
    return WalCheckpointing(WalCheckpoints(services.engine), interval=interval)
