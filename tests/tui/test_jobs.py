"""Jobs in a child process: a child that dies is reported, and a cancelled one stops.

The UI runs verification of a large log in a child process, which starts its own
pool of signature workers. Quitting (or cancelling) mid-run must stop all of them at
once and free the ledger lock, and a child killed from outside (out of memory, say)
must surface as a one-line failure, not an ``EOFError`` from the pipe.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.verify.test_sigcheck_workers import busy_signatures, lock_freed
from tui import jobs


def _vanish(progress: jobs.Progress) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _verifying(lock: Path, progress: jobs.Progress) -> None:
    with busy_signatures(lock):
        progress(1, 2)
        time.sleep(60)  # cancelled long before this ends


def test_a_child_killed_from_outside_is_a_job_failure_naming_the_signal() -> None:
    with pytest.raises(jobs.JobFailed, match="killed by signal 9"):
        jobs.run(_vanish, (), size=jobs.PROCESS_MIN_BYTES, progress=lambda done, total: None)


def test_cancelling_stops_the_child_and_its_signature_workers_and_frees_the_lock(
    tmp_path: Path,
) -> None:
    lock = tmp_path / ".factledger.lock"
    lock.touch()
    started: list[int] = []
    cancelled_at: list[float] = []

    def cancelled() -> bool:
        if started and not cancelled_at:
            cancelled_at.append(time.monotonic())
        return bool(started)

    result = jobs.run(
        _verifying,
        (lock,),
        size=jobs.PROCESS_MIN_BYTES,
        progress=lambda done, total: started.append(done),
        cancelled=cancelled,
    )
    assert result is None
    assert started == [1]
    # The wait for the child is bounded by 5 s; workers that outlived it kept it waiting.
    assert time.monotonic() - cancelled_at[0] < 4, "the cancelled child did not stop at once"
    # The last worker's files close as it exits: its lock a moment after the pipe
    # whose end let the wait above return.
    assert lock_freed(lock, within=1), "the cancelled child's workers keep the lock"
