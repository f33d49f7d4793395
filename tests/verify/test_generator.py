"""The ledger generator seals in a forked worker, and writes what sealing inline writes.

``scripts.sealing.ForkedSealer`` hands most subject streams to a worker and seals
the rest itself; the two sides never share a stream. These tests shrink the sizes
(fork threshold, chunk, batch) so that a small ledger crosses many chunk and batch
boundaries, and check that:

- the bytes written are those of the inline sealer for the same seed, replies to a
  stream's latest entry included, on both sides of the split;
- a worker that fails, or dies, stops the run with an error saying so, and what was
  appended before it still verifies;
- no worker is forked while other threads run, and a pipe that cannot grow is left
  as it is;
- the generator's faster clock formats times exactly as ``format_time`` does.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ledger.ledger import Ledger
from ledger.snapshot import format_time
from ledger.verify import verify
from scripts import generate_ledger, sealing
from scripts.generate_ledger import EPOCH, _Desk, generate
from scripts.sealing import ForkedSealer, SealerStopped, sealed_here

ENTRIES = 1500


@pytest.fixture
def small_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fork for small ledgers, in chunks of 16 with 3 out: many hand-offs and waits."""
    monkeypatch.setattr(generate_ledger, "FORK_AT", 100)
    monkeypatch.setattr(sealing, "CHUNK", 16)
    monkeypatch.setattr(sealing, "IN_FLIGHT", 3)


def no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ForkedSealer, "start", classmethod(lambda cls, *args: None))


def fail_worker_after(monkeypatch: pytest.MonkeyPatch, entries: int) -> None:
    """The forked worker (on its own count) raises once it has sealed ``entries``."""
    real = sealing._seal_in_worker
    sealed = 0

    def fails_later(*args: Any) -> Any:
        nonlocal sealed
        sealed += 1
        if sealed > entries:
            raise ValueError("made-up failure")
        return real(*args)

    monkeypatch.setattr(sealing, "_seal_in_worker", fails_later)


def verifies(root: Path) -> int:
    """The number of entries in ``root``, which must verify without findings."""
    report = verify(root, config=Ledger.open(root).config, unsafe_allow_test_keys=True)
    assert report.findings == []
    return report.entries


def replies(root: Path) -> list[str]:
    """The subjects of the notes that reply to an entry."""
    subjects = []
    for line in (root / "events.jsonl").read_bytes().splitlines():
        item: dict[str, Any] = msgspec.json.decode(line)
        if item["kind"] == "note.added" and item["body"]["in_reply_to"] is not None:
            assert item["body"]["in_reply_to"] == item["parent"]
            subjects.append(item["subject"])
    return subjects


@pytest.mark.usefixtures("small_sizes")
def test_forked_sealing_writes_what_inline_sealing_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forked = generate(ENTRIES, tmp_path / "forked", seed=3, batch=70)
    no_worker(monkeypatch)
    inline = generate(ENTRIES, tmp_path / "inline", seed=3, batch=70)

    assert inline.sealed_by_worker == 0
    # Both sides sealed a real share (the genesis entry is written by Ledger.init).
    assert ENTRIES // 2 < forked.sealed_by_worker < ENTRIES - 1
    for name in ("events.jsonl", "checkpoint"):
        assert (forked.root / name).read_bytes() == (inline.root / name).read_bytes(), name
    subjects = replies(forked.root)
    assert any(sealed_here(s) for s in subjects), "no reply sealed in this process"
    assert not all(sealed_here(s) for s in subjects), "no reply sealed in the worker"
    assert verifies(forked.root) == ENTRIES


@pytest.mark.usefixtures("small_sizes")
def test_a_failure_in_the_worker_stops_the_run_and_keeps_what_was_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_worker_after(monkeypatch, 300)
    root = tmp_path / "claims"
    with pytest.raises(SealerStopped, match=r"worker failed: ValueError: made-up failure"):
        generate(ENTRIES, root, seed=3, batch=70)
    assert multiprocessing.active_children() == []
    assert 70 < verifies(root) < ENTRIES


@pytest.mark.usefixtures("small_sizes")
def test_a_worker_that_dies_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ForkedSealer.start.__func__  # type: ignore[attr-defined]

    def start_and_kill(cls: type[ForkedSealer], *args: Any) -> ForkedSealer:
        started: ForkedSealer = real(cls, *args)
        os.kill(started._process.pid or 0, signal.SIGKILL)
        return started

    monkeypatch.setattr(ForkedSealer, "start", classmethod(start_and_kill))
    root = tmp_path / "claims"
    with pytest.raises(SealerStopped, match=r"worker went away \(exit code -9\)"):
        generate(ENTRIES, root, seed=3, batch=70)
    assert multiprocessing.active_children() == []
    assert verifies(root) < ENTRIES


@pytest.mark.usefixtures("small_sizes")
def test_no_worker_is_forked_while_other_threads_run(tmp_path: Path) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        made = generate(ENTRIES, tmp_path / "claims", seed=3)
    finally:
        stop.set()
        other.join()
    assert made.sealed_by_worker == 0
    assert verifies(made.root) == ENTRIES


@pytest.mark.usefixtures("small_sizes")
def test_a_pipe_that_cannot_grow_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []

    def refuse(fd: int, cmd: int, arg: int) -> int:
        asked.append(arg)
        raise PermissionError("above the system's limit")

    monkeypatch.setattr(sealing.fcntl, "fcntl", refuse)
    made = generate(ENTRIES, tmp_path / "forked", seed=3, batch=70)
    assert made.sealed_by_worker > 0
    assert asked == [sealing.PIPE_BYTES] * 2
    no_worker(monkeypatch)
    inline = generate(ENTRIES, tmp_path / "inline", seed=3, batch=70)
    events = "events.jsonl"
    assert (made.root / events).read_bytes() == (inline.root / events).read_bytes()


def test_the_generator_clock_formats_as_format_time() -> None:
    """Hourly ticks on average over about three and a half years, leap day included."""
    desk, twin = _Desk(random.Random(5), 1000), _Desk(random.Random(5), 1000)
    desk.mean_gap = twin.mean_gap = 3600.0
    times = []
    for _ in range(30_000):
        twin.clock += twin.rng.expovariate(1 / twin.mean_gap)
        times.append(desk.tick())
        assert times[-1] == format_time(EPOCH + timedelta(seconds=int(twin.clock)))
    assert any(t.startswith("2024-02-29T") for t in times)
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        (KeyboardInterrupt(), 130, "interrupted;"),
        (SealerStopped("the sealing worker went away (exit code -9)"), 3, "error: the sealing"),
    ],
)
def test_the_script_stops_with_one_line_and_its_exit_code(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    raised: BaseException,
    code: int,
    said: str,
) -> None:
    def stopped(*args: Any, **kwargs: Any) -> None:
        raise raised

    monkeypatch.setattr(generate_ledger, "generate", stopped)
    assert generate_ledger.main(["5000", str(tmp_path / "claims")]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(said)
    assert err[-1].endswith("keeps the batches appended before it")


@pytest.mark.timeout(60)
def test_a_failure_in_the_worker_with_narrow_pipes_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real chunk sizes, pipes left at 64 KiB: the worker must go on reading after it fails."""

    def refuse(fd: int, cmd: int, arg: int) -> int:
        raise PermissionError("above the system's limit")

    monkeypatch.setattr(sealing.fcntl, "fcntl", refuse)
    fail_worker_after(monkeypatch, 8000)
    root = tmp_path / "claims"
    with pytest.raises(SealerStopped, match=r"worker failed: ValueError: made-up failure"):
        generate(20_000, root, seed=3)
    assert multiprocessing.active_children() == []
    assert verifies(root) < 20_000


def test_ctrl_c_in_a_real_run_ends_with_one_line_and_a_ledger_that_verifies(
    tmp_path: Path,
) -> None:
    """SIGINT to the process group mid-run, as a terminal's Ctrl-C sends it.

    Progress counts entries made up; up to ``CHUNK × IN_FLIGHT`` of them and a batch
    may not be appended yet, so at 20,000 made at least 10,000 are on disk."""
    root = tmp_path / "claims"
    script = Path(generate_ledger.__file__)
    with subprocess.Popen(
        [sys.executable, str(script), "200000", str(root), "--batch", "2000"],
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: the signal reaches it and its worker only
        # A shell's background job ignores SIGINT, and the child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as child:
        assert child.stderr is not None
        seen = b""
        while b"20,000/" not in seen:
            byte = child.stderr.read(1)
            assert byte, seen.decode(errors="replace")
            seen += byte
        os.killpg(child.pid, signal.SIGINT)
        rest = child.stderr.read()
        assert child.wait(timeout=60) == 130
    err = (seen + rest).decode()
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith("keeps the batches appended before it")
    assert 10_000 <= verifies(root) < 200_000
