"""Ed25519 keys (DESIGN §7, §2): fingerprints, admission, key files, known answers."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature as PycaInvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from ledger.errors import BadKey, InvalidSignature, StorageError, UsageError, WeakKey
from ledger.keys import (
    PublicKey,
    SigningKey,
    admit_point,
    key_file_is_private,
    load_signing_key,
    parse_public_key,
    save_signing_key,
)

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"
SSH_KEYGEN = shutil.which("ssh-keygen")
needs_ssh_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen is not installed")
PASSPHRASES = [pytest.param(None, id="plain"), pytest.param(b"correct horse", id="encrypted")]


def _load(*parts: str) -> Any:
    return json.loads(VECTORS.joinpath(*parts).read_text(encoding="utf-8"))


FORMAT_KEYS = _load("factledger-format", "vectors.json")["keys"]
RFC8032 = _load("rfc8032-ed25519", "rfc8032-ed25519.json")["vectors"]
WYCHEPROOF = [
    pytest.param(group["publicKey"]["pk"], case, id=f"tc{case['tcId']}")
    for group in _load("wycheproof-ed25519", "ed25519_test.json")["testGroups"]
    for case in group["tests"]
]
LOW_ORDER = _load("cctv-ed25519", "low-order-encodings.json")["encodings"]
CCTV = _load("cctv-ed25519", "ed25519vectors.json")
SPECCHECK = _load("ed25519-speccheck", "cases.json")


def _ssh_keygen(*args: str) -> str:
    assert SSH_KEYGEN is not None
    done = subprocess.run(
        [SSH_KEYGEN, *args], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    )
    return done.stdout


def _seed(vector: dict[str, str]) -> bytes:
    return bytes.fromhex(vector["TEST_ONLY_private_seed_hex"])


# --- fingerprints and OpenSSH lines ---


@pytest.mark.parametrize("vector", FORMAT_KEYS, ids=lambda v: v["label"])
def test_known_key_has_the_published_fingerprint_and_openssh_line(vector: dict[str, str]) -> None:
    line = vector["public_openssh"]
    public = parse_public_key(line)
    signing = SigningKey.from_seed(_seed(vector), comment=public.comment)
    assert public.fingerprint == vector["fingerprint"]
    assert signing.public == public
    assert signing.public.openssh_line() == line
    assert public.openssh_line() == line


@needs_ssh_keygen
@pytest.mark.parametrize("vector", FORMAT_KEYS, ids=lambda v: v["label"])
def test_fingerprint_equals_what_ssh_keygen_prints(tmp_path: Path, vector: dict[str, str]) -> None:
    pub = tmp_path / "key.pub"
    pub.write_text(vector["public_openssh"] + "\n")
    printed = _ssh_keygen("-l", "-f", str(pub)).split()[1]
    assert parse_public_key(vector["public_openssh"]).fingerprint == printed


@needs_ssh_keygen
def test_fingerprint_of_a_generated_key_equals_ssh_keygen(tmp_path: Path) -> None:
    key = SigningKey.generate(comment="fresh@example.org")
    save_signing_key(key, tmp_path / "id", None)
    printed = _ssh_keygen("-l", "-f", str(tmp_path / "id.pub")).split()[1]
    assert key.public.fingerprint == printed


def test_openssh_line_has_no_comment_part_when_comment_is_empty() -> None:
    line = SigningKey.from_seed(bytes(32)).public.openssh_line()
    assert line.count(" ") == 1
    assert line.startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI")


def test_public_keys_are_equal_whatever_their_comment() -> None:
    raw = SigningKey.from_seed(bytes(32)).public.raw
    assert PublicKey(raw, "a") == PublicKey(raw, "b")
    assert hash(PublicKey(raw, "a")) == hash(PublicKey(raw))


def test_parse_accepts_a_comment_with_spaces() -> None:
    line = SigningKey.from_seed(bytes(32)).public.openssh_line() + " Ada Lovelace (laptop)"
    assert parse_public_key(line).comment == "Ada Lovelace (laptop)"


def _blob(raw: bytes, key_type: bytes = b"ssh-ed25519", extra: bytes = b"") -> str:
    def string(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    return base64.b64encode(string(key_type) + string(raw) + extra).decode()


_RAW = SigningKey.from_seed(bytes(range(32))).public.raw
_GOOD_B64 = _blob(_RAW)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("", id="empty"),
        pytest.param(f"ssh-rsa {_GOOD_B64}", id="other-type"),
        pytest.param(f"ssh-ed25519  {_GOOD_B64}", id="two-spaces"),
        pytest.param(f" ssh-ed25519 {_GOOD_B64}", id="leading-space"),
        pytest.param(f"ssh-ed25519 {_GOOD_B64} ", id="trailing-space"),
        pytest.param(f"ssh-ed25519 {_GOOD_B64}\n", id="trailing-newline"),
        pytest.param(f"ssh-ed25519 {_GOOD_B64} a\tb", id="control-in-comment"),
        pytest.param(f"ssh-ed25519 {_GOOD_B64[:-1]}", id="truncated-base64"),
        pytest.param(f"ssh-ed25519 {_GOOD_B64}=", id="extra-padding"),
        pytest.param(f"ssh-ed25519 {_GOOD_B64[:10]}*{_GOOD_B64[11:]}", id="bad-base64-char"),
        pytest.param(f"ssh-ed25519 {_blob(_RAW, b'ssh-rsa')}", id="blob-type-mismatch"),
        pytest.param(f"ssh-ed25519 {_blob(_RAW[:31])}", id="short-key"),
        pytest.param(f"ssh-ed25519 {_blob(_RAW + b'x')}", id="long-key"),
        pytest.param(f"ssh-ed25519 {_blob(_RAW, extra=b'x')}", id="trailing-blob-bytes"),
    ],
)
def test_parse_rejects_a_malformed_public_key_line(line: str) -> None:
    with pytest.raises(BadKey):
        parse_public_key(line)


def test_parse_rejects_a_small_order_key_even_when_well_formed() -> None:
    with pytest.raises(WeakKey, match="small-order"):
        parse_public_key(f"ssh-ed25519 {_blob(bytes(32))}")


# --- strict admission (DESIGN §2) ---


@pytest.mark.parametrize("encoding", LOW_ORDER, ids=lambda e: e["hex"][:8] + e["hex"][-2:])
def test_admission_rejects_every_low_order_encoding(encoding: dict[str, Any]) -> None:
    with pytest.raises(WeakKey):
        admit_point(bytes.fromhex(encoding["hex"]))


def _cctv_keys() -> list[Any]:
    flags: dict[str, set[str]] = {}
    for case in CCTV:
        flags.setdefault(case["key"], set()).update(f for f in case["flags"] or () if "_A" in f)
    return [pytest.param(key, sorted(f), id=key[:12]) for key, f in flags.items()]


@pytest.mark.parametrize(("key", "flags"), _cctv_keys())
def test_admission_follows_the_cctv_key_flags(key: str, flags: list[str]) -> None:
    """low_order_A / non_canonical_A: refused (the brief); low_order_component_A:
    refused as a hardening (no honest key has a torsion part); unflagged: admitted."""
    if flags:
        with pytest.raises(WeakKey):
            admit_point(bytes.fromhex(key))
    else:
        admit_point(bytes.fromhex(key))


# Speccheck keys: 0-1 small order, 10-11 non-canonical, 2-5 and 8-9 mixed order (refused
# as a hardening), 6-7 ordinary keys (their cases differ only in the signature's S).
SPECCHECK_ADMITTED = [False, False, False, False, False, False, True, True] + [False] * 4


@pytest.mark.parametrize("index", range(len(SPECCHECK)))
def test_admission_of_speccheck_keys(index: int) -> None:
    raw = bytes.fromhex(SPECCHECK[index]["pub_key"])
    if SPECCHECK_ADMITTED[index]:
        admit_point(raw)
    else:
        with pytest.raises(WeakKey):
            admit_point(raw)


def test_admission_rejects_encodings_that_are_not_points() -> None:
    # y = 2 gives (y^2 - 1) / (d y^2 + 1) = a non-square: no x exists.
    with pytest.raises(WeakKey, match="not a point"):
        admit_point((2).to_bytes(32, "little"))


def test_admission_accepts_generated_and_known_keys() -> None:
    for _ in range(16):
        admit_point(SigningKey.generate().public.raw)
    for vector in RFC8032:
        admit_point(bytes.fromhex(vector["public_key"]))
    for group in _load("wycheproof-ed25519", "ed25519_test.json")["testGroups"]:
        admit_point(bytes.fromhex(group["publicKey"]["pk"]))


def test_admission_rejects_a_key_of_the_wrong_length() -> None:
    with pytest.raises(BadKey):
        admit_point(bytes(31))


# --- signatures: known answers and the backend's verification rules ---


@pytest.mark.parametrize("vector", RFC8032, ids=lambda v: v["name"])
def test_rfc8032_vectors_sign_and_verify_known_answers(vector: dict[str, str]) -> None:
    key = SigningKey.from_seed(bytes.fromhex(vector["secret_key"]))
    message, sig = bytes.fromhex(vector["message"]), bytes.fromhex(vector["signature"])
    assert key.public.raw.hex() == vector["public_key"]
    assert key.sign(message) == sig
    key.public.verify(sig, message)
    flipped_sig = bytes([sig[0] ^ 1]) + sig[1:]
    with pytest.raises(InvalidSignature):
        key.public.verify(flipped_sig, message)
    with pytest.raises(InvalidSignature):
        key.public.verify(sig, message + b"\x00")


@pytest.mark.parametrize(("pk", "case"), WYCHEPROOF)
def test_verify_agrees_with_wycheproof(pk: str, case: dict[str, Any]) -> None:
    public = PublicKey(raw=bytes.fromhex(pk))  # no admission: verification only
    sig, msg = bytes.fromhex(case["sig"]), bytes.fromhex(case["msg"])
    if case["result"] == "valid":
        public.verify(sig, msg)
    else:
        with pytest.raises(InvalidSignature):
            public.verify(sig, msg)


def test_verify_rejects_a_signature_that_is_not_64_bytes() -> None:
    key = SigningKey.generate()
    sig = key.sign(b"m")
    for bad in (sig[:63], sig + b"\x00", b""):
        with pytest.raises(InvalidSignature, match="64 bytes"):
            key.public.verify(bad, b"m")


def _accepts(key: str, sig: str, msg: bytes) -> bool:
    try:
        PublicKey(raw=bytes.fromhex(key)).verify(bytes.fromhex(sig), msg)
    except InvalidSignature:
        return False
    return True


def _pyca_accepts(key: str, sig: str, msg: bytes) -> bool:
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key))
    try:
        public.verify(bytes.fromhex(sig), msg)
    except PycaInvalidSignature:
        return False
    return True


def _admitted(key: str) -> bool:
    try:
        admit_point(bytes.fromhex(key))
    except BadKey:
        return False
    return True


def test_backend_accepts_exactly_the_pinned_speccheck_row() -> None:
    """libsodium's row: only case 3 (S reduced, mixed-order A, canonical R) passes.

    pyca/OpenSSL gives V V V V X X X X X X X V; none of the keys it accepts beyond
    case 3 is admissible (admission refuses small- and mixed-order keys), so no
    ledger can contain them. A change here means the backend's rules changed.
    """
    row = [
        "V" if _accepts(c["pub_key"], c["signature"], bytes.fromhex(c["message"])) else "X"
        for c in SPECCHECK
    ]
    assert " ".join(row) == "X X X V X X X X X X X X"


def test_backend_accepts_exactly_the_pinned_cctv_vectors() -> None:
    """43 of 914 with libsodium (via PyNaCl 1.6)."""
    accepted = sum(_accepts(c["key"], c["sig"], c["msg"].encode()) for c in CCTV)
    assert accepted == 43


def test_backend_agrees_with_pyca_on_admissible_keys_except_a_small_order_r() -> None:
    """The only vector where the rules differ on a key a ledger can hold is CCTV #304:
    a small-order R, which OpenSSL accepts and libsodium (factledger) refuses."""
    differ = [
        (c["number"], sorted(c["flags"] or ()))
        for c in CCTV
        if _admitted(c["key"])
        and _accepts(c["key"], c["sig"], c["msg"].encode())
        != _pyca_accepts(c["key"], c["sig"], c["msg"].encode())
    ]
    assert differ == [(304, ["low_order_R"])]


# --- signing keys never show their private half ---


def test_signing_key_repr_and_str_show_only_the_fingerprint() -> None:
    seed = bytes(range(100, 132))
    key = SigningKey.from_seed(seed, comment="ada@example.org")
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert key.public.fingerprint in text
        for secret in (seed.hex(), base64.b64encode(seed).decode(), repr(seed)[2:-1]):
            assert secret not in text


def test_from_seed_rejects_a_seed_of_the_wrong_length_without_echoing_it() -> None:
    seed = bytes(range(1, 32))
    with pytest.raises(BadKey) as caught:
        SigningKey.from_seed(seed)
    assert seed.hex() not in str(caught.value)


# --- key files ---


@pytest.mark.parametrize("passphrase", PASSPHRASES)
def test_saved_key_loads_back_with_its_comment(tmp_path: Path, passphrase: bytes | None) -> None:
    key = SigningKey.generate(comment="ada@example.org")
    save_signing_key(key, tmp_path / "id", passphrase)
    loaded = load_signing_key(tmp_path / "id", passphrase)
    assert loaded.public == key.public
    assert loaded.public.comment == "ada@example.org"
    assert loaded.sign(b"m") == key.sign(b"m")
    pub_text = (tmp_path / "id.pub").read_text()
    assert pub_text == key.public.openssh_line() + "\n"


@needs_ssh_keygen
@pytest.mark.parametrize("passphrase", PASSPHRASES)
def test_saved_key_opens_with_ssh_keygen(tmp_path: Path, passphrase: bytes | None) -> None:
    key = SigningKey.generate(comment="ada@example.org")
    save_signing_key(key, tmp_path / "id", passphrase)
    pw = (passphrase or b"").decode()
    printed = _ssh_keygen("-y", "-P", pw, "-f", str(tmp_path / "id")).split()
    assert printed[:2] == key.public.openssh_line().split()[:2]


@needs_ssh_keygen
@pytest.mark.parametrize("passphrase", PASSPHRASES)
def test_key_written_by_ssh_keygen_loads(tmp_path: Path, passphrase: bytes | None) -> None:
    path = tmp_path / "id_ed25519"
    pw = (passphrase or b"").decode()
    _ssh_keygen("-q", "-t", "ed25519", "-N", pw, "-C", "grace@example.org", "-f", str(path))
    loaded = load_signing_key(path, passphrase)
    assert loaded.public.openssh_line() == (tmp_path / "id_ed25519.pub").read_text().strip()
    assert loaded.public.comment == "grace@example.org"


@pytest.mark.parametrize("passphrase", PASSPHRASES)
def test_pkcs8_pem_key_loads(tmp_path: Path, passphrase: bytes | None) -> None:
    private = Ed25519PrivateKey.generate()
    encryption = BestAvailableEncryption(passphrase) if passphrase else NoEncryption()
    path = tmp_path / "key.pem"
    path.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption))
    loaded = load_signing_key(path, passphrase)
    assert loaded.sign(b"m") == private.sign(b"m")
    assert loaded.public.comment == ""


def test_passphrase_given_for_an_unencrypted_key_is_ignored(tmp_path: Path) -> None:
    key = SigningKey.generate()
    save_signing_key(key, tmp_path / "id", None)
    assert load_signing_key(tmp_path / "id", b"unneeded").public == key.public


def test_empty_passphrase_writes_an_unencrypted_key(tmp_path: Path) -> None:
    key = SigningKey.generate()
    save_signing_key(key, tmp_path / "id", b"")
    assert load_signing_key(tmp_path / "id", None).public == key.public


@pytest.mark.parametrize("fmt", ["openssh", "pkcs8"])
def test_wrong_passphrase_is_a_bad_key_that_names_the_env_variable(
    tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / "id"
    if fmt == "openssh":
        save_signing_key(SigningKey.generate(), path, b"right")
    else:
        enc = BestAvailableEncryption(b"right")
        pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, enc)
        path.write_bytes(pem)
    with pytest.raises(BadKey, match="wrong passphrase") as caught:
        load_signing_key(path, b"wrong")
    assert caught.value.hint is not None
    assert "FACTLEDGER_PASSPHRASE" in caught.value.hint
    with pytest.raises(BadKey, match="no passphrase") as caught:
        load_signing_key(path, None)
    assert caught.value.hint is not None
    assert "FACTLEDGER_PASSPHRASE" in caught.value.hint


def test_missing_key_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="not found"):
        load_signing_key(tmp_path / "absent", None)


def test_directory_given_as_key_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        load_signing_key(tmp_path, None)


def test_non_ed25519_key_is_a_bad_key(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(BadKey, match="Ed25519 only"):
        load_signing_key(path, None)


def test_public_key_file_given_as_private_key_is_a_bad_key(tmp_path: Path) -> None:
    save_signing_key(SigningKey.generate(), tmp_path / "id", None)
    with pytest.raises(BadKey) as caught:
        load_signing_key(tmp_path / "id.pub", None)
    assert caught.value.hint is not None
    assert "public key" in caught.value.hint


def test_comment_of_a_pub_file_for_another_key_is_not_used(tmp_path: Path) -> None:
    save_signing_key(SigningKey.generate(), tmp_path / "id", None)
    other = SigningKey.generate(comment="someone-else")
    (tmp_path / "id.pub").write_text(other.public.openssh_line() + "\n")
    assert load_signing_key(tmp_path / "id", None).public.comment == ""


def test_saved_private_key_has_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_signing_key(SigningKey.generate(), tmp_path / "id", None)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "id").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "id.pub").stat().st_mode) == 0o644
    assert key_file_is_private(tmp_path / "id")


def test_private_key_file_is_created_exclusively_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        calls.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", spy)
    save_signing_key(SigningKey.generate(), tmp_path / "id", None)
    path, flags, mode = calls[0]
    assert path == os.fspath(tmp_path / "id")
    assert flags & os.O_CREAT
    assert flags & os.O_EXCL
    assert mode == 0o600


def test_key_file_readable_by_others_is_reported_as_not_private(tmp_path: Path) -> None:
    save_signing_key(SigningKey.generate(), tmp_path / "id", None)
    (tmp_path / "id").chmod(0o640)
    assert not key_file_is_private(tmp_path / "id")
    assert load_signing_key(tmp_path / "id", None) is not None  # loading still works


@pytest.mark.parametrize("existing", ["id", "id.pub"])
def test_save_refuses_to_overwrite_an_existing_key(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("precious")
    with pytest.raises(UsageError, match="already exists") as caught:
        save_signing_key(SigningKey.generate(), tmp_path / "id", None)
    assert caught.value.hint is not None
    assert (tmp_path / existing).read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


def test_save_into_a_missing_directory_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        save_signing_key(SigningKey.generate(), tmp_path / "no" / "id", None)
