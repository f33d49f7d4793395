"""A batch cut short never leaves a checkpoint signed over entries that were not written.

A writer folds each batch into its state before it writes the batch, so that the rules
see every entry at its position. If the batch stops before the write (Ctrl-C, a failed
earlier write), the fold is ahead of the file; the writer's close signs the checkpoint
from the fold. A Ctrl-C between the batch's write and its fsync must take the written
lines back, or the fold that undoes the batch would take them in again.

These tests stop batches at those points, let the writer close, and check that the
checkpoint covers exactly the lines on disk and that the ledger verifies with no
findings.
"""

from __future__ import annotations

import os
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


@pytest.mark.parametrize("append", APPENDS.values(), ids=list(APPENDS))
def test_an_interrupt_while_the_fold_is_undone_is_undone_at_close(
    book: Book, monkeypatch: pytest.MonkeyPatch, append: Callable[[Writer, Book, int], None]
) -> None:
    """A second Ctrl-C lands in the fold again that undoes the first: close folds again."""
    before = len(book.lines())
    real_load = Ledger.load
    loads = 0

    def load_interrupted_once(self: Ledger, **kwargs: Any) -> Any:
        nonlocal loads
        loads += 1
        if loads == 1:
            raise KeyboardInterrupt
        return real_load(self, **kwargs)

    with book.ledger().writer() as writer:
        append(writer, book, 5)
        interrupt_once_after(monkeypatch, 4)
        monkeypatch.setattr(Ledger, "load", load_interrupted_once)
        with pytest.raises(KeyboardInterrupt):
            append(writer, book, 10)
        assert loads == 1  # the undo was cut short, so the fold is still ahead
        assert writer.ahead
    assert loads == 2  # the undo, interrupted; then the close's
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
            append(writer, book, 5)  # folded, then refused at the write
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
