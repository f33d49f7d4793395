"""The main screen: claims, the claim as of the time cursor, its sources and history.

State lives here — the cursor position, the selected claim, the filters, the last
verification. Every read is a thread worker of :class:`tui.session.LedgerSession`
that reports back by message; results for a position or claim that is no longer
current are dropped, so the screen always ends on the latest position.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input

from ledger.ledger import Ledger
from ledger.projections import EventView, Projection
from tui import messages as msg
from tui import notices
from tui.catalog import Catalog
from tui.commands import LedgerCommands
from tui.model import (
    ClaimView,
    Filters,
    LedgerInfo,
    Verification,
    affects,
    claim_of,
    claim_view,
    clamp,
    finding_position,
    step_claim,
)
from tui.notices import Notice
from tui.reader import Reader
from tui.screens.main_keys import MAIN_BINDINGS
from tui.session import LedgerSession
from tui.widgets.attributions import AttributionsPane
from tui.widgets.claim_pane import ClaimPane
from tui.widgets.claims_table import ClaimsTable
from tui.widgets.findings import FindingsPanel
from tui.widgets.footer import KeysFooter
from tui.widgets.header import LedgerHeader
from tui.widgets.history import HistoryList
from tui.widgets.safe import visible
from tui.widgets.timeline_strip import TimelineStrip


class MainScreen(Screen[None]):
    CSS_PATH = "main.tcss"
    COMMANDS: ClassVar = {LedgerCommands}
    BINDINGS: ClassVar[list[BindingType]] = MAIN_BINDINGS

    def __init__(
        self,
        ledger: Ledger,
        *,
        projection: Projection | None = None,
        unsafe_allow_test_keys: bool = False,
    ) -> None:
        super().__init__()
        self.ledger = ledger
        self.reader: Reader | None = None
        self.info: LedgerInfo | None = None
        self.catalog: Catalog | None = None
        self.roles: dict[str, str] = {}
        self.verification: Verification | None = None
        self.verifying: float | None = None
        self.rereading: float | None = None
        self.error: str | None = None
        self.position = 0
        self.claim_id: str | None = None
        self.filters = Filters()
        self._listed = Filters()
        """The filters of the rows on screen: what a filter that cannot be read reverts to."""
        self.event: EventView | None = None
        self.claim_view: ClaimView | None = None
        self._follow_subject = False
        self._search_open = False
        self._panel_open = False
        self.session = LedgerSession(
            ledger,
            projection=projection,
            unsafe_allow_test_keys=unsafe_allow_test_keys,
        )
        self._waiters: list[asyncio.Future[None]] = []
        self._seen: dict[int, EventView] = {}
        """Entries already read, by position (bounded): a step back needs no query."""
        self._crossing: tuple[int, int] | None = None
        self._synced: int | None = None
        self._footer = KeysFooter(compact=True, show_command_palette=False)
        """The position the claims list and claim pane show (or are being read for)."""

    def compose(self) -> ComposeResult:
        yield LedgerHeader(id="header")
        yield TimelineStrip(id="strip")
        yield ClaimsTable(id="claims")
        with Horizontal(id="detail"):
            with Vertical(id="left"):
                yield ClaimPane(id="claim")
                yield AttributionsPane(id="attributions")
            yield HistoryList(id="history")
        yield FindingsPanel(id="verification")
        yield Input(
            placeholder="search claim text or claimant; enter keeps it, esc clears", id="search"
        )
        yield self._footer
        yield self.session

    @property
    def table(self) -> ClaimsTable:
        return self.query_one(ClaimsTable)

    @property
    def busy(self) -> bool:
        """A read for the current position or selection is still on its way."""
        opening = self.info is None and self.error is None
        fitting = not self._footer.fitted
        return opening or fitting or self.session.busy or self._crossing is not None

    async def settled(self) -> None:
        """Return once every read in flight has landed and the screen was repainted.

        Tests and the latency benchmark await this after a key press: it is the moment
        the user sees the result.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._check_settled()
        await future

    def _check_settled(self) -> None:
        if not self._waiters or self.busy:
            return
        waiters, self._waiters = self._waiters, []

        def wake() -> None:
            for future in waiters:
                if not future.done():
                    future.set_result(None)

        self.call_after_refresh(wake)

    def on_mount(self) -> None:
        self.table.border_title = "Claims"
        self.table.focus()
        self.session.open_ledger()

    # --- what the workers found -----------------------------------------------------------

    def on_landed(self, message: msg.Landed) -> None:
        self._check_settled()

    def on_keys_footer_fitted(self, message: KeysFooter.Fitted) -> None:
        self._check_settled()

    def on_failed(self, message: msg.Failed) -> None:
        self.rereading = None
        if message.what == "open":
            self.error = message.error
            self._check_settled()
            self.query_one(ClaimPane).show_error(f"could not open the ledger: {message.error}")
            self._header()
        elif message.what == "verify":
            self.verifying = None
            self.query_one(FindingsPanel).fail(message.error)
            self._header()
        elif message.what == "page" and self.filters != self._listed:
            # A filter that names nothing (a source 'zzz'): the rows, the title and the
            # filter dialog go on showing the filter that was last listed.
            self.set_filters(self._listed)
            self.notify(message.error, title="filter not applied", severity="error", markup=False)
        else:
            self.notify(
                message.error, title=f"{message.what} failed", severity="error", markup=False
            )

    def on_rereading(self, message: msg.Rereading) -> None:
        self.rereading = message.done / max(message.end, 1)
        self._header()

    def on_ledger_opened(self, message: msg.LedgerOpened) -> None:
        self.rereading = None
        at_head = self.info is None or self.position == self.info.head
        self.reader, self.info = message.reader, message.info
        stands = notices.verification_stands(message.refresh, self.verification, message.beside)
        stands = stands and not message.torn[0]  # v would now find the partial line
        if message.reloaded and not stands:
            # The log may have changed under us: what was read and verified is stale.
            forgot, self.verification = self.verification is not None, None
            self._seen.clear()
            self.claim_view = None
            self.table.reset()
            self.table.set_verification(None)
            panel = self.query_one(FindingsPanel)
            if self.focused is None or panel in self.focused.ancestors_with_self:
                self.table.focus()  # the panel closes: focus must not go with it
            panel.hide()
            self._panel_open = False
            self.tell(notices.after_reload(message.refresh, forgot=forgot))
        elif message.reloaded:
            self.tell(notices.after_reload(message.refresh, stands=True))
        self.tell(notices.partial_tail(message.torn))
        if not message.reloaded or at_head or self.position > message.info.head:
            self.position = message.info.head
        self.table.scale = message.info.scale
        self.query_one(TimelineStrip).show_ledger(message.info)
        self._header()
        self._moved()
        self.session.load_catalog()

    def tell(self, notice: Notice | None) -> None:
        """Show a notice from :mod:`tui.notices` (plain text: it quotes the ledger)."""
        if notice is not None:
            title, message, severity, timeout = notice
            self.notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_catalog_loaded(self, message: msg.CatalogLoaded) -> None:
        self.catalog = message.catalog
        self.roles = {fp: key.role for fp, key in message.catalog.keys.items()}
        if self.event is not None:
            self.query_one(TimelineStrip).show_event(self.event, self.roles)
        self._render_claim()

    def on_page_wanted(self, message: msg.PageWanted) -> None:
        if self.reader is not None:
            self.session.request_page(self.position, self.filters, message.offset, message.limit)

    def on_page_loaded(self, message: msg.PageLoaded) -> None:
        self._listed = message.filters
        self.table.apply_page(message.page, message.filters)
        self._claims_title(message.page.total, message.page.as_of, message.filters)

    def _claims_title(self, total: int, as_of: int, filters: Filters) -> None:
        title = f"Claims ({total:,} as of #{as_of})"
        if filters.active:
            title += " · " + visible(filters.describe())
        self.table.border_title = Content(title)  # the search text is data, not markup

    def on_claim_highlighted(self, message: msg.ClaimHighlighted) -> None:
        if message.claim_id != self.claim_id:
            self.claim_id = message.claim_id
            self._load_claim()

    def on_event_loaded(self, message: msg.EventLoaded) -> None:
        self._remember(message.event)
        if message.event.seq == self.position:
            self._show_event(message.event)
        pending = self._crossing
        if pending is not None and pending[1] == message.event.seq:
            self._crossing = None
            self._stepped(message.event, forward=message.event.seq > pending[0])

    def _show_event(self, event: EventView) -> None:
        self.event = event
        subject = claim_of(event.kind, event.subject)
        if self._follow_subject:
            self._follow_subject = False
            if subject is not None and subject != self.claim_id:
                self.select_claim(subject)
        self.query_one(TimelineStrip).show_event(event, self.roles)
        self.table.mark_touched(subject)

    def on_claim_loaded(self, message: msg.ClaimLoaded) -> None:
        view = message.view
        if view.position != self.position or view.claim_id != self.claim_id:
            return
        self.claim_view = view
        self._render_claim()

    def on_jump_to(self, message: msg.JumpTo) -> None:
        if message.claim_id is not None:
            self.select_claim(message.claim_id)
        self.go(message.position, force=True)

    def on_verify_progress(self, message: msg.VerifyProgress) -> None:
        if self.verifying is not None and message.total:
            self.verifying = message.done / message.total
            self.query_one(FindingsPanel).advance(message.done, message.total)
            self._header()

    def on_verify_finished(self, message: msg.VerifyFinished) -> None:
        self.verifying = None
        self.verification = message.verification
        self.table.set_verification(message.verification)
        self.query_one(FindingsPanel).finish(message.verification)
        if self.info is not None:
            entries = message.verification.report.entries
            self.tell(notices.verified_another_size(entries, self.info.size))
        if message.verification.findings:
            self.query_one("#findings-list").focus()
        self._header()
        self._render_claim()

    def on_finding_chosen(self, message: msg.FindingChosen) -> None:
        if self.info is None:
            return
        line = message.finding.line
        report = self.verification.report if self.verification is not None else None
        if line is not None and report is not None and self.info.size < line <= report.entries:
            self.tell(notices.not_on_screen(line))
            return
        position = finding_position(message.finding, self.info.head, self.ledger.config.events)
        if position is None:  # said, not silently ignored
            self.tell(notices.no_entry(message.finding))
        else:
            self._follow_subject = True
            self.go(position, force=True)  # the findings keep focus: ↓ Enter, the next one

    # --- moving the cursor ----------------------------------------------------------------

    def go(self, position: int, *, force: bool = False) -> None:
        """Move the time cursor (clamped to the log); every pane follows."""
        if self.info is None:
            return
        position = clamp(position, self.info.head)
        if position != self.position or force:
            previous, self.position = self.position, position
            self._moved(None if force else previous)

    def select_claim(self, claim_id: str) -> None:
        """Select a claim (from the palette, a finding, a jump) and show it at the cursor."""
        self.claim_id = claim_id
        if not self.table.select(claim_id) and self.reader is not None:
            self.session.locate_claim(claim_id, self.position, self.filters)
        self._load_claim()

    def on_claim_wanted(self, message: msg.ClaimWanted) -> None:
        if message.claim_id == self.claim_id and self.reader is not None:
            self.session.locate_claim(message.claim_id, self.position, self.filters)

    def on_claim_located(self, message: msg.ClaimLocated) -> None:
        if message.claim_id == self.claim_id and message.index is not None:
            self.table.place(message.claim_id, message.index, (message.position, message.filters))

    def narrow(self, *, author: str | None = None, source: str | None = None) -> None:
        """List the claims of this reviewer or source (the palette's picks), keeping the
        search text and the other filters: the search box still shows the text."""
        changes = {"author": author} if author is not None else {"source": source}
        self.set_filters(replace(self.filters, **changes))

    def set_filters(self, filters: Filters) -> None:
        if filters != self.filters:
            self.filters = filters
            self.table.set_query((self.position, filters))
            self.refresh_bindings()

    def _moved(self, previous: int | None = None) -> None:
        """Follow the cursor. One step crosses one entry: when that entry touches neither
        the selected claim nor the listed rows, the panes are still right and only move
        their marks (see :func:`tui.model.affects`); otherwise, and for jumps, read again.

        Stepping is incremental only from a position the panes are known to show
        (``_synced``); keys pressed faster than entries arrive fall back to a reload.
        """
        self.query_one(TimelineStrip).move(self.position)
        known = self._seen.get(self.position)
        if known is not None:
            self._show_event(known)
        elif self.reader is not None:
            self.session.request_event(self.position)
        pending, self._crossing = self._crossing, None
        if (
            previous is None
            or pending is not None
            or previous != self._synced
            or abs(self.position - previous) != 1
        ):
            self._reload()
            return
        crossing = max(previous, self.position)
        event = self._seen.get(crossing)
        if event is not None:
            self._stepped(event, forward=self.position > previous)
        elif crossing == self.position:
            self._crossing = (previous, crossing)  # decided when the entry arrives
        else:
            self._reload()

    def _stepped(self, crossing: EventView, *, forward: bool) -> None:
        """The cursor moved across ``crossing``: re-read only what it can have changed."""
        wanted = (self.position, self.filters)
        subject = crossing.subject
        if subject.startswith("clm_"):
            asserted = crossing.kind == "claim.asserted"
            kept = self.table.step(wanted, subject, asserted=asserted, forward=forward)
        else:
            kept = self.table.retag(wanted)
        if kept:
            self._claims_title(self.table.total, self.position, self.filters)
        else:
            self.table.set_query(wanted)
        self._synced = self.position
        view = self.claim_view
        previous = self.position - 1 if forward else self.position + 1
        if (
            view is None
            or view.claim_id != self.claim_id
            or view.position != previous  # its read for the last step has not landed yet
            or affects(crossing, view)
        ):
            self._load_claim()
        else:
            self.claim_view = claim_view(view.claim_id, self.position, view.state, view.history)
            self._render_claim()

    def _reload(self) -> None:
        self.table.set_query((self.position, self.filters))
        self._load_claim()
        self._synced = self.position

    def _remember(self, event: EventView) -> None:
        self._seen[event.seq] = event
        if len(self._seen) > 4096:
            del self._seen[next(iter(self._seen))]

    def _load_claim(self) -> None:
        if self.reader is not None and self.claim_id is not None:
            self.session.request_claim(self.position, self.claim_id)

    def _header(self) -> None:
        self.query_one(LedgerHeader).update_state(
            info=self.info,
            verification=self.verification,
            progress=self.verifying,
            error=self.error,
            rereading=self.rereading,
        )

    def _render_claim(self) -> None:
        view = self.claim_view
        if view is None or self.info is None:
            return
        self.query_one(ClaimPane).show(view, self.info.scale, self.roles, self.verification)
        self.query_one(AttributionsPane).show(view, self.roles, self.verification)
        self.query_one(HistoryList).show(view, self.roles, self.verification)

    # --- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide "close" from the footer when there is nothing to close."""
        if action == "close":
            return self._search_open or self._panel_open or self.filters.active
        return True

    def action_step(self, delta: int) -> None:
        self.go(self.position + delta)

    def action_claim_step(self, direction: int) -> None:
        view = self.claim_view
        if view is None or view.claim_id != self.claim_id:
            self.app.bell()
            return
        target = step_claim(view.history, self.position, direction)
        if target is None:
            self.app.bell()
        else:
            self.go(target)

    def action_edge(self, end: int) -> None:
        if self.info is not None:
            self.go(self.info.head if end else 0)

    def action_jump(self) -> None:
        from tui.screens.jump import JumpScreen

        if self.reader is None:
            return

        def done(position: int | None) -> None:
            if position is not None:
                self.go(position)

        self.app.push_screen(JumpScreen(self.position, self.reader), done)

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("-shown")
        search.focus()
        self._search_open = True
        self.refresh_bindings()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.set_filters(self.filters.with_text(event.value.strip()))

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.remove_class("-shown")
            self._search_open = False
            self.refresh_bindings()
        self.table.focus()

    def action_filter(self) -> None:
        from tui.screens.filter import FilterScreen

        if self.info is None:
            return

        def done(filters: Filters | None) -> None:
            if filters is not None:
                self.set_filters(filters)

        keys = sorted({k.name for k in self.catalog.keys.values()}) if self.catalog else []
        self.app.push_screen(FilterScreen(self.filters, self.info.scale, keys), done)

    def action_verify(self) -> None:
        if self.verifying is not None:
            return
        self.verifying = 0.0
        self.app.clear_notifications()  # they would cover the findings ("press v" is done)
        self.query_one(FindingsPanel).start()
        self._panel_open = True
        self.refresh_bindings()
        self._header()
        self.session.run_verification()

    def action_inspect(self) -> None:
        from tui.screens.inspector import InspectorScreen

        if self.reader is None or self.info is None:
            return
        screen = InspectorScreen(
            self.reader, self.catalog, self.position, self.info, self.verification, self.go
        )
        self.app.push_screen(screen)

    def action_reload(self) -> None:
        if self.reader is not None and self.verifying is None:
            self.session.reload_ledger()

    def clear_filters(self) -> None:
        """Clear the search and the filters (the palette's action)."""
        search = self.query_one("#search", Input)
        search.value = ""
        search.remove_class("-shown")
        self._search_open = False
        self.set_filters(Filters())

    def action_close(self) -> None:
        search = self.query_one("#search", Input)
        if self._search_open:
            search.value = ""
            search.remove_class("-shown")
            self._search_open = False
            self.table.focus()
        elif self._panel_open:
            self.query_one(FindingsPanel).hide()
            self._panel_open = False
            self.table.focus()
        elif self.filters.active:
            self.set_filters(Filters())
        self.refresh_bindings()


__all__ = ["MainScreen"]
