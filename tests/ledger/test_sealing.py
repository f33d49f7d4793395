"""The sealer's shortcuts give what the slow, obvious path gives, byte for byte.

- :func:`seal_line` splices the entry's line from the header and body bytes it has
  already encoded: it must equal :func:`encode_entry` of the entry, and reproduce
  published lines (the format vectors, the demo ledger) exactly.
- The header is checked field by field against the schema's own constraints
  instead of being decoded again: whatever that accepts, the full decoder accepts,
  and whatever the decoder refuses, sealing still refuses with rule ``schema``.
- ``Writer.append`` writes the spliced lines and ``Writer.append_sealed`` takes
  them as sealed: the files are those the encoding path writes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.codec import decode_entry, encode_entry
from ledger.entry import (
    _HEADER_CHECK,
    Header,
    _header_fields_ok,
    digest,
    seal_digest,
    seal_line,
)
from ledger.errors import DecodeError
from ledger.events import UNSET, ClaimAssertedBody, NoteAddedBody
from ledger.keys import SigningKey, load_signing_key
from ledger.ledger import Draft, Ledger, new_id, new_salt
from ledger.writer import Refused

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FORMAT = json.loads((FIXTURES / "vectors" / "factledger-format" / "vectors.json").read_text())
DEMO = FIXTURES / "ledgers" / "firstpost-2024-al-qaeda-taliban" / "events.jsonl"
OWNER = SigningKey.from_seed(bytes(range(32)), "owner@example.org")
AT = "2024-01-02T00:00:00Z"
EID = "0123456789abcdef" * 4


def _fields(entry: Any, keys: dict[str, SigningKey]) -> dict[str, Any]:
    """seal's arguments that made ``entry``, with its author's key."""
    return {
        "kind": entry.kind,
        "subject": entry.subject,
        "parent": entry.parent,
        "at": entry.at,
        "body": entry.body,
        "key": keys[entry.author],
    }


def _reseal(line: bytes, keys: dict[str, SigningKey]) -> None:
    """Sign the entry of ``line`` again with its author's key: the same line must come out."""
    entry = decode_entry(line)
    assert entry.body is not UNSET
    sealed = seal_line(**_fields(entry, keys))
    assert sealed.line == line
    assert sealed.entry == entry
    assert sealed.digest == digest(entry)
    assert seal_digest(**_fields(entry, keys)) == (sealed.entry, sealed.digest)


@pytest.mark.parametrize("vec", FORMAT["entries"], ids=lambda v: f"{v['seq']}-{v['kind']}")
def test_seal_line_reproduces_the_format_vectors(vec: dict[str, Any]) -> None:
    keys = {
        k["fingerprint"]: SigningKey.from_seed(bytes.fromhex(k["TEST_ONLY_private_seed_hex"]))
        for k in FORMAT["keys"]
    }
    _reseal(vec["line"].encode(), keys)
    sealed = seal_line(**_fields(decode_entry(vec["line"].encode()), keys))
    assert sealed.digest.header.decode() == vec["header_canonical"]
    assert sealed.digest.leaf_input.decode() == vec["leaf_input"]
    assert sealed.digest.event_id == vec["event_id"]


def test_seal_line_reproduces_every_entry_of_the_demo_ledger() -> None:
    """Every kind with a body, non-ASCII text, escapes, all signed with OpenSSH key files."""
    keys = {}
    for path in sorted((FIXTURES / "keys").glob("*.key")):
        key = load_signing_key(path, None)
        keys[key.public.fingerprint] = key
    lines = DEMO.read_bytes().splitlines()
    resealed = 0
    for line in lines:
        if decode_entry(line).body is not UNSET:
            _reseal(line, keys)
            resealed += 1
    assert resealed >= len(lines) - 1  # the demo's one redacted line has no body


@pytest.mark.parametrize(
    "text",
    ["plain", 'quote " and \\ backslash', "tab\tnewline\n", "ü 中 😀 \u2028", "\x00\x1f\x7f"],
)
def test_the_spliced_line_is_the_encoded_line(text: str) -> None:
    body = ClaimAssertedBody(
        salt="AAAAAAAAAAAAAAAAAAAAAA==",
        text=text,
        kind="factual",
        claimant=text,
        appearance=None,
        topics=[text, "body_hash"],
    )
    for parent in (None, EID):
        sealed = seal_line(
            kind="claim.asserted", subject="clm_aaaaaaaaaaaa", parent=parent, at=AT, body=body,
            key=OWNER,
        )  # fmt: skip
        assert sealed.line == encode_entry(sealed.entry)
        assert decode_entry(sealed.line) == sealed.entry


# --- the header check ---------------------------------------------------------------


def _full_check_passes(kind: Any, subject: Any, parent: Any, at: Any, author: Any) -> bool:
    header = Header(
        at=at, author=author, body_hash="0" * 64, kind=kind, parent=parent, subject=subject, v=1
    )
    try:
        _HEADER_CHECK.decode(msgspec.json.encode(header, order="sorted"))
    except (msgspec.ValidationError, TypeError, UnicodeEncodeError):
        return False
    return True


NEAR_MISSES = st.sampled_from(
    [
        AT,
        AT + "\n",
        "\n" + AT,
        AT.replace("Z", "z"),
        "2024-01-02 00:00:00Z",
        "2024-01-02T00:00:00+00:00",
        "٢٠٢٤-01-02T00:00:00Z",  # Arabic-Indic digits: not [0-9]
        EID,
        EID + "\n",
        EID.upper(),
        EID[:-1],
        EID + "0",
        OWNER.public.fingerprint,
        OWNER.public.fingerprint + "\n",
        OWNER.public.fingerprint[:-1],
        OWNER.public.fingerprint.replace("SHA256", "sha256"),
        "",
    ]
)
VALUES = st.one_of(NEAR_MISSES, st.text(max_size=80), st.none(), st.integers())


@settings(max_examples=500, deadline=None)
@given(kind=VALUES, subject=VALUES, parent=VALUES, at=VALUES, author=VALUES)
@example(kind="note.added", subject="clm_x", parent=None, at=AT, author=OWNER.public.fingerprint)
@example(kind="note.added", subject="clm_x", parent=EID, at=AT, author=OWNER.public.fingerprint)
def test_header_fields_ok_agrees_with_the_full_check(
    kind: Any, subject: Any, parent: Any, at: Any, author: Any
) -> None:
    fast = _header_fields_ok(kind, subject, parent, at, author)
    full = _full_check_passes(kind, subject, parent, at, author)
    assert fast == full


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("at", "2024-01-02T00:00:00Z\n", "$.at"),
        ("at", "yesterday", "$.at"),
        ("parent", EID.upper(), "$.parent"),
        ("parent", EID + "\n", "$.parent"),
    ],
)
def test_sealing_refuses_a_header_outside_the_schema(field: str, value: str, where: str) -> None:
    body = NoteAddedBody(salt="AAAAAAAAAAAAAAAAAAAAAA==", text="t", in_reply_to=None)
    fields: dict[str, Any] = {
        "kind": "note.added",
        "subject": "clm_aaaaaaaaaaaa",
        "parent": None,
        "at": AT,
        "body": body,
        "key": OWNER,
        field: value,
    }
    for seal_fn in (seal_line, seal_digest):
        with pytest.raises(DecodeError) as caught:
            seal_fn(**fields)
        assert caught.value.rule == "schema"
        assert where in caught.value.message


# --- the writer -------------------------------------------------------------------


def _ledger(root: Path) -> Ledger:
    rng = random.Random(5)
    return Ledger.init(
        root, origin="example.org/seal", key=OWNER, owner_name="Owner", at=AT, rng=rng.randbytes
    )


def _claims(n: int, seed: int) -> list[Draft]:
    rng = random.Random(seed)
    return [
        Draft(
            "claim.asserted",
            new_id("clm_", rng.randbytes),
            ClaimAssertedBody(
                salt=new_salt(rng.randbytes),
                text=f"claim {i} – “quoted”",
                kind="factual",
                claimant="c",
                appearance=None,
                topics=[],
            ),
        )
        for i in range(n)
    ]


def test_writer_append_writes_each_entry_as_encode_entry_does(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "l")
    drafts = _claims(30, seed=1)
    notes = [
        Draft("note.added", d.subject, NoteAddedBody(salt=d.body.salt, text="n", in_reply_to=None))
        for d in drafts[:10]
    ]
    with ledger.writer() as writer:
        done = writer.append(drafts, OWNER, at=AT)
        done += writer.append(notes, OWNER, at=AT)  # each on the head the batch before made
    lines = ledger.events_path.read_bytes().splitlines()[1:]
    assert lines == [encode_entry(item.entry) for item in done]
    assert [decode_entry(line) for line in lines] == [item.entry for item in done]
    assert [digest(item.entry).event_id for item in done] == [item.id for item in done]


def test_append_sealed_writes_what_append_signed_writes(tmp_path: Path) -> None:
    roots = [tmp_path / "signed", tmp_path / "sealed"]
    ledgers = [_ledger(root) for root in roots]
    assert (roots[0] / "events.jsonl").read_bytes() == (roots[1] / "events.jsonl").read_bytes()
    sealed = [
        seal_line(kind=d.kind, subject=d.subject, parent=None, at=AT, body=d.body, key=OWNER)
        for d in _claims(20, seed=2)
    ]
    with ledgers[0].writer() as writer:
        by_entries = writer.append_signed([s.entry for s in sealed], OWNER)
    with ledgers[1].writer() as writer:
        by_sealed = writer.append_sealed(sealed, OWNER)
    assert by_entries == by_sealed
    for name in ("events.jsonl", "checkpoint"):
        assert (roots[0] / name).read_bytes() == (roots[1] / name).read_bytes()


def test_append_sealed_checks_the_rules_and_a_refusal_writes_nothing(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "l")
    (draft,) = _claims(1, seed=3)
    first = seal_line(
        kind=draft.kind, subject=draft.subject, parent=None, at=AT, body=draft.body, key=OWNER
    )
    before = ledger.events_path.read_bytes(), ledger.checkpoint_path.read_bytes()
    stranger = SigningKey.from_seed(bytes([7]) * 32)
    unknown = seal_line(
        kind=draft.kind, subject=draft.subject, parent=None, at=AT, body=draft.body, key=stranger
    )
    with ledger.writer() as writer, pytest.raises(Refused) as caught:
        writer.append_sealed([first, first, unknown], OWNER)
    assert {p.rule for _, _, p in caught.value.problems} >= {"unknown-key", "stale-parent"}
    assert (ledger.events_path.read_bytes(), ledger.checkpoint_path.read_bytes()) == before
