"""Signing large batches in a worker process gives what signing inline gives.

Ed25519 is deterministic, so a batch signed by the worker (``ledger.signpool``) must
write the very bytes the inline path writes, and refuse exactly what it refuses,
with the same first refusal, whatever the chunk boundaries. Tiny chunks and a
threshold of one draft make every batch here cross many hand-offs: a draft whose
parent is still being signed, a refusal while later chunks are out, a draft that
cannot be prepared while earlier ones are not yet folded.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from ledger import signpool
from ledger.errors import LedgerError, StorageError
from ledger.events import NoteAddedBody
from ledger.ledger import Draft, Ledger
from ledger.signpool import SignPool
from tests.ledger.test_sealing import AT, OWNER, _claims, _ledger


@pytest.fixture
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch crosses many hand-offs, and never gives up on the worker.

    The worker never counts as behind (the writer then signs only the chunks it needs
    at once), so which side signs what does not depend on timing.
    """
    monkeypatch.setattr(signpool, "PARALLEL_AT", 1)
    monkeypatch.setattr(signpool, "CHUNK", 3)
    monkeypatch.setattr(signpool, "IN_FLIGHT", 2)
    monkeypatch.setattr(signpool, "SHORT_RUNS", 10**9)
    monkeypatch.setattr(SignPool, "ready", property(lambda self: True))


def _inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signpool, "PARALLEL_AT", 10**9)


def _note(subject: str, text: str, salt: str, *, expect: str | None = None) -> Draft:
    body = NoteAddedBody(salt=salt, text=text, in_reply_to=None)
    if expect is None:
        return Draft("note.added", subject, body)
    return Draft("note.added", subject, body, expect, expect_parent=True)


def _mixed(seed: int, claims: list[Draft]) -> list[Draft]:
    """Claims and notes on them in a random order; a note may follow its claim at once."""
    rng = random.Random(seed)
    out: list[Draft] = []
    asserted: list[Draft] = []
    todo = list(claims)
    while todo or len(out) < 3 * len(claims):
        if todo and (not asserted or rng.random() < 0.4):
            asserted.append(todo.pop(0))
            out.append(asserted[-1])
        else:
            claim = rng.choice(asserted[-3:] if rng.random() < 0.5 else asserted)
            out.append(_note(claim.subject, f"note {len(out)}", claim.body.salt))
    return out


def _files(ledger: Ledger) -> tuple[bytes, bytes]:
    return ledger.events_path.read_bytes(), ledger.checkpoint_path.read_bytes()


def _assert_as_inline(
    ledger: Ledger, claims: list[Draft], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ledger`` holds what appending ``claims`` in one batch, signed inline, writes."""
    expected = _ledger(tmp_path / "inline")
    _inline(monkeypatch)
    expected.append(claims, OWNER, at=AT)
    assert _files(ledger) == _files(expected)  # every signature the inline one


def _two(tmp_path: Path) -> tuple[Ledger, Ledger]:
    pooled, inline = _ledger(tmp_path / "pooled"), _ledger(tmp_path / "inline")
    assert _files(pooled) == _files(inline)
    return pooled, inline


@pytest.mark.parametrize("seed", range(6))
def test_a_worker_signs_what_inline_signing_signs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_chunks: None, seed: int
) -> None:
    pooled, inline = _two(tmp_path)
    first, second = _mixed(seed, _claims(8, seed)), _mixed(seed + 100, _claims(5, seed + 50))
    with pooled.writer() as writer:
        done = writer.append(first, OWNER, at=AT) + writer.append(second, OWNER, at=AT)
        worker = writer.pool
        assert worker is not None
        assert worker.signed > 0
        assert worker.signed + worker.signed_here == len(first) + len(second)
    assert not worker.alive  # the writer's end stops it
    with monkeypatch.context() as patch:
        _inline(patch)
        with inline.writer() as writer:
            expected = writer.append(first, OWNER, at=AT) + writer.append(second, OWNER, at=AT)
            assert writer.pool is None
    assert done == expected
    assert _files(pooled) == _files(inline)


@pytest.mark.parametrize("seed", range(4))
def test_chunks_the_writer_signs_while_the_worker_is_behind_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_chunks: None, seed: int
) -> None:
    """A worker never answered in time: every chunk past the ones out is signed here."""
    monkeypatch.setattr(SignPool, "ready", property(lambda self: False))
    pooled, inline = _two(tmp_path)
    whole = _claims(4 * signpool.CHUNK, seed + 20)  # no parents, no partial last chunk
    batch = _mixed(seed, _claims(10, seed))
    refused = [*_claims(6, seed + 7), _claims(1, seed + 7)[0]]  # the last one again
    with pooled.writer() as writer:
        done = writer.append(whole, OWNER, at=AT)
        pool = writer.pool
        assert pool is not None
        # The first chunks go out; with no room and no answer, the rest are signed here.
        out = signpool.IN_FLIGHT * signpool.CHUNK
        assert (pool.signed, pool.signed_here) == (out, len(whole) - out)
        before = pool.signed + pool.signed_here
        done += writer.append(batch, OWNER, at=AT)
        assert pool.signed + pool.signed_here - before == len(batch)
        with pytest.raises(LedgerError) as caught:
            writer.append(refused, OWNER, at=AT)
    with monkeypatch.context() as patch:
        _inline(patch)
        with inline.writer() as writer:
            expected = writer.append(whole, OWNER, at=AT) + writer.append(batch, OWNER, at=AT)
            with pytest.raises(LedgerError) as caught_inline:
                writer.append(refused, OWNER, at=AT)
    assert done == expected
    assert (caught.value.rule, caught.value.message) == (
        caught_inline.value.rule,
        caught_inline.value.message,
    )
    assert _files(pooled) == _files(inline)


def test_expected_parents_are_checked_and_a_parent_still_out_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_chunks: None
) -> None:
    pooled, inline = _two(tmp_path)
    claims = _claims(4, 9)
    for ledger in (pooled, inline):
        ledger.append(claims, OWNER, at=AT)
    heads = {d.subject: pooled.load().state.heads[d.subject] for d in claims}
    batch = [_note(d.subject, "on the head", d.body.salt, expect=heads[d.subject]) for d in claims]
    batch.append(_note(claims[0].subject, "after the note", claims[0].body.salt))
    with pooled.writer() as writer:
        done = writer.append(batch, OWNER, at=AT)
        assert writer.pool is not None
        assert writer.pool.signed + writer.pool.signed_here == len(batch)
    _inline(monkeypatch)
    assert done == inline.append(batch, OWNER, at=AT)
    assert _files(pooled) == _files(inline)


def _refusal(ledger: Ledger, drafts: list[Draft]) -> tuple[type, str, str | None]:
    before = _files(ledger)
    with ledger.writer() as writer, pytest.raises(LedgerError) as caught:
        writer.append(drafts, OWNER, at=AT)
    assert _files(ledger) == before  # all of the batch or none of it
    return type(caught.value), caught.value.message, caught.value.rule


@pytest.mark.parametrize(
    ("schema_at", "rule"),
    [
        (None, "subject"),  # a rule refuses draft 7 while later chunks are out
        (8, "subject"),  # draft 8 cannot be prepared, but draft 7, not yet folded, comes first
        (5, "schema"),  # draft 5 cannot be prepared, and nothing before it is refused
    ],
)
def test_a_refused_batch_writes_nothing_and_names_the_first_refusal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_chunks: None,
    schema_at: int | None,
    rule: str,
) -> None:
    pooled, inline = _two(tmp_path)
    claims = _claims(12, 4)
    batch = list(claims)
    batch.insert(7, claims[2])  # the same claim asserted twice: rule "subject"
    if schema_at is not None:
        wrong = NoteAddedBody(salt=claims[0].body.salt, text="not a claim", in_reply_to=None)
        batch.insert(schema_at, Draft("claim.asserted", "clm_wrongbody", wrong))
    refused = _refusal(pooled, batch)
    assert refused[2] == rule
    with monkeypatch.context() as patch:
        _inline(patch)
        assert _refusal(inline, batch) == refused
    # a refusal leaves the writer's worker usable: the next batch goes through it
    with pooled.writer() as writer:
        with pytest.raises(LedgerError):
            writer.append(batch, OWNER, at=AT)
        pool = writer.pool
        assert pool is not None
        before = pool.signed + pool.signed_here
        writer.append(claims, OWNER, at=AT)
        assert writer.pool is pool
        assert pool.signed + pool.signed_here == before + len(claims)
    _inline(monkeypatch)
    inline.append(claims, OWNER, at=AT)
    assert _files(pooled) == _files(inline)


def test_no_worker_while_other_threads_run(tmp_path: Path, tiny_chunks: None) -> None:
    ledger = _ledger(tmp_path / "l")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert SignPool.start(OWNER) is None  # fork beside a running thread can deadlock
        with ledger.writer() as writer:
            writer.append(_claims(5, 1), OWNER, at=AT)
            assert writer.pool is None
    finally:
        stop.set()
        other.join()
    assert len(ledger.events_path.read_bytes().splitlines()) == 6


def test_a_ctrl_c_just_after_the_fork_does_not_end_the_worker(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    tiny_chunks: None,
) -> None:
    """Before the worker's first line it cannot yet ignore Ctrl-C: it starts with it blocked."""
    from multiprocessing.context import ForkProcess

    start, run = ForkProcess.start, ForkProcess.run
    interrupted: list[int] = []

    def start_then_ctrl_c(self: ForkProcess) -> None:
        start(self)
        assert self.pid is not None
        time.sleep(0.1)  # the child is past the fork, in run_late's wait
        os.kill(self.pid, signal.SIGINT)
        interrupted.append(self.pid)

    def run_late(self: ForkProcess) -> None:  # in the child, before the worker's first line
        time.sleep(0.3)
        run(self)

    monkeypatch.setattr(ForkProcess, "start", start_then_ctrl_c)
    monkeypatch.setattr(ForkProcess, "run", run_late)
    ledger = _ledger(tmp_path / "l")
    claims = _claims(6, 2)
    with ledger.writer() as writer:
        writer.append(claims, OWNER, at=AT)
        pool = writer.pool
        assert pool is not None
        assert interrupted == [pool._process.pid]
        assert pool.alive
        assert (pool.signed, pool.signed_here) == (6, 0)
    assert "Traceback" not in capfd.readouterr().err
    _assert_as_inline(ledger, claims, tmp_path, monkeypatch)


def test_the_worker_ignores_ctrl_c_and_one_that_dies_fails_only_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_chunks: None
) -> None:
    ledger = _ledger(tmp_path / "l")
    claims = _claims(15, 2)
    with ledger.writer() as writer:
        writer.append(claims[:3], OWNER, at=AT)
        pool = writer.pool
        assert pool is not None
        assert pool._process.pid is not None
        os.kill(pool._process.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        writer.append(claims[3:6], OWNER, at=AT)
        assert pool.alive
        assert (pool.signed, pool.signed_here) == (6, 0)  # whole chunks, none needed at once
        os.kill(pool._process.pid, signal.SIGKILL)  # between batches: the next one starts anew
        pool._process.join(5)
        writer.append(claims[6:9], OWNER, at=AT)
        assert writer.pool is not None
        assert writer.pool is not pool
        assert (writer.pool.signed, writer.pool.signed_here) == (3, 0)
        pool = writer.pool
        submit = SignPool.submit

        def dies_after_one(self: SignPool, messages: list[bytes]) -> None:
            submit(self, messages)
            if self is pool and self._process.pid is not None:
                os.kill(self._process.pid, signal.SIGKILL)  # within a batch
                self._process.join(5)

        before = ledger.events_path.read_bytes()
        with monkeypatch.context() as patch:
            patch.setattr(SignPool, "submit", dies_after_one)
            with pytest.raises(StorageError) as caught:
                writer.append(claims[9:], OWNER, at=AT)
        assert "signing worker stopped" in caught.value.message
        assert ledger.events_path.read_bytes() == before
        writer.append(claims[9:], OWNER, at=AT)
        assert writer.pool is not pool
    _assert_as_inline(ledger, claims, tmp_path, monkeypatch)


def test_a_batch_that_keeps_waiting_for_the_worker_goes_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_chunks: None
) -> None:
    """Each note's claim was in the chunk just handed off: every note waits for the worker."""
    monkeypatch.setattr(signpool, "SHORT_RUNS", 4)
    pooled, inline = _two(tmp_path)
    claims = _claims(40, 6)
    batch = claims[:3]  # chunks of three: [claim A, claim B, a note on the last chunk's A]
    for i in range(3, len(claims) - 1, 2):
        earlier = batch[-3]
        batch += [claims[i], claims[i + 1], _note(earlier.subject, "later", earlier.body.salt)]
    with pooled.writer() as writer:
        done = writer.append(batch, OWNER, at=AT)
        pool = writer.pool
        assert pool is not None
        # the first few went through the pipeline, the rest of the batch inline
        assert pool.signed > 0
        assert pool.signed + pool.signed_here <= 4 * signpool.SHORT_RUNS * signpool.CHUNK
    _inline(monkeypatch)
    assert done == inline.append(batch, OWNER, at=AT)
    assert _files(pooled) == _files(inline)


def test_a_parent_in_the_chunk_not_yet_handed_off_is_signed_at_once_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each claim followed at once by a note on it: no round trip to the worker at all."""
    monkeypatch.setattr(signpool, "PARALLEL_AT", 1)
    pooled, inline = _two(tmp_path)
    claims = _claims(40, 6)
    batch = [d for c in claims for d in (c, _note(c.subject, "at once", c.body.salt))]
    with pooled.writer() as writer:
        done = writer.append(batch, OWNER, at=AT)
        assert writer.pool is not None
        assert (writer.pool.signed, writer.pool.signed_here) == (0, len(batch))
    _inline(monkeypatch)
    assert done == inline.append(batch, OWNER, at=AT)
    assert _files(pooled) == _files(inline)


def test_the_worker_signs_each_message_in_order() -> None:
    """Signatures come back chunk by chunk, in order, and each checks against its message."""
    pool = SignPool.start(OWNER)
    assert pool is not None
    try:
        messages = [b"factledger/v1/entry\n" + bytes([i]) * i for i in range(7)]
        pool.submit(messages[:3])
        pool.submit(messages[3:])
        signatures = pool.collect() + pool.collect()
    finally:
        pool.close()
    assert signatures == [OWNER.sign(m) for m in messages]
    for message, sig in zip(messages, signatures, strict=True):
        OWNER.public.verify(sig, message)
    assert not pool.alive


def test_a_forked_child_holding_the_lock_descriptor_does_not_keep_the_ledger_locked(
    tmp_path: Path,
) -> None:
    """A worker forked under the lock has a copy of its descriptor; the lock ends with the block."""
    import multiprocessing

    from ledger import log

    lock = tmp_path / "lock"
    context = multiprocessing.get_context("fork")
    release = context.Event()
    with log.locked(lock):
        child = context.Process(target=release.wait, daemon=True)
        child.start()
    try:
        assert child.is_alive()
        with log.locked(lock, timeout=0.5):  # LockBusy if the child's copy still held it
            pass
    finally:
        release.set()
        child.join(5)


_KILLED_WRITER = """
import sys, time
from pathlib import Path
from ledger import signpool
from tests.ledger.test_sealing import AT, OWNER, _claims, _ledger
signpool.PARALLEL_AT = 1
ledger = _ledger(Path(sys.argv[1]))
with ledger.writer() as writer:
    writer.append(_claims(5, 1), OWNER, at=AT)
    print(writer.pool._process.pid, flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_writer_killed_with_a_worker_leaves_neither_the_worker_nor_the_lock(
    tmp_path: Path, how: signal.Signals
) -> None:
    import subprocess
    import sys
    import time

    from ledger import log

    root = tmp_path / "l"
    repo = Path(__file__).resolve().parents[2]
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(root)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert writer.stdout is not None
    with writer.stdout:
        worker = int(writer.stdout.readline())
    writer.send_signal(how)
    writer.wait(10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        stat = Path(f"/proc/{worker}/stat").read_text().split()
        if stat[2] == "Z":
            break
        time.sleep(0.05)
    else:
        if Path(f"/proc/{worker}").exists():
            os.kill(worker, signal.SIGKILL)
            pytest.fail("the signing worker outlived its killed writer")
    with log.locked(Ledger.open(root).lock_path, timeout=2):
        pass  # LockBusy if the worker's copy of the descriptor still held it


def test_an_exchange_cut_short_is_never_used_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_chunks: None
) -> None:
    """Ctrl-C while waiting for an answer: the answer may still come, so the pool is done."""
    ledger = _ledger(tmp_path / "l")
    claims = _claims(27, 8)
    with ledger.writer() as writer:
        writer.append(claims[:3], OWNER, at=AT)
        pool = writer.pool
        assert pool is not None
        receive = pool._conn.recv_bytes
        calls = {"n": 0}

        def interrupted() -> bytes:
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
            return receive()

        monkeypatch.setattr(pool._conn, "recv_bytes", interrupted)
        with pytest.raises(KeyboardInterrupt):
            writer.append(claims[3:15], OWNER, at=AT)
        assert pool.broken
        assert not pool.alive
        writer.append(claims[3:], OWNER, at=AT)  # a new worker, in step
        assert writer.pool is not pool
    _assert_as_inline(ledger, claims, tmp_path, monkeypatch)


def test_a_draft_that_fails_to_encode_still_comes_after_an_earlier_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_chunks: None
) -> None:
    pooled, inline = _two(tmp_path)
    claims = _claims(6, 5)
    odd = NoteAddedBody(salt=claims[0].body.salt, text=1j, in_reply_to=None)  # type: ignore[arg-type]
    batch = [*claims, claims[1], Draft("note.added", claims[0].subject, odd)]
    refused = _refusal(pooled, batch)
    assert refused[2] == "subject"  # the duplicate claim, not the note that cannot encode
    _inline(monkeypatch)
    assert _refusal(inline, batch) == refused


def test_a_batch_is_freed_when_it_ends_without_the_collector(
    tmp_path: Path, tiny_chunks: None
) -> None:
    import gc

    from ledger import writer as writer_module

    ledger = _ledger(tmp_path / "l")
    collecting = gc.isenabled()
    gc.collect()  # what earlier tests left in cycles
    gc.disable()
    try:
        with ledger.writer() as writer:
            for seed in range(3):
                writer.append(_claims(10, seed + 20), OWNER, at=AT)
            alive = [o for o in gc.get_objects() if isinstance(o, writer_module._Sealing)]
    finally:
        if collecting:
            gc.enable()
    assert alive == []
