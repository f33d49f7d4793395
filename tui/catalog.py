"""Who signs and what is cited: keys, sources and Merkle leaves, from one pass over the log.

The projection queries answer everything position-dependent, but (so far) not three
ledger-wide lists the UI needs: the keys with their names and **roles** (history
timeline, author filter, command palette), the **sources** with their titles (source
filter, command palette) and every entry's **leaf hash** (the inspector's RFC 9162
inclusion proof against the checkpoint). This module gathers them with the core's
own reader — :func:`ledger.log.scan`, :func:`ledger.codec.decode_entry`,
:func:`ledger.entry.event_id` — in one streaming pass, in a thread worker.

A line that does not decode still occupies its leaf: it is hashed as bytes, as the
verifier does, so proofs stay aligned and a tampered line shows up as a failing proof.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from ledger import log, merkle
from ledger.codec import decode_entry
from ledger.entry import event_id
from ledger.errors import InvalidProof, LedgerError, TornWrite
from ledger.events import (
    KeyGrantedBody,
    KeyRevokedBody,
    LedgerCreatedBody,
    SourceRegisteredBody,
    SourceRegradedBody,
)
from ledger.ledger import Ledger

Progress = Callable[[int, int], None]
PROGRESS_EVERY = 4096


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    name: str
    role: str
    revoked: str | None = None


@dataclass(frozen=True)
class SourceInfo:
    source_id: str
    title: str
    reliability: str


class Leaves(Sequence[bytes]):
    """Leaf hashes packed in one buffer: 32 bytes per entry, not one object each."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def append(self, leaf: bytes) -> None:
        self._buf += leaf

    def __len__(self) -> int:
        return len(self._buf) // merkle.HASH_SIZE

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...
    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        size = merkle.HASH_SIZE
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            chunk = bytes(self._buf[start * size : stop * size])
            return [chunk[i : i + size] for i in range(0, len(chunk), size)]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return bytes(self._buf[index * size : (index + 1) * size])

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self)):
            yield self[i]


@dataclass(frozen=True)
class Proof:
    """An RFC 9162 §2.1.3 inclusion proof of one entry against the checkpoint's tree."""

    index: int
    size: int
    leaf: bytes
    hashes: tuple[bytes, ...]
    root: bytes
    problem: str | None
    """Why the proof does not check against the root (``None``: it does)."""


@dataclass
class Catalog:
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    leaves: Leaves = field(default_factory=Leaves)

    def role(self, fingerprint: str) -> str | None:
        key = self.keys.get(fingerprint)
        return key.role if key else None

    def prove(self, index: int, size: int, root: bytes) -> Proof:
        """Prove entry ``index`` in the first ``size`` leaves and check it against ``root``."""
        hashes = merkle.prove_inclusion(index, size, self.leaves)
        leaf = self.leaves[index]
        problem: str | None = None
        try:
            merkle.check_inclusion(index, size, leaf, hashes, root)
        except InvalidProof as exc:
            problem = exc.message
        return Proof(index, size, leaf, tuple(hashes), root, problem)


def scan(
    ledger: Ledger,
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Catalog:
    """Read the whole log once: keys (with roles), sources (with titles), leaf hashes."""
    catalog = Catalog()
    path = ledger.events_path
    total = path.stat().st_size
    try:
        for line in log.scan(path):
            if line.index % PROGRESS_EVERY == 0:
                if cancelled():
                    break
                if progress is not None:
                    progress(line.offset, total)
            try:
                entry = decode_entry(line.data)
            except LedgerError:
                catalog.leaves.append(merkle.leaf_hash(line.data))
                continue
            catalog.leaves.append(bytes.fromhex(event_id(entry)))
            _note(catalog, entry.subject, entry.author, entry.body)
    except TornWrite:
        pass
    if progress is not None:
        progress(total, total)
    return catalog


def _note(catalog: Catalog, subject: str, author: str, body: object) -> None:
    if isinstance(body, LedgerCreatedBody):
        catalog.keys[author] = KeyInfo(author, body.owner_name, "admin")
    elif isinstance(body, KeyGrantedBody):
        catalog.keys[subject] = KeyInfo(subject, body.name, body.role)
    elif isinstance(body, KeyRevokedBody):
        old = catalog.keys.get(subject)
        if old is not None:
            catalog.keys[subject] = KeyInfo(old.fingerprint, old.name, old.role, body.reason)
    elif isinstance(body, SourceRegisteredBody):
        catalog.sources[subject] = SourceInfo(subject, body.title, body.reliability)
    elif isinstance(body, SourceRegradedBody):
        old_source = catalog.sources.get(subject)
        if old_source is not None:
            catalog.sources[subject] = SourceInfo(subject, old_source.title, body.reliability)


__all__ = ["Catalog", "KeyInfo", "Leaves", "Proof", "SourceInfo", "scan"]
