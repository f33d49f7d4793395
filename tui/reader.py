"""Blocking reads of one ledger for the UI's thread workers.

Every method here may wait on DuckDB, the disk or the verifier, so it is only ever
called from a thread worker (``@work(thread=True, ...)``), never on the UI thread.
Reads go through :mod:`ledger.projections.queries` — each query takes its own DuckDB
cursor, so workers in different threads never share one — and through
:func:`ledger.verify.verify`. There is no SQL in the UI.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TypedDict

import msgspec

from ledger.checkpoint import parse_body
from ledger.errors import LedgerError, UsageError
from ledger.ledger import CHECKPOINT_NAME, CONFIG_NAME, Ledger
from ledger.projections import (
    ClaimPage,
    EventView,
    HistoryStep,
    Projection,
    Refresh,
    open_projection,
    queries,
)
from ledger.trust import is_test_key
from ledger.voids import VoidRange
from tui.catalog import Catalog
from tui.model import (
    Checkpoint,
    ClaimView,
    Filters,
    Inspection,
    LedgerInfo,
    claim_view,
)


def beside_log(root: Path) -> bytes:
    """A digest of what a verifier reads besides the log: the checkpoint and
    ``ledger.toml`` (a log the projection finds unchanged and these as they were: the
    last verification still holds)."""
    digest = hashlib.sha256()
    for name in (CHECKPOINT_NAME, CONFIG_NAME):
        try:
            data = (root / name).read_bytes()
        except OSError as exc:
            data = f"unreadable: {exc.errno}".encode()
        digest.update(hashlib.sha256(data).digest())
    return digest.digest()


class Reader:
    """A ledger and its projection, read from worker threads."""

    def __init__(
        self, ledger: Ledger, projection: Projection, *, unsafe_allow_test_keys: bool = False
    ) -> None:
        self.ledger = ledger
        self.projection = projection
        self.unsafe_allow_test_keys = unsafe_allow_test_keys
        self._histories: dict[str, tuple[HistoryStep, ...]] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        ledger: Ledger,
        *,
        projection: Projection | None = None,
        unsafe_allow_test_keys: bool = False,
    ) -> Reader:
        """Open (building or catching up) the ledger's projection, unless one is given."""
        if projection is None:
            projection = open_projection(ledger, long_lived=True)
        return cls(ledger, projection, unsafe_allow_test_keys=unsafe_allow_test_keys)

    def close(self) -> None:
        self.projection.close()

    @property
    def events_file(self) -> str:
        return self.ledger.config.events

    # --- the ledger as a whole ----------------------------------------------------

    def info(self) -> LedgerInfo:
        src = self.projection
        note = src.note if src.path is None and src.note != "asked for" else None
        return LedgerInfo(
            origin=queries.origin(src) or self.ledger.config.origin,
            size=queries.size(src),
            checkpoint=self.checkpoint(),
            timeline=tuple(queries.timeline(src)),
            scale=tuple(queries.scale(src)),
            test_keys=is_test_key(self.ledger.config.trust_root),
            unsafe_allow_test_keys=self.unsafe_allow_test_keys,
            note=note,
        )

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint file's size and root, unverified (``None`` if unreadable)."""
        try:
            note = (self.ledger.root / CHECKPOINT_NAME).read_text(encoding="utf-8")
            body, _, _ = note.partition("\n\n")
            cp = parse_body(body + "\n", origin=self.ledger.config.origin)
        except (OSError, UnicodeDecodeError, LedgerError):
            return None
        return Checkpoint(cp.size, cp.root)

    def refresh(self) -> Refresh:
        """Catch the projection up with the log (entries appended since it was opened).

        With the full check, as every command-line read: the cheap one (the last entry
        still in its place) misses a line edited in place at the same length, and the
        panes and the inspector would then show the old text beside the new bytes."""
        done = self.projection.refresh(full_check=True)
        with self._lock:
            self._histories.clear()
        return done

    # --- positions and claims -----------------------------------------------------

    def position(self, text: str) -> int:
        """A sequence number, a date or a time as a log position (raises UsageError)."""
        return queries.position(self.projection, text)

    def page(self, *, as_of: int, filters: Filters, offset: int, limit: int) -> ClaimPage:
        return queries.list_claims(
            self.projection, as_of=as_of, limit=limit, offset=offset, **_narrowing(filters)
        )

    def index(self, claim_id: str, *, as_of: int, filters: Filters) -> int | None:
        """The claim's row in :meth:`page`'s list, or None when it is not listed."""
        return queries.claim_index(self.projection, claim_id, as_of=as_of, **_narrowing(filters))

    def void_verdicts(
        self, void: Iterable[VoidRange]
    ) -> dict[str, tuple[tuple[int, int | None], ...]]:
        """For :attr:`tui.model.Verification.void_verdicts`: per claim, the positions
        at which its current verdict was signed inside a void range, from the
        revocation on (before it, nothing was void yet)."""
        spans: dict[str, list[tuple[int, int | None]]] = {}
        for r in void:
            for claim, _, end in queries.verdict_spans(
                self.projection, r.author, r.after_seq, r.revoked_seq
            ):
                if end is None or end > r.since:
                    spans.setdefault(claim, []).append((r.since, end))
        return {claim: tuple(found) for claim, found in spans.items()}

    def history(self, claim_id: str) -> tuple[HistoryStep, ...]:
        """Every step of the claim's stream (cached: it does not depend on the cursor)."""
        with self._lock:
            cached = self._histories.get(claim_id)
        if cached is None:
            cached = tuple(queries.claim_history(self.projection, claim_id))
            with self._lock:
                self._histories[claim_id] = cached
        return cached

    def claim(self, claim_id: str, position: int) -> ClaimView:
        history = self.history(claim_id)
        try:
            state = queries.claim_state(self.projection, claim_id, as_of=position)
        except UsageError:
            state = None  # not asserted yet at this position
        return claim_view(claim_id, position, state, history)

    def event(self, seq: int) -> EventView:
        return queries.event_at(self.projection, seq)

    # --- one entry, closely ---------------------------------------------------------

    def line(self, event: EventView) -> bytes:
        """The entry's canonical JSON line, read from the log at the projected offset."""
        with self.ledger.events_path.open("rb") as handle:
            handle.seek(event.byte_offset)
            return handle.read(event.byte_length)

    def inspect(self, seq: int, catalog: Catalog | None) -> Inspection:
        event = self.event(seq)
        line = self.line(event)
        try:
            decoded = msgspec.json.decode(line)
            signature = decoded.get("sig") if isinstance(decoded, dict) else None
        except msgspec.DecodeError:
            signature = None
        checkpoint = self.checkpoint()
        proof, note = None, None
        if checkpoint is None:
            note = "the checkpoint file is missing or unreadable"
        elif seq >= checkpoint.size:
            note = f"the checkpoint covers {checkpoint.size} entries; this one came after it"
        elif catalog is None:
            note = "the log is still being indexed; reopen the inspector in a moment"
        elif len(catalog.leaves) < checkpoint.size:
            note = (
                f"the checkpoint covers {checkpoint.size} entries but the log has "
                f"{len(catalog.leaves)}: it was truncated"
            )
        else:
            proof = catalog.prove(seq, checkpoint.size, checkpoint.root)
        return Inspection(
            event=event,
            line=line,
            signature=signature if isinstance(signature, str) else None,
            role=catalog.role(event.author) if catalog else None,
            checkpoint=checkpoint,
            proof=proof,
            proof_note=note,
            changed=not self.projection.holds(
                event.byte_offset, event.byte_offset + event.byte_length + 1
            ),
        )


class _Narrowing(TypedDict):
    status: str | None
    verdict: str | None
    author: str | None
    source: str | None
    text: str | None


def _narrowing(filters: Filters) -> _Narrowing:
    """The filters as the list queries' keyword arguments."""
    return {
        "status": filters.status,
        "verdict": filters.verdict,
        "author": filters.author,
        "source": filters.source,
        "text": filters.text,
    }


__all__ = ["Reader"]
