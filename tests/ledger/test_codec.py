"""The canonical encoding and its strict decoder (DESIGN §3).

A line is valid only if its bytes equal canonical(decode(line)). The golden line
below is copied by hand from the independent format vectors
(fixtures/vectors/factledger-format); every refusal must name the rule it breaks
and the line it is on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import events
from ledger.codec import MAX_LINE_BYTES, canonical, decode_body, decode_entry, encode_entry
from ledger.errors import DecodeError
from ledger.events import ClaimStatusBody, ClaimStatusSet
from ledger.ledger import Ledger, LedgerConfig

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"
FORMAT: dict[str, Any] = json.loads(
    (VECTORS / "factledger-format" / "vectors.json").read_text(encoding="utf-8")
)
JCS = VECTORS / "json-canonicalization"

GOLDEN = (
    b'{"at":"2024-04-04T12:01:00Z",'
    b'"author":"SHA256:ReCuieQFrXkjrMEdh9ahzhvJAJTqIfqwQeuaSb2DIcs",'
    b'"body":{"reason":null,"salt":"QTNeYESVewnwFGAf+z03Jg==","status":"published"},'
    b'"kind":"claim.status",'
    b'"parent":"b7880fca624c3440bfaede40b1f4491ef548a0b07563693abd8633a0ad2dab3a",'
    b'"sig":"McJllNGTtShp0FV49Xgo5rgp3yHbI5v/nPLRMdRhrjmFvE93hRjJYxia/ndV7rqZXw3cogLLi+aIXkWr9Y'
    b'z3Bw==","subject":"clm_bbbbbbbbbbbb","v":1}'
)
"""Entry 9 of the format vectors (claim.status), written out by hand."""

GENESIS = FORMAT["entries"][0]["line"].encode()
ASSERTED = FORMAT["entries"][4]["line"].encode()  # claim.asserted with a nested appearance
REDACTED = (VECTORS / "factledger-format" / "ledger" / "events.jsonl").read_bytes().split(b"\n")[7]
LINENO = 41


def refusal(line: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode_entry(line, lineno=LINENO, path="events.jsonl")
    return caught.value


def mutate(line: bytes, old: bytes, new: bytes) -> bytes:
    """Replace exactly one occurrence, so a typo in a test cannot silently mutate nothing."""
    assert line.count(old) == 1, old
    return line.replace(old, new)


# --- golden bytes ----------------------------------------------------------------


def test_golden_line_is_the_format_vector_line() -> None:
    assert FORMAT["entries"][9]["line"].encode() == GOLDEN


def test_golden_line_decodes_to_its_fields_and_reencodes_identically() -> None:
    entry = decode_entry(GOLDEN)
    assert isinstance(entry, ClaimStatusSet)
    assert entry.kind == "claim.status"
    assert entry.subject == "clm_bbbbbbbbbbbb"
    assert entry.body == ClaimStatusBody(
        salt="QTNeYESVewnwFGAf+z03Jg==", status="published", reason=None
    )
    assert encode_entry(entry) == GOLDEN


def test_entry_built_from_fields_encodes_to_the_golden_bytes() -> None:
    entry = ClaimStatusSet(
        v=1,
        subject="clm_bbbbbbbbbbbb",
        parent="b7880fca624c3440bfaede40b1f4491ef548a0b07563693abd8633a0ad2dab3a",
        at="2024-04-04T12:01:00Z",
        author="SHA256:ReCuieQFrXkjrMEdh9ahzhvJAJTqIfqwQeuaSb2DIcs",
        sig="McJllNGTtShp0FV49Xgo5rgp3yHbI5v/nPLRMdRhrjmFvE93hRjJYxia/ndV7rqZXw3cogLLi+aIXkWr9Y"
        "z3Bw==",
        body=ClaimStatusBody(salt="QTNeYESVewnwFGAf+z03Jg==", status="published", reason=None),
    )
    assert encode_entry(entry) == GOLDEN


@pytest.mark.parametrize("seq", range(len(FORMAT["entries"])))
def test_every_format_vector_line_roundtrips_byte_for_byte(seq: int) -> None:
    line = FORMAT["entries"][seq]["line"].encode()
    assert encode_entry(decode_entry(line)) == line


def test_redacted_header_form_line_roundtrips_and_carries_no_body() -> None:
    entry = decode_entry(REDACTED)
    assert entry.redacted
    assert entry.body_hash == "432a8d10e838daf262291d053832d5cdb7ff4a62651c65e557c3323914223718"
    assert encode_entry(entry) == REDACTED


def with_reason_of_length(n: int) -> bytes:
    """The golden line with its null ``reason`` replaced by ``n`` times ``x``."""
    return mutate(GOLDEN, b'"reason":null', b'"reason":"' + b"x" * n + b'"')


def test_a_line_of_exactly_the_limit_is_accepted() -> None:
    n = MAX_LINE_BYTES - len(with_reason_of_length(0))
    line = with_reason_of_length(n)
    assert len(line) == MAX_LINE_BYTES
    entry = decode_entry(line)
    assert isinstance(entry.body, ClaimStatusBody)
    assert entry.body.reason == "x" * n


# --- refusals: the bytes are not the canonical encoding ---------------------------


CANONICAL_REFUSALS = {
    "duplicate top-level key": mutate(GOLDEN, b'{"at":', b'{"at":"2024-04-04T12:01:00Z","at":'),
    "duplicate key in body": mutate(GOLDEN, b'"body":{', b'"body":{"reason":null,'),
    "duplicate key in nested appearance": mutate(
        ASSERTED, b'"appearance":{', b'"appearance":{"locator":"para 14",'
    ),
    "permuted top-level keys": b'{"v":1,' + GOLDEN[1 : -len(b',"v":1}')] + b"}",
    "permuted body keys": mutate(
        GOLDEN,
        b'{"reason":null,"salt":"QTNeYESVewnwFGAf+z03Jg==",',
        b'{"salt":"QTNeYESVewnwFGAf+z03Jg==","reason":null,',
    ),
    "space after a colon": mutate(GOLDEN, b'"v":1', b'"v": 1'),
    "space after a comma": mutate(GOLDEN, b',"v":1', b', "v":1'),
    "leading space": b" " + GOLDEN,
    "trailing space": GOLDEN + b" ",
    "trailing newline inside the line": GOLDEN + b"\n",
    "\\u0041 for A": mutate(ASSERTED, b'"text":"An attack', b'"text":"\\u0041n attack'),
    "escaped solidus": mutate(ASSERTED, b'"quote":"almost 137"', b'"quote":"almost\\/137"'),
    "uppercase hex in a \\u escape": mutate(
        ASSERTED, b'"quote":"almost 137"', b'"quote":"almost\\u001F137"'
    ),
    "\\u000a for newline": mutate(ASSERTED, b'"quote":"almost 137"', b'"quote":"almost\\u000a137"'),
    "escaped astral pair": mutate(
        ASSERTED, b'"quote":"almost 137"', b'"quote":"almost\\ud83d\\ude00"'
    ),
}


def test_permuted_key_fixture_really_is_a_permutation() -> None:
    permuted = CANONICAL_REFUSALS["permuted top-level keys"]
    assert sorted(permuted) == sorted(GOLDEN)
    assert permuted != GOLDEN


@pytest.mark.parametrize("line", CANONICAL_REFUSALS.values(), ids=CANONICAL_REFUSALS.keys())
def test_decode_refuses_bytes_that_are_not_the_canonical_encoding(line: bytes) -> None:
    error = refusal(line)
    assert error.rule == "canonical"
    assert error.line == LINENO
    assert error.path == "events.jsonl"


# --- refusals: not JSON ------------------------------------------------------------


JSON_REFUSALS = {
    "invalid UTF-8 in a string": mutate(ASSERTED, b'"text":"An', b'"text":"\xff\xfeAn'),
    "UTF-8 encoded surrogate": mutate(ASSERTED, b'"text":"An', b'"text":"\xed\xa0\x80An'),
    "overlong UTF-8 encoding of /": mutate(ASSERTED, b'"text":"An', b'"text":"\xc0\xafAn'),
    "lone high surrogate escape": mutate(ASSERTED, b'"text":"An', b'"text":"\\ud800An'),
    "lone low surrogate escape": mutate(ASSERTED, b'"text":"An', b'"text":"\\udc00An'),
    "trailing bytes": GOLDEN + b"x",
    "a second object": GOLDEN + GOLDEN,
    "truncated": GOLDEN[:-1],
}


@pytest.mark.parametrize("line", JSON_REFUSALS.values(), ids=JSON_REFUSALS.keys())
def test_decode_refuses_bytes_that_are_not_json(line: bytes) -> None:
    error = refusal(line)
    assert error.rule == "json"
    assert error.line == LINENO


# --- refusals: JSON that the v1 schema does not admit -----------------------------

BAD_PARENT = b'"parent":"b7880fca624c3440bfaede40b1f4491ef548a0b07563693abd8633a0ad2dab3a"'

SCHEMA_REFUSALS = {
    "float for an int": mutate(GOLDEN, b'"v":1}', b'"v":1.0}'),
    "exponent for an int": mutate(GOLDEN, b'"v":1}', b'"v":1e0}'),
    "bool for an int": mutate(GOLDEN, b'"v":1}', b'"v":true}'),
    "scale value 2^53": mutate(GENESIS, b'"value":5', b'"value":9007199254740992'),
    "scale value -2^53": mutate(GENESIS, b'"value":5', b'"value":-9007199254740992'),
    "scale value 2^64": mutate(GENESIS, b'"value":5', b'"value":18446744073709551616'),
    "unknown top-level field": mutate(GOLDEN, b'"v":1}', b'"v":1,"w":1}'),
    "unknown body field": mutate(GOLDEN, b'"status":"published"}', b'"status":"published","x":1}'),
    "unknown nested field": mutate(
        ASSERTED, b'"source":"src_aaaaaaaaaaaa"}', b'"source":"src_aaaaaaaaaaaa","x":1}'
    ),
    "unknown kind": mutate(GOLDEN, b'"kind":"claim.status"', b'"kind":"claim.deleted"'),
    "missing top-level field": mutate(GOLDEN, b'"at":"2024-04-04T12:01:00Z",', b""),
    "missing body field": mutate(GOLDEN, b'"reason":null,', b""),
    "missing kind": mutate(GOLDEN, b'"kind":"claim.status",', b""),
    "int for a string": mutate(GOLDEN, b'"reason":null', b'"reason":1'),
    "string for null-or-enum": mutate(GOLDEN, b'"status":"published"', b'"status":"deleted"'),
    "object for a string": mutate(GOLDEN, b'"subject":"clm_bbbbbbbbbbbb"', b'"subject":{}'),
    "version 2": mutate(GOLDEN, b'"v":1}', b'"v":2}'),
    "version 0": mutate(GOLDEN, b'"v":1}', b'"v":0}'),
    "both body and body_hash": mutate(
        GOLDEN,
        b'"author":"SHA256:ReCuieQFrXkjrMEdh9ahzhvJAJTqIfqwQeuaSb2DIcs",',
        b'"author":"SHA256:ReCuieQFrXkjrMEdh9ahzhvJAJTqIfqwQeuaSb2DIcs",'
        b'"body_hash":"' + b"0" * 64 + b'",',
    ),
    "neither body nor body_hash": re.sub(rb'"body":\{[^}]*\},', b"", GOLDEN),
    "salt in the URL-safe alphabet": mutate(
        GOLDEN, b'"salt":"QTNeYESVewnwFGAf+z03Jg=="', b'"salt":"QTNeYESVewnwFGAf-z03Jg=="'
    ),
    "salt with underscore": mutate(
        GOLDEN, b'"salt":"QTNeYESVewnwFGAf+z03Jg=="', b'"salt":"QTNeYESVewnwFGAf_z03Jg=="'
    ),
    "salt without padding": mutate(
        GOLDEN, b'"salt":"QTNeYESVewnwFGAf+z03Jg=="', b'"salt":"QTNeYESVewnwFGAf+z03Jg"'
    ),
    "salt with non-zero trailing bits": mutate(
        GOLDEN, b'"salt":"QTNeYESVewnwFGAf+z03Jg=="', b'"salt":"QTNeYESVewnwFGAf+z03Jh=="'
    ),
    "salt of 15 bytes": mutate(
        GOLDEN, b'"salt":"QTNeYESVewnwFGAf+z03Jg=="', b'"salt":"QTNeYESVewnwFGAf+z03"'
    ),
    "salt followed by an escaped newline": mutate(
        GOLDEN, b'"salt":"QTNeYESVewnwFGAf+z03Jg=="', b'"salt":"QTNeYESVewnwFGAf+z03Jg==\\n"'
    ),
    "at followed by an escaped newline": mutate(
        GOLDEN, b'"at":"2024-04-04T12:01:00Z"', b'"at":"2024-04-04T12:01:00Z\\n"'
    ),
    "parent followed by an escaped newline": mutate(GOLDEN, BAD_PARENT, BAD_PARENT[:-1] + b'\\n"'),
    "uppercase hex in parent": mutate(GOLDEN, BAD_PARENT, BAD_PARENT.upper()),
    "parent of 63 hex digits": mutate(GOLDEN, BAD_PARENT, BAD_PARENT[:-2] + b'"'),
    "at with a time zone offset": mutate(
        GOLDEN, b'"at":"2024-04-04T12:01:00Z"', b'"at":"2024-04-04T12:01:00+00:00"'
    ),
    "signature without padding": mutate(GOLDEN, b'z3Bw=="', b'z3Bw"'),
}


@pytest.mark.parametrize("line", SCHEMA_REFUSALS.values(), ids=SCHEMA_REFUSALS.keys())
def test_decode_refuses_json_outside_the_v1_schema(line: bytes) -> None:
    assert line != GOLDEN
    error = refusal(line)
    assert error.rule == "schema"
    assert error.line == LINENO


def test_largest_safe_integer_in_a_scale_value_is_admitted() -> None:
    line = mutate(GENESIS, b'"value":5', b'"value":9007199254740991')
    entry = decode_entry(line)
    assert isinstance(entry.body, events.LedgerCreatedBody)
    assert entry.body.scale[0].value == 2**53 - 1


@pytest.mark.parametrize("extra", [1, 1000])
def test_decode_refuses_a_line_over_one_mebibyte(extra: int) -> None:
    line = with_reason_of_length(MAX_LINE_BYTES - len(with_reason_of_length(0)) + extra)
    assert len(line) == MAX_LINE_BYTES + extra
    error = refusal(line)
    assert error.rule == "line-too-long"
    assert error.line == LINENO


def test_loading_a_ledger_reports_the_file_line_of_a_non_canonical_entry(tmp_path: Path) -> None:
    source = VECTORS / "factledger-format" / "ledger"
    lines = (source / "events.jsonl").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"v":1}', b'"v": 1}')
    (tmp_path / "ledger.toml").write_text(
        LedgerConfig(origin=FORMAT["origin"], trust_root=FORMAT["keys"][0]["fingerprint"]).to_toml()
    )
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines))
    with pytest.raises(DecodeError) as caught:
        Ledger.open(tmp_path).load()
    assert caught.value.rule == "canonical"
    assert caught.value.line == 3


# --- canonical() is RFC 8785 for everything the schema admits ---------------------

TRICKY = st.sampled_from(
    [
        "\x00",
        "\x08",
        "\x1f",
        "\x7f",
        "\x80",
        '"',
        "\\",
        "/",
        "\u2028",
        "\ufeff",
        "\uffff",
        "\U0001f600",
        "\U0010ffff",
        "\ue000",
        "é",
        "\r",
        "\n",
    ]
)
SCALARS = st.characters(exclude_categories=("Cs",))
"""Unicode scalar values: a lone surrogate has no UTF-8 form, and the codec refuses it."""
TEXT = st.one_of(st.text(), st.lists(TRICKY).map("".join), st.text(alphabet=TRICKY | SCALARS))


def strategy_for(info: msgspec.inspect.Type) -> st.SearchStrategy[Any]:
    """A hypothesis strategy for every value of a msgspec type, built from its constraints."""
    if isinstance(info, msgspec.inspect.StrType):
        if info.pattern is None:
            return TEXT
        anchored = re.sub(r"^\^|(\$|\\Z)$", "", info.pattern)
        return st.from_regex(anchored, fullmatch=True)
    if isinstance(info, msgspec.inspect.IntType):
        low = info.ge if info.ge is not None else -(2**53) + 1
        high = info.le if info.le is not None else 2**53 - 1
        return st.integers(min_value=low, max_value=high)
    if isinstance(info, msgspec.inspect.BoolType):
        return st.booleans()
    if isinstance(info, msgspec.inspect.NoneType):
        return st.none()
    if isinstance(info, msgspec.inspect.LiteralType):
        return st.sampled_from(info.values)
    if isinstance(info, msgspec.inspect.UnionType):
        return st.one_of([strategy_for(t) for t in info.types])
    if isinstance(info, msgspec.inspect.ListType):
        return st.lists(strategy_for(info.item_type), max_size=4)
    if isinstance(info, msgspec.inspect.StructType):
        fields = {f.name: strategy_for(f.type) for f in info.fields}
        return st.fixed_dictionaries(fields).map(lambda kw: info.cls(**kw))
    raise AssertionError(f"the schema grew a type this test does not cover: {info!r}")


BODIES = st.one_of([strategy_for(msgspec.inspect.type_info(t)) for t in events.BODY_TYPES.values()])


DESIGN_KINDS = {
    "ledger.created", "key.granted", "key.revoked", "source.registered", "source.regraded",
    "claim.asserted", "claim.corrected", "source.attributed", "attribution.withdrawn",
    "verdict.issued", "verdict.voided", "claim.status", "note.added", "entry.redacted",
}  # fmt: skip
"""The v1 vocabulary, copied from the table in DESIGN §4."""


def test_strategies_cover_every_body_of_the_v1_vocabulary() -> None:
    assert set(events.BODY_TYPES) == DESIGN_KINDS
    for body_type in events.BODY_TYPES.values():
        strategy_for(msgspec.inspect.type_info(body_type))


@settings(max_examples=300, deadline=None)
@given(BODIES)
def test_canonical_body_equals_rfc8785_of_the_same_value(body: events.Body) -> None:
    assert canonical(body) == rfc8785.dumps(msgspec.to_builtins(body))


@settings(max_examples=100, deadline=None)
@given(BODIES)
def test_every_admitted_body_decodes_strictly_back_to_itself(body: events.Body) -> None:
    assert decode_body(type(body), canonical(body)) == body


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def _has_non_ascii_key(value: Any) -> bool:
    """v1 member names are ASCII Struct fields; JCS orders others by UTF-16 code units."""
    if isinstance(value, dict):
        return any(not k.isascii() or _has_non_ascii_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_non_ascii_key(v) for v in value)
    return False


def _in_schema_types(name: str) -> bool:
    value = json.loads((JCS / "input" / name).read_bytes())
    return not _has_float(value) and not _has_non_ascii_key(value)


JCS_FILES = sorted(p.name for p in (JCS / "input").glob("*.json"))
JCS_IN_SCHEMA = [name for name in JCS_FILES if _in_schema_types(name)]


def test_some_rfc8785_vectors_fall_inside_the_schema_types() -> None:
    assert set(JCS_IN_SCHEMA) == {"arrays.json", "unicode.json"}
    # values.json and structures.json have floats; french.json and weird.json have
    # non-ASCII member names, which the v1 schema never has (its names are Struct fields).
    assert set(JCS_FILES) - set(JCS_IN_SCHEMA) == {
        "values.json",
        "structures.json",
        "french.json",
        "weird.json",
    }


@pytest.mark.parametrize("name", JCS_IN_SCHEMA)
def test_canonical_reproduces_rfc8785_vector_output(name: str) -> None:
    value = json.loads((JCS / "input" / name).read_bytes())
    assert canonical(value) == (JCS / "output" / name).read_bytes()
