"""The verification panel: a progress bar while the verifier runs, then its findings.

Enter on a finding moves the time cursor to the offending entry (via
:class:`~tui.messages.FindingChosen`).
"""

from __future__ import annotations

import re
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from ledger.findings import Finding
from tui.messages import FindingChosen
from tui.model import Verification
from tui.widgets.keys import list_bindings
from tui.widgets.safe import safe_text
from tui.widgets.styles import DIM

INDENT = 26
"""Cells before a finding's message: its mark, where, and rule."""


def finding_text(finding: Finding, width: int | None = None) -> Text:
    """``✘ line 122  signature  the signature does not verify … (8f51528befa6)`` (pure).

    Given the ``width`` it is shown in, the message and the hint are wrapped under the
    message's column rather than back at the left edge, where the next row's marks are.
    """
    error = finding.severity == "error"
    out = Text()
    out.append("✘ " if error else "⚠ ", style="bold red" if error else "bold yellow")
    where = f"line {finding.line}" if finding.line is not None else finding.file
    out.append(f"{where:<11}", style="bold")
    # a rule as long as the column (key-compromised) keeps a space before the message
    rule = finding.rule if len(finding.rule) < 13 else f"{finding.rule} "
    out.append(f"{rule:<13}", style="red" if error else "yellow")
    message = safe_text(finding.message)
    if finding.event_id:
        message.append(f" ({finding.event_id[:12]})", style=DIM)
    parts = [message] + ([safe_text(finding.hint, DIM)] if finding.hint else [])
    room = width - INDENT if width is not None and width - INDENT >= 20 else None
    lines = [line for part in parts for line in (_wrapped(part, room) if room else [part])]
    return out + Text("\n" + " " * INDENT).join(lines)


def _wrapped(text: Text, width: int) -> list[Text]:
    """``text`` cut into lines of at most ``width`` cells at spaces (a longer word is
    left whole: the list cuts it)."""
    starts, length = [], 0
    for word in re.finditer(r"\S+\s*", text.plain):
        if length and length + cell_len(word.group().rstrip()) > width:
            starts.append(word.start())
            length = 0
        length += cell_len(word.group())
    lines = list(text.divide(starts))
    for line in lines:
        line.rstrip()
    return lines


def summary_text(verification: Verification) -> Text:
    report = verification.report
    errors, notices = len(report.errors), len(report.findings) - len(report.errors)
    entries = f"{report.entries:,} {'entry' if report.entries == 1 else 'entries'}"
    if not errors:
        out = Text(f"✔ {entries} verified", style="bold green")
        out.append(": every signature, rule and the checkpoint")
    else:
        noun = "finding" if errors == 1 else "findings"
        out = Text(f"✘ {errors} {noun}", style="bold red")
        out.append(f" in {entries}")
        if any(f.line is not None for f in report.errors):
            out.append(" · enter jumps to the entry")
    if notices:
        out.append(f" · {notices} notice{'s' if notices > 1 else ''}", style="yellow")
    return out


class FindingsList(OptionList, inherit_bindings=False):
    DEFAULT_CSS = """
    FindingsList, FindingsList:focus {
        border: none;
        height: auto;
        max-height: 9;
        padding: 0;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *list_bindings("findings"),
        Binding("enter", "select", "go", id="findings.go"),
    ]


class FindingsPanel(Vertical):
    """Hidden until verification starts; shows progress, then the summary and findings."""

    DEFAULT_CSS = """
    FindingsPanel {
        height: auto;
        max-height: 33vh;  /* a short terminal keeps rows for the claim and its history */
        display: none;
        border-top: solid $error 50%;
    }
    FindingsPanel.-shown {
        display: block;
    }
    FindingsPanel > ProgressBar {
        padding: 0 1;
    }
    FindingsPanel > #findings-summary {
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.findings: list[Finding] = []
        self._width = 0

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, id="verify-progress")
        yield Static("", id="findings-summary")
        yield FindingsList(id="findings-list")

    def start(self) -> None:
        self.add_class("-shown")
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        self.query_one("#findings-summary", Static).update(Text("verifying…", style=DIM))
        self.query_one(FindingsList).clear_options()

    def advance(self, done: int, total: int) -> None:
        if total > 0:
            self.query_one(ProgressBar).update(total=100, progress=100 * done / total)

    def finish(self, verification: Verification) -> None:
        self.add_class("-shown")
        self.query_one(ProgressBar).display = False
        self.query_one("#findings-summary", Static).update(summary_text(verification))
        self.findings = list(verification.findings)
        listing = self.query_one(FindingsList)
        self._list(self.size.width)
        listing.display = bool(self.findings)
        if self.findings:
            listing.highlighted = 0

    def _list(self, width: int) -> None:
        """The findings as options, wrapped for ``width`` (the list's scrollbar aside)."""
        self._width = width
        listing = self.query_one(FindingsList)
        highlighted = listing.highlighted
        listing.set_options(
            Option(finding_text(f, width - 2 if width else None), str(i))
            for i, f in enumerate(self.findings)
        )
        listing.highlighted = highlighted

    def on_resize(self, event: events.Resize) -> None:
        if self.findings and event.size.width != self._width:
            self._list(event.size.width)

    def fail(self, error: str) -> None:
        self.add_class("-shown")
        self.query_one(ProgressBar).display = False
        self.query_one("#findings-summary", Static).update(
            safe_text(f"could not verify: {error}", "bold red")
        )

    def hide(self) -> None:
        self.remove_class("-shown")

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(FindingChosen(self.findings[int(event.option.id)]))


__all__ = ["FindingsPanel", "finding_text", "summary_text"]
