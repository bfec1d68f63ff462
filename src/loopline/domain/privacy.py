"""Erasure and export rules: suppression digests, and neutralising spreadsheet formulas."""

from __future__ import annotations

import hashlib
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def suppression_digest(workspace_id: str, kind: str, value: str) -> str:
    """Return the digest kept for an erased identifier, so the id itself is not retained."""
    return hashlib.sha256(f"{workspace_id}\x1f{kind}\x1f{value}".encode()).hexdigest()


def is_suppressed(
    suppressed: set[tuple[str, str]], workspace_id: str, identifiers: list[tuple[str, str]]
) -> bool:
    """Return whether any identifier of a message belongs to an erased person."""
    return any(
        (kind, suppression_digest(workspace_id, kind, value)) in suppressed
        for kind, value in identifiers
    )


def neutralise_cell(value: Any) -> str:
    """Return a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text
