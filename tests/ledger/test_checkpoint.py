"""C2SP tlog-checkpoints (c2sp.org/tlog-checkpoint) signed as notes (DESIGN §5)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    open_checkpoint,
    parse_body,
    sign_checkpoint,
)
from ledger.errors import NoteError
from ledger.keys import SigningKey, parse_public_key
from ledger.notes import add_signature, note_key_id, sign_note

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"
FORMAT: dict[str, Any] = json.loads(
    (VECTORS / "factledger-format" / "vectors.json").read_text(encoding="utf-8")
)
EXAMPLES: dict[str, Any] = json.loads(
    (VECTORS / "c2sp-signed-note" / "signed-note-examples.json").read_text(encoding="utf-8")
)
ORIGIN: str = FORMAT["origin"]
ROOT = base64.b64decode(FORMAT["merkle_root_b64"])
ZERO_ROOT_B64 = base64.b64encode(bytes(32)).decode()


def _key(label: str) -> SigningKey:
    vector = next(k for k in FORMAT["keys"] if k["label"] == label)
    return SigningKey.from_seed(bytes.fromhex(vector["TEST_ONLY_private_seed_hex"]))


OWNER = _key("owner")
CHECKPOINT = Checkpoint(ORIGIN, FORMAT["tree_size"], ROOT)


def _text_of(note: str) -> str:
    return note[: note.rindex("\n\n") + 1]


def test_checkpoint_body_reproduces_the_format_vector() -> None:
    assert CHECKPOINT.body() == FORMAT["checkpoint_note_body"]


def test_signed_checkpoint_reproduces_the_format_vector_byte_for_byte() -> None:
    assert sign_checkpoint(CHECKPOINT, OWNER) == FORMAT["checkpoint"]


def test_checkpoint_file_of_the_vector_ledger_opens_with_the_owner_key() -> None:
    note = (VECTORS / "factledger-format" / "ledger" / "checkpoint").read_bytes()
    assert open_checkpoint(note, ORIGIN, [OWNER.public]) == CHECKPOINT


@pytest.mark.parametrize("vector", FORMAT["keys"], ids=lambda k: k["label"])
def test_note_key_id_of_each_ledger_key_matches_the_vector(vector: dict[str, str]) -> None:
    public = parse_public_key(vector["public_openssh"])
    assert note_key_id(ORIGIN, public).hex() == vector["note_key_id_hex"]


def test_c2sp_example_checkpoint_parses() -> None:
    case = EXAMPLES["checkpoints"][0]
    cp = parse_body(_text_of(case["note"]))
    assert cp.origin == case["want_origin"]
    assert cp.size == case["want_size"]
    assert base64.b64encode(cp.root).decode() == case["want_root_b64"]
    assert cp.body() == _text_of(case["note"])


def test_go_sumdb_tree_body_parses() -> None:
    case = EXAMPLES["checkpoints"][1]
    cp = parse_body(case["body"], origin="go.sum database tree")
    assert cp.size == case["want_size"]
    assert cp.body() == case["body"]


@pytest.mark.parametrize("case", EXAMPLES["invalid_checkpoint_bodies"], ids=lambda c: c["why"])
def test_invalid_checkpoint_body_is_rejected(case: dict[str, str]) -> None:
    with pytest.raises(NoteError):
        parse_body(case["body"], origin="go.sum database tree")


@pytest.mark.parametrize(
    "size",
    ["012", "00", "+12", "-1", "12 ", " 12", "", "1_000", "0x10", "1e3", "\uff11\uff12", "١٢"],
    ids=repr,
)
def test_non_canonical_tree_size_is_rejected(size: str) -> None:
    with pytest.raises(NoteError, match="canonical decimal"):
        parse_body(f"{ORIGIN}\n{size}\n{ZERO_ROOT_B64}\n")


def test_tree_size_above_2_63_minus_1_is_rejected() -> None:
    assert parse_body(f"{ORIGIN}\n{MAX_TREE_SIZE}\n{ZERO_ROOT_B64}\n").size == 2**63 - 1
    for size in (str(2**63), "9" * 19, "9" * 20):
        with pytest.raises(NoteError):
            parse_body(f"{ORIGIN}\n{size}\n{ZERO_ROOT_B64}\n")


def test_empty_tree_has_size_zero() -> None:
    assert parse_body(f"{ORIGIN}\n0\n{ZERO_ROOT_B64}\n").size == 0


@pytest.mark.parametrize(
    "root",
    [
        base64.b64encode(bytes(31)).decode(),
        base64.b64encode(bytes(33)).decode(),
        ZERO_ROOT_B64.rstrip("="),
        ZERO_ROOT_B64[:-2] + "B=",  # non-zero padding bits: not the canonical spelling
        base64.urlsafe_b64encode(b"\xff" * 32).decode(),
        "",
    ],
    ids=["31-bytes", "33-bytes", "unpadded", "non-canonical", "urlsafe", "empty"],
)
def test_root_that_is_not_32_bytes_of_standard_base64_is_rejected(root: str) -> None:
    with pytest.raises(NoteError):
        parse_body(f"{ORIGIN}\n12\n{root}\n")


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n12\n",
        f"{ORIGIN}\n12\n{ZERO_ROOT_B64}",
        f"\n12\n{ZERO_ROOT_B64}\n",
        f"{ORIGIN}\n12\n{ZERO_ROOT_B64}\n\n",
        f"{ORIGIN}\r\n12\n{ZERO_ROOT_B64}\n",
    ],
    ids=["two-lines", "no-final-newline", "empty-origin", "empty-extension", "cr-in-origin"],
)
def test_body_with_missing_or_empty_lines_is_rejected(body: str) -> None:
    with pytest.raises(NoteError, match="malformed checkpoint"):
        parse_body(body)


def test_extension_lines_are_kept_and_written_back() -> None:
    body = f"{ORIGIN}\n12\n{ZERO_ROOT_B64}\next one\next two\n"
    cp = parse_body(body)
    assert cp.extensions == ("ext one", "ext two")
    assert cp.body() == body


def test_checkpoint_refuses_values_it_could_not_write() -> None:
    for origin, size, root in [
        ("", 1, ROOT),
        ("a\nb", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, 2**63, ROOT),
        (ORIGIN, 1, ROOT[:31]),
    ]:
        with pytest.raises(NoteError):
            Checkpoint(origin, size, root)


def test_checkpoint_signed_by_an_unknown_key_is_rejected() -> None:
    note = sign_checkpoint(CHECKPOINT, _key("editor"))
    with pytest.raises(NoteError, match="no verifiable signatures"):
        open_checkpoint(note, ORIGIN, [OWNER.public])


def test_checkpoint_signed_under_another_key_name_is_rejected() -> None:
    note = sign_note(CHECKPOINT.body(), "example.org/other", OWNER)
    with pytest.raises(NoteError, match="no verifiable signatures"):
        open_checkpoint(note, ORIGIN, [OWNER.public])


def test_checkpoint_for_another_origin_is_rejected_even_if_signed_as_ours() -> None:
    foreign = Checkpoint("example.org/other", 12, ROOT)
    note = sign_note(foreign.body(), ORIGIN, OWNER)
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(note, ORIGIN, [OWNER.public])


def test_tampered_tree_size_fails_the_signature() -> None:
    tampered = FORMAT["checkpoint"].replace("\n12\n", "\n13\n", 1)
    with pytest.raises(NoteError, match="invalid signature"):
        open_checkpoint(tampered, ORIGIN, [OWNER.public])


def test_witness_cosignature_is_ignored_when_opening() -> None:
    cosigned = add_signature(FORMAT["checkpoint"], "witness.example/w1", SigningKey.generate())
    assert open_checkpoint(cosigned, ORIGIN, [OWNER.public]) == CHECKPOINT


def test_any_one_of_the_ledger_keys_may_sign() -> None:
    note = sign_checkpoint(CHECKPOINT, _key("editor"))
    keys = [OWNER.public, _key("editor").public]
    assert open_checkpoint(note, ORIGIN, keys) == CHECKPOINT


def test_101_signature_lines_are_rejected_and_100_accepted() -> None:
    text, line = FORMAT["checkpoint"].split("\n\n")
    assert open_checkpoint(f"{text}\n\n{line * 100}", ORIGIN, [OWNER.public]) == CHECKPOINT
    with pytest.raises(NoteError, match="more than 100 signatures"):
        open_checkpoint(f"{text}\n\n{line * 101}", ORIGIN, [OWNER.public])


def test_signing_refuses_an_origin_that_is_not_a_note_key_name() -> None:
    with pytest.raises(NoteError, match="invalid note key name"):
        sign_checkpoint(Checkpoint("go.sum database tree", 1, ROOT), OWNER)
