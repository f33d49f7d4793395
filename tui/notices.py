"""What the main screen tells the reviewer in a notification, decided without a terminal.

Each function returns the :class:`Notice` to show (or ``None``: nothing to say); the
screen shows it with :meth:`textual.app.App.notify`, as plain text (no markup: reasons
and file names come from the ledger).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from ledger import log
from ledger.findings import Finding
from ledger.projections import Refresh
from tui.model import Verification


class Notice(NamedTuple):
    title: str
    message: str
    severity: Literal["information", "warning", "error"] = "information"
    timeout: float | None = None
    """Seconds shown; ``None``: Textual's default."""


def verification_stands(
    refresh: Refresh | None, verification: Verification | None, beside: bytes | None
) -> bool:
    """After ``r``: whether the last verification still holds: the log is as the screen
    read it, the verifier read as many entries, and the checkpoint and ``ledger.toml``
    are as they were verified."""
    return (
        refresh is not None
        and refresh.action == "unchanged"
        and verification is not None
        and verification.beside is not None
        and verification.beside == beside
        and verification.report.entries == refresh.size  # it read the log the screen shows
    )


def partial_tail(torn: tuple[int, bool]) -> Notice | None:
    """The log ends without a newline: what is left out, and what to do about it."""
    size, whole = torn
    if not size:
        return None
    return Notice(
        "the log ends in a partial line",
        f"{log.describe_tail(size, whole)}, left out of what is shown: a write still in "
        f"progress shows on the next r; if it stays, run 'factledger repair' to "
        f"{log.repair_of_tail(whole)}",
        "warning",
    )


def after_reload(
    refresh: Refresh | None, *, stands: bool = False, forgot: bool = False
) -> Notice | None:
    """After ``r``: how many entries were appended, or, loudly, that the log changed
    other than by appending; or that nothing did, and whether the last verification
    ``stands`` or was ``forgot`` (it read other files than are there now)."""
    if refresh is None:
        return None
    if refresh.action == "unchanged":
        if forgot:
            return Notice(
                "nothing appended",
                "the log is as it was read, but what was verified is not what is there "
                "now (the log, the checkpoint or ledger.toml): press v to verify it again",
                "warning",
            )
        verified = "; the last verification stands" if stands else ""
        return Notice("nothing appended", f"the log is as it was read{verified}")
    if refresh.rewritten:
        return Notice(
            "the log changed other than by appending",
            f"{refresh.reason}: entries the screen had read were cut, replaced or "
            "edited on disk (a redaction erases a body so; anything else is tampering), "
            "and it now shows the log as it reads; press v to verify it",
            "error",
            30,
        )
    if refresh.action == "rebuilt":
        return Notice("reread", f"read the log again: {refresh.reason}")
    entries = "entry" if refresh.applied == 1 else "entries"
    return Notice("appended since last read", f"{refresh.applied:,} new {entries}")


def verified_another_size(entries: int, shown: int) -> Notice | None:
    """After a verifier run that read another number of entries than the screen shows."""
    if entries == shown:
        return None
    return Notice(
        "the log changed",
        f"the verifier read {entries:,} entries and the screen shows {shown:,}: "
        "the log changed since it was read; press r to read it again, then v",
        "warning",
    )


def not_on_screen(line: int) -> Notice:
    """Enter on a finding of a line appended after the screen read the log."""
    return Notice(
        "not on screen yet",
        f"line {line} was appended after the screen read the log: press r to read it",
        "warning",
    )


def no_entry(finding: Finding) -> Notice:
    """Enter on a finding that names no entry of the log (the checkpoint, a torn tail)."""
    line = finding.line
    where = f"line {line} of {finding.file}" if line is not None else finding.file
    return Notice(
        "no entry to go to", f"{where} is no entry of the log, so the cursor stays where it is"
    )


__all__ = [
    "Notice",
    "after_reload",
    "no_entry",
    "not_on_screen",
    "verification_stands",
    "verified_another_size",
]
