"""A failed ``fsync`` is an error that acknowledges nothing (DESIGN §6; research §5, step 7).

``os.fsync`` is made to fail with EIO, in-process with monkeypatch and in a real
process through ``fsync_fails.py``, which patches it before running
``ledger.cli.main.main``. An append must then exit 3 with one ``error:`` line on
stderr and no traceback, print no id, and leave a log that verifies.

What "leaves a log that verifies" means when the line reached the page cache but
fsync failed: ``write()`` returned, so every reader already sees the new line, but
whether it would survive a power loss is unknown — after a failed writeback Linux
may mark the pages clean, and a retried fsync can report success with the data
lost ("fsyncgate"). The line was never acknowledged, so it must not become part of
the ledger's verified state. Concretely: after at most ``factledger repair``,
``verify`` reports no error finding, and the log holds exactly the entries it held
before the failed append — the writer takes back what it could not make durable
(truncates to the size it started from), rather than leaving a whole, unacknowledged
entry that the checkpoint does not cover and that repair cannot tell from a real one.

When the log's fsync succeeded and only the checkpoint's failed, the entry is
durable but unacknowledged; the checkpoint is then behind the log, which the next
append repairs (see ``test_crash_loop.py`` for that state).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from ledger.checkpoint import open_checkpoint
from ledger.cli.main import main
from ledger.errors import StorageError
from ledger.ledger import Appended, Ledger
from tests.reliability.append_batches import note_draft
from tests.reliability.conftest import Book, clean_env, error_lines, helper_command

RealFsync = Callable[[int], None]


@contextlib.contextmanager
def failing_fsync(*, ok_calls: int = 0) -> Iterator[list[int]]:
    """In the block, every ``os.fsync`` after the first ``ok_calls`` raises EIO unsynced."""
    real: RealFsync = os.fsync
    calls: list[int] = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) > ok_calls:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(fd)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", fsync)
        yield calls


def note(book: Book, text: str = "written while the disk fails") -> list[str]:
    return ["claim", "note", book.claim, text, "--key", str(book.key_path), "--ledger",
            str(book.root)]  # fmt: skip


def checkpoint_size(book: Book) -> int:
    ledger = book.ledger()
    cp = open_checkpoint(book.checkpoint.read_bytes(), ledger.config.origin, [book.key.public])
    return cp.size


def test_an_append_whose_log_fsync_fails_exits_3_with_one_line_and_prints_no_id(
    book: Book, capsys: pytest.CaptureFixture[str]
) -> None:
    with failing_fsync() as calls:
        code = main(note(book))
    captured = capsys.readouterr()
    assert calls, "the append never called fsync"
    assert code == 3
    assert captured.out == ""
    (line,) = error_lines(captured.err)
    assert captured.err == line + "\n"
    assert "could not append to" in line
    assert os.strerror(errno.EIO) in line


def test_a_real_process_whose_fsync_fails_exits_3_with_one_line_and_prints_no_id(
    book: Book,
) -> None:
    done = subprocess.run(
        helper_command("fsync_fails.py", *note(book)),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    (line,) = error_lines(done.stderr)
    assert done.stderr == line + "\n"
    assert "could not append to" in line


def test_a_failed_log_fsync_leaves_the_log_as_it_was_and_verifying(
    book: Book, capsys: pytest.CaptureFixture[str]
) -> None:
    """The unacknowledged line must not stay behind as a whole entry (see the module doc).

    Today it does: ``ledger.log.append`` raises after ``os.write`` succeeded and leaves
    the line in the file, so the log is one entry ahead of its checkpoint, ``verify``
    reports a ``checkpoint`` finding, and ``repair`` (which only handles a torn tail)
    cannot help.
    """
    before = book.events.read_bytes()
    with failing_fsync():
        assert main(note(book)) == 3
    capsys.readouterr()
    book.ledger().repair()
    assert len(book.lines()) == before.count(b"\n"), "the unacknowledged entry is in the log"
    assert book.events.read_bytes() == before
    report = book.verify()
    assert report.ok, report.errors


def test_a_failed_checkpoint_fsync_acknowledges_nothing_and_the_next_append_recovers(
    book: Book, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = len(book.ids())
    with failing_fsync(ok_calls=1):  # the log's fsync works, the checkpoint's fails
        code = main(note(book))
    captured = capsys.readouterr()
    assert code == 3
    assert captured.out == ""
    (line,) = error_lines(captured.err)
    assert "checkpoint" in line
    assert len(book.ids()) == entries + 1  # durable, though not acknowledged
    assert checkpoint_size(book) == entries
    assert [f.rule for f in book.verify().errors] == ["checkpoint"]
    assert main(note(book, "the next append")) == 0
    assert book.verify().ok


def test_a_batch_whose_fsync_fails_is_not_covered_by_the_signed_checkpoint(book: Book) -> None:
    """``Writer.close`` signs the checkpoint over its snapshot, which must hold only durable
    entries. Today ``Writer.append`` folds a batch into the snapshot before writing it and
    keeps it there when the write or fsync fails, so the checkpoint signed at close covers
    the failed batch too: a signed commitment to entries that may not survive a crash.
    """
    ledger: Ledger = book.ledger()
    before = book.ids()
    first: list[Appended] = []

    def two_batches_the_second_failing() -> None:
        with ledger.writer() as writer:
            first.extend(writer.append([note_draft(book.claim, "durable")], book.key))
            with failing_fsync():  # ends before the writer closes and signs the checkpoint
                writer.append([note_draft(book.claim, "not durable")], book.key)

    with pytest.raises(StorageError):
        two_batches_the_second_failing()
    durable = before + [done.id for done in first]
    assert checkpoint_size(book) == len(durable)
    book.ledger().repair()
    assert book.ids() == durable
    assert book.verify().ok


def test_a_failed_fsync_does_not_leave_the_lock_held(book: Book) -> None:
    with failing_fsync():
        assert main(note(book)) == 3
    (done,) = book.ledger().append([note_draft(book.claim, "after the disk recovered")], book.key)
    assert done.id in book.ids()
