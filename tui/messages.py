"""Messages between the workers, the widgets and the main screen.

Thread workers never touch widgets: they post one of these (``post_message`` is
thread-safe) and the screen applies it on the UI thread. Widgets ask for data the
same way (:class:`PageWanted`) instead of querying anything themselves.
"""

from __future__ import annotations

from textual.message import Message

from ledger.findings import Finding
from ledger.projections import ClaimPage, EventView, Refresh
from tui.catalog import Catalog
from tui.model import ClaimView, Filters, Inspection, LedgerInfo, Verification
from tui.reader import Reader


class LedgerOpened(Message):
    """The projection is ready; the ledger's size, origin and timeline are known."""

    def __init__(
        self,
        reader: Reader,
        info: LedgerInfo,
        *,
        reloaded: bool = False,
        refresh: Refresh | None = None,
        beside: bytes | None = None,
        torn: tuple[int, bool] = (0, False),
    ) -> None:
        super().__init__()
        self.reader = reader
        self.info = info
        self.torn = torn
        """Bytes after the log's last newline, left out, and whether they are a whole
        entry that lacks only its newline (``ledger.log``)."""
        self.reloaded = reloaded
        """A reload (``r``) of a ledger already open: keep the cursor where it is."""
        self.refresh = refresh
        self.beside = beside
        """A reload's :func:`tui.reader.beside_log`, taken after the log was read."""
        """What the reload found: entries appended, or a log changed other than by that."""


class CatalogLoaded(Message):
    """Keys, sources and leaf hashes are indexed."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.catalog = catalog


class EventLoaded(Message):
    """The entry at the cursor (for the timeline label and the list's marker)."""

    def __init__(self, event: EventView) -> None:
        super().__init__()
        self.event = event


class ClaimLoaded(Message):
    """The selected claim as of the cursor, with its history."""

    def __init__(self, view: ClaimView) -> None:
        super().__init__()
        self.view = view


class PageWanted(Message):
    """The claims list needs rows ``offset`` to ``offset + limit``."""

    def __init__(self, offset: int, limit: int) -> None:
        super().__init__()
        self.offset = offset
        self.limit = limit


class ClaimWanted(Message):
    """The claims list keeps ``claim_id`` selected but has not loaded its row: where
    is it listed, for the query on screen?"""

    def __init__(self, claim_id: str) -> None:
        super().__init__()
        self.claim_id = claim_id


class PageLoaded(Message):
    """A page of the claims list, for the position and filters it was asked for."""

    def __init__(self, page: ClaimPage, filters: Filters) -> None:
        super().__init__()
        self.page = page
        self.filters = filters


class ClaimLocated(Message):
    """Where a claim selected off the loaded rows is in the list, for a position and
    filters (``index`` None: it is not listed)."""

    def __init__(self, claim_id: str, index: int | None, position: int, filters: Filters) -> None:
        super().__init__()
        self.claim_id = claim_id
        self.index = index
        self.position = position
        self.filters = filters


class ClaimHighlighted(Message):
    """The user moved the claims list's cursor onto a claim."""

    def __init__(self, claim_id: str) -> None:
        super().__init__()
        self.claim_id = claim_id


class PositionResolved(Message):
    """A typed sequence number or date, resolved to a log position."""

    def __init__(self, position: int) -> None:
        super().__init__()
        self.position = position


class JumpTo(Message):
    """Move the time cursor to ``position`` (and select ``claim_id`` when given)."""

    def __init__(self, position: int, claim_id: str | None = None) -> None:
        super().__init__()
        self.position = position
        self.claim_id = claim_id


class Rereading(Message):
    """How far ``r``'s pass over a log that must be read again is: ``(offset, end)``,
    then ``(end, end)`` while DuckDB writes the tables."""

    def __init__(self, done: int, end: int) -> None:
        super().__init__()
        self.done = done
        self.end = end


class VerifyProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total


class VerifyFinished(Message):
    def __init__(self, verification: Verification) -> None:
        super().__init__()
        self.verification = verification


class FindingChosen(Message):
    """The user picked a finding in the findings panel."""

    def __init__(self, finding: Finding) -> None:
        super().__init__()
        self.finding = finding


class InspectionLoaded(Message):
    def __init__(self, inspection: Inspection) -> None:
        super().__init__()
        self.inspection = inspection


class Landed(Message):
    """A read of group ``what`` finished (its result, if any, was posted before this)."""

    def __init__(self, what: str | None) -> None:
        super().__init__()
        self.what = what


class Failed(Message):
    """A worker could not do what was asked; ``what`` says what, ``error`` why."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


__all__ = [
    "CatalogLoaded",
    "ClaimHighlighted",
    "ClaimLoaded",
    "EventLoaded",
    "Failed",
    "FindingChosen",
    "InspectionLoaded",
    "JumpTo",
    "Landed",
    "LedgerOpened",
    "PageLoaded",
    "PageWanted",
    "PositionResolved",
    "Rereading",
    "VerifyFinished",
    "VerifyProgress",
]
