"""Devices seen in an event's context: platform, OS, app version and push token."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from loopline.domain.events import EventRecord

PLATFORM_BY_OS = {"ios": "ios", "ipados": "ios", "android": "android", "mac os x": "web"}


@dataclass(slots=True)  # built once per event; see EventRecord for why it is not frozen
class DeviceSeen:
    """What one event says about the device it came from."""

    device_id: str
    profile_id: str
    seen_at: datetime
    platform: str | None = None
    os_name: str | None = None
    os_version: str | None = None
    app_name: str | None = None
    app_version: str | None = None
    app_build: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    push_token: str | None = None
    advertising_id: str | None = None


def _text(container: Any, key: str, limit: int = 512) -> str | None:
    if not isinstance(container, dict):
        return None
    value = container.get(key)
    if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
        return str(value)[:limit]
    return None


def _platform(device: Any, os_name: str | None, context: dict[str, Any]) -> str | None:
    kind = (_text(device, "type") or "").lower()
    if kind in {"ios", "android"}:
        return kind
    if os_name and os_name.lower() in PLATFORM_BY_OS:
        return PLATFORM_BY_OS[os_name.lower()]
    if context.get("userAgent") or kind == "web":
        return "web"
    return kind or None


def device_seen(record: EventRecord, profile_id: str) -> DeviceSeen | None:
    """Return the device an event came from, keyed by device id or else anonymous id."""
    context = record.context
    device, os, app = context.get("device"), context.get("os"), context.get("app")
    device_id = _text(device, "id", 256) or record.anonymous_id
    if not device_id:
        return None
    os_name = _text(os, "name", 64)
    return DeviceSeen(
        device_id=device_id,
        profile_id=profile_id,
        seen_at=record.timestamp,
        platform=_platform(device, os_name, context),
        os_name=os_name,
        os_version=_text(os, "version", 64),
        app_name=_text(app, "name", 128),
        app_version=_text(app, "version", 64),
        app_build=_text(app, "build", 64),
        manufacturer=_text(device, "manufacturer", 128),
        model=_text(device, "model", 128),
        push_token=_text(device, "token"),
        advertising_id=_text(device, "advertisingId", 128),
    )


def newest_per_device(seen: list[DeviceSeen]) -> list[DeviceSeen]:
    """Keep, per device, the sighting from the latest event, filling its gaps from older ones."""
    by_device: dict[str, list[DeviceSeen]] = {}
    for item in seen:
        by_device.setdefault(item.device_id, []).append(item)
    result = []
    for sightings in by_device.values():
        sightings.sort(key=lambda d: d.seen_at, reverse=True)
        newest = sightings[0]
        missing = [name for name in DeviceSeen.__dataclass_fields__ if getattr(newest, name) is None]
        if missing and len(sightings) > 1:
            filled = {}
            for older in sightings[1:]:
                for name in missing:
                    value = getattr(older, name)
                    if value is not None and name not in filled:
                        filled[name] = value
                if len(filled) == len(missing):
                    break
            newest = replace(newest, **filled)
        result.append(newest)
    return result
