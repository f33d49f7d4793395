"""Signature checks in bounded chunks: inline for small logs, else in worker processes.

Position-independent, so :mod:`ledger.verify` hands them off while its main process
folds the rules; at most ``2 × workers`` chunks are in flight, so memory stays bounded.

The workers are forked, so they inherit the verifier's descriptors, its shared hold on
the ledger lock among them. A verifier killed outright (a CI timeout, the terminal UI
cancelling its verification) cannot shut its pool down, and workers left waiting for
work would keep every writer locked out; so each worker watches its parent and exits
as soon as it is gone.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

from ledger.keys import signature_ok

CHUNK: Final = 2048
WATCH_SECONDS: Final = 0.2

Job = tuple[int, str, bytes, bytes, bytes]


class Signatures:
    """Signature checks in chunks: inline for small logs, else in worker processes.

    At most ``2 × workers`` chunks are in flight, so memory stays bounded.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.batch: list[Job] = []
        self.inflight: deque[Future[list[tuple[int, str]]]] = deque()
        self.bad: list[tuple[int, str]] = []

    def add(self, job: Job) -> None:
        self.batch.append(job)
        if len(self.batch) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        if self.workers <= 1:
            self.bad.extend(check_batch(batch))
            return
        if self.pool is None:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            if threading.active_count() == 1:
                # forked: they share our descriptors, so they must not outlive us
                self.pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=get_context("fork"),
                    initializer=watch_parent,
                    initargs=(os.getpid(),),
                )
            else:  # the fork server's children share nothing of ours
                self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("forkserver"))
        self.inflight.append(self.pool.submit(check_batch, batch))
        while len(self.inflight) > 2 * self.workers:
            self.bad.extend(self.inflight.popleft().result())

    def close(self) -> list[tuple[int, str]]:
        self._flush()
        try:
            while self.inflight:
                self.bad.extend(self.inflight.popleft().result())
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
        return self.bad


def watch_parent(parent: int) -> None:
    """In a worker: exit at once when ``parent``, the process that forked it, is gone.

    Its pid is taken in the parent: one that dies while the worker starts would
    otherwise leave the worker watching its new parent (init) for ever.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def check_batch(jobs: Sequence[Job]) -> list[tuple[int, str]]:
    """Verify (index, id, public key, message, signature) tuples; return the failures."""
    return [
        (index, eid)
        for index, eid, raw, message, sig in jobs
        if not signature_ok(raw, sig, message)
    ]
