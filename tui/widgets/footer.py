"""The main screen's footer, with help and quit kept in view at the right edge.

Textual's footer lays its keys out left to right and cuts what does not fit; the
app's own keys come last, so in an 80-column terminal ``? help`` and ``q quit`` were
the ones cut. Here they are docked right, where the command palette's key would go,
and the screen's keys are cut instead (help lists them all).
"""

from __future__ import annotations

from typing import Final

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widget import Widget
from textual.widgets import Footer

KEPT: Final = frozenset({"help", "quit"})
"""The actions whose keys are always shown."""


class KeysFooter(Footer):
    DEFAULT_CSS = """
    KeysFooter > HorizontalGroup.-kept {
        dock: right;
        width: auto;
        background: $footer-background;
        border-left: vkey $foreground 20%;
    }
    """

    def compose(self) -> ComposeResult:
        kept: list[Widget] = []
        for widget in super().compose():
            # a key (FooterKey is not public API: known by the action it runs)
            if getattr(widget, "action", None) in KEPT:
                kept.append(widget)
            else:
                yield widget
        if kept:
            with HorizontalGroup(classes="-kept"):
                yield from kept


__all__ = ["KEPT", "KeysFooter"]
