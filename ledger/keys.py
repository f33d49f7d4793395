"""Ed25519 keys: fingerprints, OpenSSH lines, strict admission, key files (DESIGN §7, §2).

Public keys travel as one OpenSSH line (RFC 8709 §4 ``ssh-ed25519`` blob), named by the
SHA256 fingerprint ``ssh-keygen -lf`` prints, and enter the ledger only through
:func:`parse_public_key`, which applies the strict admission of :func:`admit_point`.
Private keys never leave :class:`SigningKey` (its ``repr`` shows the fingerprint only)
and no error raised here carries key bytes. Loose file permissions are not an error:
the command line asks :func:`key_file_is_private` and prints the warning.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.codec import b64decode_canonical
from ledger.errors import (
    BadKey,
    InvalidSignature,
    PassphraseNeeded,
    StorageError,
    UsageError,
    WeakKey,
)

__all__ = [
    "PublicKey",
    "SigningKey",
    "admit_point",
    "key_file_is_private",
    "load_signing_key",
    "parse_public_key",
    "save_signing_key",
]

KEY_TYPE = "ssh-ed25519"
_BLOB_PREFIX = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"  # RFC 8709 §4: string, string
_MAX_KEY_FILE = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PASSPHRASE_HINT = "set FACTLEDGER_PASSPHRASE or enter the key's passphrase when asked"
_NEW_KEY_HINT = "create one with 'factledger key new PATH' or 'ssh-keygen -t ed25519'"

# --- edwards25519 (RFC 8032 §5.1): just enough to decode and test a point's order ---

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_L = 2**252 + 27742317777372353535851937790883648493  # order of the prime subgroup
_Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z
_IDENTITY: _Point = (0, 1, 1, 0)


def _decode_point(raw: bytes) -> _Point | str:
    """RFC 8032 §5.1.3 strict point decoding; a reason string when it fails."""
    n = int.from_bytes(raw, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= _P:
        return "is a non-canonical encoding (y >= p)"
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if v * x * x % _P == (-u) % _P:
        x = x * _SQRT_M1 % _P
    if v * x * x % _P != u:
        return "is not a point on the Ed25519 curve"
    if x == 0 and sign:
        return 'is a non-canonical encoding ("negative zero" x)'
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _add(a: _Point, b: _Point) -> _Point:
    """RFC 8032 §5.1.4 point addition (complete: also doubles)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    cc, dd = 2 * _D * t1 * t2 % _P, 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(k: int, point: _Point) -> _Point:
    result = _IDENTITY
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _is_identity(point: _Point) -> bool:
    return point[0] % _P == 0 and (point[1] - point[2]) % _P == 0


def admit_point(raw: bytes) -> None:
    """Strict key admission (DESIGN §2): refuse what no honest Ed25519 key generator emits.

    Raises :class:`WeakKey` for an encoding that is not canonical (y >= p, or x = 0 with
    the sign bit set), that does not decode to a curve point (RFC 8032 §5.1.3), that is a
    small-order point (8·A is the identity), or a mixed-order point (L·A is not the
    identity: it has a small-order component). Keys from RFC 8032 §5.1.5 key generation
    are multiples of the base point and always pass. Returns ``None`` when admitted.
    """
    _check_length(raw)
    problem = _point_problem(raw)
    if problem is not None:
        raise WeakKey(f"public key {_fingerprint(raw)} {problem}", hint=_NEW_KEY_HINT)


@functools.lru_cache(maxsize=4096)
def _point_problem(raw: bytes) -> str | None:
    """Why ``raw`` is not admissible, or None; cached: the curve math takes milliseconds
    in pure Python, and a fold meets the same few keys again and again."""
    decoded = _decode_point(raw)
    if isinstance(decoded, str):
        return decoded
    if _is_identity(_mul(8, decoded)):
        return "is a small-order Ed25519 point"
    if not _is_identity(_mul(_L, decoded)):
        return "has a small-order component (not in the prime-order subgroup)"
    return None


def _check_length(raw: bytes) -> None:
    if len(raw) != 32:
        raise BadKey(
            f"an Ed25519 public key is 32 bytes, not {len(raw)}",
            hint="pass the key as an OpenSSH 'ssh-ed25519 AAAA…' line",
        )


@functools.lru_cache(maxsize=1024)
def _fingerprint(raw: bytes) -> str:
    """Cached: every entry sealed or checked names its author's fingerprint."""
    digest = hashlib.sha256(_BLOB_PREFIX + raw).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _check_comment(comment: str) -> None:
    if _CONTROL.search(comment) or comment != comment.strip():
        raise BadKey(
            "a key comment must be one line without control characters or outer spaces",
            hint="choose a comment such as 'name@example.org'",
        )
    try:
        comment.encode()
    except UnicodeEncodeError:  # a lone surrogate: bytes of a non-UTF-8 command line
        raise BadKey(
            "a key comment must be UTF-8 text",
            hint="pass the comment as UTF-8, e.g. 'name@example.org'",
        ) from None


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key (RFC 8032 §5.1.5 encoding, 32 bytes) and its OpenSSH comment.

    Constructing one checks only the length; :func:`parse_public_key` is the admitting
    path. Equality and hashing use ``raw`` alone: the comment is a label, not identity.
    """

    raw: bytes
    comment: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check_length(self.raw)
        _check_comment(self.comment)

    @property
    def fingerprint(self) -> str:
        """OpenSSH SHA256 fingerprint, exactly as ``ssh-keygen -lf`` prints it (DESIGN §2)."""
        return _fingerprint(self.raw)

    def openssh_line(self) -> str:
        """The OpenSSH authorized-keys line ``ssh-ed25519 AAAA… [comment]``."""
        line = f"{KEY_TYPE} {base64.b64encode(_BLOB_PREFIX + self.raw).decode()}"
        return f"{line} {self.comment}" if self.comment else line

    def verify(self, sig: bytes, message: bytes) -> None:
        """RFC 8032 §5.1.7 verification; raises :class:`InvalidSignature`, returns ``None``.

        The rules are libsodium's (:func:`signature_ok`), everywhere factledger checks a
        signature: entries, checkpoints, notes and receipts.
        """
        hint = "the message was changed after signing, or another key signed it"
        if len(sig) != 64:
            raise InvalidSignature(f"an Ed25519 signature is 64 bytes, not {len(sig)}", hint=hint)
        if not signature_ok(self.raw, sig, message):
            raise InvalidSignature(
                f"signature does not verify for key {self.fingerprint}", hint=hint
            )

    def __repr__(self) -> str:
        return f"PublicKey({self.fingerprint!r}, comment={self.comment!r})"


def signature_ok(raw: bytes, sig: bytes, message: bytes) -> bool:
    """Whether ``sig`` is a valid Ed25519 signature of ``message`` by the 32-byte key ``raw``.

    libsodium's ``crypto_sign`` verification (through PyNaCl): cofactorless RFC 8032
    with canonical ``S`` (< L) and ``R``, refusing small-order ``R`` and ``A``. On
    admissible keys it agrees with pyca/OpenSSL on every published vector except a
    small-order ``R``, which OpenSSL accepts and honest signers never produce
    (``tests/ledger/test_keys.py`` pins both). A bool, not an exception, because the
    parallel verifier calls it in a tight loop; everything else uses
    :meth:`PublicKey.verify`, which raises.
    """
    from nacl.bindings import crypto_sign_open  # here, not at start-up: only checks need it
    from nacl.exceptions import BadSignatureError

    if len(sig) != 64 or len(raw) != 32:
        return False
    try:
        crypto_sign_open(sig + message, raw)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def parse_public_key(line: str) -> PublicKey:
    """Parse exactly ``ssh-ed25519 <base64 blob> [comment]`` and admit the key (DESIGN §2).

    The blob must be RFC 8709 §4 with nothing after the 32-byte key, spelled in
    canonical standard base64. A file's final newline must be stripped by the caller.
    Raises :class:`BadKey` (or :class:`WeakKey` from :func:`admit_point`).
    """
    hint = "give one OpenSSH line 'ssh-ed25519 AAAA… comment', e.g. the content of KEY.pub"
    key_type, _, rest = line.partition(" ")
    blob_b64, sep, comment = rest.partition(" ")
    if key_type != KEY_TYPE:
        raise BadKey(f"not an ssh-ed25519 public key (type {key_type[:20]!r})", hint=hint)
    blob = b64decode_canonical(blob_b64)
    if blob is None:
        raise BadKey("public key is not valid standard base64", hint=hint)
    if sep and not comment:
        raise BadKey("public key line ends with a space", hint=hint)
    if len(blob) != len(_BLOB_PREFIX) + 32 or not blob.startswith(_BLOB_PREFIX):
        raise BadKey("public key blob is not an ssh-ed25519 key of 32 bytes", hint=hint)
    raw = blob[len(_BLOB_PREFIX) :]
    _check_comment(comment)
    admit_point(raw)
    return PublicKey(raw=raw, comment=comment)


class SigningKey:
    """An Ed25519 private key (RFC 8032 §5.1.5) with its public half.

    ``repr`` and ``str`` show the fingerprint only; the private bytes are reachable
    only through :func:`save_signing_key`.
    """

    __slots__ = ("_made", "_private", "_signer", "public")

    def __init__(self, private: Ed25519PrivateKey, comment: str = "") -> None:
        self._private = private
        self._signer: Callable[[bytes], bytes] | None = None
        self._made = 0
        raw = private.public_key().public_bytes_raw()
        self.public = PublicKey(raw=raw, comment=comment)

    @classmethod
    def from_seed(cls, seed: bytes, comment: str = "") -> SigningKey:
        """The key for a 32-byte RFC 8032 seed (deterministic: tests and fixtures)."""
        if len(seed) != 32:
            raise BadKey(f"an Ed25519 seed is 32 bytes, not {len(seed)}", hint="give 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed), comment)

    @classmethod
    def generate(cls, comment: str = "") -> SigningKey:
        """A fresh key from the operating system's random source."""
        return cls(Ed25519PrivateKey.generate(), comment)

    def sign(self, message: bytes) -> bytes:
        """RFC 8032 §5.1.6 signature (64 bytes, deterministic).

        From the third signature on, made by libsodium (through PyNaCl), which signs
        about half again as fast as pyca/OpenSSL; the first two (all that one command
        makes: an entry and a checkpoint) do not pay for importing it. Ed25519
        signatures are a function of the key and the message alone, so the bytes are
        the same whichever library makes them (``tests/ledger/test_signing_backends.py``
        pins that against pyca and RFC 8032).
        """
        signer = self._signer
        if signer is None:
            self._made += 1
            if self._made <= 2:
                return self._private.sign(message)
            signer = self._signer = _sodium_signer(self._private, self.public.raw)
        return signer(message)

    def __repr__(self) -> str:
        return f"SigningKey({self.public.fingerprint})"

    __str__ = __repr__


def _sodium_signer(private: Ed25519PrivateKey, public: bytes) -> Callable[[bytes], bytes]:
    """A function signing with libsodium's expanded form of ``private``'s seed.

    The expanded secret key (seed ‖ public key) is derived once per :class:`SigningKey`
    and lives only in the closure. Should libsodium ever derive another public key
    from the seed, signing falls back to pyca rather than sign with a different key.
    """
    from nacl.bindings import crypto_sign, crypto_sign_seed_keypair  # not at start-up

    derived, secret = crypto_sign_seed_keypair(private.private_bytes_raw())
    if derived != public:
        return private.sign

    def sign(message: bytes) -> bytes:
        return crypto_sign(message, secret)[:64]  # signature ‖ message: keep the signature

    return sign


def _read_key_file(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE + 1)
    except FileNotFoundError:
        raise StorageError(f"key file {path} not found", hint=_NEW_KEY_HINT) from None
    except OSError as e:
        raise StorageError(
            f"cannot read key file {path}: {e.strerror}",
            hint="check the key file's path (a private key is a file, not a directory)",
        ) from None
    if len(data) > _MAX_KEY_FILE:
        raise BadKey(f"{path} is too large to be a key file", hint=_NEW_KEY_HINT)
    return data


def _pub_comment(path: Path, raw: bytes) -> str:
    """The comment of ``PATH.pub`` when that file holds the same key, else ``""``."""
    try:
        text = Path(f"{path}.pub").read_text(encoding="utf-8")
        public = parse_public_key(text.removesuffix("\n"))
    except (OSError, UnicodeDecodeError, BadKey):
        return ""
    return public.comment if public.raw == raw else ""


def _decrypt(path: Path, data: bytes, password: bytes | None) -> object:
    """Run pyca's loader, turning its errors into one-line :class:`BadKey` errors."""
    from cryptography.hazmat.primitives.serialization import (  # not at start-up
        load_pem_private_key,
        load_ssh_private_key,
    )

    is_openssh = data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    try:
        if is_openssh:
            return load_ssh_private_key(data, password)
        return load_pem_private_key(data, password)
    except TypeError:
        if password is None:
            raise PassphraseNeeded(
                f"key file {path} is encrypted and no passphrase was given",
                hint=_PASSPHRASE_HINT,
            ) from None
        return _decrypt(path, data, None)  # not encrypted: the passphrase is not needed
    except ValueError:
        if password is not None and (is_openssh or b"ENCRYPTED" in data):
            raise BadKey(f"wrong passphrase for key file {path}", hint=_PASSPHRASE_HINT) from None
        hint = "this is a public key; pass the private key file" if data[:4] == b"ssh-" else ""
        raise BadKey(
            f"{path} is not an OpenSSH or PKCS#8 PEM private key", hint=hint or _NEW_KEY_HINT
        ) from None
    except UnsupportedAlgorithm:
        msg = f"key file {path} uses an unsupported cipher or format"
        raise BadKey(msg, hint="install 'bcrypt' for encrypted OpenSSH keys") from None


def load_signing_key(path: Path, passphrase: bytes | None) -> SigningKey:
    """Load an OpenSSH (PROTOCOL.key) or PKCS#8 PEM Ed25519 private key (DESIGN §7).

    Encrypted keys need ``passphrase``; for an unencrypted key it is ignored, and
    ``b""`` counts as no passphrase. The comment comes from ``PATH.pub`` when that file
    holds the same public key. Raises :class:`StorageError` when the file cannot be
    read and :class:`BadKey` when it is not a usable Ed25519 key or the passphrase is
    wrong or missing. Permissions are checked separately: :func:`key_file_is_private`.
    """
    data = _read_key_file(path)
    private = _decrypt(path, data, passphrase or None)
    if not isinstance(private, Ed25519PrivateKey):
        raise BadKey(
            f"key file {path} holds a key of type "
            f"{type(private).__name__.removesuffix('PrivateKey')};"
            " factledger uses Ed25519 only",
            hint=_NEW_KEY_HINT,
        )
    raw = private.public_key().public_bytes_raw()
    return SigningKey(private, _pub_comment(path, raw))


def key_file_is_private(path: Path) -> bool:
    """Whether only the owner may access ``path`` (mode & 0o077 == 0, OpenSSH's rule).

    The CLI warns on ``False``; :func:`load_signing_key` never refuses a key for its mode.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise StorageError(f"cannot stat key file {path}: {e.strerror}") from None
    return stat.S_IMODE(mode) & 0o077 == 0


def _exists(target: Path) -> UsageError:
    return UsageError(
        f"{target} already exists; refusing to overwrite a key",
        hint="choose another path, or move the old key away first",
    )


def _create(path: Path, data: bytes, mode: int) -> None:
    """Write a new file that has ``mode`` from its first instant (O_CREAT | O_EXCL)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as e:
        raise StorageError(
            f"cannot create {path}: {e.strerror}", hint="check that the directory exists"
        ) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        path.unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {e.strerror}") from None


def save_signing_key(key: SigningKey, path: Path, passphrase: bytes | None) -> None:
    """Write ``path`` (OpenSSH private key, mode 0600) and ``path.pub`` (0644) (DESIGN §7).

    The private key is encrypted (bcrypt KDF + AES, pyca's best available) when
    ``passphrase`` is non-empty; ``None`` or ``b""`` writes it unencrypted, as
    ``ssh-keygen -N ""`` does. Existing files are never overwritten
    (:class:`UsageError`); I/O failures raise :class:`StorageError`.
    """
    from cryptography.hazmat.primitives.serialization import (  # not at start-up
        BestAvailableEncryption,
        Encoding,
        KeySerializationEncryption,
        NoEncryption,
        PrivateFormat,
    )

    pub_path = Path(f"{path}.pub")
    for target in (path, pub_path):
        if os.path.lexists(target):
            raise _exists(target)
    encryption: KeySerializationEncryption = (
        BestAvailableEncryption(passphrase) if passphrase else NoEncryption()
    )
    _create(
        path, key._private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, encryption), 0o600
    )
    try:
        _create(pub_path, (key.public.openssh_line() + "\n").encode(), 0o644)
    except (UsageError, StorageError):
        path.unlink(missing_ok=True)  # no private key without its .pub
        raise
