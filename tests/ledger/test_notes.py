"""C2SP signed notes (c2sp.org/signed-note) against the spec's and Go's examples."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import BadKey, NoteError
from ledger.keys import SigningKey
from ledger.notes import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    NoteVerifier,
    add_signature,
    note_key_id,
    open_note,
    parse_vkey,
    sign_note,
)

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"
EXAMPLES: dict[str, Any] = json.loads(
    (VECTORS / "c2sp-signed-note" / "signed-note-examples.json").read_text(encoding="utf-8")
)
VERIFIERS = {k["name"]: parse_vkey(k["vkey"]) for k in EXAMPLES["keys"]}
ERROR_TEXT = {
    "unverified": "note has no verifiable signatures",
    "invalid signature": "invalid signature for key",
    "malformed": "malformed note",
}
PETER = EXAMPLES["valid_notes"][1]


def _trusted(names: list[str]) -> list[NoteVerifier]:
    return [VERIFIERS[name] for name in names]


def _peter_signing_key() -> SigningKey:
    skey = next(k["skey"] for k in EXAMPLES["keys"] if k["name"] == "PeterNeumann")
    _, _, name, hex_id, blob = skey.split("+", 4)
    raw = base64.b64decode(blob)
    assert raw[0] == 0x01
    key = SigningKey.from_seed(raw[1:])
    assert note_key_id(name, key.public).hex() == hex_id
    return key


@pytest.mark.parametrize("case", EXAMPLES["valid_notes"], ids=lambda c: c["desc"])
def test_valid_note_opens_with_the_expected_signers(case: dict[str, Any]) -> None:
    opened = open_note(case["note"], _trusted(case["trusted"]))
    assert opened.text == case["want_text"]
    assert [v.name for v in opened.verified] == case["want_verified"]
    assert [name for name, _ in opened.unverified] == case["want_unverified"]


@pytest.mark.parametrize("case", EXAMPLES["invalid_notes"], ids=lambda c: c["desc"])
def test_invalid_note_is_rejected_with_the_named_error(case: dict[str, Any]) -> None:
    with pytest.raises(NoteError, match=ERROR_TEXT[case["want_error"]]):
        open_note(case["note"], _trusted(case["trusted"]))


@pytest.mark.parametrize("case", EXAMPLES["invalid_notes_bytes_hex"], ids=lambda c: c["desc"])
def test_invalid_note_bytes_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(NoteError, match=ERROR_TEXT[case["want_error"]]):
        open_note(bytes.fromhex(case["note_hex"]), _trusted(case["trusted"]))


@pytest.mark.parametrize("case", EXAMPLES["invalid_vkeys"], ids=lambda c: c["why"])
def test_invalid_verifier_key_is_rejected(case: dict[str, str]) -> None:
    with pytest.raises(BadKey):
        parse_vkey(case["vkey"])


@pytest.mark.parametrize("key", EXAMPLES["keys"], ids=lambda k: k["name"])
def test_verifier_key_round_trips(key: dict[str, str]) -> None:
    verifier = parse_vkey(key["vkey"])
    assert verifier.name == key["name"]
    assert verifier.vkey() == key["vkey"]
    assert verifier.key_id.hex() == key["vkey"].split("+")[1]


@pytest.mark.parametrize(
    "vkey",
    [
        pytest.param(
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", id="hex"
        ),
        pytest.param("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", id="id"),
        pytest.param("Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq", id="plus-in-name"),
        pytest.param("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", id="empty-name"),
        pytest.param("PeterNeumann+c74f20a3", id="no-key"),
    ],
)
def test_verifier_key_with_wrong_id_or_shape_is_rejected(vkey: str) -> None:
    with pytest.raises(BadKey):
        parse_vkey(vkey)


def test_peter_neumann_key_reproduces_the_golden_note_byte_for_byte() -> None:
    note = sign_note(PETER["want_text"], "PeterNeumann", _peter_signing_key())
    assert note == PETER["note"]


def test_signed_note_opens_with_its_own_verifier() -> None:
    key = SigningKey.generate()
    text = "line one\n\nafter an empty line\n"
    verifier = NoteVerifier("example.org/log", key.public)
    opened = open_note(sign_note(text, "example.org/log", key), [verifier])
    assert opened.text == text
    assert opened.verified == (verifier,)


def test_note_may_be_given_as_bytes() -> None:
    opened = open_note(PETER["note"].encode(), _trusted(["PeterNeumann"]))
    assert opened.text == PETER["want_text"]


def test_cosigning_keeps_existing_signatures_and_adds_ours() -> None:
    witness = SigningKey.generate()
    cosigned = add_signature(PETER["note"], "witness.example/w1", witness)
    assert cosigned.startswith(PETER["note"])
    verifiers = [*_trusted(["PeterNeumann"]), NoteVerifier("witness.example/w1", witness.public)]
    opened = open_note(cosigned, verifiers)
    assert [v.name for v in opened.verified] == ["PeterNeumann", "witness.example/w1"]


def test_cosigning_twice_with_the_same_key_is_idempotent() -> None:
    witness = SigningKey.generate()
    once = add_signature(PETER["note"], "witness.example/w1", witness)
    assert add_signature(once, "witness.example/w1", witness) == once


def test_cosigning_refuses_to_exceed_the_signature_limit() -> None:
    line = PETER["note"].split("\n\n")[1]
    full = PETER["want_text"] + "\n" + line * MAX_SIGNATURES
    with pytest.raises(NoteError, match="more than 100"):
        add_signature(full, "witness.example/w1", SigningKey.generate())


def test_exactly_100_signatures_are_accepted() -> None:
    line = PETER["note"].split("\n\n")[1]
    note = PETER["want_text"] + "\n" + line * MAX_SIGNATURES
    assert open_note(note, _trusted(["PeterNeumann"])).text == PETER["want_text"]


def test_signature_by_an_unknown_key_with_a_known_name_is_ignored() -> None:
    stranger = SigningKey.generate()
    note = add_signature(PETER["note"], "PeterNeumann", stranger)
    opened = open_note(note, _trusted(["PeterNeumann"]))
    assert [v.name for v in opened.verified] == ["PeterNeumann"]
    assert opened.unverified == (("PeterNeumann", note_key_id("PeterNeumann", stranger.public)),)


def test_repeated_unknown_signature_is_reported_once() -> None:
    enoch_line = EXAMPLES["valid_notes"][2]["note"].split("\n\n")[1].split("\n")[1] + "\n"
    note = PETER["note"] + enoch_line + enoch_line
    opened = open_note(note, _trusted(["PeterNeumann"]))
    assert [name for name, _ in opened.unverified] == ["EnochRoot"]


def test_later_bad_signature_by_a_trusted_key_rejects_the_note() -> None:
    good = PETER["note"]
    name_id = base64.b64decode(good.split()[-1])[:4]
    forged = "— PeterNeumann " + base64.b64encode(name_id + bytes(64)).decode() + "\n"
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann"):
        open_note(good + forged, _trusted(["PeterNeumann"]))


def test_trusted_signature_of_the_wrong_length_is_an_invalid_signature() -> None:
    name_id = base64.b64decode(PETER["note"].split()[-1])[:4]
    short = "— PeterNeumann " + base64.b64encode(name_id + bytes(10)).decode() + "\n"
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(PETER["want_text"] + "\n" + short, _trusted(["PeterNeumann"]))


def test_changed_text_fails_the_trusted_signature() -> None:
    tampered = PETER["note"].replace("answer", "ANSWER")
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(tampered, _trusted(["PeterNeumann"]))


@pytest.mark.parametrize(
    "note",
    [
        pytest.param(PETER["note"].replace("\n", "\r\n"), id="crlf"),
        pytest.param(PETER["note"].replace("\u2014", "-"), id="hyphen-not-em-dash"),
        pytest.param(PETER["note"].replace("— ", "—"), id="no-space-after-dash"),
        pytest.param(PETER["note"].replace("AM=\n", "AM\n"), id="unpadded-signature"),
        pytest.param(PETER["note"].replace("AM=\n", "AN=\n"), id="non-canonical-base64"),
        pytest.param(PETER["note"].replace("PeterNeumann x", "PeterNeumann  x"), id="two-spaces"),
        pytest.param(PETER["want_text"] + "\n— PeterNeumann AAAAAA==\n", id="4-byte-signature"),
        pytest.param(PETER["note"] + "\n", id="trailing-blank-line"),
        pytest.param("\ud800" + PETER["note"], id="lone-surrogate"),
    ],
)
def test_malformed_note_is_rejected(note: str) -> None:
    with pytest.raises(NoteError, match="malformed note"):
        open_note(note, _trusted(["PeterNeumann"]))


def test_note_larger_than_the_size_cap_is_rejected() -> None:
    huge = "x" * MAX_NOTE_BYTES + "\n" + PETER["note"]
    with pytest.raises(NoteError, match="larger than"):
        open_note(huge, _trusted(["PeterNeumann"]))
    with pytest.raises(NoteError, match="larger than"):
        open_note(huge.encode(), _trusted(["PeterNeumann"]))


@pytest.mark.parametrize(
    "text", ["", "no final newline", "tab\there\n", "bell\x07\n", "\ud800\n"], ids=repr
)
def test_sign_refuses_text_that_cannot_be_a_note(text: str) -> None:
    with pytest.raises(NoteError, match="malformed note"):
        sign_note(text, "example.org/log", SigningKey.generate())


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "nbsp\u00a0", "tab\t"], ids=repr)
def test_sign_refuses_an_invalid_key_name(name: str) -> None:
    with pytest.raises(NoteError, match="invalid note key name"):
        sign_note("text\n", name, SigningKey.generate())
    with pytest.raises(NoteError, match="invalid note key name"):
        NoteVerifier(name, SigningKey.generate().public)
