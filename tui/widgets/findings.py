"""The verification panel: a progress bar while the verifier runs, then its findings.

Enter on a finding moves the time cursor to the offending entry (via
:class:`~tui.messages.FindingChosen`).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
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


def finding_text(finding: Finding) -> Text:
    """``✘ line 122  signature  the signature does not verify … (8f51528befa6)`` (pure)."""
    error = finding.severity == "error"
    out = Text()
    out.append("✘ " if error else "⚠ ", style="bold red" if error else "bold yellow")
    where = f"line {finding.line}" if finding.line is not None else finding.file
    out.append(f"{where:<11}", style="bold")
    # a rule as long as the column (key-compromised) keeps a space before the message
    rule = finding.rule if len(finding.rule) < 13 else f"{finding.rule} "
    out.append(f"{rule:<13}", style="red" if error else "yellow")
    out.append_text(safe_text(finding.message))
    if finding.event_id:
        out.append(f" ({finding.event_id[:12]})", style=DIM)
    if finding.hint:
        out.append("\n" + " " * 26)
        out.append_text(safe_text(finding.hint, DIM))
    return out


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
        max-height: 12;
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
        listing.set_options(Option(finding_text(f), str(i)) for i, f in enumerate(self.findings))
        listing.display = bool(self.findings)
        if self.findings:
            listing.highlighted = 0

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
