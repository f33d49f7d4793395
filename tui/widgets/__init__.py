"""Reusable widgets of the terminal UI; each carries its styles in ``DEFAULT_CSS``."""

from __future__ import annotations

from tui.widgets.attributions import AttributionsPane
from tui.widgets.claim_pane import ClaimPane
from tui.widgets.claims_table import ClaimsTable
from tui.widgets.findings import FindingsPanel
from tui.widgets.header import LedgerHeader
from tui.widgets.history import HistoryList
from tui.widgets.safe import safe_text, visible
from tui.widgets.timeline_strip import TimelineStrip

__all__ = [
    "AttributionsPane",
    "ClaimPane",
    "ClaimsTable",
    "FindingsPanel",
    "HistoryList",
    "LedgerHeader",
    "TimelineStrip",
    "safe_text",
    "visible",
]
