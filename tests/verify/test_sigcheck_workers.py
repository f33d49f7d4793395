"""A verifier's signature workers never outlive it, nor keep its hold on the ledger lock.

The workers are forked, so they share the verifier's shared ``flock`` on the ledger
lock; a verifier killed outright (a CI timeout, the terminal UI cancelling its
verification) must not leave them behind, waiting for work that never comes, with
every later writer locked out.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from ledger import log
from ledger.keys import SigningKey
from ledger.sigcheck import CHUNK, Signatures


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie holds no descriptors


@contextlib.contextmanager
def busy_signatures(lock: Path) -> Iterator[Signatures]:
    """A verification's shape: the shared lock, then a pool of workers at work."""
    key = SigningKey.generate()
    message = b"m" * 300
    signature = key.sign(message)
    with log.shared(lock):
        signatures = Signatures(2)
        for index in range(4 * CHUNK):
            signatures.add((index, "id", key.public.raw, message, signature))
        assert signatures.pool is not None
        signatures.inflight[0].result()  # a worker has started and answered
        yield signatures


def _verifier(lock: Path, report: int) -> None:
    with busy_signatures(lock) as signatures:
        assert signatures.pool is not None
        pids = " ".join(str(pid) for pid in signatures.pool._processes)
        os.write(report, pids.encode() + b"\n")
        time.sleep(60)  # killed long before this ends


def test_workers_exit_and_free_the_lock_when_the_verifier_is_killed(tmp_path: Path) -> None:
    lock = tmp_path / ".factledger.lock"
    lock.touch()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            _verifier(lock, write)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        workers = [int(worker) for worker in pipe.readline().split()]
    assert workers, "the verifier started no workers"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)

    try:
        fd = os.open(lock, os.O_RDWR)
        try:
            deadline = time.monotonic() + 5
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    assert time.monotonic() < deadline, "a dead verifier's workers keep the lock"
                    time.sleep(0.05)
        finally:
            os.close(fd)
        deadline = time.monotonic() + 5
        while any(_alive(worker) for worker in workers):
            assert time.monotonic() < deadline, "the workers outlived their verifier"
            time.sleep(0.05)
    finally:  # a failing run must not leave them holding the test's pipes
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
