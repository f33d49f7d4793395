"""Sealing drafts against the folded log, and the writer that holds the lock across batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ledger import log, rules, signpool
from ledger.codec import encode_entry
from ledger.entry import Prepared, Sealed, check_signature, event_id, finish, prepare
from ledger.errors import InvalidSignature, RuleViolation, StaleParent, StorageError, UsageError
from ledger.events import Entry
from ledger.keys import SigningKey
from ledger.signpool import Pipeline, SignPool
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
    return _Sealing(snap, key, stamp, wall, None).run(drafts)[0]


class _Sealing:
    """Drafts in order: prepared, signed (inline, or by a :class:`SignPool`), folded.

    With a pool, chunks of prepared drafts are signed in the worker while this
    process prepares the next chunks and folds the ones already signed. The result is
    the same as signing inline, refusals included: a draft's parent is its subject's
    head once every earlier draft of that subject is folded (the fold waits for them
    when needed), the rules see the drafts in order, and a draft that cannot even be
    prepared is reported only after every draft before it has been folded.
    """

    def __init__(
        self,
        snap: Snapshot,
        key: SigningKey,
        stamp: str,
        wall: datetime,
        pool: SignPool | None,
    ) -> None:
        self.snap, self.stamp, self.wall = snap, stamp, wall
        self.author = key.public.fingerprint
        self.out: list[Appended] = []
        self.lines: list[bytes] = []
        self.pipeline = Pipeline(key, pool, self._fold)

    def run(self, drafts: Sequence[Draft]) -> tuple[list[Appended], list[bytes]]:
        pipeline = self.pipeline
        try:
            for draft in drafts:
                pipeline.settle(draft.subject)  # its parent may still be being signed
                head = self.snap.state.heads.get(draft.subject)
                try:
                    if draft.expect_parent and draft.parent != head:
                        raise StaleParent(
                            f"{draft.subject} has moved on: its head is "
                            f"{head[:12] if head else 'empty'}, "
                            f"not {draft.parent[:12] if draft.parent else 'empty'}",
                            rule="stale-parent",
                            hint=_reread_hint(draft.subject),
                        )
                    prepared = prepare(
                        draft.kind, draft.subject, head, self.stamp, draft.body, self.author
                    )
                except Exception:
                    pipeline.settle_all()  # a refusal of an earlier draft comes first
                    raise
                pipeline.add(prepared)
            pipeline.settle_all()
        except BaseException:
            pipeline.abandon()
            raise
        finally:
            pipeline.done = _ended  # no cycle through self._fold: the batch is freed at once
        return self.out, self.lines

    def _fold(self, prepared: Prepared, signature: bytes) -> None:
        sealed = finish(prepared, signature)
        entry, eid = sealed.entry, sealed.digest.event_id
        snap = self.snap
        for problem in rules.violations(snap.state, entry, eid, now=self.wall):
            raise problem
        self.out.append(Appended(snap.size, eid, entry))
        self.lines.append(sealed.line)
        snap.add(entry, eid)


def _ended(prepared: Prepared, signature: bytes) -> None:
    raise RuntimeError("this batch's sealing has ended")


def require_current_key(state: rules.LedgerState, key: SigningKey) -> None:
    """Refuse ``key`` for a checkpoint unless the ledger granted it and did not revoke it."""
    signer = state.keys.get(key.public.fingerprint)
    if signer is None or signer.revoked is not None:
        raise RuleViolation(
            f"{key.public.fingerprint} is not a current key of this ledger, so it cannot sign "
            "its checkpoint",
            rule="unknown-key",
            hint="sign with a key the ledger granted and did not revoke; nothing was written",
        )


def _refuse_compromising(
    state: rules.LedgerState, key: SigningKey, batch: Sequence[Appended]
) -> None:
    """A batch may not leave its own signer revoked as compromised: the checkpoint that
    key would sign over it is one no verifier accepts (a thief's key signs nothing)."""
    signer = state.keys.get(key.public.fingerprint)
    if signer is None or signer.revoked != "compromised":
        return
    revoked = [a.entry.subject for a in batch if a.entry.kind == "key.revoked"]
    if signer.fingerprint in revoked or not revoked:
        raise UsageError(
            f"this would revoke {signer.name}'s key, which signs it, as compromised: the "
            "checkpoint it signed over the revocation could not be trusted",
            hint="revoke it with another admin's key (--key FILE); nothing was written",
        )
    # Revoked in turn: the key it revokes admitted the signer in the window it voids.
    target = state.keys.get(revoked[-1])
    name = target.name if target is not None else revoked[-1]
    raise UsageError(
        f"revoking {name}'s key as compromised would also revoke {signer.name}'s key, which "
        f"signs this: {name} admitted it in the window the revocation voids (after "
        "--void-after, or ever without it), and the checkpoint it signed could not be trusted",
        hint=f"give --void-after the last entry of {name}'s you still trust, one after that "
        f"grant, or sign with an admin key {name} did not admit in that window; nothing "
        "was written",
    )


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
        """The key of the last batch written, which signs the checkpoint at close."""
        self.written: tuple[int, bytes] = (snapshot.size, b"")
        """Size and root of the log as this writer last made it durable (no root
        before its first write)."""
        self.broken = False
        self.ahead = False
        """The fold has taken in entries that are not on disk yet (a batch being made).
        Set until the batch is written. A batch refused by an error folds the log
        again at once, for the caller to go on; one cut short by Ctrl-C, or whose
        write failed, leaves it set and the process free to stop: the next batch folds
        again first, and :meth:`close` signs what was written without folding."""
        self.pool: SignPool | None = None
        """The worker that signs large batches with the last key that made one."""
        self._no_pool_for: SigningKey | None = None

    def _pool_for(self, key: SigningKey) -> SignPool | None:
        pool = self.pool
        if pool is not None and pool.key is key and pool.alive:
            return pool
        if self._no_pool_for is key:
            return None
        self._close_pool()
        self.pool = SignPool.start(key)
        if self.pool is None:
            self._no_pool_for = key
        return self.pool

    def _close_pool(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.close()

    def append(
        self, drafts: Sequence[Draft], key: SigningKey, *, at: str | None = None
    ) -> list[Appended]:
        """Sign, check and write ``drafts`` with one fsync: all of them or none."""
        wall = self._begin()
        try:
            pool = self._pool_for(key) if len(drafts) >= signpool.PARALLEL_AT else None
            with paused_gc():  # a batch makes many objects and no cycles: see paused_gc
                sealed, lines = _Sealing(
                    self.snapshot, key, at or format_time(wall), wall, pool
                ).run(drafts)
            _refuse_compromising(self.snapshot.state, key, sealed)
        except BaseException as exc:
            self._undo(exc)  # the fold advanced past the refused batch's first drafts
            raise
        self._write(lines, key)
        return sealed

    def _begin(self) -> datetime:
        """Start a batch: refuse after a failed write, else undo an interrupted batch."""
        if self.broken:
            raise StorageError(
                "an earlier write under this lock failed; nothing more is appended",
                hint="fix the cause (disk, permissions) and run the command again",
            )
        if self.ahead:
            self.reload()
        self.ahead = True
        return self.now()

    def _undo(self, exc: BaseException) -> None:
        """After an error, fold the log again at once, for the caller to go on with this
        writer; after an interrupt the process is stopping: leave it to the next batch."""
        if isinstance(exc, Exception):
            self.reload()

    def _write(self, lines: list[bytes], key: SigningKey) -> None:
        """Append the batch's lines with one fsync; a Ctrl-C waits until it is noted."""
        snap = self.snapshot
        if lines and self.last_key is None:
            # The checkpoint is replaced at close, over what is appended now: find out
            # first that it can be (not in a read-only directory), while nothing is written.
            log.check_replaceable(self.ledger.checkpoint_path)
        with log.interrupts_held():
            if lines:
                try:
                    snap.end_offset = log.append(
                        self.ledger.events_path, lines, expected_size=snap.end_offset
                    )
                except BaseException:
                    # Nothing more is written under this lock; the fold stays ahead and
                    # no checkpoint is signed over entries that were never made durable.
                    self.broken = True
                    raise
                snap.last_line = lines[-1]
            self.written = (snap.size, snap.root())
            self.last_key = key
            self.ahead = False

    def reload(self) -> None:
        """Fold again from what is on disk (after a refused batch moved the fold on)."""
        self.snapshot.close()
        self.snapshot = self.ledger.load()
        self.ahead = False

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

    def check_signed(self, entries: Sequence[Entry]) -> None:
        """Raise :class:`Refused` exactly as :meth:`append_signed` would; write nothing.

        Lets a merge find out, before it asks for a key (and a passphrase), whether
        anything will be left to sign once the conflicting entries are left out.
        """
        try:
            self._append_checked([(entry, event_id(entry)) for entry in entries], None, None, True)
        except _Passed:
            return

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
        key: SigningKey | None,
        check_signatures: bool,
    ) -> list[Appended]:
        """Check the batch at its position; write it and sign with ``key``, or, with no
        key, raise :class:`_Passed` once every entry passed (the fold undone)."""
        wall = self._begin()
        snap = self.snapshot
        out: list[Appended] = []
        problems: list[tuple[int, str, RuleViolation]] = []
        try:
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
                raise Refused(problems)
            if key is None:
                raise _Passed
            require_current_key(snap.state, key)  # it signs the checkpoint over them
        except BaseException as exc:
            self._undo(exc)  # the fold took in a batch that will not be written
            raise
        self._write([encode_entry(item.entry) for item in out] if lines is None else lines, key)
        return out

    def close(self) -> None:
        """Re-sign the checkpoint if anything was appended, and keep the state cached.

        After a batch cut short (the fold is ahead of the file), the checkpoint is
        signed for what was written and nothing is cached: no fold, so a Ctrl-C
        ends the process at once, and the next writer folds from the older cache.
        """
        self._close_pool()
        snap = self.snapshot
        if self.last_key is not None:
            size, root = self.written
            with log.interrupts_held():
                try:
                    self.ledger.write_checkpoint(size, root, self.last_key)
                except StorageError as exc:
                    raise StorageError(
                        f"the log has the new entries (it now holds {size}), but its "
                        f"checkpoint could not be re-signed: {exc.message}",
                        hint="do not append them again; once the cause is fixed, run "
                        "'factledger repair --key KEY' to re-sign it",
                        path=exc.path,
                    ) from None
        if not self.ahead and (self.last_key is not None or snap.store is None):
            self.ledger.save_cache(snap)


class _Passed(Exception):
    """A dry run's batch passed every check (:meth:`Writer.check_signed`)."""


def _reread_hint(subject: str) -> str:
    """How to see where a stream has moved: ``show`` reads claims only."""
    how = (
        f"'factledger show {subject}'"
        if subject.startswith("clm_")
        else f"'factledger log | grep {subject}'"
    )
    return f"re-read it ({how}) and retry against the new head"
