"""How an SMS text travels: its encoding (GSM-7 or UCS-2) and how many segments it takes.

A text made only of the GSM 03.38 alphabet goes as GSM-7: 160 characters in one message,
153 per segment once it is split (the rest carries the concatenation header), and the
characters of the extension table (``€ [ ] { } \\ ~ ^ |`` and the form feed) take two
places each. Any other character — an emoji, a Cyrillic or Arabic letter, even a curly
quote — switches the whole text to UCS-2: 70 units in one message, 67 per segment, where a
character outside the Basic Multilingual Plane (most emoji) takes two units. Carriers bill
per segment, so the count is shown before a campaign goes out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"gsm7": 160, "ucs2": 70}
PER_SEGMENT = {"gsm7": 153, "ucs2": 67}
MAX_SEGMENTS = 10  # longer texts are refused rather than billed as a dozen messages


@dataclass(frozen=True, slots=True)
class SmsLength:
    """A text's encoding, its length in that encoding's units, and the segments it takes."""

    encoding: Literal["gsm7", "ucs2"]
    units: int
    segments: int


def measure(text: str) -> SmsLength:
    """Return how ``text`` would be sent: GSM-7 when every character allows it, else UCS-2."""
    encoding: Literal["gsm7", "ucs2"]
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in text):
        encoding, costs = "gsm7", [2 if char in GSM_EXTENSION else 1 for char in text]
    else:
        encoding, costs = "ucs2", [len(char.encode("utf-16-le")) // 2 for char in text]
    units = sum(costs)
    if units <= SINGLE[encoding]:
        return SmsLength(encoding, units, 1 if units else 0)
    # Split: a character never straddles two segments (an escape and its character, or a
    # surrogate pair, travel together), so a segment may end a unit short.
    segments, room = 1, PER_SEGMENT[encoding]
    for cost in costs:
        if cost > room:
            segments, room = segments + 1, PER_SEGMENT[encoding]
        room -= cost
    return SmsLength(encoding, units, segments)


# Keywords carriers and regulators expect a sender to honour (CTIA, Twilio's defaults, and
# the French ARRET), compared after case folding and dropping punctuation.
STOP_WORDS = frozenset({"stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke",
                        "opt out", "optout", "arret", "arrêt"})
START_WORDS = frozenset({"start", "unstop", "yes"})
HELP_WORDS = frozenset({"help", "info"})
_FREE_TEXT_STOP = re.compile(r"\b(stop|unsubscribe|opt out|remove me)\b")
Keyword = Literal["stop", "start", "help"]


def keyword_of(text: str) -> Keyword | None:
    """Return what an inbound text asks for: stop, start or help; None for anything else.

    A free text asking to stop ("please stop texting me") counts as a stop: honouring a
    revocation in any reasonable wording is what the rules require, and wrongly stopping
    costs less than texting someone who asked not to be.
    """
    normal = " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
    if normal in STOP_WORDS:
        return "stop"
    if normal in START_WORDS:
        return "start"
    if normal in HELP_WORDS:
        return "help"
    return "stop" if _FREE_TEXT_STOP.search(normal) else None


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Return the signature Twilio sends in ``X-Twilio-Signature`` for a form POST to ``url``:
    base64 of HMAC-SHA1, keyed by the auth token, over the URL followed by each parameter's
    name and value in name order."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
