"""The append-only file: lock, scan, append with fsync, atomic replace, torn tails (DESIGN §6).

This is the I/O edge of the core. Nothing here knows what an entry means: lines
are bytes. Every write is followed by ``fsync`` before anything is acknowledged,
and every replacement goes through a temporary file, ``fsync``, ``rename`` and
an ``fsync`` of the directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from ledger.errors import (
    NOT_A_LEDGER,
    DecodeError,
    LockBusy,
    StorageError,
    TornWrite,
    io_error,
)

READ_CHUNK: Final = 1 << 20
DEFAULT_LOCK_TIMEOUT: Final = 30.0


class Line(msgspec.Struct, frozen=True):
    """A complete line of the log: its 0-based index, byte offset and bytes (no newline)."""

    index: int
    offset: int
    data: bytes


def scan(
    path: Path, *, start_offset: int = 0, start_index: int = 0, missing: str = NOT_A_LEDGER
) -> Iterator[Line]:
    """Yield the log's complete lines in order, then raise :class:`TornWrite` for a partial tail.

    Reads in large chunks; memory is bounded by the longest line, not the log.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise io_error("read it", path, exc, missing=missing) from None
    with handle:
        handle.seek(start_offset)
        index, offset, pending = start_index, start_offset, b""
        while chunk := handle.read(READ_CHUNK):
            buf = pending + chunk if pending else chunk
            pos = 0
            while (nl := buf.find(b"\n", pos)) >= 0:
                yield Line(index, offset, buf[pos:nl])
                offset += nl + 1 - pos
                index += 1
                pos = nl + 1
            pending = buf[pos:]
            if len(pending) > RUNAWAY_LINE:
                raise runaway_line(path, index + 1)
        if pending:
            whole = is_whole_entry(pending)
            torn = TornWrite(
                describe_tail(len(pending), whole),
                hint=f"run 'factledger repair' to {repair_of_tail(whole)}",
                path=str(path),
                line=index + 1,
                rule="torn-tail",
            )
            torn.whole_entry = whole
            if whole:
                torn.tail = pending
            raise torn


def is_whole_entry(tail: bytes) -> bool:
    """Whether ``tail``, the bytes after the log's last newline, is a whole valid entry:
    a write that lost only its newline (an editor that strips it, a copy cut one byte
    short), which ``repair`` completes rather than moves aside."""
    from ledger.codec import decode_entry  # here: only a log that ends badly needs it
    from ledger.errors import LedgerError

    try:
        decode_entry(tail)
    except LedgerError:
        return False
    return True


def ends_in_whole_entry(path: Path, torn: int) -> bool:
    """:func:`is_whole_entry` of the last ``torn`` bytes of the log at ``path``."""
    from ledger.codec import MAX_LINE_BYTES

    if torn > MAX_LINE_BYTES:
        return False
    return is_whole_entry(read_tail(path, _size(path) - torn))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise io_error("read it", path, exc, missing=NOT_A_LEDGER) from None


def describe_tail(size: int, whole: bool) -> str:
    """What a log ending in ``size`` bytes without a newline has at its end."""
    if whole:
        return f"the log's last line, a whole entry of {size} bytes, lacks its newline"
    return f"the log ends in a partial line of {size} bytes (a torn write)"


def repair_of_tail(whole: bool) -> str:
    """What ``factledger repair`` does to such a tail."""
    return "add the newline back" if whole else "move the partial tail aside"


RUNAWAY_LINE: Final = 64 << 20
"""A line still without its newline after this many bytes ends the read (an entry is at
most 1 MiB): a file that is not a log of lines (``/dev/zero``, a binary committed in the
log's place) would otherwise be read without end, each chunk copied again."""


def runaway_line(path: Path, line: int | None) -> DecodeError:
    which = f"line {line}" if line is not None else "a line"
    return DecodeError(
        f"{which} runs on for over {RUNAWAY_LINE >> 20} MiB without a newline: "
        "this is not a log of JSON lines",
        hint="check that the file named is the ledger's events.jsonl",
        path=str(path),
        line=line,
        rule="line-too-long",
    )


def read_tail(path: Path, offset: int) -> bytes:
    """The bytes from ``offset`` to the end of the file."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read()
    except OSError as exc:
        raise io_error("read it", path, exc) from None


def partial_tail(path: Path) -> int:
    """How many bytes follow the log's last newline: 0 unless it ends in a torn write."""
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            at = end
            while at > 0:
                step = min(READ_CHUNK, at)
                at -= step
                handle.seek(at)
                newline = handle.read(step).rfind(b"\n")
                if newline >= 0:
                    return end - at - newline - 1
            return end
    except OSError as exc:
        raise io_error("read it", path, exc, missing=NOT_A_LEDGER) from None


def append(path: Path, lines: list[bytes], *, expected_size: int) -> int:
    """Append whole lines and ``fsync`` them; return the new file size.

    ``expected_size`` is the size the caller scanned under the lock: anything else
    means the file changed behind the lock, and nothing is written.
    """
    data = b"".join(line + b"\n" for line in lines)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError as exc:
        raise io_error("open it for appending", path, exc) from None
    writing = False
    try:
        size = os.fstat(fd).st_size
        if size != expected_size:
            raise StorageError(
                f"{path} changed while locked ({size} bytes, expected {expected_size})",
                hint="another program writes the log without the lock; stop it and retry",
                path=str(path),
            )
        writing = True
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException as exc:
        # Nothing was acknowledged (a failed write, or Ctrl-C before the fsync ended):
        # take back whatever reached the file (best effort), so the log stays as its
        # checkpoint describes it and no later fold takes in lines never synced.
        if writing:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, expected_size)
                os.fsync(fd)
        if isinstance(exc, OSError):
            raise io_error("append to it", path, exc) from None
        raise
    finally:
        os.close(fd)
    return expected_size + len(data)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block until the block has ended.

    For short steps that must finish once begun: a batch's write, ``fsync`` and the
    note of what is now durable, or the checkpoint's replacement. The interrupt is
    then raised where the block ends, so a caller never has to guess whether the
    step happened. Python delivers SIGINT to the main thread only; elsewhere, or
    under a handler that is not Python's default, the block runs as it is.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if held:
        raise KeyboardInterrupt


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise io_error("write it", path, exc) from None


def check_replaceable(path: Path) -> None:
    """Raise :class:`StorageError` unless :func:`write_atomic` could create its temp file
    beside ``path`` now (a read-only directory refuses it, though the files in it may
    still be writable), or where ``path`` is a directory, which no file replaces."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        os.unlink(tmp)
    except OSError as exc:
        raise io_error("write it", path, exc) from None


def write_new(path: Path, data: bytes) -> Path:
    """Write ``data`` to a new file at ``path`` (or ``path.1``, ``path.2``…), never replacing one.

    Returns the path written; the data is fsynced, and so is the directory.
    """
    for attempt in range(1000):
        candidate = path if attempt == 0 else path.with_name(f"{path.name}.{attempt}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        except OSError as exc:
            raise io_error("create it", candidate, exc) from None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as exc:
            raise io_error("write it", candidate, exc) from None
        finally:
            os.close(fd)
        fsync_dir(candidate.parent)
        return candidate
    raise StorageError(f"too many backups named {path.name}.*", hint="move old ones away")


@contextlib.contextmanager
def locked(
    lock_path: Path,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` for the block.

    The kernel drops the lock when its holder dies (a signing worker it forked,
    which shares the descriptor, exits with it), so a crashed writer never wedges
    the ledger. ``on_wait`` is called once if another writer holds it.
    """
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise io_error("open it as the lock", lock_path, exc) from None
    owner = os.getpid()
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"another writer has held {lock_path} for over {timeout:.0f}s",
                        hint="wait for it to finish, or find the process holding the lock",
                        path=str(lock_path),
                    ) from None
                time.sleep(0.01)
        yield
    finally:
        _unlock(fd, owner)


def _unlock(fd: int, owner: int) -> None:
    """Unlock, then close: a forked child (a signing worker) holds a copy of the
    descriptor, and closing ours alone would leave the lock held until it exits.
    Only the process that took the lock lets it go: a child that leaves the block
    (it should not) only closes its copy."""
    if os.getpid() == owner:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextlib.contextmanager
def shared(
    lock_path: Path,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold a shared ``flock`` for a reader: writers (exclusive) wait, readers do not.

    A reader under it never sees a half-written line, nor a checkpoint newer than
    the log it read. Best effort where the lock file cannot be opened (a read-only
    checkout has no writers to wait for). ``on_wait`` is called once if a writer
    holds it.
    """
    try:
        fd = os.open(lock_path, os.O_RDONLY)  # flock needs no write access
    except FileNotFoundError:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield
            return
    except OSError:
        yield
        return
    owner = os.getpid()
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"a writer has held {lock_path} for over {timeout:.0f}s",
                        hint="wait for it to finish, or find the process holding the lock",
                        path=str(lock_path),
                    ) from None
                time.sleep(0.01)
        yield
    finally:
        _unlock(fd, owner)
