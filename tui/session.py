"""The main screen's reads: one node that owns every thread worker and reports by message.

:class:`LedgerSession` is mounted, invisible, in the main screen. Each read is a
thread worker (``@work(thread=True, exclusive=True, group=...)``) calling
:class:`tui.reader.Reader` — each query on a DuckDB cursor of its own — or, for the
long jobs, :mod:`tui.jobs`. Results go back as messages from :mod:`tui.messages`,
which bubble up to the screen; a failed read is a :class:`~tui.messages.Failed`.

Reads of the entry, the claim and the claims page go through a
:class:`~tui.flight.Flight` each: at most one running and one waiting (the newest),
so a held-down key never queues queries behind each other.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.widget import Widget
from textual.worker import Worker, WorkerState, get_current_worker

from ledger import log
from ledger.ledger import Ledger
from ledger.projections import Projection
from tui import jobs
from tui import messages as msg
from tui.catalog import Catalog
from tui.flight import Flight
from tui.model import Filters, Verification
from tui.reader import Reader, beside_log

_DONE = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)


class LedgerSession(Widget):
    """Reads one ledger for the main screen; holds no UI state."""

    DEFAULT_CSS = """
    LedgerSession {
        display: none;
    }
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        projection: Projection | None = None,
        unsafe_allow_test_keys: bool = False,
    ) -> None:
        super().__init__()
        self.ledger = ledger
        self.projection = projection
        self.unsafe_allow_test_keys = unsafe_allow_test_keys
        self.reader: Reader | None = None
        self._events: Flight[int] = Flight(self.load_event)
        self._claims: Flight[tuple[int, str]] = Flight(lambda a: self.load_claim(*a))
        self._pages: Flight[tuple[int, Filters, int, int]] = Flight(lambda a: self.load_page(*a))
        self._flights: dict[str | None, Flight[Any]] = {
            "event": self._events,
            "claim": self._claims,
            "page": self._pages,
        }

    @property
    def busy(self) -> bool:
        """An entry, claim or page read is running or waiting."""
        return any(flight.busy for flight in self._flights.values())

    def request_event(self, position: int) -> None:
        self._events.request(position)

    def request_claim(self, position: int, claim_id: str) -> None:
        self._claims.request((position, claim_id))

    def request_page(self, position: int, filters: Filters, offset: int, limit: int) -> None:
        self._pages.request((position, filters, offset, limit))

    # --- the workers ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_ledger(self) -> None:
        reader = Reader.open(
            self.ledger,
            projection=self.projection,
            unsafe_allow_test_keys=self.unsafe_allow_test_keys,
        )
        self.reader = reader
        self.post_message(msg.LedgerOpened(reader, reader.info(), torn=self._torn()))

    def _torn(self) -> tuple[int, bool]:
        path = self.ledger.events_path
        torn = log.partial_tail(path)
        return torn, bool(torn) and log.ends_in_whole_entry(path, torn)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def reload_ledger(self) -> None:
        reader = self.reader
        assert reader is not None

        def tell(done: int, end: int) -> None:
            self.post_message(msg.Rereading(done, end))

        reader.projection.on_build = tell
        try:
            done = reader.refresh()  # a log rewritten under it: read whole again, told
        finally:
            reader.projection.on_build = None
        beside = beside_log(self.ledger.root)
        info = reader.info()
        torn = self._torn()
        self.post_message(
            msg.LedgerOpened(reader, info, reloaded=True, refresh=done, beside=beside, torn=torn)
        )

    @work(thread=True, exclusive=True, group="event", exit_on_error=False)
    def load_event(self, position: int) -> None:
        assert self.reader is not None
        self.post_message(msg.EventLoaded(self.reader.event(position)))

    @work(thread=True, exclusive=True, group="claim", exit_on_error=False)
    def load_claim(self, position: int, claim_id: str) -> None:
        assert self.reader is not None
        self.post_message(msg.ClaimLoaded(self.reader.claim(claim_id, position)))

    @work(thread=True, exclusive=True, group="page", exit_on_error=False)
    def load_page(self, position: int, filters: Filters, offset: int, limit: int) -> None:
        assert self.reader is not None
        page = self.reader.page(as_of=position, filters=filters, offset=offset, limit=limit)
        self.post_message(msg.PageLoaded(page, filters))

    @work(thread=True, exclusive=True, group="locate", exit_on_error=False)
    def locate_claim(self, claim_id: str, position: int, filters: Filters) -> None:
        assert self.reader is not None
        index = self.reader.index(claim_id, as_of=position, filters=filters)
        self.post_message(msg.ClaimLocated(claim_id, index, position, filters))

    @work(thread=True, exclusive=True, group="catalog", exit_on_error=False)
    def load_catalog(self) -> None:
        worker = get_current_worker()
        catalog = jobs.run(
            jobs.scan_job,
            (self.ledger.root,),
            size=self._log_size(),
            progress=lambda done, total: None,
            cancelled=lambda: worker.is_cancelled,
        )
        if isinstance(catalog, Catalog):
            self.post_message(msg.CatalogLoaded(catalog))

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def run_verification(self) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            self.post_message(msg.VerifyProgress(done, total))

        before = beside_log(self.ledger.root)
        report = jobs.run(
            jobs.verify_job,
            (self.ledger.root, self.unsafe_allow_test_keys),
            size=self._log_size(),
            progress=progress,
            cancelled=lambda: worker.is_cancelled,
        )
        if report is not None:
            void = self.reader.void_verdicts(report.void) if report.void and self.reader else {}
            beside = before if beside_log(self.ledger.root) == before else None
            self.post_message(msg.VerifyFinished(Verification.of(report, void, beside)))

    def _log_size(self) -> int:
        try:
            return self.ledger.events_path.stat().st_size
        except OSError:
            return 0

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            text = getattr(error, "message", None) or str(error) or type(error).__name__
            self.post_message(msg.Failed(group, text))
        if event.state in _DONE:
            flight = self._flights.get(group)
            if flight is not None:
                flight.landed()
            # After the worker's result on the way up, so the screen has applied it.
            self.post_message(msg.Landed(group))


__all__ = ["LedgerSession"]
