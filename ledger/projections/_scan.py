"""The strict Python pass over the log that every projected entry goes through.

Each complete line is decoded with :func:`ledger.codec.decode_entry` (so only a
log that decodes is projected), its id computed from its bytes as
:func:`ledger.entry.event_id` computes it from the decoded entry (a canonical line's
body is cut out and its hash put in its place: :func:`ledger.prefix.leaf_hash`, half
the time of encoding the header again), its leaf appended to the Merkle right edge
and its bytes to the prefix digest.
A torn final line (no newline) is not part of the log yet and is left out.

The prefix digest is BLAKE3 (the ``blake3`` package, the BLAKE3 team's bindings to
their Rust crate), not the SHA-256 of the log format: it is the projection's own
record, never part of what others verify, and every CLI read re-hashes the whole
projected prefix with it, which BLAKE3 does about 2.6 times as fast here.
"""

from __future__ import annotations

import contextlib
import os
from array import array
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from blake3 import blake3

from ledger import log, merkle
from ledger.codec import decode_entry
from ledger.errors import NOT_A_LEDGER, TornWrite, io_error
from ledger.events import EntryRedactedBody
from ledger.prefix import leaf_hash

_REDACTION: Final = '"kind":"entry.redacted"'
"""In every canonical ``entry.redacted`` line (a string holding it would escape its quotes)."""

TELL_EVERY: Final = 16384
"""Lines between two reports of a pass's progress (:attr:`Scan.tell`)."""

Tell = Callable[[int, int], None]
"""Told ``(offset, end)`` as a pass goes, and ``(end, end)`` after one it told of."""

PIECE: Final = 8 << 20
"""The prefix digest hashes the file in pieces of this many bytes (the last one shorter)."""


def read_range(path: Path, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of the file (fewer where it ends sooner)."""
    try:
        with path.open("rb") as handle:
            return os.pread(handle.fileno(), end - start, start)
    except OSError as exc:
        raise io_error("read it", path, exc, missing=NOT_A_LEDGER) from None


class Pieces:
    """BLAKE3 of a file's prefix, piece by piece: the complete pieces and the last one.

    The prefix digest is the BLAKE3 of the pieces' digests. Unlike one digest of the
    whole prefix it can be checked on every core, and carried on from the stored
    digests of the complete pieces and a re-read of the last one.
    """

    def __init__(self, done: list[bytes] | None = None, tail: blake3 | None = None, size: int = 0):
        self.done = done if done is not None else []
        self.tail = tail if tail is not None else blake3()
        self.size = size
        """Bytes in the last piece so far."""

    @classmethod
    def of(cls, path: Path, end: int, done: list[bytes] | None = None) -> Pieces:
        """The pieces of the file's first ``end`` bytes; ``done``: the complete ones, if known.

        Complete pieces not given are hashed in threads (blake3 lets go of the GIL). They
        are read with ``pread``, not mapped: a log truncated under a mapping would kill
        the process with SIGBUS instead of failing the check.
        """
        complete = end // PIECE
        known = list(done or [])[:complete]
        missing = range(len(known), complete)
        if missing:
            workers = min(len(missing), os.cpu_count() or 1, 4)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                known += pool.map(
                    lambda i: blake3(read_range(path, i * PIECE, (i + 1) * PIECE)).digest(),
                    missing,
                )
        tail = blake3(read_range(path, complete * PIECE, end))
        return cls(known, tail, end - complete * PIECE)

    def update(self, data: bytes) -> None:
        """Carry on with the file's next bytes."""
        room = PIECE - self.size
        while len(data) >= room:
            self.tail.update(data[:room])
            self.done.append(self.tail.digest())
            self.tail, self.size, data, room = blake3(), 0, data[room:], PIECE
        self.tail.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        """The prefix digest: BLAKE3 of the pieces' BLAKE3s."""
        whole = blake3(b"".join(self.done))
        whole.update(self.tail.digest())
        return whole.hexdigest()

    def copy(self) -> Pieces:
        return Pieces(list(self.done), self.tail.copy(), self.size)


class Scan:
    """Decode, identify and digest the lines from ``start_offset`` (line ``start_index``) on."""

    def __init__(
        self,
        path: Path,
        *,
        start_offset: int = 0,
        start_index: int = 0,
        edge: merkle.RightEdge = merkle.EMPTY_EDGE,
        pieces: Pieces | None = None,
        keep_lines: bool = False,
        last: tuple[str, int] | None = None,
        tell: Tell | None = None,
    ) -> None:
        self.path = path
        self.start_offset = start_offset
        self.start_index = start_index
        self.edge = edge
        self.pieces = pieces if pieces is not None else Pieces()
        """Carried on over every line read, so the digest is of the bytes decoded."""
        self.keep_lines = keep_lines
        self.ids = bytearray()
        """Raw 32-byte ids, in order."""
        self.offsets = array("q")
        self.lines: list[str] = []
        self.end = start_offset
        """Byte offset just past the last complete line."""
        self.last_id: str | None = last[0] if last else None
        """Id of the last entry up to :attr:`end` (from ``last`` if this pass found none)."""
        self.last_offset: int | None = last[1] if last else None
        self.torn = False
        self.tell = tell
        """Told how far the pass is every :data:`TELL_EVERY` lines (a long pass: a
        million entries take about 17 s)."""

    @property
    def count(self) -> int:
        """Entries scanned by this pass."""
        return len(self.offsets)

    @property
    def size(self) -> int:
        """Entries in the log up to :attr:`end`."""
        return self.start_index + self.count

    def run(self) -> None:
        name = self.path.name
        ids, offsets, lines, pieces = self.ids, self.offsets, self.lines, self.pieces
        tail, size = pieces.tail, pieces.size
        end = self.start_offset
        tell, told, total, first = self.tell, False, 0, self.start_index
        if tell is not None:
            with contextlib.suppress(OSError):
                total = self.path.stat().st_size
        try:
            for line in log.scan(
                self.path, start_offset=self.start_offset, start_index=self.start_index
            ):
                data = line.data
                # (a pass shorter than TELL_EVERY lines tells nothing)
                if (
                    tell is not None
                    and line.index > first
                    and (line.index - first) % TELL_EVERY == 0
                ):
                    tell(line.offset, max(total, line.offset))
                    told = True
                decode_entry(data, lineno=line.index + 1, path=name)  # canonical, so:
                ids += leaf_hash(data)  # its id, from its bytes
                offsets.append(line.offset)
                whole = data + b"\n"
                if size + len(whole) < PIECE:
                    tail.update(whole)
                    size += len(whole)
                else:  # a piece ends within this line
                    pieces.size = size
                    pieces.update(whole)
                    tail, size = pieces.tail, pieces.size
                end = line.offset + len(data) + 1
                if self.keep_lines:
                    lines.append(data.decode())
        except TornWrite:
            self.torn = True
        finally:
            pieces.size = size
        if tell is not None and told:
            tell(max(total, end), max(total, end))
        if not offsets:
            return
        self.last_offset = offsets[-1]
        self.last_id = bytes(ids[-32:]).hex()
        self.end = end
        if self.start_index == 0 and self.edge.size == 0:
            view = memoryview(ids)
            self.edge = merkle.edge_from_leaves(
                bytes(view[i : i + 32]) for i in range(0, len(ids), 32)
            )
        else:
            edge = self.edge
            for i in range(0, len(ids), 32):
                edge = merkle.append_leaf(edge, bytes(ids[i : i + 32]))
            self.edge = edge

    def redacts_earlier(self) -> bool:
        """Whether an ``entry.redacted`` of this pass names an entry before it (a pass
        that kept its lines: a catch-up's; the rebuild's pass pays nothing for this)."""
        assert self.keep_lines
        targets = [
            entry.body.target
            for entry in (decode_entry(line.encode()) for line in self.lines if _REDACTION in line)
            if isinstance(entry.body, EntryRedactedBody)
        ]
        if not targets:
            return False
        ours = {bytes(self.ids[i : i + 32]).hex() for i in range(0, len(self.ids), 32)}
        return any(target not in ours for target in targets)

    def batch(self, first: int, size: int) -> tuple[str, str, int]:
        """Ids (64 hex each) and offsets (16 hex each) of entries ``first`` to ``first+size``."""
        chunk = self.offsets[first : first + size]
        ids = bytes(self.ids[first * 32 : (first + len(chunk)) * 32]).hex()
        return ids, "".join(f"{offset:016x}" for offset in chunk), len(chunk)
