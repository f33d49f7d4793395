"""Timing helpers: repeated samples with warm-up, and child processes with peak memory."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """Repeated measurements of one quantity (seconds unless ``unit`` says otherwise)."""

    values: tuple[float, ...]
    unit: str = "s"

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def per_second(self, count: int) -> Sample:
        """Turn durations for ``count`` items into rates (items/s)."""
        return Sample(tuple(count / v for v in self.values), "/s")


def repeat(fn: Callable[[], object], *, repeats: int, warmup: int = 1) -> Sample:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return Sample(tuple(out))


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float
    cpu_seconds: float
    """User and system time of the command and the children it waited for (0 without
    ``peak_rss``)."""
    returncode: int
    stdout: bytes
    stderr: bytes


_LAUNCH = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command in a *forked* child and writes its ru_maxrss (KiB) and CPU seconds to a file.

Linux carries a process's peak RSS across exec, and a child spawned straight from
this (large) benchmark process starts with the benchmark's own peak; a fork of a
small launcher starts from zero, so the figure is the command's alone.
"""


def run_command(cmd: Sequence[str], *, cwd: Path | None = None, peak_rss: bool = False) -> Run:
    """Run a command: wall time, and with ``peak_rss`` its own peak RSS and CPU time (via _LAUNCH).

    The launcher costs a small Python start-up, so timings that matter to the
    millisecond (start-up, ``claim add``) run without it and report a peak of 0.

    Output goes to temporary files, so a chatty command cannot block on a full pipe.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        peak = Path(scratch) / "maxrss"
        launch = [sys.executable, "-S", "-c", _LAUNCH, str(peak), *cmd] if peak_rss else cmd
        start = time.perf_counter()
        code = subprocess.run(list(launch), cwd=cwd, stdout=out, stderr=err, check=False).returncode
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        kib, cpu = peak.read_text().split() if peak.exists() else ("0", "0")
        return Run(seconds, int(kib) / 1024, float(cpu), code, out.read(), err.read())


def machine() -> str:
    """One line describing where the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}; {os.cpu_count()} cores; {mem:.0f} GiB; Python {platform.python_version()} "
        f"on {platform.system()} {platform.release()}"
    )


PYTHON = sys.executable
