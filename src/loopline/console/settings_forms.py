"""The settings forms: what a form shows for a stored document, and the document a submitted form describes.

Values are passed on as typed, text included, so the action's own validation names each
problem and where (``caps.0.limit``), and a refused form is shown again exactly as it was sent.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import FormData

from loopline.domain.contact_rules import QUIET_CHANNELS

BLANK_CAP_ROWS = 2  # empty rows under the caps, so one can be added without scripts
MAX_CAP_ROWS = 40  # more than the policy allows (20), so too many is refused by the action, not cut off here
MAX_JSON = 100_000


class FormInvalid(ValueError):
    """A form that does not even make a document; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def policy_values(document: dict[str, Any]) -> dict[str, Any]:
    """Return the policy form's values for a stored policy document."""
    quiet = document.get("quiet_hours")
    caps = [{"limit": _text(cap["limit"]), "window_hours": _text(cap["window_hours"]),
             "channel": cap.get("channel") or "", "per_campaign": bool(cap.get("per_campaign"))}
            for cap in document.get("caps", [])]
    return {
        "caps": caps + [{"limit": "", "window_hours": "", "channel": "", "per_campaign": False}] * BLANK_CAP_ROWS,
        "quiet_enabled": quiet is not None,
        "quiet_start": str(quiet["start"])[:5] if quiet else "21:00",
        "quiet_end": str(quiet["end"])[:5] if quiet else "08:00",
        "quiet_channels": list(quiet["channels"]) if quiet else list(QUIET_CHANNELS),
        "defer_when_capped": bool(document.get("defer_when_capped")),
        "default_time_zone": _text(document.get("default_time_zone", "UTC")),
        "opt_in_channels": list(document.get("opt_in_channels", [])),
        "offer_window_hours": _text(document.get("offer_window_hours", "")),
        "global_control_percent": _text(document.get("global_control_percent", "")),
    }


def policy_from_form(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the policy document a submitted form describes, and the form's values to show it again."""
    rows = list(zip(form.getlist("cap_limit"), form.getlist("cap_window_hours"), form.getlist("cap_channel"),
                    form.getlist("cap_scope"), strict=False))[:MAX_CAP_ROWS]
    caps_shown = [{"limit": str(limit).strip(), "window_hours": str(window).strip(), "channel": str(channel),
                   "per_campaign": scope == "per_campaign"} for limit, window, channel, scope in rows]
    # A row left empty is no cap: the form always offers a few empty rows.
    caps = [{"limit": cap["limit"], "window_hours": cap["window_hours"], "channel": cap["channel"] or None,
             "per_campaign": cap["per_campaign"]} for cap in caps_shown if cap["limit"] or cap["window_hours"]]
    values = {
        "caps": [cap for cap in caps_shown if cap["limit"] or cap["window_hours"]]
        + [{"limit": "", "window_hours": "", "channel": "", "per_campaign": False}] * BLANK_CAP_ROWS,
        "quiet_enabled": form.get("quiet_enabled") == "on",
        "quiet_start": _text(form.get("quiet_start")).strip(),
        "quiet_end": _text(form.get("quiet_end")).strip(),
        "quiet_channels": [str(channel) for channel in form.getlist("quiet_channels")],
        "defer_when_capped": form.get("defer_when_capped") == "on",
        "default_time_zone": _text(form.get("default_time_zone")).strip(),
        "opt_in_channels": [str(channel) for channel in form.getlist("opt_in_channels")],
        "offer_window_hours": _text(form.get("offer_window_hours")).strip(),
        "global_control_percent": _text(form.get("global_control_percent")).strip(),
    }
    document: dict[str, Any] = {
        "caps": caps,
        "quiet_hours": {"start": values["quiet_start"], "end": values["quiet_end"],
                        "channels": values["quiet_channels"]} if values["quiet_enabled"] else None,
        "defer_when_capped": values["defer_when_capped"],
        "default_time_zone": values["default_time_zone"] or "UTC",
        "opt_in_channels": values["opt_in_channels"],
        "offer_window_hours": values["offer_window_hours"],
        "global_control_percent": values["global_control_percent"] or "0",
    }
    return document, values


SMTP_FIELDS = ("host", "port", "security", "username", "sender_address", "sender_name", "connections",
               "rate_per_second")


def smtp_from_form(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """Return an SMTP provider document from the form (fields left empty are left out), and the values shown.

    An empty password keeps the stored one; the password is never shown again.
    """
    values = {name: _text(form.get(name)).strip() for name in SMTP_FIELDS}
    document: dict[str, Any] = {"kind": "smtp", **{name: value for name, value in values.items() if value}}
    password = _text(form.get("password"))
    if password:
        document["password"] = password
    return document, values


def provider_from_json(text: str) -> dict[str, Any]:
    """Return the provider document typed as JSON; raise FormInvalid when it is not a JSON object."""
    if len(text) > MAX_JSON:
        raise FormInvalid("invalid_json", f"the provider's JSON may have at most {MAX_JSON} characters")
    try:
        data = orjson.loads(text or "null")
    except orjson.JSONDecodeError as error:
        raise FormInvalid("invalid_json", f"the provider is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise FormInvalid("invalid_json", 'the provider must be a JSON object, like {"kind": "webhook", "url": …}')
    return data
