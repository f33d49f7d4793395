"""Header, body hash, signature, event id and the redacted form (DESIGN §2).

- ``body_hash`` = hex SHA-256 of canonical(body).
- The **header** is the entry with ``body`` replaced by ``body_hash`` and without
  ``sig``; the signature is Ed25519 over ``b"factledger/v1/entry\\n" + canonical(header)``.
- The **event id** is hex SHA-256(0x00 ‖ canonical(header + sig)): the RFC 9162 leaf
  hash of the entry's redacted form, so one hash is id, Merkle leaf and ``parent``.

All functions are pure.
"""

from __future__ import annotations

import base64
import hashlib
import re
import typing
from dataclasses import dataclass
from typing import Final, Literal

import msgspec
from msgspec import UNSET

from ledger.codec import MAX_LINE_BYTES, b64decode_canonical, canonical
from ledger.errors import DecodeError, UsageError
from ledger.events import (
    BODY_TYPES,
    ENTRY_BY_KIND,
    AnyBody,
    Entry,
    EventId,
    Fingerprint,
    Sha256Hex,
    Timestamp,
)
from ledger.keys import PublicKey, SigningKey

SIGNING_PREFIX: Final = b"factledger/v1/entry\n"


class Header(msgspec.Struct, frozen=True, kw_only=True):
    """What an author signs: the entry with its body replaced by the body's hash."""

    at: str
    author: str
    body_hash: str
    kind: str
    parent: str | None
    subject: str
    v: int


def hash_body(body: AnyBody) -> str:
    """Hex SHA-256 of the canonical body."""
    return hashlib.sha256(canonical(body)).hexdigest()


def body_hash_of(entry: Entry) -> str:
    """The entry's body hash, whether it carries the body or only its hash."""
    if entry.body is UNSET:
        assert isinstance(entry.body_hash, str)
        return entry.body_hash
    return hash_body(entry.body)


def header_of(entry: Entry) -> Header:
    return Header(
        at=entry.at,
        author=entry.author,
        body_hash=body_hash_of(entry),
        kind=entry.kind,
        parent=entry.parent,
        subject=entry.subject,
        v=entry.v,
    )


def signed_message(header: Header) -> bytes:
    """The exact bytes an author's Ed25519 signature covers."""
    return SIGNING_PREFIX + canonical(header)


def redacted(entry: Entry) -> Entry:
    """The entry in header form: ``body_hash`` instead of ``body``, signature kept."""
    if entry.body is UNSET:
        return entry
    return msgspec.structs.replace(entry, body=UNSET, body_hash=hash_body(entry.body))


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything hashed about one entry, computed once (the verification hot path)."""

    header: bytes
    """canonical(header): what the signature covers, after the domain prefix."""
    leaf_input: bytes
    """canonical(header + sig): the redacted line, which the event id hashes."""
    event_id: str

    @property
    def signed_message(self) -> bytes:
        return SIGNING_PREFIX + self.header


_SUBJECT_MEMBER: Final = b',"subject":"'


def digest(entry: Entry) -> Digest:
    """Header, leaf input and event id of ``entry``, hashing its body once.

    canonical(header + sig) is canonical(header) with the ``sig`` member inserted
    before ``subject`` (members are sorted: parent < sig < subject). Every member
    before ``subject`` has a value of a constrained shape (a time, a fingerprint, a
    hex hash, a kind, an id or null), so the first ``,"subject":"`` is the member
    itself; the format vectors pin the result byte for byte.
    """
    return _digest(canonical(header_of(entry)), entry.sig)


def _digest(header: bytes, sig: str) -> Digest:
    cut = header.index(_SUBJECT_MEMBER) + 1
    leaf = b"".join((header[:cut], b'"sig":"', sig.encode(), b'",', header[cut:]))
    return Digest(header, leaf, hashlib.sha256(b"\x00" + leaf).hexdigest())


def leaf_input(entry: Entry) -> bytes:
    """canonical(header + sig): the redacted line, which the event id hashes."""
    return digest(entry).leaf_input


def event_id(entry: Entry) -> str:
    """Hex SHA-256(0x00 ‖ canonical(header + sig)) — id, leaf hash and parent reference."""
    return digest(entry).event_id


def decode_signature(sig: str) -> bytes:
    """Standard, padded, canonical base64 of exactly 64 bytes."""
    raw = b64decode_canonical(sig)
    if raw is None or len(raw) != 64:
        raise DecodeError("signature is not the canonical base64 of 64 bytes", rule="base64")
    return raw


class _StrictHeader(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The header with the schema's constraints, to check what is about to be signed."""

    at: Timestamp
    author: Fingerprint
    body_hash: Sha256Hex
    kind: str
    parent: EventId | None
    subject: str
    v: Literal[1]


_HEADER_CHECK: Final = msgspec.json.Decoder(_StrictHeader)
_BODY_CHECK: Final = {kind: msgspec.json.Decoder(t) for kind, t in BODY_TYPES.items()}


def _pattern(constrained: object) -> re.Pattern[str]:
    """The regex of a constrained ``Annotated[str, Meta(pattern=...)]`` of the schema."""
    (meta,) = (m for m in typing.get_args(constrained)[1:] if isinstance(m, msgspec.Meta))
    assert meta.pattern is not None
    return re.compile(meta.pattern)


# msgspec matches ``Meta(pattern=...)`` with ``re.search``; so do these.
_TIMESTAMP: Final = _pattern(Timestamp)
_FINGERPRINT: Final = _pattern(Fingerprint)
_EVENT_ID: Final = _pattern(EventId)


def _header_fields_ok(kind: str, subject: str, parent: str | None, at: str, author: str) -> bool:
    """Whether a header of these values certainly passes :data:`_HEADER_CHECK`.

    The sealer computes ``body_hash`` (a SHA-256 hex digest) and sets ``v`` itself, so
    the header's other members are all that can break the schema; each is checked
    here against the schema's own constraint, without encoding and decoding the
    header again. ``False`` means "not certain": the caller then runs the full check,
    which raises with msgspec's message.
    """
    return (
        type(kind) is str
        and type(subject) is str
        and type(at) is str
        and type(author) is str
        and (parent is None or (type(parent) is str and _EVENT_ID.search(parent) is not None))
        and _TIMESTAMP.search(at) is not None
        and _FINGERPRINT.search(author) is not None
    )


class Sealed(msgspec.Struct, frozen=True):
    """A newly signed entry, its digest, and its ``events.jsonl`` line."""

    entry: Entry
    digest: Digest
    line: bytes
    """canonical(entry), without the newline: what :func:`ledger.codec.encode_entry` gives."""


def seal(
    *,
    kind: str,
    subject: str,
    parent: str | None,
    at: str,
    body: AnyBody,
    key: SigningKey,
) -> Entry:
    """Sign a new entry with ``key``: the only way entries are made."""
    entry, _ = seal_digest(kind=kind, subject=subject, parent=parent, at=at, body=body, key=key)
    return entry


def seal_digest(
    *,
    kind: str,
    subject: str,
    parent: str | None,
    at: str,
    body: AnyBody,
    key: SigningKey,
) -> tuple[Entry, Digest]:
    """Sign a new entry (checked first: see :func:`prepare`) and return it with its digest."""
    sealed = seal_line(kind=kind, subject=subject, parent=parent, at=at, body=body, key=key)
    return sealed.entry, sealed.digest


def seal_line(
    *,
    kind: str,
    subject: str,
    parent: str | None,
    at: str,
    body: AnyBody,
    key: SigningKey,
) -> Sealed:
    """:func:`seal_digest`, and the entry's line, spliced from bytes already encoded."""
    draft = prepare(kind, subject, parent, at, body, key.public.fingerprint)
    return finish(draft, key.sign(draft.message))


class Prepared(msgspec.Struct, frozen=True):
    """An entry checked and encoded up to its signature (:func:`prepare`)."""

    kind: str
    subject: str
    parent: str | None
    at: str
    author: str
    body: AnyBody
    header: bytes
    """canonical(header)."""
    body_bytes: bytes
    """canonical(body)."""
    message: bytes
    """What the author signs: the domain prefix and canonical(header)."""


def prepare(
    kind: str, subject: str, parent: str | None, at: str, body: AnyBody, author: str
) -> Prepared:
    """Check an entry against the schema and encode it, all but signing it.

    Struct constructors do not validate, so the body and header are checked here,
    before anything is signed: what is written always decodes.
    """
    body_type = BODY_TYPES.get(kind)
    if body_type is None or type(body) is not body_type:
        raise UsageError(f"a {kind} entry cannot carry a {type(body).__name__}", rule="schema")
    body_bytes = canonical(body)
    header = Header(
        at=at,
        author=author,
        body_hash=hashlib.sha256(body_bytes).hexdigest(),
        kind=kind,
        parent=parent,
        subject=subject,
        v=1,
    )
    header_bytes = canonical(header)
    try:
        _BODY_CHECK[kind].decode(body_bytes)
        if not _header_fields_ok(kind, subject, parent, at, author):
            _HEADER_CHECK.decode(header_bytes)
    except msgspec.ValidationError as exc:
        raise DecodeError(
            f"the {kind} entry does not match the schema: {exc}", rule="schema"
        ) from None
    # The line is the header with the body in place of its hash and the signature added
    # (finish): a line a verifier would refuse is never signed, let alone written.
    size = len(header_bytes) + len(body_bytes) + _LINE_OVER_PARTS
    if size > MAX_LINE_BYTES:
        raise UsageError(
            f"the {kind} entry would be a line of {size:,} bytes, over the "
            f"{MAX_LINE_BYTES:,}-byte limit every verifier holds a line to",
            hint="shorten its text, or cite a long document as a source instead of quoting it",
            rule="line-too-long",
        )
    return Prepared(
        kind,
        subject,
        parent,
        at,
        author,
        body,
        header_bytes,
        body_bytes,
        SIGNING_PREFIX + header_bytes,
    )


_LINE_OVER_PARTS: Final = len(',"sig":""') + 88 + len('"body":') - len('"body_hash":""') - 64
"""A line's length less its header's and its body's: the signature member (88 base64
characters) added, ``"body":`` in place of the ``body_hash`` member."""


def finish(draft: Prepared, signature: bytes) -> Sealed:
    """The sealed entry from a prepared one and the 64-byte signature of its message.

    canonical(entry) is canonical(header + sig) with ``"body_hash":"…"`` replaced by
    ``"body":`` canonical(body): ``body`` sorts where ``body_hash`` does (after
    ``author``, before ``kind``), and the members before it are a time and a
    fingerprint, so the first ``,"body_hash":"`` is the member itself.
    """
    sig = base64.b64encode(signature).decode()
    cls = ENTRY_BY_KIND[draft.kind]
    entry = cls(
        v=1,
        subject=draft.subject,
        parent=draft.parent,
        at=draft.at,
        author=draft.author,
        sig=sig,
        body=draft.body,
    )
    digest = _digest(draft.header, sig)
    leaf = digest.leaf_input
    start = leaf.index(_BODY_HASH_MEMBER) + 1
    end = start + len(_BODY_HASH_MEMBER) - 1 + 65  # '"body_hash":"', 64 hex digits, '"'
    line = b"".join((leaf[:start], b'"body":', draft.body_bytes, leaf[end:]))
    return Sealed(entry, digest, line)


_BODY_HASH_MEMBER: Final = b',"body_hash":"'


def check_signature(entry: Entry, key: PublicKey) -> None:
    """Raise :class:`ledger.errors.InvalidSignature` unless ``key`` signed the entry."""
    key.verify(decode_signature(entry.sig), signed_message(header_of(entry)))
