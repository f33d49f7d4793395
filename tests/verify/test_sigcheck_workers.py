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
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ledger import log
from ledger.keys import SigningKey
from ledger.sigcheck import CHUNK, Signatures

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie holds no descriptors


def lock_freed(lock: Path, *, within: float) -> bool:
    """Whether an exclusive lock on ``lock`` can be had within ``within`` seconds."""
    fd = os.open(lock, os.O_RDWR)
    try:
        deadline = time.monotonic() + within
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
    finally:
        os.close(fd)


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


VERIFIER = """
import sys, time
from pathlib import Path
from tests.verify.test_sigcheck_workers import busy_signatures
with busy_signatures(Path(sys.argv[1])) as signatures:
    print(" ".join(str(pid) for pid in signatures.pool._processes), flush=True)
    time.sleep(60)  # killed long before this ends
"""
"""A verifier's shape in a process of its own (a fork of pytest would carry its threads)."""


def test_workers_exit_and_free_the_lock_when_the_verifier_is_killed(tmp_path: Path) -> None:
    lock = tmp_path / ".factledger.lock"
    lock.touch()
    verifier = subprocess.Popen(
        [sys.executable, "-c", VERIFIER, str(lock)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert verifier.stdout is not None
    assert verifier.stderr is not None
    workers = [int(worker) for worker in verifier.stdout.readline().split()]
    if not workers:  # it failed before its pool started: say why
        verifier.wait(timeout=30)
        raise AssertionError(f"the verifier started no workers: {verifier.stderr.read()}")
    verifier.kill()
    verifier.wait()
    try:
        assert lock_freed(lock, within=5), "a dead verifier's workers keep the lock"
        deadline = time.monotonic() + 5
        while any(_alive(worker) for worker in workers):
            assert time.monotonic() < deadline, "the workers outlived their verifier"
            time.sleep(0.05)
    finally:  # a failing run must not leave them holding the test's pipes
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
        verifier.stdout.close()
        verifier.stderr.close()


def test_a_worker_whose_verifier_died_while_it_started_exits_at_once() -> None:
    """The verifier's pid is taken in the verifier: a worker reparented before it
    began watching would otherwise watch its new parent for ever."""
    dead = subprocess.Popen(["true"])  # its pid names no live process now
    dead.wait()
    worker = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import time; from ledger.sigcheck import watch_parent; watch_parent({dead.pid}); "
            "time.sleep(30); raise SystemExit(1)",
        ],
        cwd=REPO,
        timeout=10,
        check=False,
    )
    assert worker.returncode == 0  # it left at once, not after its 30 s of work
