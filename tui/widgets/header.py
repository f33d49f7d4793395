"""The header: ledger origin, entry count, checkpoint root and the verification badge."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.model import LedgerInfo, Verification
from tui.widgets.safe import safe_text, shorten
from tui.widgets.styles import DIM


def header_text(
    info: LedgerInfo | None,
    verification: Verification | None,
    progress: float | None,
    error: str | None = None,
    width: int = 120,
    rereading: float | None = None,
) -> Text:
    """The one-line header (pure): what is open, and whether it was verified.

    The badges on the right always fit; the origin is shortened first. ``rereading``:
    how far ``r``'s pass over a log read whole again is (1: DuckDB writes the tables).
    """
    out = Text(" ")
    if info is None:
        out.append("opening the ledger…" if error is None else "could not open the ledger", DIM)
        return out
    detail = Text()
    detail.append(f" · {info.size:,} {'entry' if info.size == 1 else 'entries'}")
    warning = Text()  # the part of the detail a narrow header keeps: the log is not all signed
    if info.checkpoint is not None:
        detail.append(" · root ", style=DIM)
        detail.append(info.checkpoint.root.hex()[:8])
        if info.checkpoint.size != info.size:
            warning.append(f" (checkpoint of {info.checkpoint.size:,})", style="yellow")
    else:
        warning.append(" · no checkpoint", style="yellow")
    detail.append_text(warning)
    badges = Text("  ")
    if rereading is not None:
        step = "writing the tables" if rereading >= 1 else f"reading the log {rereading:.0%}"
        badges.append(f" {step} ", style="bold black on cyan")
        badges.append(" ")
    badges.append_text(verification_badge(verification, progress))
    if info.unsafe_allow_test_keys:
        badges.append(" ")
        badges.append(" ⚠ unsafe: demo keys ", style="bold black on yellow")
    elif info.test_keys:
        badges.append(" ")
        badges.append(" ⚠ public demo keys ", style="bold black on yellow")
    # The badges always show; then the counts and root, while the origin keeps 12 cells;
    # the origin is shortened first, and given what is left when even that is too much.
    room = width - out.cell_len - badges.cell_len - 1
    if room - detail.cell_len >= 12:
        room -= detail.cell_len
    else:
        detail = warning
        room -= detail.cell_len
    if room > 0:
        out.append_text(safe_text(shorten(info.origin, max(room, 1)), "bold"))
    out.append_text(detail)
    out.append_text(badges)
    return out


def verification_badge(verification: Verification | None, progress: float | None) -> Text:
    if progress is not None:
        return Text(f" verifying {progress:.0%} ", style="bold black on cyan")
    if verification is None:
        return Text(" unverified ", style="bold white on grey23")
    errors = len(verification.report.errors)
    if errors:
        noun = "finding" if errors == 1 else "findings"
        return Text(f" ✘ {errors} {noun} ", style="bold white on red")
    out = Text(f" ✔ verified {verification.report.entries:,} ", style="bold black on green")
    compromised = len({r.author for r in verification.report.void})
    if compromised:  # their entries are void: the findings panel lists them as notices
        keys = "key" if compromised == 1 else "keys"
        out.append(f" ⊘ {compromised} compromised {keys} ", style="bold black on dark_orange")
    return out


class LedgerHeader(Widget):
    DEFAULT_CSS = """
    LedgerHeader {
        height: 1;
        background: $panel;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info: LedgerInfo | None = None
        self.verification: Verification | None = None
        self.progress: float | None = None
        self.error: str | None = None
        self.rereading: float | None = None

    def update_state(
        self,
        *,
        info: LedgerInfo | None,
        verification: Verification | None,
        progress: float | None,
        error: str | None = None,
        rereading: float | None = None,
    ) -> None:
        self.info, self.verification, self.progress = info, verification, progress
        self.error, self.rereading = error, rereading
        self.refresh()

    def render(self) -> Text:
        text = header_text(
            self.info,
            self.verification,
            self.progress,
            self.error,
            self.size.width,
            self.rereading,
        )
        text.truncate(self.size.width, overflow="ellipsis")
        return text


__all__ = ["LedgerHeader", "header_text", "verification_badge"]
