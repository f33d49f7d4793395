"""The attributions pane: each source linked to the claim, its stance and its grades.

Grades follow the Admiralty system: the source's reliability A–F (on the source) and
the information's credibility 1–6 (on this claim–source link).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from ledger.projections import AttributionView
from tui.model import ClaimView, Verification
from tui.widgets.keys import scroll_bindings
from tui.widgets.safe import safe_text
from tui.widgets.styles import CHANGED, DIM, entry_mark, signer, when

RELIABILITY: Final = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "cannot be judged",
}
CREDIBILITY: Final = {
    1: "confirmed",
    2: "probably true",
    3: "possibly true",
    4: "doubtful",
    5: "improbable",
    6: "cannot be judged",
}
STANCE: Final = {"supports": "green", "disputes": "red", "context": "cyan"}


def touched(a: AttributionView, position: int) -> bool:
    """Whether the entry at ``position`` made or withdrew this attribution (marked ◆)."""
    return (a.signed is not None and a.signed.seq == position) or (
        a.withdrawn_by is not None and a.withdrawn_by.seq == position
    )


def attribution_text(
    a: AttributionView,
    position: int,
    roles: dict[str, str],
    verification: Verification | None = None,
) -> Text:
    """One attribution, four or five lines (pure); its signer marked when the last
    verifier run found the attribution void."""
    changed = touched(a, position)
    out = Text()
    out.append("◆ " if changed else "• ", style="bold")
    head = safe_text(a.source_id or "[redacted]")
    head.append("  ")
    if a.withdrawn:
        head.append("withdrawn", style="bold red")
        head.append(f" (was {a.stance})" if a.stance else "", style=DIM)
    else:
        head.append(a.stance or "?", style=STANCE.get(a.stance or "", ""))
    if changed:
        head.stylize(CHANGED)
    out.append_text(head)
    out.append("\n  ")
    out.append_text(safe_text(a.source_title or "(untitled source)", "italic"))
    grades = Text("\n  ")
    if a.source_grade:
        grades.append(f"reliability {a.source_grade}", style="bold")
        grades.append(f" {RELIABILITY.get(a.source_grade, '')}", style=DIM)
    if a.credibility is not None:
        grades.append(" · " if a.source_grade else "")
        grades.append(f"credibility {a.credibility}", style="bold")
        grades.append(f" {CREDIBILITY.get(a.credibility, '')}", style=DIM)
    if a.source_grade or a.credibility is not None:
        out.append_text(grades)
    if a.quote or a.locator:
        out.append("\n  ")
        if a.locator:
            out.append("@ ", style=DIM)
            out.append_text(safe_text(a.locator))
            out.append(" ")
        if a.quote:
            out.append_text(safe_text(f"“{a.quote}”"))
    if a.signed is not None:
        out.append(f"\n  #{a.signed.seq} {when(a.signed.at)} ", style=DIM)
        out.append_text(signer(a.signed, roles.get(a.signed.author)))
        out.append_text(entry_mark(verification, a.signed, position))
    if a.withdrawn:
        out.append("\n  withdrawn: ", style="red")
        out.append_text(safe_text(a.withdraw_reason or ""))
        if a.withdrawn_by is not None:
            out.append(f" (#{a.withdrawn_by.seq})", style=DIM)
            out.append_text(entry_mark(verification, a.withdrawn_by, position))
    return out


def attributions_text(
    view: ClaimView | None, roles: dict[str, str], verification: Verification | None = None
) -> Text:
    """The whole pane (pure): each attribution's text, one after another."""
    if view is None or view.state is None:
        return Text("")
    if not view.state.attributions:
        return Text("No sources attributed yet.", style=DIM)
    return Text("\n").join(_items(view.state.attributions, view.position, roles, verification))


def _items(
    links: Sequence[AttributionView],
    position: int,
    roles: dict[str, str],
    verification: Verification | None,
) -> list[Text]:
    return [attribution_text(a, position, roles, verification) for a in links]


class AttributionsPane(VerticalScroll, inherit_bindings=False):
    BINDINGS: ClassVar[list[BindingType]] = scroll_bindings("sources")
    DEFAULT_CSS = """
    AttributionsPane {
        height: 1fr;
        border: round $secondary 50%;
        padding: 0 1;
    }
    AttributionsPane > Static {
        width: 1fr;
    }
    """

    _shown: Text | None = None
    _lines = -1

    def _height_changed(self, text: Text) -> bool:
        """Re-layout the screen only when the text takes another number of lines."""
        width = max(self.query_one("#attributions-body", Static).size.width, 1)
        lines = len(text.wrap(self.app.console, width))
        changed, self._lines = lines != self._lines, lines
        return changed

    def compose(self) -> ComposeResult:
        yield Static("", id="attributions-body")

    def on_mount(self) -> None:
        self.border_title = "Sources"

    def show(
        self,
        view: ClaimView | None,
        roles: dict[str, str],
        verification: Verification | None = None,
    ) -> None:
        links = view.state.attributions if view and view.state else []
        self.border_title = f"Sources ({len(links)})" if links else "Sources"
        items = _items(links, view.position, roles, verification) if view and links else []
        text = Text("\n").join(items) if items else attributions_text(view, roles, verification)
        if text != self._shown:
            self._shown = text
            body = self.query_one("#attributions-body", Static)
            body.update(text, layout=self._height_changed(text))
        if view is not None:
            mark = next((i for i, a in enumerate(links) if touched(a, view.position)), None)
            if mark is not None:  # once laid out: the text may bring a scrollbar
                self.call_after_refresh(self._show_item, self._shown, items[: mark + 1])

    def _show_item(self, text: Text | None, items: list[Text]) -> None:
        """Scroll so that the last of ``items`` (the cursor's entry's, ◆) is in view:
        the pane showed only the first few attributions, and not the one that changed."""
        if self._shown is not text:
            return  # another claim or position since
        width = max(self.query_one("#attributions-body", Static).size.width, 1)
        lines = [len(item.wrap(self.app.console, width)) for item in items]
        top, bottom = sum(lines[:-1]), sum(lines)
        y, rows = int(self.scroll_offset.y), self.scrollable_content_region.height
        if top < y or bottom > y + rows:
            self.scroll_to(y=top, animate=False, immediate=True)


__all__ = ["AttributionsPane", "attribution_text", "attributions_text", "touched"]
