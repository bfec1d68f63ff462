"""A workspace's theme for the pages customers see: brand name, logo, colours and a font stack.

Only validated values ever reach a page — colours as ``#rrggbb``, a font by its name in a
fixed list, a logo as an https address — and they are written as CSS custom properties, so a
theme cannot carry CSS of its own (no injection through a colour or a font name).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loopline.domain.segments.definition import problems_of, unstorable_text

HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# The font stacks a theme may pick from, by name; each falls back to fonts every device has.
FONTS: dict[str, str] = {
    "system": 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    "humanist": '"Gill Sans", "Gill Sans MT", Calibri, "Trebuchet MS", sans-serif',
    "geometric": 'Avenir, "Avenir Next", Montserrat, "Century Gothic", sans-serif',
    "serif": 'Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif',
    "rounded": 'ui-rounded, "SF Pro Rounded", "Hiragino Maru Gothic ProN", Quicksand, Nunito, sans-serif',
    "monospace": 'ui-monospace, "Cascadia Code", Menlo, Consolas, "DejaVu Sans Mono", monospace',
}


class ThemeRejected(ValueError):
    """A theme that cannot be saved; ``problems`` say what is wrong and where."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems))
        self.problems = problems


def _colour(value: str) -> str:
    if not HEX_COLOUR.match(value):
        raise ValueError("a colour is a hex value such as #1a73e8 or #fff")
    if len(value) == 4:  # #abc is #aabbcc
        value = "#" + "".join(digit * 2 for digit in value[1:])
    return value.lower()


class Theme(BaseModel):
    """How customer-facing pages look; every field has a plain default, so no theme is a theme too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_name: str = Field(default="", max_length=80)
    logo_url: str | None = Field(default=None, max_length=500)
    primary_color: str = "#1f6feb"
    background_color: str = "#ffffff"
    text_color: str = "#1f2328"
    font: str = "system"

    @field_validator("brand_name")
    @classmethod
    def _brand(cls, value: str) -> str:
        return value.strip()

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or any(c in value for c in " \"'()<>\\"):
            raise ValueError("the logo must be an https address such as https://example.com/logo.png")
        return value

    @field_validator("primary_color", "background_color", "text_color")
    @classmethod
    def _colours(cls, value: str) -> str:
        return _colour(value.strip())

    @field_validator("font")
    @classmethod
    def _font(cls, value: str) -> str:
        if value not in FONTS:
            raise ValueError(f"the font must be one of {', '.join(FONTS)}")
        return value


def parse_theme(data: Any) -> Theme:
    """Validate a theme; raise ThemeRejected naming each problem and where."""
    if problems := unstorable_text(data):
        raise ThemeRejected(problems)
    try:
        return Theme.model_validate(data)
    except ValidationError as error:
        raise ThemeRejected(problems_of(error)) from None


def _luminance(colour: str) -> float:
    """Return the relative luminance of ``#rrggbb`` (WCAG 2)."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """Return the WCAG contrast ratio of two colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_on(colour: str) -> str:
    """Return black or white, whichever reads better on ``colour`` (a button's label on the primary colour)."""
    return "#000000" if contrast_ratio(colour, "#000000") >= contrast_ratio(colour, "#ffffff") else "#ffffff"


def css_variables(theme: Theme) -> str:
    """Return the theme as CSS custom properties on ``:root``: validated values only, nothing else."""
    values = {
        "--brand-primary": theme.primary_color,
        "--brand-on-primary": text_on(theme.primary_color),
        "--brand-background": theme.background_color,
        "--brand-text": theme.text_color,
        "--brand-font": FONTS[theme.font],
    }
    return ":root{" + "".join(f"{name}:{value};" for name, value in values.items()) + "}"


def contrast_warnings(theme: Theme) -> list[str]:
    """Return why a theme may be hard to read (below WCAG AA's 4.5:1 for text), for the person editing it."""
    ratio = contrast_ratio(theme.text_color, theme.background_color)
    if ratio < 4.5:
        return [f"text on the background has a contrast of {ratio:.1f}:1; 4.5:1 or more reads well for everyone"]
    return []
