"""The launcher behind peak memory and CPU figures counts the command's own workers."""

from __future__ import annotations

import sys

from scripts.bench.measure import run_command

# A parent that forks a worker which spins for 0.4 s of CPU, then waits for it: what
# verify does with its signature workers.
BUSY_CHILD = """
import os, time
pid = os.fork()
if pid == 0:
    end = time.process_time() + 0.4
    while time.process_time() < end:
        pass
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_cpu_time_includes_the_workers_a_command_waited_for() -> None:
    run = run_command([sys.executable, "-c", BUSY_CHILD], peak_rss=True)
    assert run.returncode == 0
    assert run.cpu_seconds >= 0.4
    assert run.peak_rss_mib > 0


def test_without_the_launcher_no_cpu_or_memory_figure_is_claimed() -> None:
    run = run_command([sys.executable, "-c", "pass"])
    assert (run.cpu_seconds, run.peak_rss_mib) == (0.0, 0.0)
