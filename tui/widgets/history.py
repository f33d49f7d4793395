"""The claim's history timeline: every event of its stream, who signed it, and a badge.

Events after the cursor are dimmed (they have not happened yet at that position); the
event at the cursor is marked ``▶``. The badge comes from the last verifier run:
``✔`` verified, ``⊘`` void (its key was revoked as compromised), ``✘`` a finding
names the entry, ``○`` not yet checked. Enter moves the time cursor to the
highlighted event.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ledger.projections import HistoryStep
from tui.messages import JumpTo
from tui.model import ClaimView, Verification, badge_for
from tui.widgets.claim_pane import describe_step
from tui.widgets.keys import list_bindings
from tui.widgets.safe import shorten
from tui.widgets.styles import DIM, FUTURE, badge, badge_legend, signer, when

KIND_CELLS = 22
"""The kind column, with the space before the badge."""
KIND_FITS = 18
"""Cells the longest kind (``source.attributed``) takes, with that space."""


def step_text(
    step: HistoryStep,
    position: int,
    role: str | None,
    verification: Verification | None,
    width: int,
) -> Text:
    """Two lines: ``▶ #121 2024-06-12 14:00 claim.corrected ✔`` and who/what (pure)."""
    seq = step.event.seq
    future = seq > position
    here = seq == position
    top = Text()
    top.append("▶ " if here else "  ", style="bold")
    top.append(f"#{seq:<6}", style="bold" if here else "")
    # Narrow, the badge must stay on the line: the time goes first, then the kind is cut.
    stamp = when(step.event.at)
    if width - 12 - len(stamp) < KIND_FITS:
        stamp = stamp[:10]  # the day
    if width - 12 - len(stamp) < 7:
        stamp = ""  # narrower still: the kind keeps what room there is
    kind = max(min(KIND_CELLS, width - 12 - len(stamp) if stamp else width - 10), 4)
    if stamp:
        top.append(f"{stamp}  ")
    top.append(f"{shorten(step.event.kind, kind - 1):<{kind}}", style="bold" if here else "")
    top.append_text(badge(badge_for(verification, seq, step.event.author)))
    who = Text("        ")
    who.append_text(signer(step.event, role))
    who.truncate(width, overflow="ellipsis")
    what = Text("        ")
    what.append(shorten(describe_step(step), max(width - 8, 1)), style=DIM)
    out = Text("\n").join([top, who, what])
    if future:
        out.stylize(FUTURE)  # not happened yet at the cursor
    return out


class HistoryList(OptionList, inherit_bindings=False):
    """The selected claim's events; highlighted row follows the cursor."""

    DEFAULT_CSS = """
    HistoryList {
        height: 1fr;
        border: round $accent 50%;
    }
    HistoryList:focus {
        border: round $accent;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *list_bindings("history"),
        Binding("enter", "select", "go", id="history.go"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._base: tuple[object, ...] | None = None
        self._states: list[tuple[bool, bool]] = []
        self._shown: tuple[ClaimView | None, dict[str, str], Verification | None] | None = None

    def on_mount(self) -> None:
        self.border_title = "History"
        self.border_subtitle = badge_legend().plain

    def show(
        self,
        view: ClaimView | None,
        roles: dict[str, str],
        verification: Verification | None,
    ) -> None:
        self._shown = (view, roles, verification)
        history = view.history if view is not None else ()
        position = view.position if view is not None else -1
        past = [i for i, s in enumerate(history) if s.event.seq <= position]
        # A step redraws only the events whose state (past, here, future) it changed:
        # a claim can have hundreds of events.
        base = (id(history), id(verification), len(roles), self.size.width)
        states = [(s.event.seq > position, s.event.seq == position) for s in history]
        width = max(self.size.width - 4, 16)

        def prompt(i: int) -> Text:
            step = history[i]
            return step_text(step, position, roles.get(step.event.author), verification, width)

        if base == self._base:
            for i, (old, new) in enumerate(zip(self._states, states, strict=True)):
                if old != new:
                    self.replace_option_prompt_at_index(i, prompt(i))
        else:
            self.set_options(Option(prompt(i), str(s.event.seq)) for i, s in enumerate(history))
        self._base, self._states = base, states
        if past:
            self.highlighted = past[-1]
            self.call_after_refresh(self._scroll_to_cursor)
        count = len(history)
        noun = "event" if count == 1 else "events"
        self.border_title = f"History ({count} {noun})" if count else "History"

    def on_resize(self, event: events.Resize) -> None:
        """Lay the rows out again for the new width (each row is cut to fit it)."""
        if (
            self._shown is not None
            and self._base is not None
            and self._base[-1] != event.size.width
        ):
            self.show(*self._shown)

    def _scroll_to_cursor(self) -> None:
        """Show the cursor's event near the top, after the one before it (the same view
        whatever path led here, unlike the minimal scroll of a moved highlight). Near the
        end of the list, where the top is out of reach, the end is shown instead: going
        back a row there would hide the cursor's event under the bottom edge."""
        self.scroll_to_highlight(top=True)
        if self.scroll_y < self.max_scroll_y:
            self.scroll_relative(y=-3, animate=False, immediate=True)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(JumpTo(int(event.option.id)))


__all__ = ["HistoryList", "step_text"]
