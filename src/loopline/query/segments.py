"""The segment compiler: one definition in, one engine's SQL out.

The query selects ``profile_id`` from the mart's profiles of one workspace. Every condition
becomes a boolean expression over that row: value comparisons read the profile's JSON, and
conditions on events, devices, identities, consents and other segments become ``IN`` /
``NOT IN`` over grouped sub-queries, which every engine plans as hash semi-joins (ClickHouse
has no correlated sub-queries, and the others gain nothing from them).

Leaves never yield NULL: a comparison that cannot be made is false, so ``not`` is the exact
complement within the workspace, as ``docs/segments.md`` promises.

The mart's relations (see ``loopline.store.mart``):
  mart_profiles (workspace_id, profile_id, traits, computed, created_at, known_since)
  mart_identities (workspace_id, kind, value, profile_id)
  mart_devices (workspace_id, device_id, profile_id, platform, os_name, os_version, app_version, model, push_token)
  mart_consents (workspace_id, profile_id, channel, topic, status)
  mart_suppressions (workspace_id, channel, address)
  mart_segment_members (workspace_id, segment_id, profile_id)
  mart_sends (workspace_id, send_key, profile_id, campaign_id, journey_id, channel, status, sent_at, …)
  events (workspace_id, type, event, user_id, anonymous_id, timestamp, properties, context)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from loopline.domain.consent import ALL_TOPICS
from loopline.domain.engagement import SEND_KEY, engagement_events
from loopline.domain.segments.definition import (
    COMPUTED_TYPES,
    NEGATIVE,
    And,
    Comparison,
    ComputedProperty,
    Count,
    Device,
    Engagement,
    EventStep,
    Inactive,
    InSegment,
    Location,
    Not,
    Operator,
    Or,
    Performed,
    PropertyFilter,
    Reachable,
    SegmentDefinition,
    Trait,
    Window,
    parse_date,
    version_key,
)
from loopline.domain.segments.definition import (
    Sequence as SequenceCondition,
)
from loopline.domain.segments.membership import MEMBERSHIP_SOURCE
from loopline.query.dialects import Dialect, in_sample, number
from loopline.query.mart import computed_column

EARTH_RADIUS_KM = 6371.0088
ACTIVITY_TYPES = ("track", "page", "screen")
PURCHASE_EVENT = "Order Completed"
# Consent needed before a message may go out: explicit opt-in for email and SMS; for the
# others the operating system's permission (a token, an installed app) is the opt-in,
# and only an explicit opt-out stops them.
NEEDS_OPT_IN = frozenset({"email", "sms"})

_COLUMNS = (
    'e.seq AS seq, e.type AS type, e.source AS source, e.event AS event, e."timestamp" AS ts,'
    " e.properties AS properties, e.context AS context"
)


def owned_events(dialect: Dialect, workspace_id: str, *, sample_percent: int | None = None) -> str:
    """Return a query of a workspace's events with their owner (``profile_id``, NULL for nobody's).

    The owner is the profile holding the event's user id, else its anonymous id. Where the
    mart keeps attributed owners beside the events, they are read as they are, and only the
    events not yet attributed take the two identity joins. With ``sample_percent``, only the
    events of owners in the sample (``in_sample``) are read; where owners are kept, only the
    attributed events, by the sample bucket kept beside them.
    """
    workspace = dialect.text(workspace_id)
    owner = "coalesce(known_user.profile_id, known_device.profile_id)"
    lookup = (
        f"SELECT {owner} AS profile_id, {_COLUMNS}"
        " FROM events e LEFT JOIN mart_identities known_user ON known_user.workspace_id = e.workspace_id"
        " AND known_user.kind = 'user_id' AND known_user.value = e.user_id"
        " LEFT JOIN mart_identities known_device ON known_device.workspace_id = e.workspace_id"
        " AND known_device.kind = 'anonymous_id' AND known_device.value = e.anonymous_id"
        f" WHERE e.workspace_id = {workspace}"
    )
    if not dialect.attributed_owners:
        return lookup if sample_percent is None else f"{lookup} AND {in_sample(dialect, owner, sample_percent)}"
    attributed = (
        f"SELECT e.profile_id AS profile_id, {_COLUMNS} FROM events e"
        f" WHERE e.workspace_id = {workspace} AND e.profile_id IS NOT NULL"
    )
    if sample_percent is not None:
        return f"{attributed} AND e.profile_bucket < {int(sample_percent)}"
    return f"{attributed} UNION ALL {lookup} AND e.profile_id IS NULL"


@dataclass(frozen=True, slots=True)
class CompiledSegment:
    """A segment's SQL for one engine: it selects the member profile ids of one workspace.

    Run it with the dialect's ``settings`` appended to the outermost query.
    """

    sql: str
    dialect: str
    uses_events: bool


def compile_segment(
    definition: SegmentDefinition, *, dialect: Dialect, workspace_id: str, now: datetime,
    changed_since: datetime | None = None, sample_percent: int | None = None,
) -> CompiledSegment:
    """Return the SQL selecting the members of ``definition`` at ``now``.

    With ``changed_since``, only profiles copied to the mart since then are considered: an
    incremental refresh re-evaluates just the people whose data moved. With
    ``sample_percent``, only the profiles whose id hashes into that share (``in_sample``),
    and only their events are read: an estimate's sample. A sample reads the events the mart
    has attributed (where it keeps owners): an estimate syncs the mart first, and skipping
    the lookup of the few events since is what keeps a sampled preview quick.
    """
    compiler = _Compiler(dialect, workspace_id, now)
    condition = compiler.condition(definition.condition)
    workspace = dialect.text(workspace_id)
    scope = f"p.workspace_id = {workspace}"
    if changed_since is not None:
        scope += f" AND p.updated_at >= {dialect.instant(changed_since)}"
    owned = owned_events(dialect, workspace_id, sample_percent=sample_percent)
    # Every condition reads only the profile's own events, so a narrower scope narrows the
    # events read as well: an incremental refresh reads the changed profiles' events only.
    if changed_since is not None:
        owned = (
            f"SELECT * FROM ({owned}) o WHERE o.profile_id IN (SELECT c.profile_id FROM mart_profiles c"
            f" WHERE c.workspace_id = {workspace} AND c.updated_at >= {dialect.instant(changed_since)})"
        )
    if sample_percent is not None:
        scope += f" AND {in_sample(dialect, 'p.profile_id', sample_percent)}"
    body = f"SELECT p.profile_id FROM mart_profiles p WHERE {scope} AND {condition}"
    if compiler.uses_events:
        body = f"WITH owned AS ({owned})\n{body}"
    return CompiledSegment(sql=body, dialect=dialect.name, uses_events=compiler.uses_events)


def property_condition(dialect: Dialect, column: str, item: PropertyFilter, *, now: datetime) -> str:
    """Return the never-NULL condition of one property filter on a JSON column (reports use it too)."""
    return _Compiler(dialect, "", now).compare_json(column, item.property.split("."), item)


class _Compiler:
    def __init__(self, dialect: Dialect, workspace_id: str, now: datetime) -> None:
        self.d = dialect
        self.workspace = dialect.text(workspace_id)
        self.now = now
        self.uses_events = False

    # -- combinators -----------------------------------------------------------------------

    def condition(self, node: Any) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.condition(child) for child in node.conditions) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.condition(child) for child in node.conditions) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.condition(node.condition)})"
        method = getattr(self, "_" + node.type)
        result: str = method(node)
        return result

    # -- values on the profile -------------------------------------------------------------

    def _trait(self, node: Trait) -> str:
        return self.compare_json("p.traits", node.trait.split("."), node)

    def _computed(self, node: ComputedProperty) -> str:
        return self.compare_typed(f"p.{computed_column(node.property)}", COMPUTED_TYPES[node.property], node)

    def compare_typed(self, column: str, kind: str, cmp: Comparison) -> str:  # noqa: PLR0911
        """Return a never-NULL condition on a typed column (``number``, ``date`` or ``text``).

        A comparison with an operand of another type is false, as for a JSON value of another
        type: a number never equals a text, a date is not ordered against a number.
        """
        op, d = cmp.operator, self.d
        if op in NEGATIVE:
            positive = cmp.model_copy(update={"operator": NEGATIVE[op]})
            return f"(NOT {self.compare_typed(column, kind, positive)})"
        if op is Operator.EXISTS:
            return f"({column} IS NOT NULL)"
        operands = list(cmp.values or ()) if op is Operator.IN else [cmp.value]
        if op in (Operator.EQ, Operator.IN):
            literals = [literal for value in operands if (literal := self._typed_literal(kind, value)) is not None]
            return _never_null(f"({column} IN ({', '.join(literals)}))") if literals else "(1 = 0)"
        if op is Operator.CONTAINS:
            return _never_null(d.contains(column, str(cmp.value))) if kind == "text" else "(1 = 0)"
        if op in (Operator.WITHIN_NEXT_DAYS, Operator.WITHIN_LAST_DAYS, Operator.ANNIVERSARY_WITHIN_NEXT_DAYS):
            if kind == "number":
                return "(1 = 0)"
            value = column if kind == "date" else d.as_date(column)
            return _never_null(self._relative_date(value, op, int(cmp.days or 0)))
        bound = cmp.low if op is Operator.BETWEEN else cmp.value
        operand_kind = "date" if isinstance(bound, str) else "number"
        if kind == "text" and operand_kind == "date":
            return _never_null(_order(d.as_date(column), cmp, self._date_literal))
        if operand_kind != kind:
            return "(1 = 0)"
        return _never_null(_order(column, cmp, self._date_literal if kind == "date" else number))

    def _date_literal(self, raw: Any) -> str:
        return self.d.instant(_date(raw))

    def _typed_literal(self, kind: str, value: Any) -> str | None:
        if kind == "number":
            return number(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        if kind == "text":
            return self.d.text(value) if isinstance(value, str) else None
        parsed = parse_date(value) if isinstance(value, str) else None
        return self.d.instant(parsed) if parsed is not None else None

    def compare_json(self, column: str, path: Sequence[str], cmp: Comparison) -> str:  # noqa: PLR0911
        """Return a never-NULL condition: the JSON value at ``path`` satisfies ``cmp``."""
        op = cmp.operator
        if op in NEGATIVE:
            positive = cmp.model_copy(update={"operator": NEGATIVE[op]})
            return f"(NOT {self.compare_json(column, path, positive)})"
        d = self.d
        if op is Operator.EXISTS:
            return d.json_present(column, path)
        if op is Operator.EQ:
            return _never_null(self._json_equals(column, path, [cmp.value]))
        if op is Operator.IN:
            return _never_null(self._json_equals(column, path, list(cmp.values or ())))
        if op is Operator.CONTAINS:
            needle = str(cmp.value)
            return _never_null(
                f"({d.contains(d.json_text(column, path), needle)} OR {d.json_array_has(column, path, needle)})"
            )
        if op in (Operator.WITHIN_NEXT_DAYS, Operator.WITHIN_LAST_DAYS, Operator.ANNIVERSARY_WITHIN_NEXT_DAYS):
            return _never_null(self._relative_date(d.as_date(d.json_text(column, path)), op, int(cmp.days or 0)))
        return _never_null(self._ordered(column, path, cmp))

    def _json_equals(self, column: str, path: Sequence[str], operands: list[Any]) -> str:
        d = self.d
        texts = [value for value in operands if isinstance(value, str)]
        flags = [value for value in operands if isinstance(value, bool)]
        numbers = [value for value in operands if isinstance(value, int | float) and not isinstance(value, bool)]
        tests = []
        if texts:
            tests.append(f"{d.json_text(column, path)} IN ({', '.join(d.text(t) for t in texts)})")
        if numbers:
            tests.append(f"{d.json_number(column, path)} IN ({', '.join(number(n) for n in numbers)})")
        if flags:
            tests.append(f"{d.json_bool(column, path)} IN ({', '.join('TRUE' if f else 'FALSE' for f in flags)})")
        return "(" + " OR ".join(tests) + ")"

    def _ordered(self, column: str, path: Sequence[str], cmp: Comparison) -> str:
        d = self.d
        operand = cmp.low if cmp.operator is Operator.BETWEEN else cmp.value
        if isinstance(operand, str):  # validated: a date
            value = d.as_date(d.json_text(column, path))
            return _order(value, cmp, lambda raw: d.instant(_date(raw)))
        value = d.json_number(column, path)
        return _order(value, cmp, number)

    def _relative_date(self, value: str, op: Operator, days: int) -> str:
        d = self.d
        if op is Operator.WITHIN_NEXT_DAYS:
            return f"({value} >= {d.instant(self.now)} AND {value} <= {d.instant(self.now + timedelta(days=days))})"
        if op is Operator.WITHIN_LAST_DAYS:
            return f"({value} >= {d.instant(self.now - timedelta(days=days))} AND {value} <= {d.instant(self.now)})"
        if days >= 365:
            return f"({value} IS NOT NULL)"
        # Month and day of today and of the last day, worked out here: the window either
        # lies within one year or wraps past 31 December.
        first, last = self.now, self.now + timedelta(days=days)
        start, end = first.month * 100 + first.day, last.month * 100 + last.day
        month_day = d.month_day(value)
        if start <= end:
            return f"({month_day} BETWEEN {start} AND {end})"
        return f"({month_day} >= {start} OR {month_day} <= {end})"

    # -- events ----------------------------------------------------------------------------

    def _performed(self, node: Performed) -> str:
        return self._counted([node.event], node.where, node.count, node.window)

    def _engagement(self, node: Engagement) -> str:
        if node.of_last is not None:
            return self._last_messages(node, node.of_last)
        names = engagement_events(node.action, node.channel)
        if not names:  # e.g. opened on SMS: nothing can ever count
            return self._count_holds(node.count, None)
        extra = []
        if node.campaign_id is not None:
            extra.append(f"{self.d.json_text('properties', ['campaign_id'])} = {self.d.text(node.campaign_id)}")
        return self._counted(names, [], node.count, node.window, extra)

    def _last_messages(self, node: Engagement, of_last: int) -> str:
        """Return: of the profile's last ``of_last`` messages sent on the channel, the number answered
        by the action satisfies the count; a profile sent none on the channel never matches.

        The newest messages are numbered by a window function (sent time, then send key, both
        descending); a message is answered when an event of the action carries its send key.
        """
        d, channel = self.d, str(node.channel)
        sent = [f"s.workspace_id = {self.workspace}", f"s.channel = {d.text(channel)}", "s.status = 'sent'",
                "s.sent_at IS NOT NULL", *self._window(node.window, "s.sent_at")]
        if node.campaign_id is not None:
            sent.append(f"s.campaign_id = {d.text(node.campaign_id)}")
        names = engagement_events(node.action, channel)
        if names:  # e.g. opened on SMS: no event can answer a message
            key = d.json_text("e.properties", [SEND_KEY])
            answers = (
                f"SELECT {key} FROM events e WHERE e.workspace_id = {self.workspace}"
                f" AND e.event IN ({', '.join(d.text(name) for name in names)}) AND {key} IS NOT NULL"
            )
            answered = f"CASE WHEN s.send_key IN ({answers}) THEN 1 ELSE 0 END"
        else:
            answered = "0"
        latest = (
            f"SELECT s.profile_id AS profile_id, {answered} AS answered,"
            " row_number() OVER (PARTITION BY s.profile_id ORDER BY s.sent_at DESC, s.send_key DESC) AS recency"
            f" FROM mart_sends s WHERE {' AND '.join(sent)}"
        )
        n = node.count.value
        test = {"at_least": f">= {n}", "at_most": f"<= {n}", "exactly": f"= {n}"}[node.count.operator]
        return (
            f"(p.profile_id IN (SELECT l.profile_id FROM ({latest}) l WHERE l.recency <= {int(of_last)}"
            f" GROUP BY l.profile_id HAVING sum(l.answered) {test}))"
        )

    def _counted(
        self, names: list[str], where: Sequence[PropertyFilter], count: Count, window: Window | None,
        extra: Sequence[str] = (),
    ) -> str:
        filters = [self._event_names(names), *self._where(where), *self._window(window), *extra]
        return self._count_holds(count, " AND ".join(filters))

    def _count_holds(self, count: Count, filters: str | None) -> str:
        """Return: the number of owned events matching ``filters`` satisfies ``count``."""
        n = count.value
        if filters is None:  # no event can match: every count is zero
            holds = {"at_least": n == 0, "at_most": True, "exactly": n == 0}[count.operator]
            return "(1 = 1)" if holds else "(1 = 0)"
        self.uses_events = True

        def having(test: str) -> str:
            return (
                f"p.profile_id IN (SELECT profile_id FROM owned WHERE profile_id IS NOT NULL AND {filters}"
                f" GROUP BY profile_id HAVING {test})"
            )

        if count.operator == "at_least":
            return "(1 = 1)" if n == 0 else f"({having(f'count(*) >= {n}')})"
        if count.operator == "at_most":
            return f"(NOT {having(f'count(*) > {n}')})"
        if n == 0:
            return f"(NOT {having('count(*) >= 1')})"
        return f"({having(f'count(*) = {n}')})"

    def _event_names(self, names: Sequence[str]) -> str:
        return f"event IN ({', '.join(self.d.text(name) for name in names)})"

    def _where(self, where: Sequence[PropertyFilter], column: str = "properties") -> list[str]:
        return [self.compare_json(column, item.property.split("."), item) for item in where]

    def _window(self, window: Window | None, column: str = "ts") -> list[str]:
        if window is None:
            return []
        d = self.d
        if window.last_days is not None:
            return [f"{column} >= {d.instant(self.now - timedelta(days=window.last_days))}"]
        bounds = []
        if window.since is not None:
            bounds.append(f"{column} >= {d.instant(window.since)}")
        if window.until is not None:
            bounds.append(f"{column} < {d.instant(window.until)}")
        return bounds

    def _step(self, step: EventStep, window: Window | None = None, bounds: list[str] | None = None) -> str:
        filters = [self._event_names([step.event]), *self._where(step.where), *self._window(window), *(bounds or [])]
        return f"SELECT profile_id, ts FROM owned WHERE profile_id IS NOT NULL AND {' AND '.join(filters)}"

    def _sequence(self, node: SequenceCondition) -> str:
        self.uses_events = True
        minutes = node.within_minutes
        # The second event follows the first, so it lies after the first's window opens, and
        # (when its absence is asked) no later than now: bounds that let the engine skip the
        # events of the months before rather than pair them up.
        after: list[str] = []
        window = node.window
        if window is not None and (window.last_days is not None or window.since is not None):
            opens = self.now - timedelta(days=window.last_days) if window.last_days is not None else window.since
            assert opens is not None  # one of the two is set
            after.append(f"ts > {self.d.instant(opens)}")
        if node.then_absent:
            after.append(f"ts <= {self.d.instant(self.now)}")
        first, then = self._step(node.first, node.window), self._step(node.then, bounds=after)
        follows = f"b.ts > a.ts AND b.ts <= {self.d.plus_minutes('a.ts', minutes)}"
        if not node.then_absent:
            return (
                f"(p.profile_id IN (SELECT a.profile_id FROM ({first}) a JOIN ({then}) b"
                f" ON b.profile_id = a.profile_id WHERE {follows}))"
            )
        # An equi-join plus a conditional count runs on every engine; ClickHouse has no
        # correlated NOT EXISTS. A first event counts only once its time to follow is over.
        old_enough = f"a.ts <= {self.d.instant(self.now - timedelta(minutes=minutes))}"
        return (
            f"(p.profile_id IN (SELECT a.profile_id FROM ({first}) a LEFT JOIN ({then}) b"
            f" ON b.profile_id = a.profile_id WHERE {old_enough} GROUP BY a.profile_id, a.ts"
            f" HAVING sum(CASE WHEN {follows} THEN 1 ELSE 0 END) = 0))"
        )

    def _inactive(self, node: Inactive) -> str:
        self.uses_events = True
        d = self.d
        if node.activity == "session":
            kind = (
                f"type IN ({', '.join(d.text(t) for t in ACTIVITY_TYPES)}) AND source <> {d.text(MEMBERSHIP_SOURCE)}"
            )
        else:
            kind = self._event_names([PURCHASE_EVENT if node.activity == "purchase" else str(node.event)])
        since = d.instant(self.now - timedelta(days=node.days))
        return (
            f"(p.known_since <= {since} AND p.profile_id NOT IN (SELECT profile_id FROM owned"
            f" WHERE profile_id IS NOT NULL AND {kind} AND ts >= {since}))"
        )

    # -- devices, places, reachability, other segments ------------------------------------

    def _device(self, node: Device) -> str:
        op = node.operator
        if node.field == "has_push_token":
            wanted = bool(node.value) == (op is Operator.EQ)
            test = self._devices_where("d.push_token IS NOT NULL AND d.push_token <> ''")
            return test if wanted else f"(NOT {test})"
        if op in NEGATIVE:
            return f"(NOT {self._device(node.model_copy(update={'operator': NEGATIVE[op]}))})"
        d, column = self.d, f"d.{node.field}"
        if op is Operator.EXISTS:
            test = f"{column} IS NOT NULL"
        elif op is Operator.EQ:
            test = f"{column} = {d.text(str(node.value))}"
        elif op is Operator.IN:
            test = f"{column} IN ({', '.join(d.text(str(v)) for v in node.values or ())})"
        elif op is Operator.CONTAINS:
            test = d.contains(column, str(node.value))
        else:  # validated: a version ordering
            test = _order(d.version_key(column), node, lambda raw: number(version_key(str(raw)) or 0))
        return self._devices_where(test)

    def _devices_where(self, test: str) -> str:
        return (
            f"(p.profile_id IN (SELECT d.profile_id FROM mart_devices d WHERE d.workspace_id = {self.workspace}"
            f" AND {test}))"
        )

    def _location(self, node: Location) -> str:
        d, tests = self.d, []
        where = ["location"]
        if node.country_code is not None:
            tests.append(f"{d.json_text('p.computed', [*where, 'country'])} = {d.text(node.country_code)}")
        if node.region is not None:
            tests.append(f"{d.lower(d.json_text('p.computed', [*where, 'region']))} = {d.lower(d.text(node.region))}")
        if node.postal_code is not None:
            tests.append(f"{d.json_text('p.computed', [*where, 'postal_code'])} = {d.text(node.postal_code)}")
        if node.near is not None:
            lat = d.json_number("p.computed", [*where, "latitude"])
            lon = d.json_number("p.computed", [*where, "longitude"])
            here_lat, here_lon = number(node.near.latitude), number(node.near.longitude)
            haversine = (
                f"2 * {EARTH_RADIUS_KM} * asin(sqrt(power(sin(radians({lat} - {here_lat}) / 2), 2)"
                f" + cos(radians({here_lat})) * cos(radians({lat})) * power(sin(radians({lon} - {here_lon}) / 2), 2)))"
            )
            tests.append(f"{haversine} <= {number(node.near.radius_km)}")
        return _never_null("(" + " AND ".join(tests) + ")")

    def _reachable(self, node: Reachable) -> str:
        return f"({self._has_address(node.channel)} AND {self._consents(node.channel, node.topic)})"

    def _has_address(self, channel: str) -> str:
        d, ws = self.d, self.workspace
        if channel in ("email", "sms"):
            kind = "email" if channel == "email" else "phone"
            return (
                f"p.profile_id IN (SELECT i.profile_id FROM mart_identities i WHERE i.workspace_id = {ws}"
                f" AND i.kind = {d.text(kind)} AND i.value NOT IN ({self._suppressed(channel)}))"
            )
        if channel == "in_app":
            return self._devices_where("1 = 1")
        platforms = "d.platform = 'web'" if channel == "web_push" else "d.platform IN ('ios', 'android')"
        return self._devices_where(
            f"{platforms} AND d.push_token IS NOT NULL AND d.push_token <> ''"
            f" AND d.push_token NOT IN ({self._suppressed(channel)})"
        )

    def _suppressed(self, channel: str) -> str:
        return (
            f"SELECT s.address FROM mart_suppressions s WHERE s.workspace_id = {self.workspace}"
            f" AND s.channel = {self.d.text(channel)}"
        )

    def _consents(self, channel: str, topic: str) -> str:
        """Return: the consent status that applies (the topic's, else the channel's) allows sending."""
        d = self.d

        def recorded(on_topic: str, status: str | None = None) -> str:
            test = f" AND c.status = {d.text(status)}" if status else ""
            return (
                f"p.profile_id IN (SELECT c.profile_id FROM mart_consents c WHERE c.workspace_id = {self.workspace}"
                f" AND c.channel = {d.text(channel)} AND c.topic = {d.text(on_topic)}{test})"
            )

        status, allows = ("opted_in", True) if channel in NEEDS_OPT_IN else ("opted_out", False)
        if topic == ALL_TOPICS:
            applies = recorded(ALL_TOPICS, status)
        else:
            applies = f"({recorded(topic, status)} OR (NOT {recorded(topic)} AND {recorded(ALL_TOPICS, status)}))"
        return f"({applies})" if allows else f"(NOT {applies})"

    def _in_segment(self, node: InSegment) -> str:
        return (
            f"(p.profile_id IN (SELECT m.profile_id FROM mart_segment_members m WHERE m.workspace_id = {self.workspace}"
            f" AND m.segment_id = {self.d.text(node.segment_id)}))"
        )


def _never_null(test: str) -> str:
    return f"coalesce({test}, FALSE)"


def _order(value: str, cmp: Comparison, literal: Any) -> str:
    op = cmp.operator
    if op is Operator.BETWEEN:
        return f"({value} >= {literal(cmp.low)} AND {value} <= {literal(cmp.high)})"
    symbol = {Operator.LT: "<", Operator.LTE: "<=", Operator.GT: ">", Operator.GTE: ">="}[op]
    return f"({value} {symbol} {literal(cmp.value)})"


def _date(raw: Any) -> datetime:
    parsed = parse_date(str(raw))
    assert parsed is not None, "validated as a date"
    return parsed
