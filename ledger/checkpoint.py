"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) on top of signed notes (DESIGN §5).

A checkpoint body is three lines, origin, tree size in canonical decimal and the base64
RFC 9162 root hash, then optional non-empty extension lines (which factledger parses
and keeps but never writes). It is signed as a signed note whose key name is the
origin, so transparency-log tooling and witnesses can read and cosign it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

import msgspec

from ledger.codec import b64decode_canonical
from ledger.errors import NoteError
from ledger.keys import PublicKey, SigningKey
from ledger.notes import MAX_NOTE_BYTES, NoteVerifier, open_note, sign_note

__all__ = ["MAX_TREE_SIZE", "Checkpoint", "open_checkpoint", "parse_body", "sign_checkpoint"]

MAX_TREE_SIZE = 2**63 - 1
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_CONTROL = re.compile(r"[\x00-\x1f]")
_HINT = "a checkpoint reads 'origin', 'tree size', 'base64 root hash' on three lines"


def _malformed(why: str) -> NoteError:
    return NoteError(f"malformed checkpoint: {why}", hint=_HINT)


def _check_line(what: str, line: str) -> None:
    if not line:
        raise _malformed(f"empty {what}")
    if _CONTROL.search(line):
        raise _malformed(f"control character in the {what}")


class Checkpoint(msgspec.Struct, frozen=True):
    """A tlog-checkpoint: the log's origin, its tree size and RFC 9162 root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise _malformed(f"tree size out of range 0..{MAX_TREE_SIZE}")
        if len(self.root) != 32:
            raise _malformed(f"root hash is {len(self.root)} bytes, not 32 (SHA-256)")
        for line in self.extensions:
            _check_line("extension line", line)

    def body(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` and any extension lines."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(line + "\n" for line in (*lines, *self.extensions))


def parse_body(text: str, *, origin: str | None = None) -> Checkpoint:
    """Parse a tlog-checkpoint note text strictly (tlog-checkpoint §Note text).

    The size must be canonical decimal (no sign, spaces or leading zeros, at most
    2^63-1); the root canonical standard base64 of 32 bytes; extension lines non-empty.
    With ``origin``, the origin line must equal it. Raises :class:`NoteError`.
    """
    if len(text) > MAX_NOTE_BYTES:
        raise _malformed(f"larger than {MAX_NOTE_BYTES} bytes")
    if not text.endswith("\n"):
        raise _malformed("the text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise _malformed("fewer than three lines")
    first, size_text, root_b64, *extensions = lines
    if origin is not None and first != origin:
        raise NoteError(
            f"checkpoint is for origin {first[:100]!r}, not {origin!r}",
            hint="check that the checkpoint belongs to this ledger (ledger.toml 'origin')",
        )
    if not _SIZE.fullmatch(size_text):
        raise _malformed("tree size is not a canonical decimal number")
    root = b64decode_canonical(root_b64)
    if root is None:
        raise _malformed("root hash is not canonical standard base64")
    return Checkpoint(first, int(size_text), root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, key: SigningKey) -> str:
    """The checkpoint as a signed note, signed by ``key`` under the origin as key name."""
    return sign_note(cp.body(), cp.origin, key)


def open_checkpoint(note: str | bytes, origin: str, keys: Sequence[PublicKey]) -> Checkpoint:
    """Verify a checkpoint note signed under ``origin`` by one of ``keys``; parse its body.

    Signatures by other keys (witnesses, cosigners) are ignored, as signed-note requires.
    Raises :class:`NoteError` when the note is malformed, a trusted key's signature
    fails, none verifies, or the body's origin is not ``origin``.
    """
    opened = open_note(note, [NoteVerifier(origin, key) for key in keys])
    return parse_body(opened.text, origin=origin)
