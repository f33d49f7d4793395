"""The writer lock, key-file permissions and read-only ledgers (DESIGN §6, §7, §13).

- A second writer queues behind the first and says that it waits; one that cannot get
  the lock in time gives up with exit 3 and one line.
- The lock is an ``flock``, which the kernel releases when its holder dies: a lock
  file left behind by a writer killed with SIGKILL does not wedge the ledger.
- Keys are written 0600 whatever the umask; signing with a key file that others may
  read warns on stderr.
- A ledger the process may not write is an error of one line with exit 3, never a
  traceback; reading and verifying it still work.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger import log
from ledger.cli.main import main
from ledger.keys import save_signing_key
from tests.reliability.append_batches import note_draft
from tests.reliability.conftest import (
    Book,
    clean_env,
    error_lines,
    factledger_command,
    run_factledger,
)


def note_args(book: Book, key: Path | None = None) -> list[str]:
    return ["claim", "note", book.claim, "a note", "--key", str(key or book.key_path),
            "--ledger", str(book.root)]  # fmt: skip


class HeldLock:
    """The writer lock held by a thread of this process until ``release()``."""

    def __init__(self, book: Book) -> None:
        self.path = book.ledger().lock_path
        self._held, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        with log.locked(self.path):
            self._held.set()
            self._release.wait(timeout=120)

    def __enter__(self) -> HeldLock:
        self._thread.start()
        assert self._held.wait(timeout=30)
        return self

    def release(self) -> None:
        self._release.set()
        self._thread.join(timeout=30)

    def __exit__(self, *exc: object) -> None:
        self.release()


def wait_until_open(pid: int, path: Path, timeout: float = 60) -> None:
    """Until process ``pid`` has ``path`` open (it has reached the lock), via /proc."""
    fds = Path(f"/proc/{pid}/fd")
    deadline = time.monotonic() + timeout
    target = str(path.resolve())
    while time.monotonic() < deadline:
        try:
            if any(os.readlink(fd) == target for fd in fds.iterdir()):
                return
        except OSError:  # an fd closed while we looked; or no /proc
            if not fds.parent.exists():
                time.sleep(3)
                return
        time.sleep(0.02)


# --- waiting for the lock ------------------------------------------------------------


def test_ledger_append_calls_on_wait_once_while_another_writer_holds_the_lock(
    book: Book,
) -> None:
    calls: list[float] = []
    with HeldLock(book) as held:

        def on_wait() -> None:
            calls.append(time.monotonic())
            held.release()  # the other writer finishes once we are queued

        (done,) = book.ledger().append(
            [note_draft(book.claim, "queued")], book.key, on_wait=on_wait
        )
    assert len(calls) == 1
    assert done.id in book.ids()


def test_ledger_append_does_not_call_on_wait_when_the_lock_is_free(book: Book) -> None:
    calls: list[int] = []
    draft = note_draft(book.claim, "alone")
    book.ledger().append([draft], book.key, on_wait=lambda: calls.append(1))
    assert calls == []


def redact_args(book: Book, tmp_path: Path) -> list[str]:
    note = run_factledger(*note_args(book)).stdout.strip()
    return ["redact", note, "--reason", "erasure", "--key", str(book.key_path),
            "--ledger", str(book.root)]  # fmt: skip


def merge_args(book: Book, tmp_path: Path) -> list[str]:
    branch = tmp_path / "branch"
    shutil.copytree(book.root, branch, ignore=shutil.ignore_patterns(".cache", "*.lock"))
    on_branch = ["claim", "note", book.claim, "on a branch", "--key", str(book.key_path),
                 "--ledger", str(branch)]  # fmt: skip
    assert run_factledger(*on_branch).returncode == 0
    return ["merge", str(branch / "events.jsonl"), "--key", str(book.key_path),
            "--ledger", str(book.root)]  # fmt: skip


WAITERS = {
    "append": lambda book, tmp_path: note_args(book),
    "redact": redact_args,
    "merge": merge_args,
    "repair": lambda book, tmp_path: ["repair", "--ledger", str(book.root)],
    "show": lambda book, tmp_path: ["show", book.claim, "--ledger", str(book.root)],  # reads
    "verify": lambda book, tmp_path: ["verify", str(book.root)],
    "log": lambda book, tmp_path: ["log", "--ledger", str(book.root)],
}


@pytest.mark.parametrize("writer", WAITERS.values(), ids=WAITERS.keys())
def test_a_writer_queued_behind_another_says_on_stderr_that_it_waits(
    book: Book, tmp_path: Path, writer: Callable[[Book, Path], list[str]]
) -> None:
    """The CLI never passed ``on_wait``: a queued writer was silent until it was through
    (or, after 30 s, failed). It prints "waiting for another writer…" on stderr, once;
    redact, repair, merge and the projections' readers were still silent after appends
    said so."""
    argv = writer(book, tmp_path)
    with HeldLock(book) as held:
        proc = subprocess.Popen(
            [*factledger_command(), *argv],
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until_open(proc.pid, held.path)
        time.sleep(0.3)
        held.release()
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err.count("waiting for another writer") == 1, err


def test_a_writer_that_cannot_get_the_lock_in_time_exits_3_with_one_line(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = book.events.read_bytes()
    with HeldLock(book):
        monkeypatch.setattr(log, "locked", functools.partial(log.locked, timeout=1.0))
        code = main(note_args(book))
    captured = capsys.readouterr()
    assert code == 3
    assert captured.out == ""
    (line,) = error_lines(captured.err)
    assert "another writer" in line
    assert book.events.read_bytes() == before


# --- a dead holder ------------------------------------------------------------------------

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
"""


def test_a_lock_file_left_by_a_writer_killed_with_sigkill_does_not_wedge_the_ledger(
    book: Book,
) -> None:
    lock_path = book.ledger().lock_path
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "locked\n"
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=30) == -signal.SIGKILL
    holder.stdout.close()
    assert lock_path.exists()  # the file stays; only the flock died with its holder
    started = time.monotonic()
    done = run_factledger(*note_args(book))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in book.ids()
    assert time.monotonic() - started < log.DEFAULT_LOCK_TIMEOUT


# --- key files ----------------------------------------------------------------------------


def test_key_new_writes_the_private_key_0600_even_under_umask_000(tmp_path: Path) -> None:
    path = tmp_path / "fresh.key"
    done = subprocess.run(
        [*factledger_command(), "key", "new", str(path)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        umask=0,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{path}.pub").stat().st_mode) == 0o644


@pytest.mark.parametrize(("mode", "warns"), [(0o644, True), (0o640, True), (0o604, True),
                                             (0o600, False), (0o400, False)])  # fmt: skip
def test_signing_with_a_key_file_others_may_read_warns_on_stderr_and_still_appends(
    book: Book, tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int, warns: bool
) -> None:
    key_path = tmp_path / "loose.key"
    save_signing_key(book.key, key_path, None)
    key_path.chmod(mode)
    code = main(note_args(book, key_path))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() in book.ids()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    if warns:
        assert len(warnings) == 1, captured.err
        assert "readable by other users" in warnings[0]
        assert f"chmod 600 {key_path}" in warnings[0]
    else:
        assert warnings == []


# --- a ledger this process may not write ------------------------------------------------


@pytest.fixture
def read_only_tree(book: Book) -> Iterator[Callable[[], None]]:
    """chmod the ledger 0555 (directories) / 0444 (files); restored afterwards."""
    paths = [book.root, *book.root.rglob("*")]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in paths}

    def lock_down() -> None:
        for p in sorted(paths, key=lambda p: len(p.parts), reverse=True):
            p.chmod(0o555 if p.is_dir() else 0o444)

    yield lock_down
    for p, mode in modes.items():
        p.chmod(mode)


@pytest.mark.parametrize("verb", ["note", "repair"])
def test_writing_to_a_read_only_ledger_directory_exits_3_with_one_line(
    book: Book, read_only_tree: Callable[[], None], verb: str
) -> None:
    if os.geteuid() == 0:
        pytest.skip(
            "running as root, which permission bits do not stop, and a read-only bind "
            "mount needs privileges a test must not use; the same code path is tested "
            "with os.open refusing writes (test_writing_where_the_os_refuses_writes_...)"
        )
    before = book.events.read_bytes()
    read_only_tree()
    args = note_args(book) if verb == "note" else ["repair", "--ledger", str(book.root)]
    done = run_factledger(*args)
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    (line,) = error_lines(done.stderr)
    assert done.stderr == line + "\n"
    assert book.events.read_bytes() == before


def refuse_writes_under(monkeypatch: pytest.MonkeyPatch, root: Path, code: int) -> list[str]:
    """``os.open`` fails with ``code`` for any write under ``root``, as a 0555/0444 tree
    (EACCES), a read-only mount (EROFS) or an immutable file (EPERM) would."""
    real = os.open
    refused: list[str] = []
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def guarded(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        if flags & write_flags and Path(path).resolve().is_relative_to(root.resolve()):
            refused.append(str(path))
            raise OSError(code, os.strerror(code), str(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    return refused


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.EPERM],
                         ids=["EACCES", "EROFS", "EPERM"])  # fmt: skip
@pytest.mark.parametrize("verb", ["note", "repair"])
def test_writing_where_the_os_refuses_writes_exits_3_with_one_line(
    book: Book,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: int,
    verb: str,
) -> None:
    before = book.events.read_bytes()
    refused = refuse_writes_under(monkeypatch, book.root, code)
    args = note_args(book) if verb == "note" else ["repair", "--ledger", str(book.root)]
    exit_code = main(args)
    captured = capsys.readouterr()
    assert refused, "nothing tried to write"
    assert exit_code == 3
    assert captured.out == ""
    (line,) = error_lines(captured.err)
    assert captured.err == line + "\n"
    assert os.strerror(code) in line
    assert "read-only" in line  # the hint
    assert book.events.read_bytes() == before


def test_a_ledger_the_os_will_not_let_us_write_still_lists_and_verifies(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = refuse_writes_under(monkeypatch, book.root, errno.EROFS)
    assert main(["log", "--ledger", str(book.root)]) == 0
    assert main(["verify", str(book.root)]) == 0
    captured = capsys.readouterr()
    assert refused == []
    assert len(captured.out.splitlines()) == len(book.ids()) + 1  # log lines, verify summary
