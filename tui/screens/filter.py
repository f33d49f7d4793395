"""``f``: filter the claims list by status, verdict, author and source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from ledger.projections import ScaleStep
from tui.model import STATUSES, Filters
from tui.widgets.safe import safe_text


class FilterScreen(ModalScreen[Filters | None]):
    """Four filters; the search text (``/``) is kept as it is."""

    CSS_PATH = "filter.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "cancel", id="filter.cancel"),
        Binding("ctrl+s", "apply", "apply", id="filter.apply"),
    ]

    def __init__(self, filters: Filters, scale: Sequence[ScaleStep], authors: list[str]) -> None:
        super().__init__()
        self.filters = filters
        self.scale = scale
        self.authors = authors

    def compose(self) -> ComposeResult:
        f = self.filters
        verdicts: list[tuple[Text, str]] = [(Text("no verdict"), "none")]
        verdicts += [(safe_text(s.name), s.name) for s in self.scale]
        with Vertical(id="filter-box"):
            yield Label("Filter claims (as of the cursor)", id="filter-title")
            yield Label("status")
            yield Select(
                [(Text(s), s) for s in STATUSES],
                prompt="any status",
                value=f.status if f.status else Select.NULL,
                id="filter-status",
            )
            yield Label("verdict")
            yield Select(
                verdicts,
                prompt="any verdict",
                value=f.verdict if f.verdict else Select.NULL,
                id="filter-verdict",
            )
            yield Label("author (signed an event on the claim)")
            if self.authors:
                yield Select(
                    [(safe_text(a), a) for a in self.authors],
                    prompt="anyone",
                    value=f.author if f.author in self.authors else Select.NULL,
                    id="filter-author",
                )
            else:
                yield Input(
                    value=f.author or "",
                    placeholder="key name or fingerprint prefix",
                    id="filter-author",
                )
            yield Label("source (attributed, or where the claim appeared)")
            yield Input(
                value=f.source or "", placeholder="source id, e.g. src_3w4y", id="filter-source"
            )
            with Horizontal(id="filter-buttons"):
                yield Button("apply", variant="primary", id="filter-apply")
                yield Button("clear", id="filter-clear")
                yield Button("cancel", id="filter-cancel")

    def _value(self, selector: str) -> str | None:
        widget = self.query_one(selector)
        if isinstance(widget, Select):
            value = widget.value
            return value if isinstance(value, str) else None
        if isinstance(widget, Input):
            return widget.value.strip() or None
        return None

    def action_apply(self) -> None:
        self.dismiss(
            Filters(
                text=self.filters.text,
                status=self._value("#filter-status"),
                verdict=self._value("#filter-verdict"),
                author=self._value("#filter-author"),
                source=self._value("#filter-source"),
            )
        )

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#filter-apply")
    def _apply(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#filter-clear")
    def _clear(self) -> None:
        self.dismiss(Filters(text=self.filters.text))

    @on(Button.Pressed, "#filter-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


__all__ = ["FilterScreen"]
