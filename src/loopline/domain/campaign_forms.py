"""The campaign builder's form and the campaign definition it stands for, both ways.

A form is kept as the person typed it (every value a text), so a form with a mistake comes
back exactly as it was sent, with the problem beside the field. Reading a form turns it
into the body the campaign actions take (``{"name", "definition"}``); what the form does not
show (costs, an offer, a send window, rich push options…) is taken from the campaign being
edited, so saving the form never drops it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any

from loopline.domain.campaigns import MAX_VARIANTS

CHANNEL_ORDER = ("email", "push", "sms", "in_app", "web_push")
# The parts of a message each channel has (``subject`` is the title of a push or in-app message).
CHANNEL_PARTS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "body"),
    "push": ("subject", "body", "url"),
    "sms": ("body",),
    "in_app": ("subject", "body", "url"),
    "web_push": ("subject", "body", "url"),
}
SCHEDULE_KINDS = ("now", "at", "local_time", "recurring")
PRIORITIES = ("marketing", "transactional", "service")
VARIANT_NAMES = "ABCDEFGH"
ACTIONS = ("save", "schedule", "add_variant", "remove_variant", "preview")


def _first(fields: Mapping[str, Sequence[str]], key: str, default: str = "") -> str:
    values = fields.get(key) or ()
    return values[-1] if values else default


def _checked(fields: Mapping[str, Sequence[str]], key: str) -> bool:
    return _first(fields, key) in ("on", "true", "1")


def blank_variant(index: int, split: str) -> dict[str, Any]:
    """Return an empty variant for the form: a letter for a name and empty content for every channel."""
    return {"name": VARIANT_NAMES[index % len(VARIANT_NAMES)], "split": split,
            "content": {channel: dict.fromkeys(CHANNEL_PARTS[channel], "") for channel in CHANNEL_ORDER}}


def blank_form() -> dict[str, Any]:
    """Return the form of a new campaign: one email variant, sent now, no control group of its own."""
    return {
        "name": "", "objective": "",
        "metric": {"event": "", "within_days": "7", "revenue_property": ""},
        "include": [], "exclude": [], "channels": ["email"], "every_channel": False,
        "variants": [blank_variant(0, "100")],
        "holdout_percent": "0", "global_control": True,
        "schedule": {"kind": "now", "at": "", "cron": "", "time_zone": "UTC", "best_time": False,
                     "within_hours": "24"},
        "topic": "all", "priority": "marketing", "rank": "5",
        "limits": {"throttle_per_minute": "", "window_start": "", "window_end": "", "expires_after_hours": ""},
    }


def read_form(fields: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Return the form's state from the posted fields (each name with its values), as typed."""
    count = 0
    while count < MAX_VARIANTS and f"v{count}_name" in fields:
        count += 1
    variants = []
    for index in range(max(count, 1)):
        variant = blank_variant(index, "100")
        variant["name"] = _first(fields, f"v{index}_name", variant["name"])
        variant["split"] = _first(fields, f"v{index}_split", "100" if count <= 1 else "")
        for channel in CHANNEL_ORDER:
            for part in CHANNEL_PARTS[channel]:
                variant["content"][channel][part] = _first(fields, f"v{index}_{channel}_{part}")
        variants.append(variant)
    channels = [channel for channel in CHANNEL_ORDER if channel in (fields.get("channels") or ())]
    return {
        "name": _first(fields, "name"), "objective": _first(fields, "objective"),
        "metric": {"event": _first(fields, "metric_event"), "within_days": _first(fields, "metric_within_days", "7"),
                   "revenue_property": _first(fields, "metric_revenue_property")},
        "include": list(dict.fromkeys(fields.get("include") or ())),
        "exclude": list(dict.fromkeys(fields.get("exclude") or ())),
        "channels": channels, "every_channel": _checked(fields, "every_channel"),
        "variants": variants,
        "holdout_percent": _first(fields, "holdout_percent", "0"),
        "global_control": _checked(fields, "global_control"),
        "schedule": {"kind": _first(fields, "schedule_kind", "now"), "at": _first(fields, "schedule_at"),
                     "cron": _first(fields, "schedule_cron"), "time_zone": _first(fields, "schedule_time_zone", "UTC"),
                     "best_time": _checked(fields, "best_time"),
                     "within_hours": _first(fields, "best_time_within_hours", "24")},
        "topic": _first(fields, "topic", "all"), "priority": _first(fields, "priority", "marketing"),
        "rank": _first(fields, "rank", "5"),
        "limits": {"throttle_per_minute": _first(fields, "throttle_per_minute"),
                   "window_start": _first(fields, "window_start"), "window_end": _first(fields, "window_end"),
                   "expires_after_hours": _first(fields, "expires_after_hours")},
    }


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number_text(value: Any) -> str:
    """Write 50.0 as "50" and 12.5 as "12.5": what a person would have typed."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _at_text(value: Any, kind: str) -> str:
    """Return a stored ``at`` as a ``datetime-local`` field's text: UTC for 'at', the wall clock for 'local_time'."""
    if not value:
        return ""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if kind == "at" and moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M")


def form_of(name: str, definition: Mapping[str, Any]) -> dict[str, Any]:
    """Return the form showing a stored campaign (its definition as saved, in JSON form)."""
    metric = definition.get("success_metric") or {}
    schedule = definition.get("schedule") or {}
    kind = str(schedule.get("kind") or "now")
    best_time = schedule.get("best_time")
    variants = []
    for index, stored in enumerate(definition.get("variants") or []):
        variant = blank_variant(index, _number_text(stored.get("split")))
        variant["name"] = _text(stored.get("name"))
        for channel, content in (stored.get("content") or {}).items():
            if channel in CHANNEL_PARTS:
                variant["content"][channel] = {part: _text(content.get(part)) for part in CHANNEL_PARTS[channel]}
        variants.append(variant)
    return {
        "name": name, "objective": _text(definition.get("objective")),
        "metric": {"event": _text(metric.get("event")), "within_days": _number_text(metric.get("within_days") or 7),
                   "revenue_property": _text(metric.get("revenue_property"))},
        "include": list((definition.get("audience") or {}).get("segments") or []),
        "exclude": list((definition.get("audience") or {}).get("exclude") or []),
        "channels": list(definition.get("channels") or []),
        "every_channel": bool(definition.get("every_channel")),
        "variants": variants or [blank_variant(0, "100")],
        "holdout_percent": _number_text(definition.get("holdout_percent", 0)),
        "global_control": bool(definition.get("global_control", True)),
        "schedule": {"kind": kind, "at": _at_text(schedule.get("at"), kind), "cron": _text(schedule.get("cron")),
                     "time_zone": _text(schedule.get("time_zone") or "UTC"), "best_time": best_time is not None,
                     "within_hours": _number_text((best_time or {}).get("within_hours", 24))},
        "topic": _text(definition.get("topic") or "all"), "priority": _text(definition.get("priority") or "marketing"),
        "rank": _number_text(definition.get("rank", 5)),
        "limits": {"throttle_per_minute": _number_text(schedule.get("throttle_per_minute")),
                   "window_start": _text((schedule.get("window") or {}).get("start"))[:5],
                   "window_end": _text((schedule.get("window") or {}).get("end"))[:5],
                   "expires_after_hours": _number_text(definition.get("expires_after_hours"))},
    }


def _number(text: str, path: str, problems: list[dict[str, str]], *, whole: bool = False) -> float | int | None:
    """Return the number typed, or None with a problem for the field (never a guess)."""
    cleaned = text.strip().replace(",", ".").rstrip("%").strip()
    try:
        value = float(cleaned)
        if not math.isfinite(value):  # "nan" and "inf" parse, but are not what anyone means by a number here
            raise ValueError(text)
        if whole:
            if not value.is_integer():
                raise ValueError(text)
            return int(value)
    except ValueError:
        problems.append({"path": path, "message": "enter a whole number" if whole else "enter a number"})
        return None
    return int(value) if value.is_integer() else value


def _schedule(form: Mapping[str, Any], base: Mapping[str, Any], problems: list[dict[str, str]]) -> dict[str, Any]:
    typed = form["schedule"]
    kind = typed["kind"] if typed["kind"] in SCHEDULE_KINDS else "now"
    # An end date is kept from the saved campaign: the form does not show it.
    schedule: dict[str, Any] = {key: value for key, value in base.items() if key == "ends_at"}
    schedule["kind"] = kind
    limits = form["limits"]
    if limits["throttle_per_minute"].strip():
        schedule["throttle_per_minute"] = _number(
            limits["throttle_per_minute"], "definition.schedule.throttle_per_minute", problems, whole=True)
    start, end = limits["window_start"].strip(), limits["window_end"].strip()
    if start or end:
        # Both or neither: half a window is a mistake the action names (a missing field).
        schedule["window"] = {key: value for key, value in (("start", start), ("end", end)) if value}
    at = typed["at"].strip()
    if kind in ("at", "local_time"):
        if not at:
            problems.append({"path": "definition.schedule.at", "message": "pick the day and time to send"})
        else:
            # The page asks for 'at' in UTC; 'local_time' is a wall-clock time in each customer's zone.
            schedule["at"] = f"{at}:00Z" if kind == "at" and len(at) == 16 else at
    if kind == "recurring":
        schedule["cron"] = typed["cron"].strip()
        schedule["time_zone"] = typed["time_zone"].strip() or "UTC"
    if typed["best_time"] and kind != "local_time":
        hours = _number(typed["within_hours"], "definition.schedule.best_time.within_hours", problems, whole=True)
        kept = dict(base.get("best_time") or {})
        schedule["best_time"] = {**kept, "within_hours": hours if hours is not None else 24}
    return schedule


def _content(variant: Mapping[str, Any], channel: str, stored: Mapping[str, Any]) -> dict[str, Any]:
    typed = variant["content"][channel]
    # Rich push options and in-app layouts are kept from the saved content of the same channel.
    content: dict[str, Any] = {key: value for key, value in stored.items() if key in ("push", "in_app")}
    for part in CHANNEL_PARTS[channel]:
        value = typed.get(part, "")
        if part == "body":
            content["body"] = value
        elif value.strip():
            content[part] = value.strip() if part == "url" else value
    return content


def definition_of_form(form: Mapping[str, Any], base: Mapping[str, Any] | None = None,
                       ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Return the body for the campaign actions (``{"name", "definition"}``) and the fields that are not numbers.

    ``base`` is the definition being edited: what the form does not show is kept from it.
    Everything else is checked by the actions, which name the field of each problem.
    """
    base = base or {}
    problems: list[dict[str, str]] = []
    definition: dict[str, Any] = deepcopy(dict(base))
    definition["objective"] = form["objective"].strip()
    metric = form["metric"]
    if metric["event"].strip():
        kept = dict(base.get("success_metric") or {})
        days = _number(metric["within_days"], "definition.success_metric.within_days", problems, whole=True)
        definition["success_metric"] = {
            **{key: value for key, value in kept.items() if key == "where"},
            "event": metric["event"].strip(), "within_days": days if days is not None else 7,
            "revenue_property": metric["revenue_property"].strip() or None,
        }
    else:
        definition.pop("success_metric", None)
    definition["audience"] = {"segments": list(form["include"]), "exclude": list(form["exclude"])}
    definition["channels"] = list(form["channels"])
    definition["every_channel"] = bool(form["every_channel"])
    stored_variants = base.get("variants") or []
    variants = []
    for index, variant in enumerate(form["variants"]):
        stored = stored_variants[index].get("content", {}) if index < len(stored_variants) else {}
        split = _number(variant["split"], f"definition.variants.{index}.split", problems)
        variants.append({
            "name": variant["name"].strip(), "split": split if split is not None else 0,
            "content": {channel: _content(variant, channel, stored.get(channel) or {}) for channel in form["channels"]},
        })
    definition["variants"] = variants
    holdout = _number(form["holdout_percent"], "definition.holdout_percent", problems)
    definition["holdout_percent"] = holdout if holdout is not None else 0
    definition["global_control"] = bool(form["global_control"])
    definition["topic"] = form["topic"].strip()
    definition["priority"] = form["priority"]
    rank = _number(form["rank"], "definition.rank", problems, whole=True)
    definition["rank"] = rank if rank is not None else 5
    expiry = form["limits"]["expires_after_hours"].strip()
    definition.pop("expires_after_hours", None)
    if expiry:
        definition["expires_after_hours"] = _number(expiry, "definition.expires_after_hours", problems)
    definition["schedule"] = _schedule(form, base.get("schedule") or {}, problems)
    return {"name": form["name"], "definition": definition}, problems


def with_variant_added(form: Mapping[str, Any]) -> dict[str, Any]:
    """Return the form with one more variant, the splits shared out evenly again (up to ``MAX_VARIANTS``)."""
    changed = deepcopy(dict(form))
    variants = changed["variants"]
    if len(variants) >= MAX_VARIANTS:
        return changed
    variants.append(blank_variant(len(variants), ""))
    _even_splits(variants)
    return changed


def with_variant_removed(form: Mapping[str, Any]) -> dict[str, Any]:
    """Return the form without its last variant (one always stays), the splits shared out evenly again."""
    changed = deepcopy(dict(form))
    if len(changed["variants"]) > 1:
        changed["variants"].pop()
        _even_splits(changed["variants"])
    return changed


def _even_splits(variants: list[dict[str, Any]]) -> None:
    # Whole percents where they divide evenly; the first variant takes what is left over.
    share = 100 // len(variants)
    for variant in variants:
        variant["split"] = str(share)
    variants[0]["split"] = str(100 - share * (len(variants) - 1))


def field_errors(problems: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Return each problem's message by the path of its field (several on one field are joined)."""
    errors: dict[str, str] = {}
    for problem in problems:
        path = problem.get("path", "")
        errors[path] = f"{errors[path]}; {problem['message']}" if path in errors else problem["message"]
    return errors
