"""Rich push: what a push or web push message may carry beyond its title, body and deep link.

The title is the content's ``subject`` and the deep link its ``url``; these options add an
image, action buttons, the app badge, a sound, a collapse key (a newer message replaces an
older one with the same key on the device) and a time to live (how long the push service
keeps trying an offline device).
"""

from __future__ import annotations

from typing import Annotated

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
