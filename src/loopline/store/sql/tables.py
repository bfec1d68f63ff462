"""Tables of the operational store. Every row belongs to one workspace."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()
Json = sa.JSON().with_variant(JSONB(), "postgresql")
When = sa.DateTime(timezone=True)

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", When, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("label", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", When, nullable=False),
    sa.Column("revoked_at", When),
    sa.Index("ix_api_keys_workspace", "workspace_id"),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("traits", Json, nullable=False),
    sa.Column("trait_times", Json, nullable=False),
    sa.Column("computed", Json, nullable=False),
    sa.Column("merged_into", sa.String(40)),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Index("ix_profiles_workspace", "workspace_id", "updated_at"),
    # The mart copies what changed since its watermark, across workspaces.
    sa.Index("ix_profiles_updated", "updated_at"),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(320), primary_key=True),
    sa.Column("profile_id", sa.String(40), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Index("ix_identities_profile", "workspace_id", "profile_id"),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("device_id", sa.String(256), primary_key=True),
    sa.Column("profile_id", sa.String(40), nullable=False),
    sa.Column("platform", sa.String(32)),
    sa.Column("os_name", sa.String(64)),
    sa.Column("os_version", sa.String(64)),
    sa.Column("app_name", sa.String(128)),
    sa.Column("app_version", sa.String(64)),
    sa.Column("app_build", sa.String(64)),
    sa.Column("manufacturer", sa.String(128)),
    sa.Column("model", sa.String(128)),
    sa.Column("push_token", sa.String(512)),
    sa.Column("advertising_id", sa.String(128)),
    sa.Column("first_seen", When, nullable=False),
    sa.Column("last_seen", When, nullable=False),
    sa.Index("ix_devices_profile", "workspace_id", "profile_id"),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("profile_id", sa.String(40), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("topic", sa.String(100), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Index("ix_consents_updated", "updated_at"),
)

suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("value_hash", sa.String(64), primary_key=True),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("created_at", When, nullable=False),
)

# The suppression list: addresses never to be messaged on a channel (bounces, complaints,
# carrier opt-outs, manual entries). Unlike ``suppressions`` it holds the address itself,
# normalised per channel, because delivery must compare it with the address it sends to.
contact_suppressions = sa.Table(
    "contact_suppressions",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("address", sa.String(512), primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("note", sa.String(500)),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
)

merges = sa.Table(
    "merges",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("winner_id", sa.String(40), nullable=False),
    sa.Column("loser_id", sa.String(40), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("at", When, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("moved", Json, nullable=False),
    sa.Column("winner_snapshot", Json, nullable=False),
    sa.Column("loser_snapshot", Json, nullable=False),
    sa.Column("undone_at", When),
    sa.Index("ix_merges_profiles", "workspace_id", "winner_id", "loser_id"),
)

projection_cursors = sa.Table(
    "projection_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("reference", sa.String(320), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("deleted_events", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("requested_at", When, nullable=False),
    sa.Column("completed_at", When),
    sa.UniqueConstraint("workspace_id", "reference", name="uq_erasures_reference"),
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(300), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows_done", sa.Integer, nullable=False),
    sa.Column("rows_failed", sa.Integer, nullable=False),
    sa.Column("errors", Json, nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.UniqueConstraint("workspace_id", "file_sha256", name="uq_imports_file"),
)

# Segments: a versioned definition each; ``builtin`` names the lifecycle segment a row is
# (new, active, at_risk…), NULL for the workspace's own. Members live in the mart.
segments = sa.Table(
    "segments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("definition", Json, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("builtin", sa.String(40)),
    sa.Column("member_count", sa.BigInteger),
    sa.Column("refreshed_at", When),
    sa.Column("refreshed_version", sa.Integer),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.UniqueConstraint("workspace_id", "name", name="uq_segments_name"),
)

# Membership over time: one row per refresh, full or incremental.
segment_counts = sa.Table(
    "segment_counts",
    metadata,
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("segment_id", sa.String(40), primary_key=True),
    sa.Column("at", When, primary_key=True),
    sa.Column("members", sa.BigInteger, nullable=False),
    sa.Column("entered", sa.BigInteger, nullable=False),
    sa.Column("exited", sa.BigInteger, nullable=False),
    sa.Column("full", sa.Boolean, nullable=False),
)

# Campaigns: the definition (JSON, validated by domain.campaigns), where the lifecycle
# stands, and the run's durable progress: which occurrence is running, the cursor (the
# last profile id whose sends are settled), and a lease so only one scheduler runs it.
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("definition", Json, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("next_run_at", When),
    sa.Column("occurrence", sa.String(40)),
    sa.Column("run_started_at", When),
    sa.Column("cursor", sa.String(40), nullable=False, server_default=""),
    sa.Column("audience_done", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("claimed", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", When),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Column("completed_at", When),
    # The send-key format the current run claims under (domain.send_ledger.KEY_FORMAT); None
    # for a run begun before it was recorded, whose claims also look up format-1 keys.
    sa.Column("key_format", sa.SmallInteger),
    sa.UniqueConstraint("workspace_id", "name", name="uq_campaigns_name"),
    sa.Index("ix_campaigns_due", "status", "next_run_at"),
)

# The send ledger: one row per intended message, named by its send key. The unique key
# is what makes a claim idempotent (a resumed run, a second scheduler, a redelivered
# trigger find the row instead of sending again). ``payload`` holds the rendered message
# until it is handed over; erasure removes it with the rest of the person.
sends = sa.Table(
    "sends",
    metadata,
    sa.Column("send_key", sa.String(44), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("source_kind", sa.String(16), nullable=False),
    sa.Column("source_id", sa.String(40), nullable=False),
    sa.Column("step", sa.String(100), nullable=False, server_default=""),
    sa.Column("occurrence", sa.String(64), nullable=False, server_default=""),
    sa.Column("profile_id", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(512)),
    sa.Column("variant", sa.String(200)),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("rank", sa.SmallInteger, nullable=False, server_default="5"),
    sa.Column("topic", sa.String(100), nullable=False),
    sa.Column("offer", sa.String(200)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False, server_default=""),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    sa.Column("not_before", When),
    sa.Column("expires_at", When),
    sa.Column("payload", Json),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Column("sent_at", When),
    # What the provider reported afterwards (delivery receipts, bounces, complaints); it only
    # ever moves up: delivered < undelivered < bounced < complained.
    sa.Column("receipt", sa.String(16)),
    sa.Column("receipt_at", When),
    sa.Column("handed_at", When),  # the claimed send was about to reach its provider (see mark_handed)
    sa.Index("ix_sends_profile", "workspace_id", "profile_id", "created_at"),
    sa.Index("ix_sends_due", "state", "not_before"),
    sa.Index("ix_sends_source", "source_id", "occurrence", "state"),
    sa.Index("ix_sends_changed", "updated_at", "send_key"),  # the mart copies the sends in this order
)

# The workspace's contact policy (caps, quiet hours, consent rules, global control group).
contact_policies = sa.Table(
    "contact_policies",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("policy", Json, nullable=False),
    sa.Column("updated_at", When, nullable=False),
)

# What the sandbox channel "delivered": the console's outbox, one row per send key.
sandbox_outbox = sa.Table(
    "sandbox_outbox",
    metadata,
    sa.Column("send_key", sa.String(44), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("profile_id", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(512)),
    sa.Column("subject", sa.Text),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("source_id", sa.String(40), nullable=False),
    sa.Column("delivered_at", When, nullable=False),
    sa.Index("ix_sandbox_outbox_workspace", "workspace_id", "delivered_at"),
)

# In-app messages, one row per send: what the SDK shows a customer and what they did with it
# (pending < viewed < clicked < dismissed; the state never moves down). ``options`` holds the
# layout, buttons and display rules; ``expires_at`` is the ``until`` rule or the default lifetime.
in_app_messages = sa.Table(
    "in_app_messages",
    metadata,
    sa.Column("send_key", sa.String(44), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("profile_id", sa.String(40), nullable=False),
    sa.Column("source_id", sa.String(40), nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("options", Json, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("expires_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Index("ix_in_app_messages_profile", "workspace_id", "profile_id", "created_at"),
)

# Journeys: the current version number and status; every version's definition is kept,
# because enrolments finish on the version they started with.
journeys = sa.Table(
    "journeys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("active_since", When),  # events received before it do not trigger entries
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    # False for a journey whose enrolments moved before moves were counted (journey_moves):
    # its flow's paths keep the counts the graph's shape implies.
    sa.Column("moves_counted", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.UniqueConstraint("workspace_id", "name", name="uq_journeys_name"),
)

# How many enrolments followed each link of a journey (from step → to step, "" where the
# path ends), counted in the transaction that saves where they stand.
journey_moves = sa.Table(
    "journey_moves",
    metadata,
    sa.Column("journey_id", sa.String(40), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("target", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("moves", sa.BigInteger, nullable=False),
)

journey_versions = sa.Table(
    "journey_versions",
    metadata,
    sa.Column("journey_id", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("definition", Json, nullable=False),
    sa.Column("created_at", When, nullable=False),
)

# One customer's way through a journey. ``entry_key`` makes entering idempotent: "once"
# for once-only journeys (so a second entry can never be stored), else the triggering
# event's message id (so a redelivered or replayed trigger finds the enrolment).
enrollments = sa.Table(
    "enrollments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("journey_id", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("profile_id", sa.String(40), nullable=False),
    sa.Column("entry_key", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("step_id", sa.String(64)),
    sa.Column("wake_at", When),
    sa.Column("waiting_for", Json),
    sa.Column("visits", sa.Integer, nullable=False),
    sa.Column("done_reason", sa.String(32), nullable=False, server_default=""),
    sa.Column("trigger", Json, nullable=False),
    sa.Column("entered_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Column("key_format", sa.SmallInteger),  # as for campaigns: None for an enrolment begun before it was kept
    sa.UniqueConstraint("journey_id", "profile_id", "entry_key", name="uq_enrollments_entry"),
    sa.Index("ix_enrollments_wake", "state", "wake_at"),
    sa.Index("ix_enrollments_profile", "workspace_id", "profile_id", "state"),
)

# A workspace's delivery provider per channel: public settings, and the secrets sealed.
channel_providers = sa.Table(
    "channel_providers",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("settings", Json, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("secret_names", Json, nullable=False),
    sa.Column("updated_at", When, nullable=False),
)

# Tracked links: one row per link of a handed-over message (``position`` 1, 2…) and one for its
# open pixel (``position`` 0). ``id`` is the token in the link; ``url`` is exactly where it
# redirects (UTM parameters included), ``screen`` the app screen of a smart link.
tracked_links = sa.Table(
    "tracked_links",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("send_key", sa.String(44), nullable=False),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("label", sa.String(100), nullable=False, server_default=""),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("screen", sa.Text),
    sa.Column("created_at", When, nullable=False),
    sa.Index("ix_tracked_links_send", "workspace_id", "send_key"),
)

# Every click on a tracked link and every load of an open pixel, people's and machines' (``bot``).
link_hits = sa.Table(
    "link_hits",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("link_id", sa.String(24), nullable=False),
    sa.Column("send_key", sa.String(44), nullable=False),
    sa.Column("at", When, nullable=False),
    sa.Column("bot", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False, server_default=""),
    sa.Column("route", sa.String(8), nullable=False),
    sa.Column("device", sa.String(16), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Index("ix_link_hits_link", "link_id", "at"),
    sa.Index("ix_link_hits_send", "send_key", "at"),
)

# Clicks on phones that went to the app page (the app may be missing): the app's first open
# claims one, by the click id in Android's install referrer or by the device's fingerprint
# (a keyed hash of its address, its platform and OS version), once, within a window.
deferred_links = sa.Table(
    "deferred_links",
    metadata,
    sa.Column("click_id", sa.String(32), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("link_id", sa.String(24), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("os_version", sa.String(16), nullable=False, server_default=""),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("claimed_at", When),
    sa.Index("ix_deferred_links_match", "workspace_id", "fingerprint", "created_at"),
)

# A workspace's link settings: UTM parameters, its apps for smart deep links, its link domain
# (unique: the .well-known documents of a link domain name that one workspace's apps).
link_settings = sa.Table(
    "link_settings",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("settings", Json, nullable=False),
    sa.Column("link_domain", sa.String(253)),
    sa.Column("updated_at", When, nullable=False),
    sa.UniqueConstraint("link_domain", name="uq_link_settings_domain"),
)

# Landing pages: what a personalised URL (``purl:{slug}`` in a message) opens for one customer.
# ``definition`` holds the templates and the form (validated by domain.landing_pages); the slug
# is unique per workspace because messages name pages by it.
landing_pages = sa.Table(
    "landing_pages",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("slug", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("definition", Json, nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.UniqueConstraint("workspace_id", "slug", name="uq_landing_pages_slug"),
)

# Media buys: paid placements (ads, search, print, affiliates) measured by their UTM-tagged
# traffic. ``definition`` is validated by domain.media_buys; names are unique per workspace.
media_buys = sa.Table(
    "media_buys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("definition", Json, nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.UniqueConstraint("workspace_id", "name", name="uq_media_buys_name"),
)

# People who sign in to the console. Users are instance-wide (one person may work in several
# workspaces); what they may do in a workspace is their membership's role. Emails are stored
# lowercased and unique; ``password_hash`` is an argon2 hash in PHC format, never a password.
console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Column("disabled_at", When),
    sa.UniqueConstraint("email", name="uq_console_users_email"),
)

# A user's role in one workspace (admin, marketer, analyst, agent); no row, no access.
console_memberships = sa.Table(
    "console_memberships",
    metadata,
    sa.Column("user_id", sa.String(40), sa.ForeignKey("console_users.id"), primary_key=True),
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Index("ix_console_memberships_workspace", "workspace_id"),
)

# Signed-in browsers. Only a SHA-256 of the session token is kept, so a copy of this table
# lets nobody sign in; a session ends at ``expires_at`` or after an idle gap since ``seen_at``.
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("console_users.id"), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("seen_at", When, nullable=False),
    sa.Column("expires_at", When, nullable=False),
    sa.Column("client", sa.String(64), nullable=False, server_default=""),
    sa.Column("user_agent", sa.String(200), nullable=False, server_default=""),
    sa.Index("ix_console_sessions_user", "user_id"),
)

# What people did in the console and to accounts: who, in which workspace (none for
# instance-wide changes), what, to what, with details, when and from where. Append-only.
console_audit = sa.Table(
    "console_audit",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("at", When, nullable=False),
    sa.Column("user_id", sa.String(40)),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("workspace_id", sa.String(40)),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(254), nullable=False, server_default=""),
    sa.Column("detail", Json, nullable=False),
    sa.Column("client", sa.String(64), nullable=False, server_default=""),
    sa.Index("ix_console_audit_workspace", "workspace_id", "at"),
    sa.Index("ix_console_audit_at", "at"),
)

# A console user's personal dashboards in one workspace: a name and the saved reports, each
# ``{"id", "title", "definition"}`` with an analytics request (validated by domain.dashboards).
# Only their owner reads or changes them, so every query names workspace and user.
console_dashboards = sa.Table(
    "console_dashboards",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("reports", Json, nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
    sa.Index("ix_console_dashboards_owner", "workspace_id", "user_id"),
)

# A workspace's topic catalogue: the topics customers see in the preference center, with the
# channels each is sent on (a JSON list) and the choice shown to someone who never chose.
topics = sa.Table(
    "topics",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("channels", Json, nullable=False),
    sa.Column("default_status", sa.String(16), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("updated_at", When, nullable=False),
)

# How a workspace's customer-facing pages look: the validated theme document (domain.themes).
workspace_themes = sa.Table(
    "workspace_themes",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("settings", Json, nullable=False),
    sa.Column("updated_at", When, nullable=False),
)
