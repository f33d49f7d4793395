"""Run the ``factledger`` command line with ``os.fsync`` failing, as a disk error would.

Usage::

    python tests/reliability/fsync_fails.py [--ok-calls N] FACTLEDGER-ARGS...

The first ``N`` calls of ``os.fsync`` (default 0) succeed; every later one raises
``OSError(EIO)`` without syncing, as Linux reports a failed writeback. The patch
is applied before :mod:`ledger` is imported, then ``ledger.cli.main.main`` runs the
arguments and its return value is the exit status. An append's fsyncs come in
this order: the log (1), the checkpoint's temporary file (2), the directory (3).
"""

from __future__ import annotations

import errno
import os
import sys


def main() -> int:
    argv = sys.argv[1:]
    ok_calls = 0
    if argv[:1] == ["--ok-calls"]:
        ok_calls, argv = int(argv[1]), argv[2:]
    real_fsync = os.fsync
    calls = 0

    def failing_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls > ok_calls:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    os.fsync = failing_fsync
    from ledger.cli.main import main as factledger

    return factledger(argv)


if __name__ == "__main__":
    sys.exit(main())
