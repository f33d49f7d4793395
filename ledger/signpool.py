"""Signing in a second process while the main one folds the rules (large batches only).

A batch append spends about two fifths of its time in Ed25519 signing and the
rest in the schema check, the rule fold, the Merkle edge and the line, all of
which must run in log order in one process. Signatures need only the key and the
message, so :class:`SignPool` hands chunks of messages to one forked worker, and
a :class:`Pipeline` passes each prepared entry on, in order, as its signature
comes back (:mod:`ledger.writer` folds it).

An entry's parent is the id of its subject's previous entry, which hashes that
entry's signature: an entry whose subject's previous entry is still out waits for
it, and one whose parent is in the chunk not yet handed off has that chunk signed
at once in the writer (it would be ready no sooner from the worker). A batch that
keeps waiting for the worker (each entry's parent handed off a moment before) would
be slower than signing inline, so after a few such waits close together the
pipeline signs the rest of the batch inline.

The writer also signs a full chunk itself when it would otherwise wait for the
worker (every chunk out and the oldest not yet answered): the writer's share of
the work is smaller than the worker's, so both stay busy. Ed25519 signatures
depend on the key and the message alone, so who signed an entry never changes a
byte of what is written.

The key reaches the worker only by ``fork``: the child inherits the parent's
memory, and nothing about the key is pickled, sent or written anywhere. Where
``fork`` is unsafe (other threads are running) or there is one core, there is no
pool and the pipeline signs inline. The worker ignores Ctrl-C (the parent decides)
and closes its copy of the parent's end of the connection at once, so it reads the
end of it when the writer ends, however that happens (killed included), and exits:
it never outlives the writer, nor keeps the inherited ledger lock. Each answer
names the chunk it signed; a pool whose exchange was cut short (an interrupt in the
middle of one) is never used again, so no signature is ever matched to the wrong
entry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

from ledger.entry import Prepared
from ledger.errors import StorageError
from ledger.keys import SigningKey

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

PARALLEL_AT: Final = 1024
"""Entries in one batch from which a worker signs: below it, starting one costs more."""
CHUNK: Final = 256
"""Messages per hand-off."""
IN_FLIGHT: Final = 3
"""Chunks handed off and not yet collected. Their signatures (64 bytes each, 48 KiB in
all) always fit the connection's buffer, so the worker never blocks writing an answer:
it always reads the next chunk, and the parent's hand-off cannot wait forever."""
SIGNATURE: Final = 64
_SEQ: Final = 8
"""Bytes of the chunk number each answer starts with."""
BUFFER: Final = 1 << 18
"""Socket buffer asked for each way; granted less than :func:`_needed`, there is no pool."""
SHORT_RUN: Final = 64
"""A wait for a signature after fewer entries than this since the last one is short."""
SHORT_RUNS: Final = 4
"""Short runs in a row after which the pipeline signs the rest of the batch inline."""


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _needed() -> int:
    """The most that answers not yet collected can take: the worker never blocks on them."""
    return 2 * IN_FLIGHT * (_SEQ + CHUNK * SIGNATURE)


def _roomy(conn: Connection) -> bool:
    """Ask for :data:`BUFFER` each way; whether what was granted holds every answer out."""
    with socket.fromfd(conn.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, BUFFER)
            if sock.getsockopt(socket.SOL_SOCKET, option) < _needed():
                return False
    return True


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Fork workers in here: a child starts with Ctrl-C blocked until :func:`ignore_sigint`.

    Otherwise a Ctrl-C between the fork and the worker's first line ends the worker
    with a traceback of its own. This process gets a Ctrl-C that came meanwhile as
    soon as the block ends. (Workers are forked only where no other thread runs.)
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ignore_sigint() -> None:
    """A forked worker's first step: Ctrl-C is its parent's to handle, then unblock it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _serve(conn: Connection, theirs: Connection, sign: Callable[[bytes], bytes]) -> None:
    """The worker: sign each chunk of messages, answer with its number and the signatures."""
    ignore_sigint()
    theirs.close()  # or the parent's death would not end the connection
    try:
        while True:
            job = conn.recv()
            if job is None:
                return
            seq, messages = job
            conn.send_bytes(seq.to_bytes(_SEQ, "big") + b"".join([sign(m) for m in messages]))
    except (EOFError, OSError):
        return  # the parent went away


class SignPool:
    """One worker process signing with one key, inherited by ``fork`` (never sent)."""

    def __init__(self, key: SigningKey, conn: Connection, process: BaseProcess) -> None:
        self.key = key
        self._conn = conn
        self._process = process
        self._pending: deque[tuple[int, int]] = deque()
        """(chunk number, messages) of each chunk handed off and not yet collected."""
        self._next = 0
        self.broken = False
        """An exchange was cut short: the connection may be out of step, never use it."""
        self.signed = 0
        """Signatures the worker has made."""
        self.signed_here = 0
        """Entries of this pool's batches the writer signed itself: a chunk needed at once
        (its next entry's parent is in it), or one made while the worker was behind."""

    @classmethod
    def start(cls, key: SigningKey) -> SignPool | None:
        """A worker signing with ``key``, or None where one would not help or is unsafe."""
        if usable_cores() < 2 or threading.active_count() > 1:
            return None
        import multiprocessing

        try:
            context = multiprocessing.get_context("fork")
        except ValueError:
            return None  # no fork here: sign inline
        parent, child = context.Pipe()
        try:
            if not (_roomy(parent) and _roomy(child)):
                raise OSError("socket buffers too small for the answers out")
            process = context.Process(
                target=_serve, args=(child, parent, key.sign), name="factledger-sign", daemon=True
            )
            with sigint_blocked():
                process.start()
        except OSError:
            parent.close()
            return None  # no room for a process, or for its answers: sign inline
        finally:
            child.close()
        return cls(key, parent, process)

    @property
    def room(self) -> bool:
        """Whether another chunk may be handed off before the oldest is collected."""
        return len(self._pending) < IN_FLIGHT

    @property
    def ready(self) -> bool:
        """Whether the oldest chunk's answer has begun to arrive (collecting it won't wait long)."""
        try:
            return self._conn.poll()
        except OSError:
            return True  # let collect report it

    @property
    def alive(self) -> bool:
        """Whether the pool can take more work (the worker runs, the exchange is in step)."""
        return not self.broken and self._process.is_alive()

    def submit(self, messages: list[bytes]) -> None:
        """Hand off one chunk; its signatures come back, in order, from :meth:`collect`."""
        if not self.room or self.broken:
            raise RuntimeError("collect a chunk before handing off another")
        seq = self._next
        try:
            self._conn.send((seq, messages))
        except OSError:
            raise self._stopped() from None
        except BaseException:
            self.broken = True  # a chunk may be half sent
            raise
        self._next += 1
        self._pending.append((seq, len(messages)))

    def collect(self) -> list[bytes]:
        """The signatures of the oldest chunk handed off and not yet collected."""
        if self.broken:
            raise RuntimeError("this pool's exchange was cut short")
        seq, count = self._pending[0]
        try:
            data = self._conn.recv_bytes()
        except (EOFError, OSError):
            raise self._stopped() from None
        except BaseException:
            self.broken = True  # the answer may still be on its way
            raise
        self._pending.popleft()
        if len(data) != _SEQ + count * SIGNATURE or int.from_bytes(data[:_SEQ], "big") != seq:
            self.broken = True
            raise StorageError(
                f"the signing worker's answer is not chunk {seq}'s; nothing of this batch "
                "was written",
                hint="run the command again",
            )
        self.signed += count
        return [data[i : i + SIGNATURE] for i in range(_SEQ, len(data), SIGNATURE)]

    def _stopped(self) -> StorageError:
        self.broken = True
        self._pending.clear()
        self._process.join(1)
        return StorageError(
            f"the signing worker stopped (exit code {self._process.exitcode}); "
            "nothing of this batch was written",
            hint="run the command again; if it recurs, check the machine's memory",
        )

    def discard(self) -> None:
        """Collect and drop every chunk still out (after a refused batch)."""
        with contextlib.suppress(StorageError):
            while self._pending and not self.broken:
                self.collect()

    def close(self) -> None:
        """Stop the worker and wait for it."""
        try:
            self._pending.clear()
            self._conn.send(None)
        except OSError:
            pass
        finally:
            self._conn.close()
        self._process.join(5)
        if self._process.is_alive():  # pragma: no cover - a worker stuck in a signature
            self._process.terminate()
            self._process.join()


class Pipeline:
    """Prepared entries signed by ``key`` (in ``pool``, else inline), passed to ``done``
    in the order they were added.

    With a pool, an entry is signed some time after :meth:`add`: a caller that needs
    the id of an entry already added (the next entry of the same subject has it as
    its parent) calls :meth:`settle` for that subject first.
    """

    def __init__(
        self, key: SigningKey, pool: SignPool | None, done: Callable[[Prepared, bytes], None]
    ) -> None:
        self.key, self.pool, self.done = key, pool, done
        self.chunk: list[Prepared] = []
        self.sent: deque[tuple[list[Prepared], list[bytes] | None]] = deque()
        """Chunks out, oldest first, each with its signatures if it was signed here."""
        self.chunks = 0
        """Chunks started so far; the open one is number ``chunks``."""
        self.finished = 0
        """Chunks passed to ``done`` so far."""
        self.last_chunk: dict[str, int] = {}
        """The chunk that holds each subject's latest entry."""
        self._since_wait = 0
        self._short_runs = 0
        self.inline = False
        """The batch kept waiting for its parents: the rest of it is signed here."""

    def add(self, prepared: Prepared) -> None:
        if self.pool is None or self.inline:
            self.done(prepared, self.key.sign(prepared.message))
            return
        self._since_wait += 1
        self.chunk.append(prepared)
        self.last_chunk[prepared.subject] = self.chunks
        if len(self.chunk) >= CHUNK:
            self._send()

    def settle(self, subject: str) -> None:
        """Pass on every entry of ``subject`` added so far (and every one before it)."""
        last = self.last_chunk.get(subject)
        if last is None or last < self.finished or self.inline:
            return
        handed_off = last < self.chunks  # else it is signed here, at once: no wait
        self._finish_through(last)
        if not handed_off:
            return
        self._short_runs = self._short_runs + 1 if self._since_wait < SHORT_RUN else 0
        self._since_wait = 0
        if self._short_runs >= SHORT_RUNS:
            self.settle_all()
            self.inline = True

    def settle_all(self) -> None:
        """Pass on every entry added so far."""
        self._finish_through(self.chunks)

    def abandon(self) -> None:
        """Drop what is out (after a refusal); the pool can be used again."""
        if self.pool is not None:
            self.pool.discard()
        self.sent.clear()
        self.chunk = []

    def _send(self) -> None:
        pool = self.pool
        assert pool is not None
        while not pool.room:
            if not pool.ready:
                self._sign_here()  # the worker is behind: sign this one rather than wait
                return
            self._finish_oldest()
        pool.submit([prepared.message for prepared in self.chunk])
        self._queue(None)

    def _sign_here(self) -> None:
        assert self.pool is not None
        sign = self.key.sign
        self.pool.signed_here += len(self.chunk)
        self._queue([sign(prepared.message) for prepared in self.chunk])

    def _queue(self, signatures: list[bytes] | None) -> None:
        self.sent.append((self.chunk, signatures))
        self.chunk = []
        self.chunks += 1

    def _finish_through(self, chunk: int) -> None:
        if self.pool is None:
            return
        if chunk >= self.chunks and self.chunk:
            # Needed now: signed here, it is ready no later than from the worker, which
            # meanwhile signs what it has.
            self._sign_here()
        while self.sent and self.finished <= chunk:
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        pool = self.pool
        assert pool is not None
        chunk, signatures = self.sent.popleft()
        if signatures is None:
            signatures = pool.collect()
        self.finished += 1
        done = self.done
        for prepared, signature in zip(chunk, signatures, strict=True):
            done(prepared, signature)
