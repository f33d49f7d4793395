"""Loading the signing key for one command, without pyca's key-file parsers when it can.

An unencrypted OpenSSH Ed25519 key (what ``factledger key new`` and ``ssh-keygen -N ""``
write) is a fixed layout around a 32-byte seed; reading it here spares a single write
command the import of pyca's serialization package (SSH, PEM, ciphers, bcrypt), a
large part of its start-up. Anything else — encrypted, PKCS#8, another key type, an
unusual layout, a damaged file — goes to :func:`ledger.keys.load_signing_key`, which
reads it (or reports why not) as before. What is accepted here is accepted there too,
as the same key: this is a fast path, never a second set of rules.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import BadKey
from ledger.keys import KEY_TYPE, PublicKey, SigningKey, load_signing_key

_BEGIN: Final = b"-----BEGIN OPENSSH PRIVATE KEY-----"
_END: Final = b"-----END OPENSSH PRIVATE KEY-----"
_MAX_KEY_FILE: Final = 64 * 1024


def _string(data: bytes) -> bytes:
    """An SSH ``string`` (RFC 4251 §5): a uint32 length, then the bytes."""
    return len(data).to_bytes(4, "big") + data


_KEY_TYPE: Final = _string(KEY_TYPE.encode())
_HEADER: Final = (
    b"openssh-key-v1\0"
    + _string(b"none")  # cipher
    + _string(b"none")  # KDF
    + _string(b"")  # KDF options
    + (1).to_bytes(4, "big")  # one key
    + (len(_KEY_TYPE) + 4 + 32).to_bytes(4, "big")  # its public key blob:
    + _KEY_TYPE
    + (32).to_bytes(4, "big")
)


def openssh_seed(data: bytes) -> bytes | None:
    """The seed of an unencrypted OpenSSH (PROTOCOL.key) Ed25519 private key, else None."""
    parsed = _openssh(data)
    return parsed[0] if parsed else None


def _openssh(data: bytes) -> tuple[bytes, bytes] | None:
    """(seed, public key) of an unencrypted OpenSSH Ed25519 private key, else None.

    Strict: one PEM block in standard base64, cipher and KDF ``none``, one key, the
    check integers equal, the public key the same in all three places, padding
    1, 2, 3… to a multiple of 8, nothing after it. None means "not this simple form",
    not "invalid": pyca's loader decides about everything else.
    """
    text = data.strip()
    if not text.startswith(_BEGIN) or not text.endswith(_END):
        return None
    try:
        raw = base64.b64decode(b"".join(text[len(_BEGIN) : -len(_END)].split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_HEADER) or len(raw) < len(_HEADER) + 36:
        return None
    public = raw[len(_HEADER) : len(_HEADER) + 32]
    section = raw[len(_HEADER) + 36 :]
    if int.from_bytes(raw[len(_HEADER) + 32 : len(_HEADER) + 36], "big") != len(section):
        return None
    if len(section) % 8 or section[:4] != section[4:8]:
        return None
    fields = _KEY_TYPE + _string(public) + (64).to_bytes(4, "big")
    if section[8 : 8 + len(fields)] != fields:
        return None
    rest = section[8 + len(fields) :]
    if len(rest) < 68 or rest[32:64] != public:
        return None
    seed = rest[:32]
    comment_length = int.from_bytes(rest[64:68], "big")
    padding = rest[68 + comment_length :]
    if len(rest) < 68 + comment_length or padding != bytes(range(1, len(padding) + 1)):
        return None
    return (seed, public) if len(padding) < 8 else None


def _pub_comment(path: Path, raw: bytes) -> str:
    """The comment of ``PATH.pub`` when it holds this key, else ``""`` (as the loader has it).

    :func:`ledger.keys.parse_public_key` reads only one spelling of a key, so the
    file holds this one exactly when its line is this key's line, alone or followed
    by a space and a comment. Its point admission always passes for a key made from
    a seed (a multiple of the base point), so only the comment is left to check.
    """
    try:
        line = Path(f"{path}.pub").read_text(encoding="utf-8").removesuffix("\n")
    except (OSError, UnicodeDecodeError):
        return ""
    ours = PublicKey(raw).openssh_line() + " "
    if not line.startswith(ours):
        return ""
    try:
        return PublicKey(raw, line[len(ours) :]).comment
    except BadKey:
        return ""


def load_key(path: Path, passphrase: bytes | None) -> SigningKey:
    """:func:`ledger.keys.load_signing_key`, faster for an unencrypted OpenSSH key."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE + 1)
    except OSError:
        data = b""
    parsed = _openssh(data) if len(data) <= _MAX_KEY_FILE else None
    if parsed is None:
        return load_signing_key(path, passphrase)
    private = Ed25519PrivateKey.from_private_bytes(parsed[0])
    raw = private.public_key().public_bytes_raw()
    if raw != parsed[1]:
        return load_signing_key(path, passphrase)  # the file's public key is not the seed's
    return SigningKey(private, _pub_comment(path, raw))
