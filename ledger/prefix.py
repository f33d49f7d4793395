"""The pull-request gate's fast path: an already-checkpointed prefix is hashed, not re-judged.

Under ``verify --since``, the earlier checkpoint's signed root vouches for the first
``old.size`` lines. Every prefix line is still hashed — its leaf is computed from
its raw bytes (:func:`raw_leaf`), and the root of those leaves must equal the
signed one — but only the lines the *new* entries' rules depend on are decoded and
folded (:func:`plan` names them):

- every key entry (``ledger.created``, ``key.granted``, ``key.revoked``), judged in
  full and signature-checked: they decide who may sign the checkpoint;
- every line of a subject a new entry touches, and every event a new entry or a
  compromised-key revocation names by id;
- every redaction and every line in header form, so an erasure is still proven.

Anything unexpected in the prefix (its root differs, a folded line does not
decode, a redaction's target still carries its body) makes the caller fall back
to the full fold, which reports the findings precisely. The leaf computed here
equals :func:`ledger.entry.digest`'s for every canonical line (a test pins that on
generated and demo ledgers); a line that is not canonical hashes differently and
so fails the root comparison.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ledger import log
from ledger.codec import decode_entry
from ledger.entry import Digest
from ledger.errors import NOT_A_LEDGER, DecodeError, io_error
from ledger.events import (
    AnyEntry,
    ClaimAssertedBody,
    EntryRedactedBody,
    KeyRevokedBody,
    SourceAttributedBody,
)

_BODY: Final = b'"body":'
_BODY_HASH: Final = b'"body_hash":"'
_KIND: Final = b',"kind":"'
_SUBJECT: Final = b',"subject":"'
_SIG: Final = b',"sig":"'
_VOID_AFTER: Final = re.compile(rb'"void_after":"([0-9a-f]{64})"')
KEY_KINDS: Final = frozenset({b"ledger.created", b"key.granted", b"key.revoked"})
BLOCK: Final = 4 << 20


def raw_leaf(line: bytes) -> bytes:
    """canonical(header + sig) of a canonical line: its body replaced by the body's hash.

    Members are sorted, so ``body_hash`` takes ``body``'s place; a line already in
    header form is its own leaf input.
    """
    start = line.find(_BODY)
    if start < 0:
        return line
    end = line.rfind(_KIND)
    digest = hashlib.sha256(line[start + 7 : end]).hexdigest().encode()
    return b"".join((line[:start], _BODY_HASH, digest, b'"', line[end:]))


def leaf_hash(line: bytes) -> bytes:
    """The raw 32-byte event id (and Merkle leaf hash) of a canonical line, from its bytes."""
    return hashlib.sha256(b"\x00" + raw_leaf(line)).digest()


def line_digest(line: bytes) -> Digest:
    """:func:`ledger.entry.digest` of a line already decoded as canonical, from its bytes.

    The header is the leaf input without its ``sig`` member; no re-encoding needed.
    """
    leaf = raw_leaf(line)
    cut = leaf.rfind(_SIG)
    header = leaf[:cut] + leaf[leaf.index(b'"', cut + len(_SIG)) + 1 :]
    return Digest(header, leaf, hashlib.sha256(b"\x00" + leaf).hexdigest())


def _member(line: bytes, name: bytes) -> bytes:
    at = line.rfind(name)
    if at < 0:
        return b""
    at += len(name)
    return line[at : line.find(b'"', at)]


@dataclass
class Plan:
    """What the new entries depend on in the prefix."""

    subjects: set[bytes] = field(default_factory=set)
    ids: set[bytes] = field(default_factory=set)
    """Raw 32-byte event ids whose position, kind, subject and author are needed."""


def plan(tail: Iterable[bytes], prefix_void_after: Iterable[bytes]) -> Plan:
    """The subjects and events the tail's rules read; undecodable tail lines are skipped."""
    wanted = Plan(ids={bytes.fromhex(h.decode()) for h in prefix_void_after})
    for data in tail:
        try:
            entry = decode_entry(data)
        except DecodeError:
            continue
        wanted.subjects.add(entry.subject.encode())
        for ref in _references(entry):
            if ref.startswith(("clm_", "src_")):
                wanted.subjects.add(ref.encode())
            else:
                wanted.ids.add(bytes.fromhex(ref))
    return wanted


def _references(entry: AnyEntry) -> Iterator[str]:
    body = entry.body
    if isinstance(body, ClaimAssertedBody) and body.appearance is not None:
        yield body.appearance.source
    elif isinstance(body, SourceAttributedBody):
        yield body.source
    elif isinstance(body, EntryRedactedBody):
        yield body.target
    elif isinstance(body, KeyRevokedBody) and body.void_after is not None:
        yield body.void_after


def locate(path: Path, lines: int) -> tuple[int, list[bytes]]:
    """The byte offset where line ``lines`` starts, and the ``void_after`` ids before it.

    Raises :class:`LookupError` when the log has fewer complete lines.
    """
    found: list[bytes] = []
    seen, offset = 0, 0
    for block in _blocks(path, 0):
        count = block.count(b"\n")
        if seen + count >= lines:
            cut = 0
            for _ in range(lines - seen):
                cut = block.index(b"\n", cut) + 1
            found += _VOID_AFTER.findall(block, 0, cut)
            return offset + cut, found
        if b'"void_after":"' in block:
            found += _VOID_AFTER.findall(block)
        seen += count
        offset += len(block)
    if seen == lines:
        return offset, found
    raise LookupError(lines)


def _blocks(path: Path, start: int, end: int | None = None) -> Iterator[bytes]:
    """The file from ``start`` (to ``end``) in blocks that end at a newline."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise io_error("read it", path, exc, missing=NOT_A_LEDGER) from None
    with handle:
        handle.seek(start)
        left = None if end is None else end - start
        pending = b""
        while chunk := handle.read(BLOCK if left is None else min(BLOCK, left)):
            if left is not None:
                left -= len(chunk)
            buf = pending + chunk if pending else chunk
            cut = buf.rfind(b"\n") + 1
            if cut:
                yield buf[:cut]
            pending = buf[cut:]
            if len(pending) > log.RUNAWAY_LINE:
                raise log.runaway_line(path, None)


Visit = Callable[[log.Line, bytes, bool], None]
"""Called for each prefix line to fold: (line, raw event id, whether it is a key entry)."""
Note = Callable[[log.Line, bytes], None]
"""Called for each prefix line only named by id: (line, raw event id)."""


def hash_prefix(
    path: Path,
    end: int,
    wanted: Plan,
    *,
    fold: Visit,
    note: Note,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[bytes], int]:
    """Hash every line before byte ``end``; hand the lines the plan needs to ``fold``/``note``.

    Returns the RFC 9162 right edge's hashes (largest subtree first) and the line count.
    """
    subjects, ids = wanted.subjects, wanted.ids
    sha256, join = hashlib.sha256, b"".join
    edge: list[bytes] = []
    index = offset = 0
    for block in _blocks(path, 0, end):
        lines = block.split(b"\n")
        lines.pop()  # the empty string after the block's final newline
        for data in lines:
            # raw_leaf and _member, inlined: this loop runs once per line of the log.
            start = data.find(_BODY)
            kind_at = data.rfind(_KIND) + 9
            if start < 0:
                leaf = data
            else:
                digest = sha256(data[start + 7 : kind_at - 9]).hexdigest().encode()
                leaf = join((data[:start], _BODY_HASH, digest, b'"', data[kind_at - 9 :]))
            eid = sha256(b"\x00" + leaf).digest()
            kind = data[kind_at : data.find(b'"', kind_at)]
            if kind in KEY_KINDS:
                fold(log.Line(index, offset, data), eid, True)
            elif leaf is data or kind == b"entry.redacted" or _member(data, _SUBJECT) in subjects:
                fold(log.Line(index, offset, data), eid, False)
            elif eid in ids:
                note(log.Line(index, offset, data), eid)
            acc, size = eid, index
            while size & 1:  # merkle.push_leaf, inlined
                acc = sha256(b"\x01" + edge.pop() + acc).digest()
                size >>= 1
            edge.append(acc)
            index += 1
            offset += len(data) + 1
        if progress is not None:
            progress(offset)
    return edge, index


__all__ = ["Plan", "hash_prefix", "leaf_hash", "line_digest", "locate", "plan", "raw_leaf"]
