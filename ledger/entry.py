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
import binascii
import hashlib
from typing import Final

import msgspec
from msgspec import UNSET

from ledger.codec import canonical, encode_entry
from ledger.errors import DecodeError
from ledger.events import (
    ENTRY_BY_KIND,
    AnyBody,
    Entry,
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


def leaf_input(entry: Entry) -> bytes:
    """canonical(header + sig): the redacted line, which the event id hashes."""
    return encode_entry(redacted(entry))


def event_id(entry: Entry) -> str:
    """Hex SHA-256(0x00 ‖ canonical(header + sig)) — id, leaf hash and parent reference."""
    return hashlib.sha256(b"\x00" + leaf_input(entry)).hexdigest()


def decode_signature(sig: str) -> bytes:
    """Standard, padded, canonical base64 of exactly 64 bytes."""
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("signature is not standard base64", rule="base64") from None
    if len(raw) != 64 or base64.b64encode(raw).decode() != sig:
        raise DecodeError("signature is not the canonical base64 of 64 bytes", rule="base64")
    return raw


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
    header = Header(
        at=at,
        author=key.public.fingerprint,
        body_hash=hash_body(body),
        kind=kind,
        parent=parent,
        subject=subject,
        v=1,
    )
    sig = base64.b64encode(key.sign(signed_message(header))).decode()
    cls = ENTRY_BY_KIND[kind]
    entry = cls(
        v=1, subject=subject, parent=parent, at=at, author=header.author, sig=sig, body=body
    )
    return entry


def check_signature(entry: Entry, key: PublicKey) -> None:
    """Raise :class:`ledger.errors.InvalidSignature` unless ``key`` signed the entry."""
    key.verify(decode_signature(entry.sig), signed_message(header_of(entry)))
