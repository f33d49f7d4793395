"""Signing with libsodium (PyNaCl) gives the bytes pyca/OpenSSL gives, and RFC 8032's.

:meth:`SigningKey.sign` signs through libsodium because it is faster. Ed25519
signatures are deterministic (RFC 8032 §5.1.6: the nonce is a hash of the key's
prefix and the message), so the library must not matter: these tests pin that on
the RFC's vectors, on keys from every way a :class:`SigningKey` is made, and on
arbitrary seeds and messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair
from nacl.signing import SigningKey as NaclSigningKey

from ledger.keys import SigningKey, load_signing_key, save_signing_key, signature_ok

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RFC8032: list[dict[str, str]] = json.loads(
    (FIXTURES / "vectors" / "rfc8032-ed25519" / "rfc8032-ed25519.json").read_text("utf-8")
)["vectors"]
DEMO_KEYS = sorted((FIXTURES / "keys").glob("*.key"))
MESSAGES = [b"", b"x", b"factledger/v1/entry\n" + b"{}" * 200, bytes(range(256)) * 9]


def _pyca(seed: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def _libsodium(seed: bytes, message: bytes) -> bytes:
    _, secret = crypto_sign_seed_keypair(seed)
    return crypto_sign(message, secret)[:64]


def _every_signer(key: SigningKey, message: bytes) -> bytes:
    """Sign enough times to use both of SigningKey's signers; all must agree."""
    made = {key.sign(message) for _ in range(4)}  # pyca for the first two, then libsodium
    assert key._signer is not None  # libsodium's signer was used
    assert len(made) == 1
    return made.pop()


@pytest.mark.parametrize("vector", RFC8032, ids=lambda v: v["name"])
def test_both_libraries_and_signing_key_give_the_rfc8032_signature(
    vector: dict[str, str],
) -> None:
    seed, message = bytes.fromhex(vector["secret_key"]), bytes.fromhex(vector["message"])
    expected = bytes.fromhex(vector["signature"])
    assert _pyca(seed, message) == expected
    assert _libsodium(seed, message) == expected
    assert NaclSigningKey(seed).sign(message).signature == expected
    assert _every_signer(SigningKey.from_seed(seed), message) == expected


@settings(max_examples=200, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=2048))
def test_signing_key_signs_exactly_as_pyca_for_any_seed_and_message(
    seed: bytes, message: bytes
) -> None:
    key = SigningKey.from_seed(seed)
    sig = _every_signer(key, message)
    assert sig == _pyca(seed, message)
    assert signature_ok(key.public.raw, sig, message)


def _same_as_pyca(key: SigningKey) -> None:
    private: Any = key._private  # the pyca key the SigningKey wraps
    for message in MESSAGES:
        assert _every_signer(key, message) == private.sign(message)


@pytest.mark.parametrize("path", DEMO_KEYS, ids=lambda p: p.name)
def test_keys_loaded_from_openssh_files_sign_as_pyca(path: Path) -> None:
    _same_as_pyca(load_signing_key(path, None))


def test_generated_keys_and_keys_saved_and_loaded_again_sign_as_pyca(tmp_path: Path) -> None:
    key = SigningKey.generate("someone@example.org")
    _same_as_pyca(key)
    save_signing_key(key, tmp_path / "k", b"passphrase")
    again = load_signing_key(tmp_path / "k", b"passphrase")
    _same_as_pyca(again)
    assert again.sign(MESSAGES[2]) == key.sign(MESSAGES[2])


def test_two_keys_keep_their_own_signers() -> None:
    one, two = SigningKey.from_seed(bytes(32)), SigningKey.from_seed(bytes([1]) * 32)
    message = MESSAGES[2]
    assert one.sign(message) != two.sign(message)
    assert signature_ok(one.public.raw, one.sign(message), message)
    assert signature_ok(two.public.raw, two.sign(message), message)
    assert not signature_ok(two.public.raw, one.sign(message), message)


def test_a_key_that_has_signed_still_shows_only_its_fingerprint() -> None:
    seed = bytes(range(32))
    key = SigningKey.from_seed(seed)
    key.sign(b"m")
    _, secret = crypto_sign_seed_keypair(seed)
    for shown in (repr(key), str(key)):
        assert shown == f"SigningKey({key.public.fingerprint})"
        assert seed.hex() not in shown
        assert secret.hex() not in shown
