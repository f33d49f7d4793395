"""Sealing drafts against the folded log, and the writer that holds the lock across batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ledger import log, rules
from ledger.codec import encode_entry
from ledger.entry import Sealed, check_signature, event_id, seal_line
from ledger.errors import InvalidSignature, RuleViolation, StaleParent, StorageError
from ledger.events import Entry
from ledger.keys import SigningKey
from ledger.snapshot import Appended, Clock, Draft, Snapshot, format_time, paused_gc

if TYPE_CHECKING:
    from ledger.ledger import Ledger


def seal_drafts(
    snap: Snapshot,
    drafts: Sequence[Draft],
    key: SigningKey,
    stamp: str,
    wall: datetime,
) -> list[Appended]:
    """Sign each draft on the current head of its subject, check it, and fold it into ``snap``.

    Raises on the first refused draft; ``snap`` has then advanced past the drafts
    before it, so a caller that goes on must fold the log again.
    """
    return _seal_lines(snap, drafts, key, stamp, wall)[0]


def _seal_lines(
    snap: Snapshot,
    drafts: Sequence[Draft],
    key: SigningKey,
    stamp: str,
    wall: datetime,
) -> tuple[list[Appended], list[bytes]]:
    """:func:`seal_drafts`, and the entries' lines (encoded while sealing, not again)."""
    out: list[Appended] = []
    lines: list[bytes] = []
    for draft in drafts:
        head = snap.state.heads.get(draft.subject)
        if draft.expect_parent and draft.parent != head:
            raise StaleParent(
                f"{draft.subject} has moved on: its head is {head[:12] if head else 'empty'},"
                f" not {draft.parent[:12] if draft.parent else 'empty'}",
                rule="stale-parent",
                hint="re-read it ('factledger show') and retry against the new head",
            )
        sealed = seal_line(
            kind=draft.kind, subject=draft.subject, parent=head, at=stamp, body=draft.body, key=key
        )
        entry, eid = sealed.entry, sealed.digest.event_id
        for problem in rules.violations(snap.state, entry, eid, now=wall):
            raise problem
        out.append(Appended(snap.size, eid, entry))
        lines.append(sealed.line)
        snap.add(entry, eid)
    return out, lines


class Refused(RuleViolation):
    """Entries signed elsewhere that the rules refuse at their new positions."""

    def __init__(self, problems: list[tuple[int, str, RuleViolation]]) -> None:
        first = problems[0][2]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"position {problems[0][0]}: {first.message}{more}", rule=first.rule, hint=first.hint
        )
        self.problems = problems


class Writer:
    """Appends under a held lock, keeping the folded log between batches."""

    def __init__(self, ledger: Ledger, snapshot: Snapshot, now: Clock) -> None:
        self.ledger = ledger
        self.snapshot = snapshot
        self.now = now
        self.last_key: SigningKey | None = None
        self.broken = False

    def append(
        self, drafts: Sequence[Draft], key: SigningKey, *, at: str | None = None
    ) -> list[Appended]:
        """Sign, check and write ``drafts`` with one fsync: all of them or none."""
        wall = self.now()
        try:
            with paused_gc():  # a batch makes many objects and no cycles: see paused_gc
                sealed, lines = _seal_lines(
                    self.snapshot, drafts, key, at or format_time(wall), wall
                )
        except BaseException:
            # The fold advanced past the refused batch's first drafts: fold again.
            self.reload()
            raise
        self._write(lines)
        self.last_key = key
        return sealed

    def _write(self, lines: list[bytes]) -> None:
        if self.broken:
            raise StorageError(
                "an earlier write under this lock failed; nothing more is appended",
                hint="fix the cause (disk, permissions) and run the command again",
            )
        if lines:
            snap = self.snapshot
            try:
                snap.end_offset = log.append(
                    self.ledger.events_path, lines, expected_size=snap.end_offset
                )
            except BaseException:
                # The fold already took the batch in: fold what is really on disk, and
                # sign no checkpoint over entries that were never made durable.
                self.broken = True
                self.reload()
                raise
            snap.last_line = lines[-1]

    def reload(self) -> None:
        """Fold again from what is on disk (after a refused batch moved the fold on)."""
        self.snapshot.close()
        self.snapshot = self.ledger.load()

    def append_signed(
        self, entries: Sequence[Entry], key: SigningKey, *, check_signatures: bool = True
    ) -> list[Appended]:
        """Append entries signed elsewhere (a merge), unchanged; ``key`` re-signs the checkpoint.

        Every entry is checked at its new position, its signature included (skip that
        only for entries this process has just sealed itself); if any is refused,
        nothing is written and :class:`Refused` lists every problem, not just the first.
        """
        return self._append_checked(
            [(entry, event_id(entry)) for entry in entries], None, key, check_signatures
        )

    def append_sealed(self, sealed: Sequence[Sealed], key: SigningKey) -> list[Appended]:
        """Append entries this process has just sealed (:func:`ledger.entry.seal_line`).

        As :meth:`append_signed` without the signature check, taking the event ids and
        lines computed when they were sealed instead of encoding and hashing them again.
        """
        pairs = [(item.entry, item.digest.event_id) for item in sealed]
        return self._append_checked(pairs, [item.line for item in sealed], key, False)

    def _append_checked(
        self,
        entries: list[tuple[Entry, str]],
        lines: list[bytes] | None,
        key: SigningKey,
        check_signatures: bool,
    ) -> list[Appended]:
        snap, wall = self.snapshot, self.now()
        out: list[Appended] = []
        problems: list[tuple[int, str, RuleViolation]] = []
        for entry, eid in entries:
            problems.extend(
                (snap.size, eid, p) for p in rules.violations(snap.state, entry, eid, now=wall)
            )
            author = snap.state.keys.get(entry.author)
            if check_signatures and author is not None:
                try:
                    check_signature(entry, author.public)
                except InvalidSignature:
                    bad = RuleViolation(
                        f"entry {eid[:12]} is not signed by {author.name}'s key it names",
                        rule="signature",
                        hint="the other branch's entry was altered; it cannot be merged",
                    )
                    problems.append((snap.size, eid, bad))
            out.append(Appended(snap.size, eid, entry))
            snap.add(entry, eid)
        if problems:
            self.reload()
            raise Refused(problems)
        self._write([encode_entry(item.entry) for item in out] if lines is None else lines)
        self.last_key = key
        return out

    def close(self) -> None:
        """Re-sign the checkpoint if anything was appended, and keep the state cached."""
        snap = self.snapshot
        if self.last_key is not None:
            self.ledger.write_checkpoint(snap.size, snap.root(), self.last_key)
        if self.last_key is not None or snap.store is None:
            self.ledger.save_cache(snap)
