"""The claims list: a Line-API table that renders, and asks for, only the visible rows.

Textual's stock DataTable builds every row up front, which takes seconds at 100,000
claims. This widget instead knows only the row count; it renders each visible line on
demand (:meth:`render_line`) and, when rows it must draw are missing, posts
:class:`~tui.messages.PageWanted` for a window around the viewport. The screen answers
with a page from ``queries.list_claims(limit=, offset=)``. Rows from a stale query
(another cursor position or filter) stay on screen until the fresh page arrives, so
stepping through time never flickers.
"""

from __future__ import annotations

from typing import ClassVar, Final

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ledger.projections import ClaimPage, ClaimRow, ScaleStep
from tui.messages import ClaimHighlighted, ClaimWanted, PageWanted
from tui.model import Filters, Verification
from tui.widgets.safe import shorten
from tui.widgets.styles import BADGE, DIM, STATUS, verdict_style

MARGIN: Final = 20
"""Rows fetched beyond the viewport on each side."""
TEXT_CELLS: Final = 20
"""The fewest cells the claim's text gets while a column can be left out instead."""
Query = tuple[int, Filters]
_MOVE = Binding.Group("move", compact=True)


def _cell(text: str, width: int) -> str:
    return set_cell_size(shorten(text, width), width)


class ClaimsTable(ScrollView, can_focus=True):
    """Claims as of the cursor: id, status, verdict, sources, last change, claimant, text."""

    DEFAULT_CSS = """
    ClaimsTable {
        height: 1fr;
        background: $surface;
        scrollbar-gutter: stable;
        overflow-x: hidden;
    }
    ClaimsTable > .claims-table--header {
        text-style: bold;
        color: $text-muted;
    }
    ClaimsTable > .claims-table--cursor {
        background: $block-cursor-blurred-background;
    }
    ClaimsTable:focus > .claims-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    ClaimsTable > .claims-table--touched {
        text-style: bold;
        color: $warning;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "claims-table--header",
        "claims-table--cursor",
        "claims-table--touched",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "previous claim", id="claims.up", group=_MOVE),
        Binding("down", "move(1)", "next claim", id="claims.down", group=_MOVE),
        Binding("pageup", "page(-1)", "page up", id="claims.page_up", show=False),
        Binding("pagedown", "page(1)", "page down", id="claims.page_down", show=False),
        Binding("home", "edge(0)", "first claim", id="claims.home", show=False),
        Binding("end", "edge(1)", "last claim", id="claims.end", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total = 0
        self.rows: dict[int, ClaimRow] = {}
        self.wanted: Query | None = None
        self.loaded: Query | None = None
        self.cursor_row = 0
        self.selected: str | None = None
        self.touched: str | None = None
        self.scale: tuple[ScaleStep, ...] = ()
        self.verification: Verification | None = None
        """The last verifier run, for the verdicts it found void (see set_verification)."""
        self._asked: tuple[Query, int, int] | None = None
        self._reselect = True
        self._refiltered = False
        self._moving = False
        self._strips: dict[tuple[ClaimRow, int, bool, bool, bool, str, bool], Strip] = {}
        """Rendered rows: a row drawn once is not laid out again while it is unchanged."""

    # --- data -----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every row (the log changed): the next query reads afresh."""
        self.wanted = self.loaded = None
        self.rows = {}
        self._strips.clear()
        self._asked = None

    def set_query(self, wanted: Query) -> None:
        """The cursor or the filters changed: the rows on screen are stale."""
        if wanted == self.wanted:
            return
        if self.wanted is None or wanted[1] != self.wanted[1]:
            self._reselect = True
            # a search or filter the user changed, not a reload (which forgot wanted)
            self._refiltered = self.wanted is not None
        self.wanted = wanted
        self._asked = None
        self._want_rows()

    def retag(self, wanted: Query) -> bool:
        """The rows on screen are also right for ``wanted`` (a step that touched no
        claim): keep them. False when they are still loading (ask again instead)."""
        if self.loaded != self.wanted:
            return False
        self.wanted = self.loaded = wanted
        self._asked = None
        return True

    def step(self, wanted: Query, subject: str, *, asserted: bool, forward: bool) -> bool:
        """The cursor crossed one event on claim ``subject``: keep the rows that are still
        right. Unfiltered, the list is ordered by assertion, so such an event changes
        only that claim's row — or, for its assertion, adds or drops the last row. False
        when the rows must be read again (the claim is on screen, a filter is on, ...)."""
        if self.loaded != self.wanted or wanted[1].active:
            return False
        listed = any(row.claim_id == subject for row in self.rows.values())
        total = self.total
        if asserted and forward:
            if listed:
                return False
            total += 1
        elif asserted:
            last = self.rows.get(total - 1)
            if last is not None and last.claim_id != subject:
                return False
            self.rows.pop(total - 1, None)
            total -= 1
        elif listed:
            return False
        self.total = total
        self.wanted = self.loaded = wanted
        self._asked = None
        self.virtual_size = Size(self.size.width, self.total + 1)
        self.cursor_row = min(self.cursor_row, max(self.total - 1, 0))
        self.refresh()
        self._want_rows()
        return True

    def apply_page(self, page: ClaimPage, filters: Filters) -> None:
        """Store a page for the current query; drop one for an older query."""
        if (page.as_of, filters) != self.wanted:
            return
        first = self.loaded != self.wanted
        if first:
            self.rows = {}
            self.loaded = self.wanted
        self.total = page.total
        for i, row in enumerate(page.rows):
            self.rows[page.offset + i] = row
        self.virtual_size = Size(self.size.width, self.total + 1)
        index = next((i for i, r in self.rows.items() if r.claim_id == self.selected), None)
        if self._moving:
            # The user moved onto rows that were not loaded yet: they are now.
            self._announce()
        elif index is not None:
            self.cursor_row = index
            self.scroll_to_cursor()
        else:
            # Time travel keeps the selection even where the claim is not listed (not
            # asserted yet). A new filter or search keeps it where it still matches
            # (above), else selects the first claim it lists.
            if self._refiltered:
                self.cursor_row = 0
                self.scroll_to_cursor()
            self.cursor_row = min(self.cursor_row, max(self.total - 1, 0))
            if self.selected is None or self._reselect:
                self._announce()
            elif first and self.total:
                # The claim kept selected is listed beyond this page (the list grew
                # past it, say): find its row, and place() scrolls there.
                self.post_message(ClaimWanted(self.selected))
        self._reselect = self._refiltered = False
        self.refresh()
        self._want_rows()

    def set_verification(self, verification: Verification | None) -> None:
        """A verifier run finished (or what it verified went stale): mark the verdicts
        it found void, as of the listed position."""
        self.verification = verification
        self.refresh()

    def select(self, claim_id: str | None) -> bool:
        """Show ``claim_id`` as selected; False when it is on no loaded row (then
        :meth:`place` puts the cursor on it once its row is known)."""
        self.selected = claim_id
        found = False
        for i, row in self.rows.items():
            if row.claim_id == claim_id:
                self.cursor_row = i
                self.scroll_to_cursor()
                found = True
                break
        self.refresh()
        return found

    def place(self, claim_id: str, index: int, query: Query) -> None:
        """Move the cursor to row ``index``, where ``claim_id`` is listed for ``query``
        (a claim selected off the loaded rows), and load the rows around it."""
        if query != self.wanted or claim_id != self.selected or index >= max(self.total, 1):
            return
        self.cursor_row = index
        self.scroll_to_cursor()
        self.refresh()
        self._want_rows()

    def mark_touched(self, claim_id: str | None) -> None:
        """Mark the claim the event at the cursor touched."""
        if claim_id != self.touched:
            self.touched = claim_id
            self.refresh()

    def _announce(self) -> None:
        row = self.rows.get(self.cursor_row) if self.loaded == self.wanted else None
        self._moving = row is None
        if row is not None and row.claim_id != self.selected:
            self.selected = row.claim_id
            self.post_message(ClaimHighlighted(row.claim_id))

    def _visible(self) -> range:
        top = int(self.scroll_offset.y)
        return range(top, min(top + max(self.size.height - 1, 1), self.total))

    def _want_rows(self) -> None:
        if self.wanted is None:
            return
        visible = self._visible()
        fresh = self.loaded == self.wanted
        if fresh and self.total and all(i in self.rows for i in visible):
            return
        height = max(self.size.height, 10)
        offset = max(int(self.scroll_offset.y) - MARGIN, 0)
        limit = height + 2 * MARGIN
        asked = (self.wanted, offset, limit)
        if asked != self._asked:
            self._asked = asked
            self.post_message(PageWanted(offset, limit))

    # --- moving -----------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self._go(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._go(self.cursor_row + direction * max(self.size.height - 2, 1))

    def action_edge(self, end: int) -> None:
        self._go(self.total - 1 if end else 0)

    def _go(self, row: int) -> None:
        if not self.total:
            return
        self.cursor_row = max(0, min(row, self.total - 1))
        self.scroll_to_cursor()
        self.refresh()
        self._announce()
        self._want_rows()

    def scroll_to_cursor(self) -> None:
        # force: Textual allows a scroll only while it shows the scrollbar, which it
        # decides at the next layout; a list that just grew from none has none yet.
        top = int(self.scroll_offset.y)
        rows = max(self.size.height - 1, 1)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True, force=True)
        elif self.cursor_row >= top + rows:
            y = self.cursor_row - rows + 1
            self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._want_rows()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.total + 1)
        self.scroll_to_cursor()  # a shorter list must still show the selected row
        self._want_rows()

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._go(int(self.scroll_offset.y) + event.y - 1)

    # --- drawing ------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        """Each column's cells, 0 for a column left out: a narrow list drops the last
        change, then the source count, then the claimant, before the claim's text gets
        fewer than TEXT_CELLS."""
        fixed = [1, 16, 9, 12, 3, 10]
        for dropped in ((), (5,), (5, 4)):
            kept = [0 if i in dropped else w for i, w in enumerate(fixed)]
            room = width - sum(kept) - sum(1 for w in kept if w) - 1  # a space after each
            claimant = max(min(room // 3, 30), 10)
            if room - claimant - 1 >= TEXT_CELLS:
                return [*kept, claimant, room - claimant - 1]
        return [*kept, 0, max(room + 1, 1)]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._widths(width)
        if y == 0:
            titles = ["", "claim", "status", "verdict", "src", "changed", "claimant", "text"]
            text = Text(" ".join(_cell(t, w) for t, w in zip(titles, widths, strict=True) if w))
            style = self.get_component_rich_style("claims-table--header")
            return self._strip(text, width, style)
        index = int(self.scroll_offset.y) + y - 1
        base = self.rich_style
        if index == 0 and not self.total and self.loaded is not None:
            said = Text("  " + shorten(self._none_listed(), width - 2), style=DIM)
            return self._strip(said, width, base)
        if index >= self.total:
            return Strip.blank(width, base)
        row = self.rows.get(index)
        if row is None:
            return self._strip(Text(_cell("  …", width), style="dim"), width, base)
        cursor = index == self.cursor_row and row.claim_id == self.selected
        touched = row.claim_id == self.touched
        void = self._verdict_void(row)
        key = (row, width, cursor, touched, self.has_focus, self.app.theme, void)
        strip = self._strips.get(key)
        if strip is None:
            style = base
            if cursor:
                style = base + self.get_component_rich_style("claims-table--cursor")
            strip = self._strip(self._row_text(row, widths, void=void), width, style)
            if len(self._strips) > 2048:
                self._strips.clear()
            self._strips[key] = strip
        return strip

    def _none_listed(self) -> str:
        """Why the list is empty, and what to do: not a blank box."""
        assert self.loaded is not None
        position, filters = self.loaded
        if filters.active:
            return "No claim matches the search and filters here: esc clears them."
        return f"No claims as of #{position}; 'factledger claim add' adds one."

    def _verdict_void(self, row: ClaimRow) -> bool:
        # the rows drawn are those loaded: judged as of their position, not the one asked
        if self.verification is None or self.loaded is None or row.verdict is None:
            return False
        return self.verification.verdict_void(row.claim_id, self.loaded[0])

    def _row_text(self, row: ClaimRow, widths: list[int], *, void: bool = False) -> Text:
        touched = row.claim_id == self.touched
        verdict: tuple[str, Style | str] = (
            (f"⊘ {row.verdict}", BADGE["void"][1])  # signed by a compromised key
            if void
            else ("[redacted]", "italic dim")
            if row.verdict_redacted
            else (row.verdict or "—", verdict_style(row.verdict, self.scale))
        )
        cells: list[tuple[str, Style | str]] = [
            ("◆" if touched else "", "bold"),
            (row.claim_id, ""),
            (row.status or "", STATUS.get(row.status or "", "")),
            verdict,
            (str(row.sources).rjust(widths[4]), ""),
            (row.last_at[:10], ""),
            (row.claimant or "", ""),
            (row.text or "[redacted]", "" if row.text is not None else "italic dim"),
        ]
        text = Text()
        for i, ((value, style), w) in enumerate(zip(cells, widths, strict=True)):
            if not w:
                continue  # left out of a narrow list
            if i:
                text.append(" ")
            text.append(_cell(value, w), style=style)
        if touched:
            text.stylize(self.get_component_rich_style("claims-table--touched"), 0, widths[0])
        return text

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        segments = [
            Segment(s.text, style + s.style if s.style else style)
            for s in text.render(self.app.console)
            if s.text != "\n"
        ]
        return Strip(segments).crop_extend(0, width, style)


__all__ = ["ClaimsTable"]
