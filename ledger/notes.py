"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures, as pure functions.

A note is its text (ending in a newline), a blank line, and signature lines
``— <key name> base64(key ID || signature)``. The key ID of an Ed25519 key is
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``. Opening a note is as strict as Go's
``golang.org/x/mod/sumdb/note``: a size cap, UTF-8 without control characters except
newline, well-formed signature lines, at most 100 of them; a known key whose signature
fails rejects the whole note, and a note with no verified signature is rejected.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence

import msgspec

from ledger.codec import b64decode_canonical
from ledger.errors import BadKey, InvalidSignature, NoteError
from ledger.keys import PublicKey, SigningKey, admit_point

__all__ = [
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "NoteVerifier",
    "OpenedNote",
    "add_signature",
    "is_valid_key_name",
    "note_key_id",
    "open_note",
    "parse_vkey",
    "sign_note",
]

MAX_NOTE_BYTES = 1 << 20
"""Largest note accepted (signed-note: "verifiers SHOULD apply a maximum limit")."""
MAX_SIGNATURES = 100
"""Most signature lines accepted, as Go's note.Open (the spec requires at least 16)."""
ED25519_TYPE = 0x01
"""Signature type identifier byte of Ed25519 (signed-note §Signature types)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
_HEX_ID = re.compile(r"[0-9a-f]{8}")
_FORMAT_HINT = (
    "a signed note is its text, a blank line, then lines '— <key name> <base64>'"
    " (c2sp.org/signed-note)"
)


def _malformed(why: str) -> NoteError:
    return NoteError(f"malformed note: {why}", hint=_FORMAT_HINT)


def is_valid_key_name(name: str) -> bool:
    """Signed-note key name rule: non-empty, no Unicode spaces, no ``+`` (nor controls)."""
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not _CONTROL.search(name)
    )


def note_key_id(name: str, key: PublicKey) -> bytes:
    """Signed-note Ed25519 key ID: ``SHA-256(name || 0x0A || 0x01 || key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_TYPE]) + key.raw).digest()[:4]


class NoteVerifier(msgspec.Struct, frozen=True):
    """A trusted signed-note key: a key name and the Ed25519 public key behind it."""

    name: str
    key: PublicKey

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise NoteError(
                f"invalid note key name {self.name!r}",
                hint="a key name is non-empty, without spaces or '+' (c2sp.org/signed-note)",
            )

    @property
    def key_id(self) -> bytes:
        """The 4-byte signed-note key ID of this name and key."""
        return note_key_id(self.name, self.key)

    def vkey(self) -> str:
        """Verifier key text ``<name>+<hex key ID>+base64(0x01 || key)``."""
        blob = base64.b64encode(bytes([ED25519_TYPE]) + self.key.raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"


def parse_vkey(vkey: str) -> NoteVerifier:
    """Parse a verifier key ``<name>+<hex key ID>+base64(0x01 || key)`` (signed-note).

    The key ID must be 8 lowercase hex digits and match the name and key, the type byte
    must be Ed25519 and the key must pass :func:`ledger.keys.admit_point`. Raises
    :class:`BadKey` (or :class:`WeakKey`).
    """
    hint = "a verifier key reads '<name>+<8 hex digits>+<base64 of 0x01 and the key>'"
    name, _, rest = vkey.partition("+")
    hex_id, _, blob_b64 = rest.partition("+")
    blob = b64decode_canonical(blob_b64)
    if not is_valid_key_name(name) or not _HEX_ID.fullmatch(hex_id) or not blob:
        raise BadKey("malformed verifier key", hint=hint)
    if blob[0] != ED25519_TYPE or len(blob) != 33:
        raise BadKey("verifier key is not an Ed25519 key (type 0x01, 32 bytes)", hint=hint)
    admit_point(blob[1:])
    verifier = NoteVerifier(name, PublicKey(raw=blob[1:]))
    if verifier.key_id.hex() != hex_id:
        raise BadKey(f"verifier key {name}+{hex_id} has the wrong key ID", hint=hint)
    return verifier


class _SigLine(msgspec.Struct, frozen=True):
    line: str
    name: str
    key_id: bytes
    sig: bytes


class OpenedNote(msgspec.Struct, frozen=True):
    """The result of :func:`open_note`: the text and who signed it.

    ``verified`` lists the trusted verifiers whose signatures checked (in line order,
    each once); ``unverified`` the ``(name, key_id)`` of signatures by unknown keys.
    """

    text: str
    verified: tuple[NoteVerifier, ...]
    unverified: tuple[tuple[str, bytes], ...]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise _malformed("the text must end with a newline")
    if _CONTROL.search(text):
        raise _malformed("the text contains a control character")


def _split(note: str | bytes) -> tuple[str, list[_SigLine]]:
    """Signed-note §Format: text, blank line, signature lines; no verification."""
    if len(note) > MAX_NOTE_BYTES:  # a str has at most as many characters as bytes
        raise _malformed(f"larger than {MAX_NOTE_BYTES} bytes")
    try:
        raw = note.encode("utf-8") if isinstance(note, str) else note
        if len(raw) > MAX_NOTE_BYTES:
            raise _malformed(f"larger than {MAX_NOTE_BYTES} bytes")
        note = raw.decode("utf-8")
    except UnicodeError:
        raise _malformed("not valid UTF-8") from None
    if _CONTROL.search(note):
        raise _malformed("contains a control character")
    split = note.rfind("\n\n")
    if split < 0:
        raise _malformed("no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise _malformed("no signature lines, or the last one lacks its newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures")
    sigs = []
    for number, line in enumerate(lines, start=1):
        name, _, sig_b64 = line.removeprefix(_SIG_PREFIX).partition(" ")
        sig = b64decode_canonical(sig_b64)
        if (
            not line.startswith(_SIG_PREFIX)
            or not is_valid_key_name(name)
            or sig is None
            or len(sig) < 5
        ):
            raise _malformed(f"signature line {number} is not '— <key name> <base64>'")
        sigs.append(_SigLine(line, name, sig[:4], sig[4:]))
    return text, sigs


def open_note(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """Parse and verify a signed note against trusted verifiers (signed-note §Signatures).

    Signatures by unknown ``(name, key ID)`` pairs are reported, not checked. Raises
    :class:`NoteError`: "malformed note…", "invalid signature for key …" when a known
    key's signature fails, or "note has no verifiable signatures".
    """
    text, sigs = _split(note)
    message = text.encode("utf-8")
    known: dict[tuple[str, bytes], list[NoteVerifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    verified: list[NoteVerifier] = []
    unverified: list[tuple[str, bytes]] = []
    seen_unknown: set[str] = set()
    for s in sigs:
        candidates = known.get((s.name, s.key_id))
        if candidates is None:
            if s.line not in seen_unknown:
                seen_unknown.add(s.line)
                unverified.append((s.name, s.key_id))
            continue
        # Every candidate is tried: a key ID is 32 bits, so two trusted keys may share one.
        match = next((v for v in candidates if _verifies(v.key, s.sig, message)), None)
        if match is None:
            raise NoteError(
                f"invalid signature for key {s.name}+{s.key_id.hex()}",
                hint="the note was changed after signing, or a different key signed it",
            )
        if match not in verified:
            verified.append(match)
    if not verified:
        raise NoteError(
            "note has no verifiable signatures",
            hint="it must carry a valid signature by a trusted key for its name",
        )
    return OpenedNote(text, tuple(verified), tuple(unverified))


def _verifies(key: PublicKey, sig: bytes, message: bytes) -> bool:
    try:
        key.verify(sig, message)
    except InvalidSignature:
        return False
    return True


def _signature_line(text: str, name: str, key: SigningKey) -> str:
    if not is_valid_key_name(name):
        raise NoteError(
            f"invalid note key name {name!r}",
            hint="a key name is non-empty, without spaces or '+' (c2sp.org/signed-note)",
        )
    sig = key.sign(text.encode("utf-8"))
    blob = base64.b64encode(note_key_id(name, key.public) + sig).decode()
    return f"{_SIG_PREFIX}{name} {blob}\n"


def sign_note(text: str, name: str, key: SigningKey) -> str:
    """Sign ``text`` (non-empty, ending in a newline) as key ``name``: a one-signature note."""
    _check_text(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _malformed("the text is not valid UTF-8") from None
    note = text + "\n" + _signature_line(text, name, key)
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise _malformed(f"larger than {MAX_NOTE_BYTES} bytes")
    return note


def add_signature(note: str, name: str, key: SigningKey) -> str:
    """Cosign ``note``: keep its signature lines and add ours (signed-note §Signatures).

    A line by the same name and key ID is replaced in place (Ed25519 is deterministic,
    so re-signing yields the same line). The other signatures are kept as they are,
    not verified: cosigning vouches for the text only.
    """
    text, sigs = _split(note)
    ours = _signature_line(text, name, key)[:-1]
    key_id = note_key_id(name, key.public)
    lines: list[str] = []
    for s in sigs:
        if (s.name, s.key_id) != (name, key_id):
            lines.append(s.line)
        elif ours not in lines:
            lines.append(ours)
    if ours not in lines:
        lines.append(ours)
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures")
    cosigned = text + "\n" + "".join(line + "\n" for line in lines)
    if len(cosigned.encode("utf-8")) > MAX_NOTE_BYTES:
        raise _malformed(f"larger than {MAX_NOTE_BYTES} bytes")
    return cosigned
