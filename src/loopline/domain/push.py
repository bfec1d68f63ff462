"""Rich push: what a push or web push message may carry beyond its title, body and deep link.

The title is the content's ``subject`` and the deep link its ``url``; these options add an
image, action buttons, the app badge, a sound, a collapse key (a newer message replaces an
older one with the same key on the device) and a time to live (how long the push service
keeps trying an offline device).

Below the models, the payloads of the native push services are built from these parts without
I/O: the FCM HTTP v1 ``message`` object and the APNs JSON payload and headers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

HttpsUrl = Annotated[str, Field(min_length=9, max_length=2_000, pattern=r"^https://[^\s]+$")]
MAX_TTL_S = 28 * 24 * 3600  # FCM's and web push services' longest; APNs keeps a message about as long


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PushButton(_Model):
    """An action button: its id (reported back when tapped), its label and, optionally, where it leads."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    title: str = Field(min_length=1, max_length=60)
    url: str | None = Field(default=None, max_length=2_000)


class PushOptions(_Model):
    """What a push message carries beyond title, body and link; every field is optional."""

    image_url: HttpsUrl | None = None
    buttons: list[PushButton] = Field(default_factory=list, max_length=3)
    badge: int | None = Field(default=None, ge=0, le=99_999)
    sound: str | None = Field(default=None, min_length=1, max_length=100)
    collapse_key: str | None = Field(default=None, min_length=1, max_length=64)
    ttl_s: int | None = Field(default=None, ge=0, le=MAX_TTL_S)
    data: dict[Annotated[str, Field(min_length=1, max_length=100)], Annotated[str, Field(max_length=1_000)]] = Field(
        default_factory=dict, max_length=20)


# --- Native push payloads (FCM HTTP v1 and APNs), built without I/O --------------------------------------------

APNS_MAX_PAYLOAD_BYTES = 4_096  # Apple's limit for a regular (non-VoIP) remote notification
APNS_PRIORITY_NOW = "10"  # deliver at once; "5" lets the device hold it back to save power
FCM_DATA_KEYS = ("deep_link", "send_key", "buttons", "image_url")
"""The keys this platform writes into an FCM ``data`` map; a content's custom data cannot replace them."""

# A fixed namespace for ``apns_id``: the same send key always gives the same notification id.
_APNS_ID_NAMESPACE = uuid.UUID("6f1c2b8e-4a51-5d3e-9b7a-2c0e8f4d1a63")
_FCM_RESERVED = ("from", "notification", "message_type")  # FCM refuses these data keys (and google.*, gcm.*)


def push_options(options: PushOptions | Mapping[str, Any] | None) -> PushOptions:
    """Return a message's rich push options, empty when it has none (raise ValueError when they are not valid)."""
    if isinstance(options, PushOptions):
        return options
    return PushOptions.model_validate(dict(options or {}))


def button_category(buttons: Sequence[PushButton]) -> str:
    """Return the iOS notification category for a set of buttons.

    iOS shows buttons only for a category the app has registered. The name is derived from the
    button ids so the app's notification service extension can register the category from the
    payload's ``buttons`` before the notification is shown, and the same buttons always give the same name.
    """
    return "loopline." + ".".join(button.id for button in buttons)


def apns_id(send_key: str) -> str:
    """Return the ``apns-id`` of a send key: a UUID derived from it, so a repeated send has the same id."""
    return str(uuid.uuid5(_APNS_ID_NAMESPACE, send_key))


def apns_headers(options: PushOptions, *, now_s: int) -> dict[str, str]:
    """Return the APNs request headers a message's options decide (priority, push type, expiry, collapse id).

    ``apns-expiration`` is absolute (epoch seconds); ``0`` asks APNs to try once and keep nothing,
    which is what a time to live of zero means.
    """
    headers = {"apns-push-type": "alert", "apns-priority": APNS_PRIORITY_NOW}
    if options.ttl_s is not None:
        headers["apns-expiration"] = "0" if options.ttl_s == 0 else str(now_s + options.ttl_s)
    if options.collapse_key:
        headers["apns-collapse-id"] = options.collapse_key
    return headers


def _aps(*, title: str | None, body: str, options: PushOptions, alert: bool) -> dict[str, Any]:
    """Return the ``aps`` dictionary; the alert is left out where FCM builds it from its ``notification``."""
    aps: dict[str, Any] = {}
    if alert:
        aps["alert"] = {"title": title, "body": body} if title else {"body": body}
    if options.badge is not None:
        aps["badge"] = options.badge
    if options.sound:
        aps["sound"] = options.sound
    if options.buttons:
        aps["category"] = button_category(options.buttons)
    # The app's notification service extension runs only with mutable-content: it downloads the
    # image, and registers the buttons' category before iOS shows the notification.
    if options.image_url or options.buttons:
        aps["mutable-content"] = 1
    return aps


def _buttons(options: PushOptions) -> list[dict[str, str]]:
    return [button.model_dump(mode="json", exclude_none=True) for button in options.buttons]


def apns_payload(*, title: str | None, body: str, url: str | None, options: PushOptions | Mapping[str, Any] | None,
                 send_key: str) -> dict[str, Any]:
    """Return the JSON payload of an APNs alert notification.

    ``aps`` holds what iOS shows by itself (alert, badge, sound, the buttons' category,
    ``mutable-content`` when the app must add the image or buttons); the app reads the rest from
    top-level keys: ``deep_link``, ``image_url``, ``buttons`` (id, title, url), ``send_key`` (to
    report opens and taps) and ``data`` (the content's custom data). Absent values are left out.
    """
    push = push_options(options)
    payload: dict[str, Any] = {"aps": _aps(title=title, body=body, options=push, alert=True)}
    if url:
        payload["deep_link"] = url
    if push.image_url:
        payload["image_url"] = push.image_url
    if push.buttons:
        payload["buttons"] = _buttons(push)
    payload["send_key"] = send_key
    if push.data:
        payload["data"] = dict(push.data)
    return payload


def encode_json(document: Mapping[str, Any]) -> bytes:
    """Return a payload as compact UTF-8 JSON (non-ASCII kept as is: it takes fewer bytes than escapes)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def fcm_data(*, url: str | None, options: PushOptions, send_key: str) -> dict[str, str]:
    """Return an FCM ``data`` map: FCM carries strings only, so the buttons travel as JSON text.

    The content's custom data comes first and cannot replace this platform's keys; keys FCM
    reserves (``from``, ``notification``, ``message_type``, ``google.*``, ``gcm.*``) are left out,
    since FCM would refuse the whole message for them.
    """
    data = {key: value for key, value in options.data.items()
            if key not in _FCM_RESERVED and not key.startswith(("google", "gcm"))}
    for key in FCM_DATA_KEYS:
        data.pop(key, None)
    if url:
        data["deep_link"] = url
    if options.image_url:
        data["image_url"] = options.image_url
    if options.buttons:
        data["buttons"] = json.dumps(_buttons(options), ensure_ascii=False, separators=(",", ":"))
    data["send_key"] = send_key
    return data


def fcm_message(*, token: str, title: str | None, body: str, url: str | None,
                options: PushOptions | Mapping[str, Any] | None, send_key: str, now_s: int) -> dict[str, Any]:
    """Return the FCM HTTP v1 ``message`` object for one device token.

    ``notification`` is what every platform shows; ``android`` adds the collapse key, the time
    to live (``"<seconds>s"``), high priority (a notification a person is meant to see) and the
    sound, image and badge count; ``apns`` adds the same as APNs headers and ``aps`` keys (FCM
    passes them through to Apple, so the expiry is absolute: ``now_s`` plus the time to live);
    ``data`` carries the deep link, the send key, the buttons and the custom data.
    """
    push = push_options(options)
    shown: dict[str, Any] = {"body": body}
    if title:
        shown["title"] = title
    if push.image_url:
        shown["image"] = push.image_url
    android_shown: dict[str, Any] = {}
    if push.sound:
        android_shown["sound"] = push.sound
    if push.image_url:
        android_shown["image"] = push.image_url
    if push.badge is not None:
        android_shown["notification_count"] = push.badge
    android: dict[str, Any] = {"priority": "HIGH"}
    if push.collapse_key:
        android["collapse_key"] = push.collapse_key
    if push.ttl_s is not None:
        android["ttl"] = f"{push.ttl_s}s"
    if android_shown:
        android["notification"] = android_shown
    apns: dict[str, Any] = {"headers": apns_headers(push, now_s=now_s)}
    aps = _aps(title=title, body=body, options=push, alert=False)
    if aps:
        apns["payload"] = {"aps": aps}
    if push.image_url:
        apns["fcm_options"] = {"image": push.image_url}
    return {"token": token, "notification": shown, "android": android, "apns": apns,
            "data": fcm_data(url=url, options=push, send_key=send_key)}

