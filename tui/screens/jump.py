"""``t``: jump the time cursor to a sequence number or a date."""

from __future__ import annotations

import re
from typing import ClassVar, Final

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from ledger.errors import LedgerError
from tui.messages import Failed, PositionResolved
from tui.reader import Reader

FORMAT: Final = re.compile(r"[0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].+)?")
"""What could be a position: the ledger reads it and says what is wrong with it."""


class JumpScreen(ModalScreen[int | None]):
    """Ask for a position and resolve it (a date means the end of that UTC day).

    The box stays open, saying why, until the answer names a position in the log.
    """

    CSS_PATH = "jump.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "cancel", id="jump.cancel"),
    ]

    def __init__(self, position: int, reader: Reader) -> None:
        super().__init__()
        self.position = position
        self.reader = reader

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-box"):
            # The cursor's position in the label, which wraps: a placeholder is cut
            # at the box's width, and in a narrow terminal it was cut there.
            yield Label(
                f"Jump from #{self.position} to a sequence number, a date (the end of "
                "that UTC day) or a time with its zone"
            )
            yield Input(placeholder="e.g. 42, 2024-06-12 or 2024-06-12T14:00:00Z", id="jump-input")
            yield Label("", id="jump-error")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not FORMAT.fullmatch(text):
            self._error("give a number, a date YYYY-MM-DD or a time like 2024-06-12T14:00:00Z")
            return
        self.resolve(text)

    @work(thread=True, exclusive=True, group="jump", exit_on_error=False)
    def resolve(self, text: str) -> None:
        try:
            position = self.reader.position(text)
        except LedgerError as exc:
            self.post_message(Failed("jump", exc.message))
        else:
            self.post_message(PositionResolved(position))

    def on_position_resolved(self, message: PositionResolved) -> None:
        self.dismiss(message.position)

    def on_failed(self, message: Failed) -> None:
        self._error(message.error)

    def _error(self, message: str) -> None:
        self.query_one("#jump-error", Label).update(Content(message))


__all__ = ["JumpScreen"]
