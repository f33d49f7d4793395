"""The main screen's footer, with help and quit kept in view at the right edge.

Textual's footer lays its keys out left to right and cuts what does not fit; the
app's own keys come last, so in an 80-column terminal ``? help`` and ``q quit`` were
the ones cut. Here they are docked right, where the command palette's key would go,
and the screen's keys are cut instead (help lists them all): whole keys, each with its
label, never a key left with a stub of its label.
"""

from __future__ import annotations

from typing import Final

from textual import events
from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Label

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

    class Fitted(Message):
        """The keys that do not fit whole are hidden (the screen is settled again)."""

    fitted = False
    """Whether the keys shown are those that fit; a recompose or a resize lays them all
    out first, for a frame, and :meth:`_fit` cuts them after it."""

    def bindings_changed(self, screen: Screen[object]) -> None:
        self.fitted = False  # a recompose is on its way
        super().bindings_changed(screen)
        if not (self.is_attached and screen is self.screen and screen.app.app_focus):
            self.call_after_refresh(self._fit)  # none is: the keys stay as they are

    def compose(self) -> ComposeResult:
        self.fitted = False
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
        self.call_after_refresh(self._fit)

    def on_resize(self, event: events.Resize) -> None:
        self.fitted = False
        for child in self.children:
            child.display = True  # laid out whole again, then cut to fit
        self.call_after_refresh(self._fit)

    def _fit(self, tries: int = 20) -> None:
        """Hide the keys (and a group's keys with its label) that do not fit whole."""
        children = list(self.children)
        if tries and any(c.display and not c.region.width for c in children):
            # Recomposed, not laid out yet (all at 0): measured now, nothing would be cut,
            # and a key overlapped by help and quit would show a stub of its label.
            self.call_after_refresh(self._fit, tries - 1)
            return
        room = self.region.right - sum(c.outer_size.width for c in children if _kept(c))
        cut = False
        for i, child in enumerate(children):
            if _kept(child):
                continue
            if not cut and child.region.right > room:
                cut = True
                if isinstance(child, Label) and i and not _kept(children[i - 1]):
                    children[i - 1].display = False  # a group's keys go with its label
            if cut:
                child.display = False
        self.fitted = True
        self.post_message(self.Fitted())


def _kept(widget: Widget) -> bool:
    return widget.has_class("-kept")


__all__ = ["KEPT", "KeysFooter"]
