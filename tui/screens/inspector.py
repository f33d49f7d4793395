"""``i``: the event inspector — one entry's canonical bytes, signature and inclusion proof.

``[`` and ``]`` inspect the previous or next entry (and move the time cursor with it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from tui.catalog import Catalog
from tui.messages import InspectionLoaded
from tui.model import LedgerInfo, Verification, badge_for, clamp
from tui.reader import Reader
from tui.widgets.inspector import inspection_text
from tui.widgets.safe import safe_text
from tui.widgets.styles import DIM

_STEP = Binding.Group("entry", compact=True)


class InspectorScreen(ModalScreen[None]):
    CSS_PATH = "inspector.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "left_square_bracket", "step(-1)", "previous entry", id="inspector.back", group=_STEP
        ),
        Binding(
            "right_square_bracket", "step(1)", "next entry", id="inspector.forward", group=_STEP
        ),
        # priority: ahead of the box's own arrows (see tui.screens.help)
        Binding("up", "scroll(-1)", "scroll", id="inspector.scroll_up", show=False, priority=True),
        Binding(
            "down", "scroll(1)", "scroll", id="inspector.scroll_down", show=False, priority=True
        ),
        Binding("escape,i,q", "dismiss(None)", "close", id="inspector.close"),
    ]

    def __init__(
        self,
        reader: Reader,
        catalog: Catalog | None,
        position: int,
        info: LedgerInfo,
        verification: Verification | None,
        on_step: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self.reader = reader
        self.catalog = catalog
        self.position = position
        self.info = info
        self.verification = verification
        self.on_step = on_step
        self._started = False
        self._shown: int | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="inspector-box"):
            yield Static(Text("reading the entry…", style=DIM), id="inspector-body")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#inspector-box").border_title = "Event inspector"

    def on_screen_resume(self) -> None:
        # Read once the screen is current: content that lands before the screen is
        # shown can miss its layout and stay one line tall.
        if not self._started:
            self._started = True
            self.load(self.position)

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def load(self, seq: int) -> None:
        inspection = self.reader.inspect(seq, self.catalog)
        if not get_current_worker().is_cancelled:
            self.post_message(InspectionLoaded(inspection))

    def on_inspection_loaded(self, message: InspectionLoaded) -> None:
        inspection = message.inspection
        if inspection.event.seq != self.position:
            return
        event = inspection.event
        status = badge_for(self.verification, event.seq, event.author)
        body = inspection_text(inspection, self.info.head, status)
        self.query_one("#inspector-body", Static).update(body)
        if self._shown != event.seq:  # another entry: from its top, where it is named
            self._shown = event.seq
            self.query_one("#inspector-box", VerticalScroll).scroll_home(animate=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = getattr(event.worker.error, "message", None) or str(event.worker.error)
            self.query_one("#inspector-body", Static).update(
                safe_text(f"could not read the entry: {error}", "bold red")
            )

    def action_step(self, delta: int) -> None:
        position = clamp(self.position + delta, self.info.head)
        if position == self.position:
            return
        self.position = position
        self.load(position)
        if self.on_step is not None:
            self.on_step(position)

    def action_scroll(self, delta: int) -> None:
        box = self.query_one("#inspector-box", VerticalScroll)
        box.scroll_relative(y=delta, animate=False, immediate=True)  # a held key: every press


__all__ = ["InspectorScreen"]
