"""Sealing a generated history in batches: in this process, or in a forked worker beside it.

``scripts/generate_ledger.py`` makes up each entry (kind, subject, body, author, time),
seals it with its author's key and appends the sealed entries a batch at a time
through ``Writer.append_sealed``, which checks each against the rules at its position.
Sealing (encoding, hashing and signing) is about half of that work, and it depends
on the rest only through one value: an entry's ``parent``, the id of its subject's
previous entry, which hashes that entry's signature.

:class:`ForkedSealer` therefore hands most streams to one forked worker, which keeps
their heads itself and seals their entries, while this process goes on making up
entries, seals the few streams it keeps (a fixed share, so that both sides are
about as busy) and folds the sealed entries as they come back, in order. An entry's
parent is in its own stream, so the two sides never wait for each other's ids. A
note that replies to its subject's latest entry says so with ``Draft.reply`` instead
of naming the id, which only its sealer knows; the sealer puts the parent's id into
``in_reply_to``.

Ed25519 is deterministic, and each stream is sealed in the order its entries were
made, from the same heads, so both sealers write the same bytes for the same drafts
(``tests/verify/test_generator.py`` compares them). The keys reach the worker by
``fork`` only. The worker closes its copies of this process's ends of the pipes at
once and ignores Ctrl-C, so it sees the end of its input however this process ends,
and exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import pickle
import queue
import threading
import zlib
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, NamedTuple

import msgspec

from ledger import signpool
from ledger.entry import Digest, Sealed, seal_line
from ledger.events import ENTRY_BY_KIND, AnyBody
from ledger.keys import SigningKey
from ledger.signpool import usable_cores

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from ledger.writer import Writer

FORK_AT: Final = 4096
"""Entries from which a generation seals in a worker: below it, starting one costs more."""
CHUNK: Final = 128
"""Drafts per hand-off to the worker."""
IN_FLIGHT: Final = 32
"""Chunks handed off and not yet collected: more than the worker seals while this process
appends a batch (5,000 entries), so neither side waits for the other."""
PIPE_BYTES: Final = 1 << 20
"""Each pipe's buffer, where Linux lets it grow (``F_SETPIPE_SZ``): the default 64 KiB
holds two chunks of drafts, and a third made this process wait for the worker."""
HERE_ONE_IN: Final = 6
"""One subject stream in this many is sealed in the generating process, the rest in the
worker. With everything sealed there, the worker was the slower side and this process
waited for it a third of the time; at one in six both are about as busy (100,000
entries, measured at one in 3, 4, 5, 6 and 8)."""


def sealed_here(subject: str) -> bool:
    """Whether :class:`ForkedSealer` seals ``subject``'s stream itself (a fixed share)."""
    return zlib.crc32(subject.encode()) % HERE_ONE_IN == 0


class Draft(NamedTuple):
    """An entry made up by the generator, before it is sealed."""

    kind: str
    subject: str
    body: AnyBody
    author: str
    """The label of the author's key."""
    at: str
    reply: bool = False
    """A note replying to its subject's latest entry: ``in_reply_to`` is set to the
    parent's id when the entry is sealed."""


def _body(draft: Draft, parent: str | None) -> AnyBody:
    """The draft's body as sealed: a reply names its parent."""
    if draft.reply:
        return msgspec.structs.replace(draft.body, in_reply_to=parent)
    return draft.body


def _seal_next(draft: Draft, heads: dict[str, str], keys: Mapping[str, SigningKey]) -> Sealed:
    """Seal ``draft`` on its stream's head in ``heads``, and move the head on to it."""
    parent = heads.get(draft.subject)
    sealed = seal_line(
        kind=draft.kind,
        subject=draft.subject,
        parent=parent,
        at=draft.at,
        body=_body(draft, parent),
        key=keys[draft.author],
    )
    heads[draft.subject] = sealed.digest.event_id
    return sealed


class Sealer:
    """Drafts sealed in order and appended in batches of ``batch``.

    ``keys`` are the authors' keys by label; ``owner`` signs the checkpoint at the end;
    ``heads`` are the writer's stream heads when sealing began. This base seals every
    draft here: :class:`ForkedSealer` hands most streams to a worker.
    """

    def __init__(
        self,
        writer: Writer,
        batch: int,
        keys: Mapping[str, SigningKey],
        owner: SigningKey,
        heads: Mapping[str, str],
    ) -> None:
        self.writer, self.batch, self.keys, self.owner = writer, batch, keys, owner
        self.heads = dict(heads)
        """The heads of the streams sealed in this process, as they move."""
        self.pending: list[Sealed] = []
        self.sealed_by_worker = 0
        """Entries a worker sealed and this process took back (it sealed the others)."""

    def add(self, draft: Draft) -> None:
        self._take(_seal_next(draft, self.heads, self.keys))

    def _take(self, sealed: Sealed) -> None:
        self.pending.append(sealed)
        if len(self.pending) >= self.batch:
            self._append()

    def _append(self) -> None:
        if self.pending:
            # Sealed a moment ago: the rules are checked, the signatures need not be,
            # and the ids and lines made while sealing are used as they are.
            self.writer.append_sealed(self.pending, self.owner)
            self.pending = []

    def flush(self) -> None:
        """Append every entry added and not yet appended."""
        self._append()

    def close(self) -> None:
        """Nothing to stop: everything was sealed here."""


class InlineSealer(Sealer):
    """A :class:`Sealer` that seals everything here, from the writer's heads now."""

    def __init__(
        self, writer: Writer, batch: int, keys: Mapping[str, SigningKey], owner: SigningKey
    ) -> None:
        super().__init__(writer, batch, keys, owner, dict(writer.snapshot.state.heads.items()))


_Answer = tuple[str | None, str, bytes, bytes, str, bytes]
"""What the worker sends back for one draft: parent, sig, and the rest of the Sealed."""


def _serve(
    drafts_in: Connection,
    answers_out: Connection,
    theirs: tuple[Connection, Connection],
    heads: dict[str, str],
    keys: Mapping[str, SigningKey],
) -> None:
    """The worker: seal each chunk of drafts in order, keeping every stream's head.

    Answers are sent by a thread of their own, so the worker goes on reading drafts
    while an answer waits for the parent to take it, and after a failure it reads on
    (and drops) what the parent still hands off, until the end of its input: neither
    side can block the other for good, however full both pipes are.
    """
    signpool.ignore_sigint()
    for conn in theirs:
        conn.close()  # or the parent's death would not end the connections
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(outbox, answers_out), daemon=True)
    sender.start()
    failed = False
    try:
        while True:
            drafts: list[Draft] | None = drafts_in.recv()
            if drafts is None:
                break
            if failed:
                continue  # keep reading: the parent may be blocked sending to a full pipe
            try:
                answer = [_seal_in_worker(draft, heads, keys) for draft in drafts]
            except Exception as exc:  # a generator bug: report it, not a bare end of file
                outbox.put(pickle.dumps(f"{type(exc).__name__}: {exc}"))
                failed = True
                continue
            outbox.put(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))
    except (EOFError, OSError):
        pass  # the parent went away
    outbox.put(None)
    sender.join()


def _seal_in_worker(draft: Draft, heads: dict[str, str], keys: Mapping[str, SigningKey]) -> _Answer:
    sealed = _seal_next(draft, heads, keys)
    digest = sealed.digest
    return (
        sealed.entry.parent,
        sealed.entry.sig,
        digest.header,
        digest.leaf_input,
        digest.event_id,
        sealed.line,
    )


def _send_all(outbox: queue.SimpleQueue[bytes | None], conn: Connection) -> None:
    try:
        while (data := outbox.get()) is not None:
            conn.send_bytes(data)
    except OSError:
        return  # the parent went away
    finally:
        conn.close()


def _widen(conn: Connection) -> None:
    """Grow a pipe's buffer to :data:`PIPE_BYTES` where Linux allows; else leave it."""
    grow = getattr(fcntl, "F_SETPIPE_SZ", None)
    if grow is not None:
        with contextlib.suppress(OSError):  # above the system's limit: slower, not wrong
            fcntl.fcntl(conn.fileno(), grow, PIPE_BYTES)


class SealerStopped(RuntimeError):
    """The sealing worker failed or went away; nothing more of the run is appended."""


class ForkedSealer(Sealer):
    """Seal in a forked worker; append what comes back, in order, in batches.

    The worker seals every stream but the share :func:`sealed_here` picks, which this
    process seals itself as it takes the worker's answers back. Each side keeps only
    its own streams' heads, from those the writer had when the worker was forked, so
    nothing else may append to the writer while this sealer is in use.
    """

    def __init__(
        self,
        writer: Writer,
        batch: int,
        keys: Mapping[str, SigningKey],
        owner: SigningKey,
        heads: Mapping[str, str],
        conns: tuple[Connection, Connection],
        process: BaseProcess,
    ) -> None:
        super().__init__(writer, batch, keys, owner, heads)
        self._drafts_out, self._answers_in = conns
        self._process = process
        self._chunk: list[Draft] = []
        self._theirs: list[Draft] = []
        self._out: deque[tuple[list[Draft], int]] = deque()
        """Each chunk handed off and not yet collected, and how many of it the worker seals."""
        self._authors = {label: key.public.fingerprint for label, key in keys.items()}

    @classmethod
    def start(
        cls, writer: Writer, batch: int, keys: Mapping[str, SigningKey], owner: SigningKey
    ) -> ForkedSealer | None:
        """A worker sealing for ``writer``, or None where fork is unavailable or unsafe."""
        if usable_cores() < 2 or threading.active_count() > 1:
            return None
        import multiprocessing

        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover - no fork on this platform
            return None
        heads = dict(writer.snapshot.state.heads.items())
        drafts_in, drafts_out = context.Pipe(duplex=False)
        answers_in, answers_out = context.Pipe(duplex=False)
        mine = (drafts_out, answers_in)
        for conn in mine:
            _widen(conn)
        try:
            process = context.Process(
                target=_serve,
                args=(drafts_in, answers_out, mine, heads, keys),
                name="generate-seal",
                daemon=True,
            )
            with signpool.sigint_blocked():
                process.start()
        except OSError:  # pragma: no cover - no room for a process
            for conn in mine:
                conn.close()
            return None
        finally:
            drafts_in.close()
            answers_out.close()
        return cls(writer, batch, keys, owner, heads, mine, process)

    def add(self, draft: Draft) -> None:
        self._chunk.append(draft)
        if not sealed_here(draft.subject):
            self._theirs.append(draft)
        if len(self._chunk) >= CHUNK:
            self._submit()
            while len(self._out) > IN_FLIGHT:
                self._collect()

    def _submit(self) -> None:
        try:
            self._drafts_out.send(self._theirs)
        except OSError:  # the worker stopped reading: it failed, or was killed
            raise self._stopped(self._last_words() or "went away") from None
        self._out.append((self._chunk, len(self._theirs)))
        self._chunk, self._theirs = [], []

    def _collect(self) -> None:
        drafts, theirs = self._out.popleft()
        try:
            answer: list[_Answer] | str = self._answers_in.recv()
        except (EOFError, OSError):
            raise self._stopped("went away") from None
        if isinstance(answer, str):
            raise self._stopped(f"failed: {answer}")
        if len(answer) != theirs:
            raise self._stopped(f"answered for {len(answer)} entries, not {theirs}")
        answers = iter(answer)
        for draft in drafts:
            if sealed_here(draft.subject):
                self._take(_seal_next(draft, self.heads, self.keys))
                continue
            parent, sig, header, leaf, event_id, line = next(answers)
            entry = ENTRY_BY_KIND[draft.kind](
                v=1,
                subject=draft.subject,
                parent=parent,
                at=draft.at,
                author=self._authors[draft.author],
                sig=sig,
                body=_body(draft, parent),
            )
            self._take(Sealed(entry, Digest(header, leaf, event_id), line))
        self.sealed_by_worker += theirs

    def flush(self) -> None:
        """Hand off the last drafts, fold everything the worker sealed, and append it."""
        if self._chunk:
            self._submit()
        while self._out:
            self._collect()
        self._append()

    def _last_words(self) -> str | None:
        """What a worker that stopped said last, if it failed and could say so."""
        try:
            while True:
                answer = self._answers_in.recv()
                if isinstance(answer, str):
                    return f"failed: {answer}"
        except (EOFError, OSError):
            return None

    def _stopped(self, what: str) -> SealerStopped:
        with contextlib.suppress(OSError):
            self._drafts_out.send(None)  # a worker that failed reads on until this
        self._process.join(1)
        return SealerStopped(
            f"the sealing worker {what} (exit code {self._process.exitcode}); "
            f"the ledger holds {self.writer.written[0]:,} entries"
        )

    def close(self) -> None:
        """Stop the worker and wait for it (after :meth:`flush`, or after a failure)."""
        # Answers no longer wanted: closing their pipe first ends a send the worker's
        # thread may be blocked in, so the worker can read the end of its input.
        self._answers_in.close()
        try:
            self._drafts_out.send(None)
        except OSError:
            pass
        finally:
            self._drafts_out.close()
        self._process.join(5)
        if self._process.is_alive():  # pragma: no cover - a worker stuck in a signature
            self._process.terminate()
            self._process.join()
