"""Canonical bytes <-> entries (DESIGN §3).

The one module that owns the encoding. Canonical JSON is
``msgspec.json.encode(obj, order="sorted")``: keys sorted, no insignificant
whitespace, UTF-8, strings escaped as RFC 8785 requires; the schema admits only
strings, booleans, null and safe integers, for which this equals RFC 8785.

Decoding is strict: a line is accepted only if its bytes equal the canonical
encoding of what it decodes to, so duplicate keys, permuted keys, whitespace,
escapes written another way, floats and trailing bytes are all refused.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import Any, Final

import msgspec
from msgspec import UNSET

from ledger.errors import DecodeError, UsageError
from ledger.events import AnyEntry, Body, Entry

MAX_LINE_BYTES: Final = 1 << 20
"""The longest line accepted, newline excluded (1 MiB)."""

_ENCODER: Final = msgspec.json.Encoder(order="sorted")


@functools.cache
def _entry_decoder() -> msgspec.json.Decoder[AnyEntry]:
    """Built on first use: a writer whose cached state is current decodes no line at all."""
    return msgspec.json.Decoder(AnyEntry)


def canonical(obj: Any) -> bytes:
    """The canonical JSON bytes of a Struct of the schema.

    Equal to RFC 8785 for the schema's types, whose member names are ASCII Struct
    fields. (For a plain dict with non-ASCII keys it is not: msgspec sorts keys by
    code point, JCS by UTF-16 code unit.) Text that is not Unicode scalar values
    (a lone surrogate, e.g. from a non-UTF-8 command line) cannot be encoded and
    raises :class:`UsageError`: only values built in memory can hold it.
    """
    try:
        return _ENCODER.encode(obj)
    except UnicodeEncodeError:
        raise UsageError(
            "text contains a lone surrogate, which UTF-8 cannot encode",
            hint="pass text as UTF-8",
            rule="unicode",
        ) from None


def encode_entry(entry: Entry) -> bytes:
    """The entry as one line of ``events.jsonl``, without its newline."""
    return canonical(entry)


def b64decode_canonical(text: str) -> bytes | None:
    """Standard base64 (RFC 4648 §4) with padding in its one canonical spelling, else None.

    Decoding ignores non-zero trailing bits; a second spelling of the same bytes would
    change ids and hashes without changing what was signed, so it is refused.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    return data if base64.b64encode(data).decode() == text else None


def decode_entry(line: bytes, *, lineno: int | None = None, path: str | None = None) -> AnyEntry:
    """Decode one line (without its newline) strictly, or raise :class:`DecodeError`.

    ``lineno`` (1-based) and ``path`` only label the error.
    """

    def fail(rule: str, message: str, hint: str | None = None) -> DecodeError:
        return DecodeError(message, hint=hint, path=path, line=lineno, rule=rule)

    if len(line) > MAX_LINE_BYTES:
        raise fail("line-too-long", f"line is {len(line)} bytes, over the {MAX_LINE_BYTES} limit")
    try:
        entry: AnyEntry = _entry_decoder().decode(line)
    except msgspec.ValidationError as exc:
        raise fail("schema", f"entry does not match the v1 schema: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise fail("json", f"not valid JSON: {exc}") from None
    if entry.v != 1:
        raise fail("schema", f"unsupported format version v={entry.v}; this reader knows v=1")
    if (entry.body is UNSET) == (entry.body_hash is UNSET):
        raise fail("schema", "an entry carries exactly one of 'body' and 'body_hash'")
    if encode_entry(entry) != line:
        raise fail(
            "canonical",
            "line is not in canonical form (key order, whitespace, escapes or duplicates)",
            hint="entries are written only by factledger; a hand edit breaks the ledger",
        )
    return entry


def decode_body(kind_type: type[Body], data: bytes) -> Body:
    """Decode a body of a known type strictly (used for bodies kept outside a line)."""
    try:
        body = msgspec.json.decode(data, type=kind_type)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DecodeError(f"body is not valid: {exc}", rule="schema") from None
    if canonical(body) != data:
        raise DecodeError("body is not in canonical form", rule="canonical")
    return body
