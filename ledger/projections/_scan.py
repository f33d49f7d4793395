"""The strict Python pass over the log that every projected entry goes through.

Each complete line is decoded with :func:`ledger.codec.decode_entry` (so only a
log that decodes is projected), its id computed with :func:`ledger.entry.event_id`,
its leaf appended to the Merkle right edge and its bytes to the prefix digest.
A torn final line (no newline) is not part of the log yet and is left out.
"""

from __future__ import annotations

import hashlib
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ledger import log, merkle
from ledger.codec import decode_entry
from ledger.entry import event_id
from ledger.errors import StorageError, TornWrite

if TYPE_CHECKING:
    from hashlib import _Hash

_READ: Final = 1 << 20


def digest_prefix(path: Path, end: int) -> _Hash:
    """SHA-256 over the file's first ``end`` bytes (the state, so it can go on)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            left = end
            while left > 0:
                chunk = handle.read(min(_READ, left))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
    except OSError as exc:
        raise StorageError(f"could not read {path}: {exc.strerror}", path=str(path)) from None
    return digest


class Scan:
    """Decode, identify and digest the lines from ``start_offset`` (line ``start_index``) on."""

    def __init__(
        self,
        path: Path,
        *,
        start_offset: int = 0,
        start_index: int = 0,
        edge: merkle.RightEdge = merkle.EMPTY_EDGE,
        digest: _Hash | None = None,
        keep_lines: bool = False,
        last: tuple[str, int] | None = None,
    ) -> None:
        self.path = path
        self.start_offset = start_offset
        self.start_index = start_index
        self.edge = edge
        self.digest = digest if digest is not None else hashlib.sha256()
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
        ids, offsets, lines, update = self.ids, self.offsets, self.lines, self.digest.update
        end = self.start_offset
        try:
            for line in log.scan(
                self.path, start_offset=self.start_offset, start_index=self.start_index
            ):
                data = line.data
                entry = decode_entry(data, lineno=line.index + 1, path=name)
                ids += bytes.fromhex(event_id(entry))
                offsets.append(line.offset)
                update(data)
                update(b"\n")
                end = line.offset + len(data) + 1
                if self.keep_lines:
                    lines.append(data.decode())
        except TornWrite:
            self.torn = True
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

    def batch(self, first: int, size: int) -> tuple[str, str, int]:
        """Ids (64 hex each) and offsets (16 hex each) of entries ``first`` to ``first+size``."""
        chunk = self.offsets[first : first + size]
        ids = bytes(self.ids[first * 32 : (first + len(chunk)) * 32]).hex()
        return ids, "".join(f"{offset:016x}" for offset in chunk), len(chunk)
