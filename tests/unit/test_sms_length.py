"""SMS encoding and segment counts, as carriers bill them."""

from __future__ import annotations

import pytest

from loopline.domain.sms import measure


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("", "gsm7", 0, 0),
    ("Hello", "gsm7", 5, 1),
    ("a" * 160, "gsm7", 160, 1),
    ("a" * 161, "gsm7", 161, 2),  # split: 153 per segment
    ("a" * 306, "gsm7", 306, 2),
    ("a" * 307, "gsm7", 307, 3),
    ("Price: 5€", "gsm7", 10, 1),  # the euro sign is in the extension table: two places
    ("{" * 80, "gsm7", 160, 1),
    ("{" * 81, "gsm7", 162, 2),
    ("a" * 152 + "€" + "a" * 10, "gsm7", 164, 2),  # the escape pair does not straddle segments: 152 + (2 + 10)
    ("a" * 152 + "€" + "a" * 152, "gsm7", 306, 3),  # 152, then 2 + 151, then 1
    ("Grüße aus München", "gsm7", 17, 1),  # ü and ß are GSM-7, but…
    ("Привет", "ucs2", 6, 1),
    ("“quoted”", "ucs2", 8, 1),  # curly quotes are not: the whole text goes as UCS-2
    ("a" * 70, "gsm7", 70, 1),
    ("é" * 69 + "😀", "ucs2", 71, 2),  # an emoji takes two units
    ("ж" * 70, "ucs2", 70, 1),
    ("ж" * 71, "ucs2", 71, 2),
    ("ж" * 66 + "😀" + "ж" * 66, "ucs2", 134, 3),  # the surrogate pair does not straddle: 66, 2 + 65, 1
    ("ж" * 134, "ucs2", 134, 2),
    ("ж" * 135, "ucs2", 135, 3),
])
def test_encoding_and_segments(text: str, encoding: str, units: int, segments: int) -> None:
    measured = measure(text)
    assert (measured.encoding, measured.units, measured.segments) == (encoding, units, segments)
