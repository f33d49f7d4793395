"""Long pure-Python jobs (indexing the log, verifying it) off the UI's interpreter.

A thread worker keeps the UI's event loop free from *blocking*, but pure-Python work
in it still holds the GIL much of the time, and a key press then waits its turn. For
a large log (over :data:`PROCESS_MIN_BYTES`) the job runs in a child process instead
— the thread worker only waits on a pipe, relaying progress — so stepping through
time stays instant while a million entries are indexed or verified. Small logs run
inline, where starting a process would cost more than the job.

This module imports no Textual and no DuckDB: the child process imports only it and
the ledger core.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, TypeVar

from ledger.ledger import Ledger, utc_now
from ledger.verify import Report, verify

T = TypeVar("T")
Progress = Callable[[int, int], None]
PROCESS_MIN_BYTES: Final = 4 << 20


def verify_job(root: Path, unsafe_allow_test_keys: bool, progress: Progress) -> Report:
    """Full verification (DESIGN §8), exactly as ``factledger verify`` runs it.

    It reads the log itself, not the projection, so it works on a ledger whose log no
    longer decodes (and so could not be projected).
    """
    ledger = Ledger.open(root)
    return verify(
        root,
        config=ledger.config,
        now=utc_now(),
        progress=progress,
        unsafe_allow_test_keys=unsafe_allow_test_keys,
        # The child is the only heavy process; nested worker pools would compete with it.
        workers=None,
    )


def scan_job(root: Path, progress: Progress) -> Any:
    from tui.catalog import scan

    return scan(Ledger.open(root), progress=progress)


def _child(conn: Connection, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
    # The child shares the UI's terminal: nothing it might print may reach it.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def progress(done: int, total: int) -> None:
        conn.send(("progress", done, total))

    try:
        result = job(*args, progress)
    except BaseException as exc:  # report everything; the parent re-raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    else:
        conn.send(("done", result))
    finally:
        conn.close()


def prepare(size: int) -> None:
    """Call before the UI takes the terminal, when jobs for a log of ``size`` bytes may
    run in a child process.

    ``multiprocessing`` starts a resource-tracker process on first use and hands it
    ``sys.stderr.fileno()``; under Textual that is a capture object whose fileno is
    -1, and starting a process fails ("bad value(s) in fds_to_keep"). Starting the
    tracker now, while stderr is the real one, avoids that.
    """
    if size >= PROCESS_MIN_BYTES:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()


class JobFailed(Exception):
    """The job raised in its child process (the message names the exception)."""


def run(
    job: Callable[..., T],
    args: tuple[Any, ...],
    *,
    size: int,
    progress: Progress,
    cancelled: Callable[[], bool] = lambda: False,
) -> T | None:
    """Run ``job(*args, progress)``: inline for a small log, else in a child process.

    Returns ``None`` if ``cancelled()`` turned true while waiting (the child is stopped).
    """
    if size < PROCESS_MIN_BYTES:
        return job(*args, progress)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    # Not a daemon: verification starts its own pool of signature checkers. The UI
    # cancels the worker when it quits, and a cancelled run stops the child below.
    process = context.Process(target=_child, args=(child, job, args), daemon=False)
    process.start()
    child.close()
    try:
        while True:
            if cancelled():
                process.terminate()
                return None
            if not parent.poll(0.1):
                if not process.is_alive() and not parent.poll(0):
                    raise _died(process)
                continue
            try:
                kind, *payload = parent.recv()
            except EOFError:  # it died without a word: killed, or out of memory
                raise _died(process) from None
            if kind == "progress":
                progress(payload[0], payload[1])
            elif kind == "error":
                raise JobFailed(payload[0])
            else:
                result: T = payload[0]
                return result
    finally:
        parent.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


def _died(process: multiprocessing.process.BaseProcess) -> JobFailed:
    process.join(timeout=5)
    code = process.exitcode
    how = (
        f"was killed by signal {-code}"
        if code is not None and code < 0
        else f"exited with code {code}"
    )
    return JobFailed(f"the worker process {how}")


__all__ = ["PROCESS_MIN_BYTES", "JobFailed", "prepare", "run", "scan_job", "verify_job"]
