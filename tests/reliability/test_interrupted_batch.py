"""A batch cut short never leaves a checkpoint that differs from the lines on disk.

A writer folds each batch into its state before it writes the batch, so that the rules
see every entry at its position. If the batch stops before its write (Ctrl-C, a failed
write), the fold is ahead of the file, and the writer's close must sign the size and
root it last wrote, not the fold's. A Ctrl-C between a batch's write and its fsync
must take the written lines back; one just after the fsync, or while the checkpoint is
replaced, waits until that step is done and noted (``ledger.log.interrupts_held``).

These tests stop batches at those points, let the writer close, and check that the
checkpoint covers exactly the lines on disk and that the ledger verifies with no
findings.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger import log, rules
from ledger.entry import seal_line
from ledger.errors import RuleViolation, StorageError
from ledger.ledger import Ledger
from ledger.writer import Writer
from tests.reliability.append_batches import claim_draft
from tests.reliability.conftest import Book

AT = "2024-01-02T00:00:00Z"


def by_append(writer: Writer, book: Book, n: int) -> None:
    writer.append([claim_draft(f"claim {i}") for i in range(n)], book.key, at=AT)


def by_append_sealed(writer: Writer, book: Book, n: int) -> None:
    sealed = []
    for i in range(n):
        draft = claim_draft(f"sealed claim {i}")
        sealed.append(
            seal_line(
                kind=draft.kind,
                subject=draft.subject,
                parent=None,
                at=AT,
                body=draft.body,
                key=book.key,
            )
        )
    writer.append_sealed(sealed, book.key)


APPENDS = {"append": by_append, "append_sealed": by_append_sealed}


def interrupt_once_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    """Ctrl-C in the rule fold, on its ``calls``-th check from now (once only)."""
    real = rules.violations
    seen = 0

    def violations(*args: Any, **kwargs: Any) -> Iterator[RuleViolation]:
        nonlocal seen
        seen += 1
        if seen == calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(rules, "violations", violations)


def consistent(book: Book) -> int:
    """The checkpoint's size, which must be the log's, over a ledger that verifies."""
    report = book.verify()
    assert report.findings == [], [f.message for f in report.findings]
    size = int(book.checkpoint.read_text().splitlines()[1])
    assert size == len(book.lines()) == report.entries
    return size


@pytest.mark.parametrize("append", APPENDS.values(), ids=list(APPENDS))
def test_a_batch_interrupted_in_its_fold_is_left_out_of_the_checkpoint(
    book: Book, monkeypatch: pytest.MonkeyPatch, append: Callable[[Writer, Book, int], None]
) -> None:
    before = len(book.lines())
    with book.ledger().writer() as writer:
        append(writer, book, 5)
        interrupt_once_after(monkeypatch, 4)
        with pytest.raises(KeyboardInterrupt):
            append(writer, book, 10)
    assert consistent(book) == before + 5


def count_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, count the folds of the whole log (``Ledger.load``) in a one-item list."""
    real_load = Ledger.load
    loads = [0]

    def counted(self: Ledger, **kwargs: Any) -> Any:
        loads[0] += 1
        return real_load(self, **kwargs)

    monkeypatch.setattr(Ledger, "load", counted)
    return loads


@pytest.mark.parametrize("append", APPENDS.values(), ids=list(APPENDS))
def test_an_interrupted_batch_is_not_undone_by_a_fold_so_the_process_stops_at_once(
    book: Book, monkeypatch: pytest.MonkeyPatch, append: Callable[[Writer, Book, int], None]
) -> None:
    """Undoing a batch means folding the whole log again: 19 s at 250,000 entries with no
    word printed, long enough for a second and third Ctrl-C. Neither the interrupted
    batch nor the close folds; the close signs the size and root last written."""
    before = len(book.lines())
    with book.ledger().writer() as writer:
        append(writer, book, 5)
        interrupt_once_after(monkeypatch, 4)
        loads = count_loads(monkeypatch)
        with pytest.raises(KeyboardInterrupt):
            append(writer, book, 10)
        assert writer.ahead
        assert writer.written[0] == before + 5
    assert loads == [0]
    assert consistent(book) == before + 5


@pytest.mark.parametrize("append", APPENDS.values(), ids=list(APPENDS))
def test_a_writer_used_again_after_an_interrupted_batch_folds_the_log_first(
    book: Book, monkeypatch: pytest.MonkeyPatch, append: Callable[[Writer, Book, int], None]
) -> None:
    before = len(book.lines())
    with book.ledger().writer() as writer:
        append(writer, book, 5)
        interrupt_once_after(monkeypatch, 4)
        with pytest.raises(KeyboardInterrupt):
            append(writer, book, 10)
        monkeypatch.undo()
        loads = count_loads(monkeypatch)
        append(writer, book, 3)
        assert loads == [1]  # the undo, before the next batch
        assert writer.snapshot.size == before + 8
        assert not writer.ahead
    assert consistent(book) == before + 8


def sigint_in(
    monkeypatch: pytest.MonkeyPatch, target: Any, name: str, *, first: bool = False
) -> list[int]:
    """Make ``target.name`` send this process a real SIGINT once it has done its work
    (with ``first``, as it begins: Python raises it at once unless it is held)."""
    real = getattr(target, name)
    calls = [0]

    def with_sigint(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if first:
            os.kill(os.getpid(), signal.SIGINT)
        result = real(*args, **kwargs)
        if not first:
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(target, name, with_sigint)
    return calls


@pytest.mark.parametrize("append", APPENDS.values(), ids=list(APPENDS))
def test_a_ctrl_c_during_a_writers_first_write_waits_until_the_batch_is_noted(
    book: Book, monkeypatch: pytest.MonkeyPatch, append: Callable[[Writer, Book, int], None]
) -> None:
    """Ctrl-C just after the fsync, before the writer noted the batch as written: the
    batch is durable, so the checkpoint must cover it, even as the writer's first."""
    before = len(book.lines())
    with book.ledger().writer() as writer:
        calls = sigint_in(monkeypatch, log, "append")
        with pytest.raises(KeyboardInterrupt):
            append(writer, book, 5)
        monkeypatch.undo()
        assert calls == [1]
        assert not writer.ahead
        assert not writer.broken
        assert writer.written[0] == before + 5
    assert consistent(book) == before + 5


def test_a_ctrl_c_while_the_checkpoint_is_replaced_waits_until_it_is_written(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = len(book.lines())
    calls: dict[str, list[int]] = {}

    def append_and_close() -> None:
        with book.ledger().writer() as writer:
            by_append(writer, book, 5)
            calls["write_atomic"] = sigint_in(monkeypatch, log, "write_atomic", first=True)

    with pytest.raises(KeyboardInterrupt):
        append_and_close()
    monkeypatch.undo()
    assert calls == {"write_atomic": [1]}
    assert consistent(book) == before + 5


@pytest.mark.parametrize("append", APPENDS.values(), ids=list(APPENDS))
def test_a_batch_refused_after_a_failed_write_is_left_out_of_the_checkpoint(
    book: Book, monkeypatch: pytest.MonkeyPatch, append: Callable[[Writer, Book, int], None]
) -> None:
    before = len(book.lines())
    real_append = log.append
    writes = 0

    def fails_once(*args: Any, **kwargs: Any) -> int:
        nonlocal writes
        writes += 1
        if writes == 2:
            raise StorageError("could not write: disk full (made up)")
        return real_append(*args, **kwargs)

    monkeypatch.setattr(log, "append", fails_once)
    with book.ledger().writer() as writer:
        append(writer, book, 5)
        with pytest.raises(StorageError, match="disk full"):
            append(writer, book, 5)
        with pytest.raises(StorageError, match="an earlier write under this lock failed"):
            append(writer, book, 5)  # refused before its fold
    assert consistent(book) == before + 5


@pytest.mark.parametrize("append", APPENDS.values(), ids=list(APPENDS))
def test_an_interrupt_between_a_batch_write_and_its_fsync_leaves_it_out(
    book: Book, monkeypatch: pytest.MonkeyPatch, append: Callable[[Writer, Book, int], None]
) -> None:
    before = len(book.lines())
    real = os.fsync
    calls = 0

    def fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # the second batch's log fsync: Ctrl-C lands just before it ends
            raise KeyboardInterrupt
        real(fd)

    with book.ledger().writer() as writer:
        append(writer, book, 5)
        monkeypatch.setattr(os, "fsync", fsync)
        with pytest.raises(KeyboardInterrupt):
            append(writer, book, 5)
        monkeypatch.undo()
    assert calls == 2  # the interrupted fsync, then the one after taking the lines back
    assert consistent(book) == before + 5
