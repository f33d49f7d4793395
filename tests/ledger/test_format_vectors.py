"""Known answers from an independent implementation of DESIGN §2–5.

The vectors live in fixtures/vectors/factledger-format.

Every intermediate value must be reproduced byte for byte: the on-disk format is
a public contract.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.codec import canonical, decode_entry, encode_entry
from ledger.entry import (
    Header,
    event_id,
    header_of,
    leaf_input,
    redacted,
    seal,
    signed_message,
)
from ledger.events import UNSET
from ledger.keys import SigningKey

VECTORS = Path(__file__).parents[2] / "fixtures" / "vectors" / "factledger-format"
DATA: dict[str, Any] = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))
ENTRIES: list[dict[str, Any]] = DATA["entries"]
KEYS = {k["fingerprint"]: k for k in DATA["keys"]}


def signing_key(fingerprint: str) -> SigningKey:
    k = KEYS[fingerprint]
    return SigningKey.from_seed(bytes.fromhex(k["TEST_ONLY_private_seed_hex"]))


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [f"{v['seq']}-{v['kind']}" for v in vectors]


@pytest.mark.parametrize("vec", ENTRIES, ids=ids(ENTRIES))
def test_each_entry_reproduces_every_intermediate_value(vec: dict[str, Any]) -> None:
    entry = decode_entry(vec["line"].encode())
    assert entry.body is not UNSET
    assert canonical(entry.body).decode() == vec["body_canonical"]
    header = header_of(entry)
    assert header.body_hash == vec["body_hash"]
    assert canonical(header).decode() == vec["header_canonical"]
    assert signed_message(header) == vec["signed_message"].encode()
    assert leaf_input(entry).decode() == vec["leaf_input"]
    assert event_id(entry) == vec["event_id"]
    assert event_id(entry) == hashlib.sha256(b"\x00" + vec["leaf_input"].encode()).hexdigest()
    assert encode_entry(entry).decode() == vec["line"]


@pytest.mark.parametrize("vec", ENTRIES, ids=ids(ENTRIES))
def test_signing_the_same_header_with_the_vector_key_gives_the_same_signature(
    vec: dict[str, Any],
) -> None:
    entry = decode_entry(vec["line"].encode())
    assert entry.body is not UNSET
    again = seal(
        kind=entry.kind,
        subject=entry.subject,
        parent=entry.parent,
        at=entry.at,
        body=entry.body,
        key=signing_key(entry.author),
    )
    assert again.sig == vec["sig"]
    assert encode_entry(again).decode() == vec["line"]


def test_redacted_line_equals_the_vector_and_keeps_the_event_id() -> None:
    (vec,) = [v for v in ENTRIES if "line_after_redaction" in v]
    entry = decode_entry(vec["line"].encode())
    after = redacted(entry)
    assert encode_entry(after).decode() == vec["line_after_redaction"]
    assert event_id(after) == vec["event_id"]
    assert decode_entry(vec["line_after_redaction"].encode()) == after


def test_events_file_is_the_vector_lines_with_the_redaction_applied() -> None:
    expected = [v.get("line_after_redaction", v["line"]) for v in ENTRIES]
    on_disk = (VECTORS / "ledger" / "events.jsonl").read_text(encoding="utf-8")
    assert on_disk == "".join(line + "\n" for line in expected)


def test_merkle_root_and_signed_checkpoint_match_byte_for_byte() -> None:
    leaves = [bytes.fromhex(v["event_id"]) for v in ENTRIES]
    root = merkle.root(leaves)
    assert root.hex() == DATA["merkle_root_hex"]
    assert base64.b64encode(root).decode() == DATA["merkle_root_b64"]
    cp = Checkpoint(DATA["origin"], DATA["tree_size"], root)
    assert cp.body() == DATA["checkpoint_note_body"]
    owner = next(k for k in DATA["keys"] if k["label"] == "owner")
    note = sign_checkpoint(cp, signing_key(owner["fingerprint"]))
    assert note == DATA["checkpoint"]
    assert (VECTORS / "ledger" / "checkpoint").read_text(encoding="utf-8") == note


def test_header_struct_field_names_are_the_format_names() -> None:
    assert sorted(Header.__struct_fields__) == [
        "at",
        "author",
        "body_hash",
        "kind",
        "parent",
        "subject",
        "v",
    ]
