"""The claim pane: the claim as of the cursor, its text as a word diff, and what changed.

The text is drawn as the word-level diff of the current version against the previous
one (struck words were removed, underlined words added); the first version is plain.
When the event at the cursor is this claim's, the part it changed is highlighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from ledger.projections import HistoryStep, ScaleStep
from tui.model import ClaimView, Verification
from tui.widgets.keys import scroll_bindings
from tui.widgets.safe import safe_text
from tui.widgets.styles import (
    BADGE,
    CHANGED,
    DELETED,
    DIM,
    INSERTED,
    LABEL,
    STATUS,
    VOID_WHY,
    entry_mark,
    signer,
    verdict_style,
    when,
)

LABEL_WIDTH = 10


def describe_step(step: HistoryStep) -> str:
    """What one event did to the claim, in a few words (plain text, not yet made safe)."""
    kind, detail = step.event.kind, step.detail
    if step.redacted:
        return f"body redacted: {step.redaction_reason or 'no reason given'}"
    if kind == "claim.asserted":
        return "asserted"
    if kind == "claim.corrected":
        return f"{detail.get('correction', 'corrected')}: {detail.get('reason', '')}"
    for change in step.changes:
        if change.field in ("status", "verdict"):
            old = change.old if change.old is not None else "none"
            return f"{change.field} {old} → {change.new}"
        if change.field.startswith("source "):
            old = f"{change.old} → " if change.old is not None else ""
            return f"{change.field.removeprefix('source ')} {old}{change.new}"
    if kind == "note.added":
        return f"note: {detail.get('text', '')}"
    if kind == "verdict.voided":
        return f"verdict voided: {detail.get('reason', '')}"
    if kind == "verdict.issued":  # the same rating again: a new rationale, say
        rating, revision = detail.get("rating"), detail.get("revision")
        said = f"verdict {rating} kept" if rating else "verdict issued again"
        said += f" ({revision})" if revision else ""
        rationale = detail.get("rationale")
        return f"{said}: {rationale}" if rationale else said
    return kind


def _field(out: Text, label: str, value: Text, *, style: Style | str = "") -> None:
    out.append("\n")
    out.append(f"{label:<{LABEL_WIDTH}}", style=LABEL)
    out.append_text(value)
    if style:
        out.stylize(style, len(out) - len(value), len(out))


def diff_text(view: ClaimView, highlight: bool) -> Text:
    """The current text, with the last correction's removed and added words marked."""
    state = view.state
    if state is None or state.text is None:
        return Text("[text redacted]", style="italic dim")
    if not view.diff:
        return safe_text(state.text)
    out = Text()
    added = CHANGED + INSERTED if highlight else INSERTED
    previous = ""
    for op in view.diff:
        if op.op == "insert" and previous == "delete" and not op.text[:1].isspace():
            out.append(" ")  # keep a replaced run apart from its replacement
        previous = op.op
        if op.op == "equal":
            out.append_text(safe_text(op.text))
        elif op.op == "insert":
            out.append_text(safe_text(op.text, added))
        else:
            out.append_text(safe_text(op.text, DELETED))
    return out


def claim_text(
    view: ClaimView | None,
    scale: Sequence[ScaleStep],
    roles: dict[str, str],
    width: int = 56,
    verification: Verification | None = None,
) -> Text:
    """The whole pane as one Text (pure). A signer whose entry the last verifier run
    did not accept (an error finding names it, or its key was revoked as compromised by
    the cursor's position) is marked, and so is every field such an entry set."""
    if view is None:
        return Text("No claim selected. Move in the claims list, or search with /.", style=DIM)
    out = Text()
    out.append(view.claim_id, style="bold")
    state = view.state
    if state is None:
        first = view.history[0].event.seq if view.history else None
        out.append(f"\nnot asserted yet at #{view.position}", style="italic")
        if first is not None:
            out.append(f" (first event #{first}; press }} to go there)", style=DIM)
        return out
    step = view.at_cursor
    kind = step.event.kind if step else None
    out.append(f"  {state.kind or ''}  ", style=DIM)
    out.append(state.status or "", style=STATUS.get(state.status or "", ""))
    if kind == "claim.asserted":
        out.append("  NEW ", style=CHANGED)
    if step is not None:
        banner = Text(f"▶ #{step.event.seq} {step.event.kind}: ", style="bold")
        banner.append_text(safe_text(describe_step(step)))
        banner.truncate(width, overflow="ellipsis")
        out.append("\n")
        out.append_text(banner)
    # the text, as a word diff against the previous version
    out.append("\n\n")
    if view.text_step is not None:
        ts = view.text_step
        out.append(f"text v{view.versions}", style=LABEL)
        out.append(f" · #{ts.event.seq} · ", style=DIM)
        out.append_text(signer(ts.event, roles.get(ts.event.author)))
        out.append_text(entry_mark(verification, ts.event, view.position))
    out.append("\n")
    out.append_text(diff_text(view, highlight=kind == "claim.corrected"))
    out.append("\n")
    if view.text_step is not None and view.text_step.event.kind == "claim.corrected":
        detail = view.text_step.detail
        why = safe_text(detail.get("correction", ""), "bold")
        why.append(" — ")
        why.append_text(safe_text(detail.get("reason", ""), multiline=True))
        _field(out, "why", why)
    _field(out, "claimant", safe_text(state.claimant))
    if state.appearance is not None:
        a = state.appearance
        where = safe_text(a.source_title or a.source_id)
        where.append(f" ({a.source_id})", style=DIM)
        if a.locator:
            where.append(" · ")
            where.append_text(safe_text(a.locator))
        _field(out, "appears", where)
        if a.quote:
            _field(out, "", safe_text(f"“{a.quote}”", "italic"))
    if state.topics:
        _field(out, "topics", safe_text(", ".join(state.topics)))
    changed = kind in ("verdict.issued", "verdict.voided")
    _verdict(out, view, scale, roles, verification, changed=changed)
    status = safe_text(state.status)
    if state.status_reason:
        status.append(" — ")
        status.append_text(safe_text(state.status_reason))
    _field(out, "status", status, style=CHANGED if kind == "claim.status" else "")
    if verification is not None:  # every field a faulted or void entry set, as `show` warns
        faulted = [b.field for b in state.blame if verification.faulted(b.event.seq)]
        if faulted:
            warning = f"✘ {', '.join(faulted)}: set by entries with findings, not proven signed"
            _field(out, "FINDING", Text(warning, style=BADGE["finding"][1]))
        void = [
            b.field
            for b in state.blame
            if verification.voided(b.event.seq, b.event.author, view.position)
        ]
        if void:
            warning = f"⊘ {', '.join(void)}: set by entries void, {VOID_WHY}"
            _field(out, "VOID", Text(warning, style=BADGE["void"][1]))
    return out


def _verdict(
    out: Text,
    view: ClaimView,
    scale: Sequence[ScaleStep],
    roles: dict[str, str],
    verification: Verification | None,
    *,
    changed: bool,
) -> None:
    assert view.state is not None
    verdict = view.state.verdict
    if verdict is None:
        _field(out, "verdict", Text("none", style=DIM), style=CHANGED if changed else "")
        return
    value = safe_text(verdict.rating or "[redacted]", verdict_style(verdict.rating, scale))
    if verdict.rating_value is not None:
        value.append(f" ({verdict.rating_value})")
    if verdict.revision:
        value.append(f" · {verdict.revision}", style=DIM)
        if verdict.changes_rating:
            value.append(", changes the rating", style=DIM)
    _field(out, "verdict", value, style=CHANGED if changed else "")
    who = Text(f"#{verdict.signed.seq} {when(verdict.signed.at)} ", style=DIM)
    who.append_text(signer(verdict.signed, roles.get(verdict.signed.author)))
    who.append_text(entry_mark(verification, verdict.signed, view.position))
    _field(out, "", who)
    if verdict.rationale:
        _field(out, "", safe_text(verdict.rationale, multiline=True))


class ClaimPane(VerticalScroll, inherit_bindings=False):
    """Scrollable claim detail; call :meth:`show` with a new view."""

    BINDINGS: ClassVar[list[BindingType]] = scroll_bindings("claim")
    DEFAULT_CSS = """
    ClaimPane {
        height: 1fr;
        border: round $primary 50%;
        padding: 0 1;
    }
    ClaimPane:focus-within {
        border: round $primary;
    }
    ClaimPane > Static {
        width: 1fr;
    }
    """

    _shown: Text | None = None
    _lines = -1

    def _height_changed(self, text: Text) -> bool:
        """Re-layout the screen only when the text takes another number of lines."""
        width = max(self.query_one("#claim-body", Static).size.width, 1)
        lines = len(text.wrap(self.app.console, width))
        changed, self._lines = lines != self._lines, lines
        return changed

    def compose(self) -> ComposeResult:
        yield Static(claim_text(None, (), {}), id="claim-body")

    def on_mount(self) -> None:
        self.border_title = "Claim"

    def show(
        self,
        view: ClaimView | None,
        scale: Sequence[ScaleStep],
        roles: dict[str, str],
        verification: Verification | None = None,
    ) -> None:
        width = self.scrollable_content_region.width
        if not self.show_vertical_scrollbar:  # the new text may bring one: leave it room
            width -= self.styles.scrollbar_size_vertical
        text = claim_text(view, scale, roles, max(width, 20), verification)
        if text == self._shown:
            return  # the step did not change this claim: no re-layout
        self._shown = text
        self.query_one("#claim-body", Static).update(text, layout=self._height_changed(text))
        step = view.at_cursor if view is not None else None
        if step is not None and step.event.kind in (
            "verdict.issued",
            "verdict.voided",
            "claim.status",
        ):
            # once the new text is laid out (deferred again): before, "the end" is the old
            # one; and only if no other text was shown meanwhile (a held key)
            self.call_after_refresh(self._scroll_to_end_of, text)
        else:
            self.scroll_home(animate=False, immediate=True)

    def _scroll_to_end_of(self, text: Text) -> None:
        if self._shown is text:
            self.scroll_end(animate=False)

    def show_error(self, error: str) -> None:
        self._shown = None
        self.query_one("#claim-body", Static).update(safe_text(error, "bold red"))


__all__ = ["ClaimPane", "claim_text", "describe_step", "diff_text"]
