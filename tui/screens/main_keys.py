"""The main screen's keys, as the footer, the help and the command palette show them."""

from __future__ import annotations

from typing import Final

from textual.binding import Binding, BindingType

_STEP = Binding.Group("step", compact=True)
_CLAIM = Binding.Group("claim", compact=True)
_ENDS = Binding.Group("ends", compact=True)

MAIN_BINDINGS: Final[list[BindingType]] = [
    Binding("left_square_bracket", "step(-1)", "one event back", id="cursor.back", group=_STEP),
    Binding(
        "right_square_bracket", "step(1)", "one event forward", id="cursor.forward", group=_STEP
    ),
    Binding(
        "left_curly_bracket",
        "claim_step(-1)",
        "the claim's previous event",
        id="cursor.claim_back",
        group=_CLAIM,
    ),
    Binding(
        "right_curly_bracket",
        "claim_step(1)",
        "the claim's next event",
        id="cursor.claim_forward",
        group=_CLAIM,
    ),
    Binding("g", "edge(0)", "first event", id="cursor.first", group=_ENDS),
    Binding("G", "edge(1)", "last event", id="cursor.last", group=_ENDS),
    Binding("t", "jump", "jump", id="cursor.jump", tooltip="jump to a sequence number or a date"),
    Binding("slash", "search", "search", id="search", tooltip="search claim text, claimant"),
    Binding(
        "f", "filter", "filter", id="filter", tooltip="filter: status, verdict, author, source"
    ),
    Binding("v", "verify", "verify", id="verify", tooltip="verify the whole ledger"),
    Binding("i", "inspect", "inspect", id="inspect", tooltip="inspect the event at the cursor"),
    Binding(
        "r",
        "reload",
        "reload",
        id="reload",
        tooltip="read entries appended since opening",
        show=False,  # in help and the palette: the footer has no room left
    ),
    Binding("escape", "close", "close", id="close", tooltip="close search or panel, clear filters"),
]


__all__ = ["MAIN_BINDINGS"]
